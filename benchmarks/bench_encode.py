"""Side-by-side encode benchmark: sentence-transformers (PyTorch) against tfst, in one run.

Every contender runs in its own worker process (so each has its own peak RSS and its own time
to first embedding); the parent sends the same texts to all of them and interleaves the timed
passes round by round, rotating the order, so machine noise hits every contender alike.
Before anything is timed, every contender's embeddings are compared with PyTorch's.

    python benchmarks/bench_encode.py --model <folder or hub id> --device cpu [--json out.json]

Contenders: ``pytorch`` (sentence-transformers ``encode``), ``tfst`` (``tfst.load(...).encode``:
an eagerly called ``tf.function``), ``tfst-savedmodel`` (the ``model.export`` artifact, strings
in, core ops only, called from a process that imports only TensorFlow and where tensorflow_text
cannot be imported), ``tfst-bfloat16`` (``encoder_precision="bfloat16"``, opt-in),
``tfst-savedmodel-tftext`` (``model.export(..., tokenizer_ops="tensorflow_text")``, served with
tensorflow-text imported) and ``tfst-tflite`` (``model.export_tflite``: the core tokenizer
SavedModel per batch, then ``model.tflite``, whose batch is one, per text).
Threads: every worker sets OMP/MKL/TF thread variables to ``--threads`` before importing its
framework, then ``torch.set_num_threads(n)`` / ``set_num_interop_threads(1)`` or TensorFlow's
intra-op ``n`` / inter-op ``1``.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import importlib
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

CONTENDERS = (
    "pytorch",
    "tfst",
    "tfst-savedmodel",
    "tfst-bfloat16",
    "tfst-savedmodel-tftext",
    "tfst-tflite",
)
FLOAT32_CONTENDERS = ("tfst", "tfst-savedmodel", "tfst-savedmodel-tftext", "tfst-tflite")
# The call on the loaded model that exports a contender's artifact to sys.argv[2].
EXPORT_CALLS = {
    "tfst-savedmodel": "export(sys.argv[2], overwrite=True)",
    "tfst-savedmodel-tftext": (
        "export(sys.argv[2], overwrite=True, tokenizer_ops='tensorflow_text')"
    ),
    "tfst-tflite": "export_tflite(sys.argv[2], overwrite=True)",
}
FLOAT32_TOLERANCE = 1e-5
# Modules whose docstrings give the English prose the texts are cut from (stdlib: no download).
PROSE_MODULES = [
    "argparse",
    "asyncio",
    "collections",
    "csv",
    "datetime",
    "decimal",
    "email.message",
    "fractions",
    "functools",
    "http.client",
    "itertools",
    "json",
    "logging",
    "os",
    "pathlib",
    "random",
    "re",
    "shutil",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "textwrap",
    "threading",
    "typing",
    "unittest",
    "urllib.request",
    "zipfile",
]
ENCODER_SHAPE = (32, 128)  # batch x tokens for the achieved-FLOP/s figure
MATMUL_SIZE = 1024  # the machine's large-matmul FLOP/s: a square matmul of this size


# --- texts ---------------------------------------------------------------------------------------


def _prose_sentences() -> list[str]:
    """Sentences of English prose from the standard library's docstrings, deduplicated, sorted."""
    sentences = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # typing.io and friends
        for name in PROSE_MODULES:
            module = importlib.import_module(name)
            documented = [module, *(getattr(module, attribute) for attribute in dir(module))]
            for item in documented:
                doc = getattr(item, "__doc__", None)
                if not isinstance(doc, str):
                    continue
                for sentence in re.split(r"(?<=[.!?])\s+", " ".join(doc.split())):
                    if len(sentence.split()) >= 3:
                        sentences.add(sentence)
    return sorted(sentences)


def make_texts(count: int, min_words: int, max_words: int, seed: int) -> list[str]:
    """``count`` texts with word counts uniform in [min_words, max_words], cut from real prose."""
    sentences = _prose_sentences()
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        target = rng.randint(min_words, max_words)
        start = rng.randrange(len(sentences))
        words: list[str] = []
        while len(words) < target:
            words.extend(sentences[start % len(sentences)].split())
            start += 1
        texts.append(" ".join(words[:target]))
    return texts


# --- workers -------------------------------------------------------------------------------------


