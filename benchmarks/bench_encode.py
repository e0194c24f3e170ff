"""Side-by-side encode benchmark: sentence-transformers (PyTorch) against tfst, in one run.

Every contender runs in its own worker process (so each has its own peak RSS and its own time
to first embedding); the parent sends the same texts to all of them and interleaves the timed
passes round by round, rotating the order, so machine noise hits every contender alike.
Before anything is timed, every contender's embeddings are compared with PyTorch's.

    python benchmarks/bench_encode.py --model <folder or hub id> --device cpu [--json out.json]

Contenders (``encode_workers``): ``pytorch``, ``tfst``, ``tfst-savedmodel``,
``tfst-keras-call``, ``tfst-bfloat16``, ``tfst-savedmodel-tftext``, ``tfst-tflite``,
``tfst-tflite-int8``. The run is ``encode_benchmark.run``, the table
``encode_report.markdown``; texts, worker processes, timing, machine load and diagnostics come
from the shared modules beside this script (see README.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import encode_report
from encode_benchmark import run
from encode_workers import CONTENDERS, start_contender
from protocol import serve


def _parse_sizes(text: str) -> list[int]:
    return [int(size) for size in text.split(",") if size]


def parser() -> argparse.ArgumentParser:
    """The benchmark's options (``encode_benchmark.run`` reads them)."""
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
    return parser


def main(argv: list[str] | None = None) -> None:
    arguments = parser()
    options = arguments.parse_args(argv)
    if options.render:
        print(encode_report.markdown(json.loads(options.render.read_text())))
        return
    if not options.model:
        arguments.error("--model is required")
    if options.worker:
        serve(
            lambda: start_contender(
                options.worker, options.model, options.device, options.threads, options.saved_model
            )
        )
        return
    unknown = set(options.contenders) - set(CONTENDERS)
    if unknown:
        arguments.error(f"unknown contenders {sorted(unknown)}; choose from {CONTENDERS}")
    options.contenders = ["pytorch"] + [n for n in options.contenders if n != "pytorch"]
    results = run(options)
    print(encode_report.markdown(results))
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
