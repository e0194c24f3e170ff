"""The contenders of the encode benchmark, each as it runs inside its worker process.

``pytorch`` (sentence-transformers ``encode``), ``tfst`` (``tfst.load(...).encode``: one traced
graph called eagerly), ``tfst-savedmodel`` (the ``model.export`` artifact, strings in, core ops
only, called from a process that imports only TensorFlow and where tensorflow_text cannot be
imported), ``tfst-keras-call`` (the loaded model called eagerly as a Keras model,
``model(tf.constant(batch))``, on the same length-sorted batches), ``tfst-bfloat16``
(``encoder_precision="bfloat16"``, opt-in),
``tfst-savedmodel-tftext`` (``model.export(..., tokenizer_ops="tensorflow_text")``, served with
tensorflow-text imported), ``tfst-tflite`` (``model.export_tflite``: the core tokenizer
SavedModel per batch, then ``model.tflite``, whose batch is one, per text) and
``tfst-tflite-int8`` (the same with ``quantize="int8"``, opt-in).

Threads: the parent pins OMP/MKL/TF thread variables (``protocol.thread_environment``) before the
worker imports its framework; the worker then calls ``torch.set_num_threads(n)`` /
``set_num_interop_threads(1)`` or sets TensorFlow's intra-op ``n`` / inter-op ``1``.

Every contender has ``load()``, ``encode(texts, batch_size)`` and ``encode_one(text)``;
``pytorch`` and ``tfst`` also ``tokenize`` and the diagnostics (``encoder_step``,
``matmul_step``, ``projection_floor``). ``start_contender`` runs one in ``protocol.serve``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import diagnostics
import numpy as np
from protocol import Handler, encode_array, thread_environment

CONTENDERS = (
    "pytorch",
    "tfst",
    "tfst-savedmodel",
    "tfst-keras-call",
    "tfst-bfloat16",
    "tfst-savedmodel-tftext",
    "tfst-tflite",
    "tfst-tflite-int8",
)
FLOAT32_CONTENDERS = (
    "tfst",
    "tfst-savedmodel",
    "tfst-keras-call",
    "tfst-savedmodel-tftext",
    "tfst-tflite",
)
# The call on the loaded model that exports a contender's artifact to sys.argv[2].
EXPORT_CALLS = {
    "tfst-savedmodel": "export(sys.argv[2], overwrite=True)",
    "tfst-savedmodel-tftext": (
        "export(sys.argv[2], overwrite=True, tokenizer_ops='tensorflow_text')"
    ),
    "tfst-tflite": "export_tflite(sys.argv[2], overwrite=True)",
    "tfst-tflite-int8": "export_tflite(sys.argv[2], overwrite=True, quantize='int8')",
}
FLOAT32_TOLERANCE = 1e-5


class TorchWorker:
    """sentence-transformers on PyTorch, as a user runs it."""

    def __init__(self, model: str, device: str, threads: int):
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        if device == "gpu" and not torch.cuda.is_available():
            raise RuntimeError(
                f"--device gpu: PyTorch {torch.__version__} sees no CUDA GPU "
                f"(built with CUDA: {torch.version.cuda or 'no'}); install a CUDA build of "
                "PyTorch on a machine with an NVIDIA GPU, or use --device cpu"
            )
        from sentence_transformers import SentenceTransformer

        self.device = "cuda" if device == "gpu" else "cpu"
        self.loader = lambda: SentenceTransformer(model, device=self.device)

    def load(self) -> None:
        self.model = self.loader()

    def encode(self, texts, batch_size: int) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True)

    def encode_one(self, text: str) -> np.ndarray:
        return self.model.encode(text)

    def tokenize(self, texts, batch_size: int) -> None:
        tokenizer = self.model.tokenizer
        for start in range(0, len(texts), batch_size):
            tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=self.model.max_seq_length,
                return_tensors="pt",
            )

    def encoder_step(self) -> diagnostics.Step:
        return diagnostics.torch_encoder_step(self.model, self.device)

    def matmul_step(self, dtype: str) -> diagnostics.Step:
        return diagnostics.torch_matmul_step(dtype, self.device)

    def projection_floor(self, texts: list[str]) -> dict:
        return diagnostics.torch_projection_floor(self.model, texts, self.device)


class TensorFlowWorker:
    """TensorFlow set up alike for every tfst contender: threads pinned, device checked."""

    def __init__(self, device: str, threads: int):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        gpus = tf.config.list_physical_devices("GPU")
        if device == "gpu" and not gpus:
            raise RuntimeError(
                f"--device gpu: TensorFlow {tf.__version__} sees no GPU "
                f"(built with CUDA: {tf.test.is_built_with_cuda()}); install tensorflow[and-cuda] "
                "on a machine with an NVIDIA GPU, or use --device cpu"
            )
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        for gpu in gpus:
            # By default TensorFlow takes the whole GPU, and PyTorch's worker would find none left.
            tf.config.experimental.set_memory_growth(gpu, True)
        self.tf = tf
        self.threads = threads

    def matmul_step(self, dtype: str) -> diagnostics.Step:
        return diagnostics.tensorflow_matmul_step(dtype)


class TfstWorker(TensorFlowWorker):
    """``tfst.load(...).encode``, optionally in an opt-in precision."""

    def __init__(self, model: str, device: str, threads: int, precision: str = "float32"):
        super().__init__(device, threads)
        import tfst

        self.loader = lambda: tfst.load(model, encoder_precision=precision)

    def load(self) -> None:
        self.model = self.loader()

    def encode(self, texts, batch_size: int) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size)

    def encode_one(self, text: str) -> np.ndarray:
        return self.model.encode(text)

    def tokenize(self, texts, batch_size: int) -> None:
        tf = self.tf
        if not hasattr(self, "_tokenize"):
            self._tokenize = tf.function(
                lambda strings: self.model.tokenizer(strings)["input_ids"],
                input_signature=[tf.TensorSpec([None], tf.string)],
            )
        for start in range(0, len(texts), batch_size):
            self._tokenize(tf.constant(texts[start : start + batch_size])).numpy()

    def encoder_step(self) -> diagnostics.Step:
        return diagnostics.tfst_encoder_step(self.model)

    def projection_floor(self, texts: list[str]) -> dict:
        return diagnostics.tfst_projection_floor(self.model, texts, self.threads)


def sorted_batches(texts, batch_size: int, embed) -> np.ndarray:
    """Embed ``texts`` with ``embed(batch)`` in length-sorted batches, as ``encode`` makes them;
    rows come back in input order."""
    order = np.argsort([-len(text) for text in texts], kind="stable")
    embeddings = None
    for start in range(0, len(texts), batch_size):
        indices = order[start : start + batch_size]
        batch = embed([texts[i] for i in indices])
        if embeddings is None:
            embeddings = np.empty((len(texts), batch.shape[1]), np.float32)
        embeddings[indices] = batch
    return embeddings


class KerasCallWorker(TfstWorker):
    """The loaded model called eagerly as a Keras model: ``model(tf.constant(batch))``."""

    def _embed(self, texts) -> np.ndarray:
        return self.model(self.tf.constant(texts)).numpy()

    def encode(self, texts, batch_size: int) -> np.ndarray:
        return sorted_batches(texts, batch_size, self._embed)

    def encode_one(self, text: str) -> np.ndarray:
        return self._embed([text])[0]


class _BlockTensorflowText:
    """Import hook: ``import tensorflow_text`` fails, so none of its ops can be registered."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow_text":
            raise ImportError(f"{name} is blocked in this worker")
        return None