def _pin_threads_in_environment(threads: int) -> None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _interleaved_gflops(worker, rounds: int = 5) -> dict[str, float]:
    """Median GFLOP/s of the encoder and of large matmuls, timed alternately so noise is shared."""
    steps = {
        "encoder": worker.encoder_step(),
        "matmul_float32": worker.matmul_step("float32"),
        "matmul_bfloat16": worker.matmul_step("bfloat16"),
    }
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for step, _ in steps.values():
        step()
    for _ in range(rounds):
        for name, (step, _) in steps.items():
            # Repeat the short matmul so each timing spans a similar stretch as the encoder.
            repeats = 1 if name == "encoder" else 8
            start = time.perf_counter()
            for _ in range(repeats):
                step()
            seconds[name].append((time.perf_counter() - start) / repeats)
    return {name: steps[name][1] / float(np.median(seconds[name])) / 1e9 for name in steps}


def _interleaved_milliseconds(steps: dict, rounds: int = 30) -> dict[str, float]:
    """Median milliseconds of each step, timed alternately so noise is shared."""
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        for _ in range(5):
            step()
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) * 1e3 for name, values in seconds.items()}


def _median_tokens(token_counts: list[int]) -> int:
    return int(np.median(token_counts))


def encoder_flops(batch: int, tokens: int, layers: int, hidden: int, intermediate: int) -> float:
    """Multiply-adds x 2 of the encoder: q/k/v/out and feed-forward projections, plus attention."""
    projections = 4 * hidden * hidden + 2 * hidden * intermediate
    attention = 2 * tokens * hidden  # scores and context, per token and layer
    return 2.0 * batch * tokens * layers * (projections + attention)


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

        self.torch = torch
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

    def encoder_step(self):
        """One encoder forward at ENCODER_SHAPE, and its FLOPs."""
        torch = self.torch
        encoder = self.model[0].auto_model
        config = encoder.config
        batch, tokens = ENCODER_SHAPE
        input_ids = torch.randint(1000, 20000, (batch, tokens), device=self.device)
        attention_mask = torch.ones_like(input_ids)

        def step():
            with torch.inference_mode():
                encoder(
                    input_ids=input_ids, attention_mask=attention_mask
                ).last_hidden_state.sum().item()

        flops = encoder_flops(
            batch, tokens, config.num_hidden_layers, config.hidden_size, config.intermediate_size
        )
        return step, flops

    def projection_floor(self, texts: list[str]) -> dict:
        """Milliseconds of the encoder's projections alone (q, k, v, attention output, the two
        feed-forward matmuls, every layer, with bias) on one text of the median token count of
        ``texts``: what single-sentence latency cannot go below in this framework."""
        torch = self.torch
        counts = self.model.tokenize(texts)["attention_mask"].sum(dim=1)  # ids come padded
        tokens = _median_tokens(counts.tolist())
        layers = self.model[0].auto_model.encoder
        linears = [module for module in layers.modules() if isinstance(module, torch.nn.Linear)]
        hidden = torch.randn(tokens, linears[0].in_features, device=self.device)

        def step():
            with torch.inference_mode():
                rows = hidden
                for linear in linears:  # q, k, v, out, intermediate, output: each feeds the next
                    rows = linear(rows)
                rows.sum().item()

        return {"tokens": tokens, **_interleaved_milliseconds({"pytorch": step})}

    def matmul_step(self, dtype: str):
        """One MATMUL_SIZE³ matmul in ``dtype``, and its FLOPs."""
        torch = self.torch
        left = torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=self.device).to(getattr(torch, dtype))
        right = torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=self.device).to(getattr(torch, dtype))
        return lambda: (left @ right).sum().item(), 2.0 * MATMUL_SIZE**3


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

    def matmul_step(self, dtype: str):
        """One MATMUL_SIZE³ matmul in ``dtype``, and its FLOPs."""
        tf = self.tf
        left = tf.cast(tf.random.normal([MATMUL_SIZE, MATMUL_SIZE]), dtype)
        right = tf.cast(tf.random.normal([MATMUL_SIZE, MATMUL_SIZE]), dtype)
        product = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
        return lambda: product(left, right).numpy(), 2.0 * MATMUL_SIZE**3


