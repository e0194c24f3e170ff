"""onnxruntime beside tfst and PyTorch: ``model.onnx`` and ``model_with_tokenizer.onnx`` timed
side by side with sentence-transformers and ``tfst.load(...).encode`` on the same texts.

    python benchmarks/bench_onnx.py --model <folder or hub id> [--threads 2] [--rounds 5]

The ONNX files come from ``model.export_onnx`` (run in a process of its own). Contenders, each in
its own worker process (``protocol``: own thread pools, own peak RSS, threads pinned alike before
the framework is imported):

- ``pytorch``: sentence-transformers ``encode`` (its Rust tokenizer + PyTorch);
- ``tfst``: ``tfst.load(model).encode`` (tokenizer, encoder and pooling in one TensorFlow graph);
- ``onnxruntime``: ``model.onnx``, fed by Hugging Face's Rust tokenizer (``tokenizers`` on the
  folder's ``tokenizer.json``, truncated at max_seq_length, padded to the longest text), as a
  Python or Java service does with a tokenizer in front;
- ``onnxruntime+tokenizer``: ``model_with_tokenizer.onnx``, strings in (onnxruntime-extensions);
- ``onnxruntime-tf2onnx``, only where tf2onnx is installed: tf2onnx's conversion of the same
  portable graph traced in TensorFlow (the route ``model.onnx`` was chosen over), fed like
  ``onnxruntime``.

Workloads: one text per call and 32 texts per call, each call on the texts as they come (the
callers sort nothing across calls). Every contender's embeddings are compared with PyTorch's
before timing (for the tokenizer model, the count of texts within 1e-5 is reported: its
tokenizer is not exact on every text, see the README). Then interleaved rounds, contenders
rotating (``timing``), medians [min–max], ratios to PyTorch, the machine load.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pydoc
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from machine import LoadMeter, describe_machine
from model_folders import max_seq_length_of, resolve_model_folder
from protocol import WorkerProcess, decode_array, encode_array, serve, thread_environment
from report import load_clause, ratio, run_clause, spread, table
from timing import interleaved_rounds, summary

CONTENDERS = ("pytorch", "tfst", "onnxruntime", "onnxruntime+tokenizer", "onnxruntime-tf2onnx")
BASELINE = "pytorch"
TOLERANCE = 1e-5
BATCH_SIZES = (1, 32)
PROSE_MODULES = ("argparse", "collections", "json", "logging", "pathlib", "re", "subprocess")


def prose_texts(count: int) -> list[str]:
    """English sentences of mixed length cut from standard-library docstrings (no download)."""
    sentences = []
    for name in PROSE_MODULES:
        text = pydoc.render_doc(name, renderer=pydoc.plaintext)
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split()))]
    sentences = [s for s in sentences if 20 <= len(s) <= 600]
    return [sentences[(index * 7919) % len(sentences)] for index in range(count)]


# --- export (its own process, so no worker inherits its memory) ----------------------------------


def export(folder: Path, destination: Path) -> None:
    """``model.onnx`` and ``model_with_tokenizer.onnx``; with tf2onnx, also ``tf2onnx.onnx``."""
    import tensorflow as tf

    import tfst

    model = tfst.load(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.export_onnx(destination, overwrite=True)
    try:
        import tf2onnx
    except ImportError:
        return
    from tfst.export.portable import TensorFlowOps, portable_forward

    class ErfOps(TensorFlowOps):
        def activation(self, name, x):  # tf2onnx has no Erfc, Keras' exact GELU
            if name == "gelu":
                return 0.5 * x * (1.0 + tf.math.erf(x / np.float32(np.sqrt(2.0))))
            return super().activation(name, x)

    spec = [tf.TensorSpec([None, None], tf.int64, name=n) for n in ("input_ids", "attention_mask")]

    @tf.function(input_signature=spec)
    def portable(input_ids, attention_mask):
        ids, mask = tf.cast(input_ids, tf.int32), tf.cast(attention_mask, tf.int32)
        return {"sentence_embedding": portable_forward(model, ErfOps(), ids, mask)}

    converted, _ = tf2onnx.convert.from_function(portable, input_signature=spec, opset=18)
    (destination / "tf2onnx.onnx").write_bytes(converted.SerializeToString())


# --- workers -------------------------------------------------------------------------------------


def _encoder(name: str, folder: Path, onnx_folder: Path, threads: int):
    """Load a contender; returns ``encode(list of texts) -> float32 [n, dimension]``."""
    if name == "pytorch":
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        reference = SentenceTransformer(str(folder), device="cpu")
        return lambda texts: reference.encode(texts, batch_size=len(texts))
    if name == "tfst":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        import tfst

        model = tfst.load(folder)
        return lambda texts: model.encode(texts, batch_size=len(texts))
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if name == "onnxruntime+tokenizer":
        import onnxruntime_extensions

        options.register_custom_ops_library(onnxruntime_extensions.get_library_path())
        session = onnxruntime.InferenceSession(
            str(onnx_folder / "model_with_tokenizer.onnx"), options
        )
        return lambda texts: session.run(None, {"text": np.array(texts, dtype=object)})[0]
    from tokenizers import Tokenizer

    file = "model.onnx" if name == "onnxruntime" else "tf2onnx.onnx"
    session = onnxruntime.InferenceSession(str(onnx_folder / file), options)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_seq_length_of(folder))
    pad_id = tokenizer.padding["pad_id"] if tokenizer.padding else 0
    tokenizer.enable_padding(pad_id=pad_id)

    def encode(texts):
        encodings = tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], np.int64),
        }
        return session.run(None, feeds)[0]

    return encode


def start_contender(name: str, folder: Path, onnx_folder: Path, threads: int):
    """The worker's ``start``: load, then answer ``embed`` (parity) and ``time`` requests."""
    started = time.perf_counter()
    encode = _encoder(name, folder, onnx_folder, threads)
    load_s = time.perf_counter() - started

    def batches(request, texts):
        stored, size = texts[request["name"]], request["batch_size"]
        return [stored[start : start + size] for start in range(0, len(stored), size)]

    def embed(request, texts):
        return encode_array(np.concatenate([encode(batch) for batch in batches(request, texts)]))

    def timed(request, texts):
        calls = batches(request, texts)
        start = time.perf_counter()
        for batch in calls:
            encode(batch)
        return {"seconds": time.perf_counter() - start}

    return {"embed": embed, "time": timed}, {"load_s": load_s}