class SavedModelWorker(TensorFlowWorker):
    """The default (core-ops) export, served where tensorflow_text cannot be imported, called
    with length-sorted batches as ``encode`` makes them."""

    def __init__(self, path: str, device: str, threads: int):
        sys.meta_path.insert(0, _BlockTensorflowText())
        super().__init__(device, threads)
        self.path = path

    def load(self) -> None:
        self.serve = self.tf.saved_model.load(self.path).signatures["serving_default"]

    def _embed(self, texts) -> np.ndarray:
        return self.serve(sentences=self.tf.constant(texts))["sentence_embedding"].numpy()

    def encode(self, texts, batch_size: int) -> np.ndarray:
        return sorted_batches(texts, batch_size, self._embed)

    def encode_one(self, text: str) -> np.ndarray:
        return self._embed([text])[0]


class TensorflowTextSavedModelWorker(SavedModelWorker):
    """The ``tokenizer_ops="tensorflow_text"`` export, served with tensorflow-text imported."""

    def __init__(self, path: str, device: str, threads: int):
        TensorFlowWorker.__init__(self, device, threads)  # without SavedModelWorker's hook
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

        self.path = path


class TFLiteWorker(TensorFlowWorker):
    """``model.export_tflite``: the core tokenizer SavedModel per batch, then ``model.tflite``
    (batch one) per text in the TFLite interpreter that ships with TensorFlow."""

    def __init__(self, path: str, device: str, threads: int):
        super().__init__(device, threads)
        self.path = Path(path)

    def load(self) -> None:
        tf = self.tf
        tokenizer = tf.saved_model.load(str(self.path / "tokenizer"))
        self.tokenize = tokenizer.signatures["serving_default"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            interpreter = tf.lite.Interpreter(
                model_path=str(self.path / "model.tflite"), num_threads=self.threads
            )
        self.embed = interpreter.get_signature_runner("serving_default")

    def encode(self, texts, batch_size: int) -> np.ndarray:
        embeddings = []
        for start in range(0, len(texts), batch_size):
            ids = self.tokenize(sentences=self.tf.constant(texts[start : start + batch_size]))
            input_ids = ids["input_ids"].numpy()
            attention_mask = ids["attention_mask"].numpy()
            for row, length in enumerate(attention_mask.sum(axis=1)):
                outputs = self.embed(
                    input_ids=input_ids[row : row + 1, :length],
                    attention_mask=attention_mask[row : row + 1, :length],
                )
                embeddings.append(outputs["sentence_embedding"][0])
        return np.stack(embeddings)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text], 1)[0]