class TfstWorker(TensorFlowWorker):
    """``tfst.load(...).encode``, optionally in an opt-in precision."""

    def __init__(self, model: str, device: str, threads: int, precision: str = "float32"):
        super().__init__(device, threads)
        import tfst

        self.threads = threads
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

    def encoder_step(self):
        """One encoder forward at ENCODER_SHAPE, and its FLOPs."""
        tf = self.tf
        encoder = self.model.encoder
        batch, tokens = ENCODER_SHAPE
        features = {
            "input_ids": tf.random.uniform([batch, tokens], 1000, 20000, dtype=tf.int32),
            "attention_mask": tf.ones([batch, tokens], tf.int32),
            "token_type_ids": tf.zeros([batch, tokens], tf.int32),
        }
        run = tf.function(lambda features: encoder(features))
        flops = encoder_flops(
            batch, tokens, encoder.num_layers, encoder.hidden_size, encoder.intermediate_size
        )
        return lambda: run(features).numpy(), flops

    def projection_floor(self, texts: list[str]) -> dict:
        """The same projections as ``TorchWorker.projection_floor``, as tfst's encoder runs them
        (``MatMul + BiasAdd`` in a ``tf.function``, oneDNN) and, for comparison, in the TFLite
        interpreter (XNNPack), alternately."""
        tf = self.tf
        token_counts = self.model.tokenizer(tf.constant(texts))["attention_mask"]
        tokens = _median_tokens(tf.reduce_sum(token_counts, axis=1).numpy().tolist())
        projections = [
            (layer.kernel, layer.bias)
            for block in self.model.encoder.blocks
            for layer in (
                block.query,
                block.key,
                block.value,
                block.attention_output,
                block.intermediate,
                block.output_dense,
            )
        ]

        def chain(rows, weights):
            for kernel, bias in weights:
                rows = tf.nn.bias_add(tf.matmul(rows, kernel), bias)
            return rows

        spec = tf.TensorSpec([tokens, self.model.encoder.hidden_size], tf.float32)
        hidden = tf.random.normal(spec.shape)
        graph = tf.function(lambda rows: tf.reduce_sum(chain(rows, projections)))
        constants = [(tf.constant(k.numpy()), tf.constant(b.numpy())) for k, b in projections]
        function = tf.function(lambda rows: chain(rows, constants), input_signature=[spec])
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [function.get_concrete_function()]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            interpreter = tf.lite.Interpreter(
                model_content=converter.convert(), num_threads=self.threads
            )
        interpreter.allocate_tensors()
        source = interpreter.get_input_details()[0]["index"]
        result = interpreter.get_output_details()[0]["index"]
        rows = hidden.numpy()

        def tflite_step():
            interpreter.set_tensor(source, rows)
            interpreter.invoke()
            interpreter.get_tensor(result).sum()

        steps = {"tensorflow": lambda: graph(hidden).numpy(), "tflite": tflite_step}
        return {"tokens": tokens, **_interleaved_milliseconds(steps)}


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
        order = np.argsort([-len(text) for text in texts], kind="stable")
        embeddings = None
        for start in range(0, len(texts), batch_size):
            indices = order[start : start + batch_size]
            batch = self._embed([texts[i] for i in indices])
            if embeddings is None:
                embeddings = np.empty((len(texts), batch.shape[1]), np.float32)
            embeddings[indices] = batch
        return embeddings

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
        self.threads = threads

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


def _make_worker(options: argparse.Namespace):
    if options.worker == "pytorch":
        return TorchWorker(options.model, options.device, options.threads)
    if options.worker == "tfst":
        return TfstWorker(options.model, options.device, options.threads)
    if options.worker == "tfst-bfloat16":
        return TfstWorker(options.model, options.device, options.threads, precision="bfloat16")
    if options.worker == "tfst-savedmodel":
        return SavedModelWorker(options.saved_model, options.device, options.threads)
    if options.worker == "tfst-savedmodel-tftext":
        return TensorflowTextSavedModelWorker(options.saved_model, options.device, options.threads)
    if options.worker == "tfst-tflite":
        return TFLiteWorker(options.saved_model, options.device, options.threads)
    raise ValueError(f"unknown contender {options.worker!r}")


