"""Sentences/s through ``tfst embed-corpus`` (Beam DirectRunner, worker processes) vs ``encode``.

    python benchmarks/bench_beam.py --model <folder or hub id> [--texts 4000] [--workers 2]

Both embed the same texts (cut from the standard library's docstrings, 5-40 words).
``encode``: one process, model loaded beforehand, only the call timed (once before and once after
the pipeline; the table shows the mean). ``embed-corpus``: the whole ``tfst.beam.embed_corpus``
call on an exported SavedModel with the DirectRunner's FnApiRunner in ``multi_processing`` mode,
worker start and model loading included; a run on ``--workers`` x 8 texts measures that startup
alone, and the last row is the throughput after it. The pipeline's embeddings are checked
against ``encode`` (max abs diff) before the table is printed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

PROSE_MODULES = ("argparse", "json", "pathlib", "logging", "subprocess", "typing", "unittest")


def make_texts(count: int, seed: int) -> list[str]:
    """``count`` texts of 5-40 words of English prose, deterministic for a seed."""
    import importlib

    words = []
    for name in PROSE_MODULES:
        module = importlib.import_module(name)
        for item in (module, *vars(module).values()):
            doc = getattr(item, "__doc__", None)
            if isinstance(doc, str):
                words.extend(re.sub(r"[^\w.,;:!?' -]", " ", doc).split())
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        length = rng.randint(5, 40)
        start = rng.randrange(len(words) - length)
        texts.append(" ".join(words[start : start + length]))
    return texts


def write_corpus(texts: list[str], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as file:
        for index, text in enumerate(texts):
            file.write(json.dumps({"id": str(index), "text": text}) + "\n")


def run_pipeline(saved_model: Path, texts: list[str], folder: Path, workers: int) -> float:
    from apache_beam.options.pipeline_options import PipelineOptions

    from tfst.beam import embed_corpus

    write_corpus(texts, folder / "corpus.jsonl")
    options = PipelineOptions(
        [
            "--runner=FnApiRunner",
            f"--direct_num_workers={workers}",
            "--direct_running_mode=multi_processing",
        ]
    )
    start = time.perf_counter()
    summary = embed_corpus(
        str(saved_model), str(folder / "corpus.jsonl"), str(folder / "out"), options=options
    )
    seconds = time.perf_counter() - start
    if summary.embeddings != len(texts):
        raise SystemExit(f"the pipeline wrote {summary.embeddings} of {len(texts)} embeddings")
    return seconds


def read_embeddings(folder: Path, count: int) -> np.ndarray:
    import pyarrow.parquet as pq

    table = pq.read_table(sorted(glob.glob(f"{folder}/out/embeddings-*.parquet")))
    flat = table["embedding"].combine_chunks().flatten().to_numpy()
    embeddings = flat.reshape(table.num_rows, -1)
    if table.num_rows != count:
        raise SystemExit(f"read {table.num_rows} of {count} embeddings back")
    return embeddings[np.argsort(np.array(table["id"].to_pylist(), dtype=np.int64))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="sentence-transformers folder or hub id")
    parser.add_argument("--texts", type=int, default=4000, help="texts of 5-40 words")
    parser.add_argument("--workers", type=int, default=2, help="DirectRunner worker processes")
    parser.add_argument("--batch-size", type=int, default=32, help="encode's batch size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import tfst

    texts = make_texts(args.texts, args.seed)
    model = tfst.load(args.model)
    model.encode(texts[:64], batch_size=args.batch_size)  # trace and warm up

    def timed_encode() -> tuple[float, np.ndarray]:
        start = time.perf_counter()
        embeddings = model.encode(texts, batch_size=args.batch_size)
        return time.perf_counter() - start, embeddings

    with tempfile.TemporaryDirectory(prefix="bench_beam-") as scratch:
        scratch = Path(scratch)
        saved_model = model.export(scratch / "savedmodel")
        encode_before, reference = timed_encode()
        (scratch / "full").mkdir()
        pipeline_seconds = run_pipeline(saved_model, texts, scratch / "full", args.workers)
        pipeline_embeddings = read_embeddings(scratch / "full", len(texts))
        encode_after, _ = timed_encode()
        (scratch / "startup").mkdir()
        startup_texts = texts[: 8 * args.workers]
        startup_seconds = run_pipeline(
            saved_model, startup_texts, scratch / "startup", args.workers
        )

    max_diff = float(np.abs(pipeline_embeddings - reference).max())
    encode_seconds = (encode_before + encode_after) / 2
    steady = (len(texts) - len(startup_texts)) / (pipeline_seconds - startup_seconds)
    rows = [
        (
            f"encode (1 process, batch {args.batch_size})",
            encode_seconds,
            len(texts) / encode_seconds,
        ),
        (
            f"embed-corpus, DirectRunner (FnApiRunner), {args.workers} workers",
            pipeline_seconds,
            len(texts) / pipeline_seconds,
        ),
        (f"  startup alone ({len(startup_texts)} texts)", startup_seconds, None),
        ("  after startup", pipeline_seconds - startup_seconds, steady),
    ]
    print(f"model {args.model}, {len(texts)} texts of 5-40 words, {os.cpu_count()} CPUs")
    print(f"pipeline vs encode: max abs diff {max_diff:.2e}")
    print(f"| {'contender':<52} | {'seconds':>8} | {'sentences/s':>11} |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 13}|")
    for name, seconds, rate in rows:
        shown = f"{rate:11.1f}" if rate is not None else " " * 11
        print(f"| {name:<52} | {seconds:8.1f} | {shown} |")


if __name__ == "__main__":
    main()