def make_worker(name: str, model: str, device: str, threads: int, artifact: str | None):
    """The contender ``name``, its framework imported; ``artifact`` is its exported model."""
    if name == "pytorch":
        return TorchWorker(model, device, threads)
    if name == "tfst":
        return TfstWorker(model, device, threads)
    if name == "tfst-keras-call":
        return KerasCallWorker(model, device, threads)
    if name == "tfst-bfloat16":
        return TfstWorker(model, device, threads, precision="bfloat16")
    if name == "tfst-savedmodel":
        return SavedModelWorker(artifact, device, threads)
    if name == "tfst-savedmodel-tftext":
        return TensorflowTextSavedModelWorker(artifact, device, threads)
    if name in ("tfst-tflite", "tfst-tflite-int8"):
        return TFLiteWorker(artifact, device, threads)
    raise ValueError(f"unknown contender {name!r}")


def start_contender(
    name: str, model: str, device: str, threads: int, artifact: str | None
) -> tuple[dict[str, Handler], dict]:
    """For ``protocol.serve``: import and load the contender, embed a first sentence, and
    report how long each took; the handlers answer the encode benchmark's requests."""
    started = time.perf_counter()
    worker = make_worker(name, model, device, threads, artifact)
    imported = time.perf_counter()
    worker.load()
    loaded = time.perf_counter()
    worker.encode_one("The first sentence embedded by this process.")
    first = time.perf_counter()
    startup = {
        "import_s": imported - started,
        "load_s": loaded - imported,
        "first_call_s": first - loaded,
        "first_embedding_s": first - imported,
    }

    def embed(request, texts):
        return encode_array(worker.encode(texts[request["name"]], request["batch_size"]))

    def encode(request, texts):
        batch = texts[request["name"]]
        start = time.perf_counter()
        worker.encode(batch, request["batch_size"])
        return {"seconds": time.perf_counter() - start}

    def latency(request, texts):
        seconds = []
        for text in texts[request["name"]]:
            start = time.perf_counter()
            worker.encode_one(text)
            seconds.append(time.perf_counter() - start)
        return {"seconds": seconds}

    def tokenize(request, texts):
        batch = texts[request["name"]]
        worker.tokenize(batch, request["batch_size"])  # warm
        start = time.perf_counter()
        worker.tokenize(batch, request["batch_size"])
        return {"seconds": time.perf_counter() - start}

    def projection_floor(request, texts):
        return worker.projection_floor(texts[request["name"]])

    def flops(request, texts):
        encoder = worker.encoder_step()
        matmuls = {
            f"matmul_{dtype}": worker.matmul_step(dtype) for dtype in ("float32", "bfloat16")
        }
        return diagnostics.gflops(encoder, matmuls)

    handlers = {
        "embed": embed,
        "encode": encode,
        "latency": latency,
        "tokenize": tokenize,
        "projection_floor": projection_floor,
        "flops": flops,
    }
    return handlers, startup


def export_artifact(name: str, model: str, path: Path, threads: int, verbose: bool) -> None:
    """Export contender ``name``'s artifact in a process of its own, so no contender's peak RSS
    includes the export."""
    script = f"import sys, tfst; tfst.load(sys.argv[1]).{EXPORT_CALLS[name]}"
    subprocess.run(
        [sys.executable, "-c", script, model, str(path)],
        check=True,
        env={**os.environ, **thread_environment(threads)},
        stdout=subprocess.DEVNULL,
        stderr=None if verbose else subprocess.DEVNULL,
    )
