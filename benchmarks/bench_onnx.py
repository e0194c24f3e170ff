"""onnxruntime beside tfst and PyTorch: ``model.onnx`` and ``model_with_tokenizer.onnx`` timed
side by side with sentence-transformers and ``tfst.load(...).encode`` on the same texts.

    python benchmarks/bench_onnx.py --model <folder or hub id> [--threads 2] [--rounds 5]

Contenders, all in this one process, timed in interleaved rounds (the order rotating each
round, so machine noise hits every contender alike), median per contender:

- ``pytorch``: sentence-transformers ``encode`` (its Rust tokenizer + PyTorch);
- ``tfst``: ``tfst.load(model).encode`` (tokenizer, encoder and pooling in one TensorFlow graph);
- ``onnxruntime``: ``model.onnx``, fed ids from Hugging Face's Rust tokenizer (what a Python
  or Java service does with tokenizers / DJL's tokenizer in front);
- ``onnxruntime+tokenizer``: ``model_with_tokenizer.onnx``, strings in (onnxruntime-extensions);
- ``onnxruntime-tf2onnx`` (only if tf2onnx is importable): tf2onnx's conversion of the same
  portable graph traced in TensorFlow, the route ``model.onnx`` was chosen over.

Before timing, every contender's embeddings are compared with PyTorch's (for the tokenizer
model, on the texts where its ids equal Hugging Face's, and the count of those is printed).
"""

from __future__ import annotations

import argparse
import os
import pydoc
import re
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

PROSE_MODULES = ("argparse", "collections", "json", "logging", "pathlib", "re", "subprocess")


def prose_texts(count: int) -> list[str]:
    """English sentences of mixed length cut from standard-library docstrings (no download)."""
    sentences = []
    for name in PROSE_MODULES:
        text = pydoc.render_doc(name, renderer=pydoc.plaintext)
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split()))]
    sentences = [s for s in sentences if 20 <= len(s) <= 600]
    return [sentences[(index * 7919) % len(sentences)] for index in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model folder or Hugging Face Hub id")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--texts", type=int, default=256)
    args = parser.parse_args()
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[variable] = str(args.threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import onnxruntime
    import onnxruntime_extensions
    import tensorflow as tf
    import torch
    from sentence_transformers import SentenceTransformer

    import tfst
    from tfst.hub import resolve_model_folder

    torch.set_num_threads(args.threads)
    folder = resolve_model_folder(args.model)
    reference = SentenceTransformer(str(folder), device="cpu")
    model = tfst.load(folder)
    export = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.export_onnx(export, overwrite=True)

    def session(path, extensions=False):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        if extensions:
            options.register_custom_ops_library(onnxruntime_extensions.get_library_path())
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    ids_session = session(export / "model.onnx")
    text_session = session(export / "model_with_tokenizer.onnx", extensions=True)

    def run_ids(onnx_session, texts):
        features = reference.preprocess(texts)
        feeds = {
            name: features[name].numpy().astype(np.int64)
            for name in ("input_ids", "attention_mask")
        }
        return onnx_session.run(None, feeds)[0]

    contenders = {
        "pytorch": lambda texts: reference.encode(texts, batch_size=len(texts)),
        "tfst": lambda texts: model.encode(texts, batch_size=len(texts)),
        "onnxruntime": lambda texts: run_ids(ids_session, texts),
        "onnxruntime+tokenizer": lambda texts: text_session.run(
            None, {"text": np.array(texts, dtype=object)}
        )[0],
    }
    try:
        import tf2onnx
    except ImportError:
        tf2onnx = None
    if tf2onnx is not None:
        from tfst.export.portable import TensorFlowOps, portable_forward

        class ErfOps(TensorFlowOps):
            def activation(self, name, x):  # tf2onnx has no Erfc, Keras' exact GELU
                if name == "gelu":
                    return 0.5 * x * (1.0 + tf.math.erf(x / np.float32(np.sqrt(2.0))))
                return super().activation(name, x)

        spec = [
            tf.TensorSpec([None, None], tf.int64, name=n) for n in ("input_ids", "attention_mask")
        ]

        @tf.function(input_signature=spec)
        def portable(input_ids, attention_mask):
            ids, mask = tf.cast(input_ids, tf.int32), tf.cast(attention_mask, tf.int32)
            return {"sentence_embedding": portable_forward(model, ErfOps(), ids, mask)}

        converted, _ = tf2onnx.convert.from_function(portable, input_signature=spec, opset=18)
        converted_path = export / "tf2onnx.onnx"
        converted_path.write_bytes(converted.SerializeToString())
        converted_session = session(converted_path)
        contenders["onnxruntime-tf2onnx"] = lambda texts: run_ids(converted_session, texts)

    texts = prose_texts(args.texts)
    expected = reference.encode(texts, batch_size=32)
    for name, encode in contenders.items():
        actual = np.concatenate([encode(texts[i : i + 32]) for i in range(0, len(texts), 32)])
        difference = np.abs(actual - expected).max(axis=1)
        within = int((difference <= 1e-5).sum())
        print(
            f"{name:24s} max abs diff to pytorch {difference.max():.2e}; {within}/{len(texts)} texts within 1e-5"
        )

    workloads = {
        "1 text per call": [texts[i : i + 1] for i in range(min(64, len(texts)))],
        "32 texts per call": [texts[i : i + 32] for i in range(0, len(texts), 32)],
    }
    print(f"\nthreads {args.threads}, {args.rounds} rounds, median sentences/s")
    print(f"{'contender':24s}" + "".join(f"{w:>20s}" for w in workloads))
    results = {name: {w: [] for w in workloads} for name in contenders}
    names = list(contenders)
    for round_index in range(args.rounds):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for workload, batches in workloads.items():
            for name in order:
                start = time.perf_counter()
                for batch in batches:
                    contenders[name](batch)
                elapsed = time.perf_counter() - start
                results[name][workload].append(sum(map(len, batches)) / elapsed)
    for name in names:
        row = "".join(f"{statistics.median(results[name][w]):20.1f}" for w in workloads)
        print(f"{name:24s}{row}")


if __name__ == "__main__":
    main()