def _serve(options: argparse.Namespace) -> None:
    """Worker loop: one JSON request per stdin line, one JSON reply per line on the reply pipe."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # libraries' prints go to stderr; the reply pipe stays clean
    started = time.perf_counter()
    texts: dict[str, list[str]] = {}

    def reply(**values):
        replies.write(json.dumps(values) + "\n")

    try:
        worker = _make_worker(options)
    except RuntimeError as error:
        reply(error=str(error))
        return
    imported = time.perf_counter()
    worker.load()
    loaded = time.perf_counter()
    worker.encode_one("The first sentence embedded by this process.")
    first = time.perf_counter()
    reply(
        import_s=imported - started,
        load_s=loaded - imported,
        first_call_s=first - loaded,
        first_embedding_s=first - imported,
    )
    for line in sys.stdin:
        request = json.loads(line)
        command = request["command"]
        if command == "texts":
            texts[request["name"]] = request["texts"]
            reply(ok=True)
        elif command == "embed":
            embeddings = worker.encode(texts[request["name"]], request["batch_size"])
            embeddings = np.ascontiguousarray(embeddings, np.float32)
            reply(shape=embeddings.shape, data=base64.b64encode(embeddings.tobytes()).decode())
        elif command == "encode":
            batch = texts[request["name"]]
            start = time.perf_counter()
            worker.encode(batch, request["batch_size"])
            reply(seconds=time.perf_counter() - start)
        elif command == "latency":
            seconds = []
            for text in texts[request["name"]]:
                start = time.perf_counter()
                worker.encode_one(text)
                seconds.append(time.perf_counter() - start)
            reply(seconds=seconds)
        elif command == "tokenize":
            batch = texts[request["name"]]
            worker.tokenize(batch, request["batch_size"])  # warm
            start = time.perf_counter()
            worker.tokenize(batch, request["batch_size"])
            reply(seconds=time.perf_counter() - start)
        elif command == "projection_floor":
            reply(**worker.projection_floor(texts[request["name"]]))
        elif command == "flops":
            reply(**_interleaved_gflops(worker))
        elif command == "rss":
            reply(peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        elif command == "exit":
            return


# --- parent --------------------------------------------------------------------------------------


class Worker:
    """A contender's process, driven over pipes."""

    def __init__(self, name: str, options: argparse.Namespace, saved_model: str | None):
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            name,
            "--model",
            options.model,
            "--device",
            options.device,
            "--threads",
            str(options.threads),
        ]
        if saved_model:
            command += ["--saved-model", saved_model]
        environment = dict(os.environ)
        environment.update(_thread_environment(options.threads))
        self.name = name
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if options.verbose else subprocess.DEVNULL,
            text=True,
            env=environment,
        )
        self.startup = self._read()
        if "error" in self.startup:
            self.process.wait()
            raise SystemExit(f"error: {self.startup['error']}")

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(
                f"error: the {self.name} worker exited with status {self.process.wait()}; "
                "rerun with --verbose to see its output"
            )
        return json.loads(line)

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def embed(self, name: str, batch_size: int) -> np.ndarray:
        answer = self.ask(command="embed", name=name, batch_size=batch_size)
        data = np.frombuffer(base64.b64decode(answer["data"]), np.float32)
        return data.reshape(answer["shape"])

    def close(self) -> None:
        if self.process.poll() is None:
            self.ask(command="rss")  # keep the pipe in step before exiting
            self.process.stdin.write(json.dumps({"command": "exit"}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)


def _thread_environment(threads: int) -> dict[str, str]:
    saved = dict(os.environ)
    _pin_threads_in_environment(threads)
    pinned = {
        name: os.environ[name] for name in os.environ if os.environ.get(name) != saved.get(name)
    }
    os.environ.clear()
    os.environ.update(saved)
    return pinned


def _resolve_model_folder(model: str) -> Path:
    if Path(model).is_dir():
        return Path(model)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(model))


def _max_seq_length(folder: Path) -> int:
    config = folder / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text())["max_seq_length"])
    return 512


def _export(options: argparse.Namespace, path: Path, call: str) -> None:
    """Export in a process of its own, so no contender's peak RSS includes the export."""
    script = f"import sys, tfst; tfst.load(sys.argv[1]).{call}"
    environment = dict(os.environ)
    environment.update(_thread_environment(options.threads))
    subprocess.run(
        [sys.executable, "-c", script, options.model, str(path)],
        check=True,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=None if options.verbose else subprocess.DEVNULL,
    )