# --- parent --------------------------------------------------------------------------------------


def run(options: argparse.Namespace) -> dict:
    folder = resolve_model_folder(options.model)
    texts = prose_texts(options.texts)
    load = LoadMeter()
    workers: dict[str, WorkerProcess] = {}
    with tempfile.TemporaryDirectory(prefix="tfst_bench_onnx_") as scratch:
        onnx_folder = Path(scratch) / "onnx"
        command = [sys.executable, __file__, "--model", str(folder), "--export", str(onnx_folder)]
        subprocess.run(command, check=True, env=None)
        names = [n for n in CONTENDERS if n in options.contenders]
        if not (onnx_folder / "tf2onnx.onnx").is_file() and "onnxruntime-tf2onnx" in names:
            names.remove("onnxruntime-tf2onnx")
        try:
            for name in names:
                _progress(options, f"starting {name}")
                worker_command = [sys.executable, __file__, "--worker", name]
                worker_command += ["--model", str(folder), "--export", str(onnx_folder)]
                worker_command += ["--threads", str(options.threads)]
                environment = thread_environment(options.threads)
                workers[name] = WorkerProcess(name, worker_command, environment, options.verbose)
                workers[name].ask(command="texts", name="texts", texts=texts)
            _progress(options, "comparing embeddings (and warming up)")
            parity = _parity(workers)

            def measure(contender: str, batch_size) -> list[float]:
                answer = workers[contender].ask(command="time", name="texts", batch_size=batch_size)
                return [len(texts) / answer["seconds"]]

            samples = interleaved_rounds(
                names,
                BATCH_SIZES,
                options.rounds,
                measure,
                on_round=lambda index: _progress(options, f"round {index + 1}/{options.rounds}"),
            )
            peak_rss = {name: w.ask(command="rss")["peak_rss_mb"] for name, w in workers.items()}
        finally:
            for worker in workers.values():
                worker.close()
    return {
        "date": datetime.date.today().isoformat(),
        "machine": describe_machine(),
        "model": str(folder),
        "threads": options.threads,
        "rounds": options.rounds,
        "texts": len(texts),
        "mean_characters": float(np.mean([len(text) for text in texts])),
        "parity": parity,
        "throughput": {
            name: {str(size): summary(samples[name][size]) for size in BATCH_SIZES}
            for name in names
        },
        "load_s": {name: w.startup["load_s"] for name, w in workers.items()},
        "peak_rss_mb": peak_rss,
        "machine_load": load.stop(),
    }