def _check_parity(workers: dict[str, Worker], sets: dict[str, list[str]]) -> dict:
    """Embed every text set with every contender; float32 ones must match PyTorch to 1e-5."""
    parity = {}
    for set_name in sets:
        reference = workers["pytorch"].embed(set_name, 32)
        for name, worker in workers.items():
            if name == "pytorch":
                continue
            embeddings = worker.embed(set_name, 32)
            cosine = np.sum(embeddings * reference, axis=1) / (
                np.linalg.norm(embeddings, axis=1) * np.linalg.norm(reference, axis=1)
            )
            result = parity.setdefault(name, {"max_abs_diff": 0.0, "min_cosine": 1.0})
            result["max_abs_diff"] = max(
                result["max_abs_diff"], float(np.abs(embeddings - reference).max())
            )
            result["min_cosine"] = min(result["min_cosine"], float(cosine.min()))
    for name in FLOAT32_CONTENDERS:
        if name in parity and parity[name]["max_abs_diff"] > FLOAT32_TOLERANCE:
            raise SystemExit(
                f"error: {name} differs from sentence-transformers by "
                f"{parity[name]['max_abs_diff']:.2e} > {FLOAT32_TOLERANCE:g}; not timing it"
            )
    return parity


def _busy_cpu_seconds() -> tuple[float, float] | None:
    """Machine-wide (busy, steal) CPU seconds so far, from /proc/stat; None off Linux."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (workers, export)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _summary(values: list[float]) -> dict:
    return {
        "median": float(np.median(values)),
        "min": float(np.min(values)),
        "max": float(np.max(values)),
        "values": values,
    }


def run(options: argparse.Namespace) -> dict:
    folder = _resolve_model_folder(options.model)
    options.model = str(folder)
    max_seq_length = _max_seq_length(folder)
    sets = {
        "mix": make_texts(options.texts, 5, 60, seed=0),
        # About 1.2 tokens a word: these fill max_seq_length and are truncated there.
        "long": make_texts(options.long_texts, max_seq_length, max_seq_length + 20, seed=1),
    }
    latency_texts = sets["mix"][: options.latency_texts]
    workloads = [("mix", size) for size in options.batch_sizes]
    workloads += [("long", size) for size in options.long_batch_sizes]

    workers: dict[str, Worker] = {}
    started, busy_before, own_before = time.perf_counter(), _busy_cpu_seconds(), _own_cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="tfst_bench_") as scratch:
        try:
            for name in options.contenders:
                artifact = Path(scratch) / name
                if name in EXPORT_CALLS:
                    _progress(options, f"exporting {name}")
                    _export(options, artifact, EXPORT_CALLS[name])
                _progress(options, f"starting {name}")
                workers[name] = Worker(name, options, str(artifact))
                for set_name, texts in [*sets.items(), ("latency", latency_texts)]:
                    workers[name].ask(command="texts", name=set_name, texts=texts)
            _progress(options, "checking outputs against sentence-transformers")
            parity = _check_parity(workers, sets)

            _progress(options, "warming up every workload")
            for set_name, batch_size in workloads:
                warm_up = f"{set_name}@{batch_size}"
                for worker in workers.values():
                    worker.ask(command="texts", name=warm_up, texts=sets[set_name][:batch_size])
                    worker.ask(command="encode", name=warm_up, batch_size=batch_size)
            throughput = {name: {} for name in workers}
            latency = {name: [] for name in workers}
            names = list(workers)
            for round_index in range(options.rounds):
                _progress(options, f"round {round_index + 1}/{options.rounds}")
                order = names[round_index % len(names) :] + names[: round_index % len(names)]
                for set_name, batch_size in workloads:
                    for name in order:
                        seconds = workers[name].ask(
                            command="encode", name=set_name, batch_size=batch_size
                        )["seconds"]
                        key = f"{set_name}@{batch_size}"
                        throughput[name].setdefault(key, []).append(len(sets[set_name]) / seconds)
                for name in order:
                    latency[name] += workers[name].ask(command="latency", name="latency")["seconds"]

            # Peak memory of the encode workloads, before the diagnostics below build extra
            # graphs (a TFLite conversion, 1024³ matmuls) in the same workers.
            peak_rss = {name: w.ask(command="rss")["peak_rss_mb"] for name, w in workers.items()}
            _progress(options, "tokenization, encoder FLOP/s, matmul peaks, projection floor")
            tokenization = {}
            flops = {}
            for name in ("pytorch", "tfst"):
                if name in workers:
                    tokenization[name] = {
                        f"batch {size}": len(sets["mix"])
                        / workers[name].ask(command="tokenize", name="mix", batch_size=size)[
                            "seconds"
                        ]
                        for size in (1, 32)
                    }
            for name in ("pytorch", "tfst", "tfst-bfloat16"):
                if name in workers:
                    flops[name] = workers[name].ask(command="flops")
            projection_floor = {
                name: workers[name].ask(command="projection_floor", name="latency")
                for name in ("pytorch", "tfst")
                if name in workers
            }
        finally:
            for worker in workers.values():
                worker.close()
    wall = time.perf_counter() - started
    busy_after = _busy_cpu_seconds()
    others = None
    if busy_before and busy_after:
        foreign = busy_after[0] - busy_before[0] - (_own_cpu_seconds() - own_before)
        others = {
            "wall_s": wall,
            "other_processes_cpu_share": max(foreign, 0.0) / (wall * os.cpu_count()),
            "steal_share": (busy_after[1] - busy_before[1]) / (wall * os.cpu_count()),
        }

    return {
        "date": datetime.date.today().isoformat(),
        "machine": _machine(),
        "model": options.model,
        "device": options.device,
        "threads": options.threads,
        "rounds": options.rounds,
        "texts": {name: len(texts) for name, texts in sets.items()},
        "mean_words": {
            name: float(np.mean([len(t.split()) for t in v])) for name, v in sets.items()
        },
        "parity": parity,
        "throughput": {
            name: {key: _summary(values) for key, values in results.items()}
            for name, results in throughput.items()
        },
        "latency_ms": {
            name: {
                "p50": float(np.percentile(values, 50) * 1e3),
                "p95": float(np.percentile(values, 95) * 1e3),
                "count": len(values),
            }
            for name, values in latency.items()
        },
        "first_embedding_s": {name: w.startup for name, w in workers.items()},
        "peak_rss_mb": peak_rss,
        "tokenization_sentences_per_s": tokenization,
        "gflops": flops,
        "projection_floor_ms": projection_floor,
        "machine_load": others,
    }


def _progress(options: argparse.Namespace, message: str) -> None:
    if not options.quiet:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


def _machine() -> dict:
    model = platform.processor()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": model, "logical_cpus": os.cpu_count(), "python": platform.python_version()}


def markdown(results: dict) -> str:
    """The results as the Markdown that benchmarks/README.md keeps."""
    names = list(results["throughput"])
    baseline = "pytorch"
    machine = results["machine"]
    lines = [
        f"{results['date']} · {machine['cpu']} · {machine['logical_cpus']} logical CPUs · "
        f"device {results['device']} · {results['threads']} threads per contender "
        f"(torch.set_num_threads({results['threads']}) + set_num_interop_threads(1); TF intra-op "
        f"{results['threads']}, inter-op 1; OMP/MKL_NUM_THREADS={results['threads']}) · "
        f"median of {results['rounds']} interleaved rounds [min–max] · "
        f"{results['texts']['mix']} mixed texts of 5–60 words (mean "
        f"{results['mean_words']['mix']:.0f}), {results['texts']['long']} long texts "
        "(truncated at max_seq_length)",
    ]
    load = results.get("machine_load")
    if load:
        lines[-1] += (
            f" · run took {load['wall_s'] / 60:.1f} min; other processes used "
            f"{load['other_processes_cpu_share']:.0%} of the machine's CPU meanwhile "
            f"(hypervisor steal {load['steal_share']:.0%})"
        )
    lines += [
        "",
        "Throughput, sentences/s (ratio to PyTorch):",
        "",
        "| workload | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key in results["throughput"][baseline]:
        cells = []
        reference = results["throughput"][baseline][key]["median"]
        for name in names:
            summary = results["throughput"][name][key]
            cell = f"{summary['median']:.1f} [{summary['min']:.0f}–{summary['max']:.0f}]"
            if name != baseline:
                cell += f" ({summary['median'] / reference:.2f}×)"
            cells.append(cell)
        set_name, batch_size = key.split("@")
        lines.append(f"| {set_name}, batch {batch_size} | " + " | ".join(cells) + " |")

    def ratio(value: float, reference: float) -> str:
        return f" ({value / reference:.2f}×)"

    latency = results["latency_ms"]
    rss = results["peak_rss_mb"]
    first = results["first_embedding_s"]
    lines += ["", "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows = [
        ("single-sentence latency p50, ms", lambda n: latency[n]["p50"], "{:.2f}"),
        ("single-sentence latency p95, ms", lambda n: latency[n]["p95"], "{:.2f}"),
        ("peak RSS, MB", lambda n: rss[n], "{:.0f}"),
        (
            "first embedding (load + first call), s",
            lambda n: first[n]["first_embedding_s"],
            "{:.2f}",
        ),
        ("framework import, s", lambda n: first[n]["import_s"], "{:.2f}"),
    ]
    for label, value, fmt in rows:
        cells = []
        for name in names:
            cell = fmt.format(value(name))
            if name != baseline:
                cell += ratio(value(name), value(baseline))
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    parity = results["parity"]
    lines.append(
        "| parity vs PyTorch (max abs diff / min cosine) | — | "
        + " | ".join(
            f"{parity[n]['max_abs_diff']:.1e} / {parity[n]['min_cosine']:.6f}" for n in names[1:]
        )
        + " |"
    )
    if results["tokenization_sentences_per_s"]:
        lines += ["", "Tokenization alone, sentences/s (same mixed texts):", ""]
        for name, values in results["tokenization_sentences_per_s"].items():
            label = "HF tokenizers (Rust)" if name == "pytorch" else "tfst in-graph WordPiece"
            lines.append(
                f"- {label}: " + ", ".join(f"{key}: {value:,.0f}" for key, value in values.items())
            )
    if results["gflops"]:
        batch, tokens = ENCODER_SHAPE
        lines += [
            "",
            f"Encoder alone at batch {batch} x {tokens} tokens vs {MATMUL_SIZE}³ matmul, timed "
            "alternately in the same worker, GFLOP/s:",
            "",
        ]
        for name, values in results["gflops"].items():
            dtype = "bfloat16" if name.endswith("bfloat16") else "float32"
            share = values["encoder"] / values[f"matmul_{dtype}"]
            lines.append(
                f"- {name}: encoder {values['encoder']:.0f}; matmul float32 "
                f"{values['matmul_float32']:.0f}, bfloat16 {values['matmul_bfloat16']:.0f} "
                f"(encoder at {share:.0%} of this framework's {dtype} matmul)"
            )
    floor = results.get("projection_floor_ms")
    if floor and "pytorch" in floor and "tfst" in floor:
        tokens = floor["tfst"]["tokens"]
        budget = 0.7 * latency[baseline]["p50"]
        lines += [
            "",
            f"Projection matmuls alone (q, k, v, attention output, feed-forward; every layer, "
            f"with bias) on one text of {tokens} tokens, the latency texts' median, median ms "
            f"(0.7 × PyTorch's p50 latency is {budget:.2f} ms):",
            "",
            f"- PyTorch (`nn.Linear`): {floor['pytorch']['pytorch']:.2f}",
            f"- TensorFlow, as tfst's encoder runs them (oneDNN): {floor['tfst']['tensorflow']:.2f}",
            f"- TFLite interpreter (XNNPack): {floor['tfst']['tflite']:.2f}",
        ]
    return "\n".join(lines)


def _parse_sizes(text: str) -> list[int]:
    return [int(size) for size in text.split(",") if size]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="sentence-transformers folder or hub id")
    parser.add_argument("--render", type=Path, help="print the Markdown of a saved --json result")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="threads for every contender")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds")
    parser.add_argument("--texts", type=int, default=96, help="mixed texts of 5-60 words")
    parser.add_argument("--long-texts", type=int, default=32, help="texts near max_seq_length")
    parser.add_argument("--latency-texts", type=int, default=15, help="single calls per round")
    parser.add_argument("--batch-sizes", type=_parse_sizes, default=[1, 8, 32, 128])
    parser.add_argument("--long-batch-sizes", type=_parse_sizes, default=[8, 32])
    parser.add_argument(
        "--contenders",
        type=lambda text: text.split(","),
        default=list(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)} (pytorch is always run)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--verbose", action="store_true", help="show the workers' output")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--saved-model", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.render:
        print(markdown(json.loads(options.render.read_text())))
        return
    if not options.model:
        parser.error("--model is required")
    if options.worker:
        _pin_threads_in_environment(options.threads)
        _serve(options)
        return
    unknown = set(options.contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; choose from {CONTENDERS}")
    options.contenders = ["pytorch"] + [n for n in options.contenders if n != "pytorch"]
    results = run(options)
    print(markdown(results))
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