def _parity(workers: dict[str, WorkerProcess]) -> dict:
    """Largest difference to PyTorch and texts within tolerance, per contender, at both batch
    sizes; a float32 contender off on any text stops the run (the tokenizer model may be off on
    the texts where its ids differ)."""
    parity = {}
    for size in BATCH_SIZES:
        outputs = {
            name: decode_array(worker.ask(command="embed", name="texts", batch_size=size))
            for name, worker in workers.items()
        }
        for name, output in outputs.items():
            difference = np.abs(output - outputs[BASELINE]).max(axis=1)
            entry = parity.setdefault(name, {"max_abs_diff": 0.0, "within": len(difference)})
            entry["max_abs_diff"] = max(entry["max_abs_diff"], float(difference.max()))
            entry["within"] = min(entry["within"], int((difference <= TOLERANCE).sum()))
            exact = name != "onnxruntime+tokenizer"
            if exact and difference.max() > TOLERANCE:
                raise SystemExit(
                    f"error: {name} differs from PyTorch by {difference.max():.2e} at batch "
                    f"{size} (tolerance {TOLERANCE}); nothing was timed"
                )
    return parity


def _progress(options: argparse.Namespace, message: str) -> None:
    if not options.quiet:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


def markdown(results: dict) -> str:
    names = list(results["throughput"])
    threads = results["threads"]
    lines = [
        f"{run_clause(results['date'], results['machine'])} · {threads} threads per contender "
        f"(torch / TensorFlow / onnxruntime intra-op {threads}, inter-op 1) · median of "
        f"{results['rounds']} interleaved rounds [min–max] · {results['texts']} English "
        f"sentences of 20–600 characters (mean {results['mean_characters']:.0f})"
        f"{load_clause(results.get('machine_load'))}",
        "",
    ]
    rows = []
    for size in BATCH_SIZES:
        measured = results["throughput"]
        reference = measured[BASELINE][str(size)]["median"]
        cells = []
        for name in names:
            cell = spread(measured[name][str(size)])
            if name != BASELINE:
                cell += ratio(measured[name][str(size)]["median"], reference)
            cells.append(cell)
        label = "1 text per call" if size == 1 else f"{size} texts per call"
        rows.append([f"{label}, sentences/s", *cells])
    parity = results["parity"]
    total = results["texts"]
    rows.append(
        [
            "max abs diff to PyTorch (texts within 1e-5)",
            *(f"{parity[n]['max_abs_diff']:.1e} ({parity[n]['within']}/{total})" for n in names),
        ]
    )
    rows.append(["load, s", *(f"{results['load_s'][n]:.2f}" for n in names)])
    rows.append(["peak RSS, MB", *(f"{results['peak_rss_mb'][n]:,.0f}" for n in names)])
    lines += table(["", *names], rows)
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder or Hugging Face Hub id")
    parser.add_argument("--render", type=Path, help="print the Markdown of a saved --json result")
    parser.add_argument("--threads", type=int, default=2, help="threads for every contender")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds")
    parser.add_argument("--texts", type=int, default=256, help="texts per workload")
    parser.add_argument(
        "--contenders",
        type=lambda text: text.split(","),
        default=list(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)} (pytorch is always run)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--verbose", action="store_true", help="show the workers' output")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> None:
    arguments = parser()
    options = arguments.parse_args(argv)
    if options.render:
        print(markdown(json.loads(options.render.read_text())))
        return
    if not options.model:
        arguments.error("--model is required")
    if options.worker:
        folder = Path(options.model)
        serve(lambda: start_contender(options.worker, folder, options.export, options.threads))
        return
    if options.export:
        export(Path(options.model), options.export)
        return
    options.contenders = [BASELINE, *(n for n in options.contenders if n != BASELINE)]
    unknown = sorted(set(options.contenders) - set(CONTENDERS))
    if unknown:
        arguments.error(f"unknown contenders {unknown}; choose from {', '.join(CONTENDERS)}")
    results = run(options)
    print(markdown(results))
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
