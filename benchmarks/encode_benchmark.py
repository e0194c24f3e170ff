"""One run of the encode benchmark: texts, contenders, parity, interleaved rounds, diagnostics.

``run(options)`` returns the results dict that ``--json`` writes and ``encode_report.markdown``
renders. The options are ``bench_encode.py``'s (see ``bench_encode.parser``), so another script
can run the same benchmark on other models or contenders by building them with that parser.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
from pathlib import Path

import numpy as np
from corpus import english_texts, search_queries
from encode_workers import EXPORT_CALLS, FLOAT32_CONTENDERS, FLOAT32_TOLERANCE, export_artifact
from machine import LoadMeter, describe_machine
from model_folders import max_seq_length_of, resolve_model_folder
from protocol import WorkerProcess, decode_array, thread_environment
from timing import interleaved_rounds, summary

# The script whose --worker mode serves a contender (bench_encode.py's main).
WORKER_SCRIPT = Path(__file__).with_name("bench_encode.py")


def run(options: argparse.Namespace) -> dict:
    folder = resolve_model_folder(options.model)
    options.model = str(folder)
    max_seq_length = max_seq_length_of(folder)
    sets = {
        "mix": english_texts(options.texts, 5, 60, seed=0),
        # About 1.2 tokens a word: these fill max_seq_length and are truncated there.
        "long": english_texts(options.long_texts, max_seq_length, max_seq_length + 20, seed=1),
    }
    # One text per call: mixed sentences, and short search queries (4-15 tokens).
    latency_sets = {"latency": sets["mix"][: options.latency_texts], "queries": search_queries()}
    workloads = [("mix", size) for size in options.batch_sizes]
    workloads += [("long", size) for size in options.long_batch_sizes]

    workers: dict[str, WorkerProcess] = {}
    load = LoadMeter()
    with tempfile.TemporaryDirectory(prefix="tfst_bench_") as scratch:
        try:
            for name in options.contenders:
                artifact = Path(scratch) / name
                if name in EXPORT_CALLS:
                    _progress(options, f"exporting {name}")
                    export_artifact(name, options.model, artifact, options.threads, options.verbose)
                _progress(options, f"starting {name}")
                workers[name] = _start_worker(name, options, str(artifact))
                for set_name, texts in [*sets.items(), *latency_sets.items()]:
                    workers[name].ask(command="texts", name=set_name, texts=texts)
            _progress(options, "checking outputs against sentence-transformers")
            parity = check_parity(workers, {**sets, "queries": latency_sets["queries"]})

            _progress(options, "warming up every workload")
            for set_name, batch_size in workloads:
                warm_up = f"{set_name}@{batch_size}"
                for worker in workers.values():
                    worker.ask(command="texts", name=warm_up, texts=sets[set_name][:batch_size])
                    worker.ask(command="encode", name=warm_up, batch_size=batch_size)

            def measure(name: str, workload) -> list[float]:
                if workload in latency_sets:
                    return workers[name].ask(command="latency", name=workload)["seconds"]
                set_name, batch_size = workload
                answer = workers[name].ask(command="encode", name=set_name, batch_size=batch_size)
                return [len(sets[set_name]) / answer["seconds"]]

            samples = interleaved_rounds(
                list(workers),
                [*workloads, *latency_sets],
                options.rounds,
                measure,
                on_round=lambda index: _progress(options, f"round {index + 1}/{options.rounds}"),
            )

            # Peak memory of the encode workloads, before the diagnostics below build extra
            # graphs (a TFLite conversion, 1024³ matmuls) in the same workers.
            peak_rss = {name: w.ask(command="rss")["peak_rss_mb"] for name, w in workers.items()}
            _progress(options, "tokenization, encoder FLOP/s, matmul peaks, projection floor")
            tokenization = {}
            for name in ("pytorch", "tfst"):
                if name in workers:
                    tokenization[name] = {
                        f"batch {size}": len(sets["mix"])
                        / workers[name].ask(command="tokenize", name="mix", batch_size=size)[
                            "seconds"
                        ]
                        for size in (1, 32)
                    }
            flops = {
                name: workers[name].ask(command="flops")
                for name in ("pytorch", "tfst", "tfst-bfloat16")
                if name in workers
            }
            projection_floor = {
                name: workers[name].ask(command="projection_floor", name="latency")
                for name in ("pytorch", "tfst")
                if name in workers
            }
        finally:
            for worker in workers.values():
                worker.close()
    machine_load = load.stop()

    return {
        "date": datetime.date.today().isoformat(),
        "machine": describe_machine(),
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
            name: {
                f"{set_name}@{size}": summary(by_workload[(set_name, size)])
                for set_name, size in workloads
            }
            for name, by_workload in samples.items()
        },
        "latency_ms": {
            name: {
                set_name: {
                    "p50": float(np.percentile(by_workload[set_name], 50) * 1e3),
                    "p95": float(np.percentile(by_workload[set_name], 95) * 1e3),
                    "count": len(by_workload[set_name]),
                }
                for set_name in latency_sets
            }
            for name, by_workload in samples.items()
        },
        "first_embedding_s": {name: w.startup for name, w in workers.items()},
        "peak_rss_mb": peak_rss,
        "tokenization_sentences_per_s": tokenization,
        "gflops": flops,
        "projection_floor_ms": projection_floor,
        "machine_load": machine_load,
    }


def check_parity(workers: dict[str, WorkerProcess], sets: dict[str, list[str]]) -> dict:
    """Embed every text set with every contender and compare with PyTorch: max abs diff, min
    and mean cosine, and retrieval agreement (``top10_overlap``: every text as a query over
    all texts, the share of PyTorch's 10 nearest that the contender also ranks in its 10
    nearest, averaged). Float32 contenders must match PyTorch to 1e-5."""
    embedded = {
        name: np.concatenate(
            [
                decode_array(worker.ask(command="embed", name=set_name, batch_size=32))
                for set_name in sets
            ]
        )
        for name, worker in workers.items()
    }
    reference = embedded["pytorch"]
    parity = {}
    for name, embeddings in embedded.items():
        if name == "pytorch":
            continue
        cosine = np.sum(embeddings * reference, axis=1) / (
            np.linalg.norm(embeddings, axis=1) * np.linalg.norm(reference, axis=1)
        )
        parity[name] = {
            "max_abs_diff": float(np.abs(embeddings - reference).max()),
            "min_cosine": float(cosine.min()),
            "mean_cosine": float(cosine.mean()),
            "top10_overlap": _top10_overlap(embeddings, reference),
        }
    for name in FLOAT32_CONTENDERS:
        if name in parity and parity[name]["max_abs_diff"] > FLOAT32_TOLERANCE:
            raise SystemExit(
                f"error: {name} differs from sentence-transformers by "
                f"{parity[name]['max_abs_diff']:.2e} > {FLOAT32_TOLERANCE:g}; not timing it"
            )
    return parity


def _top10_overlap(embeddings: np.ndarray, reference: np.ndarray) -> float:
    def nearest(vectors: np.ndarray) -> np.ndarray:
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        similarity = unit @ unit.T
        np.fill_diagonal(similarity, -np.inf)  # a text is not its own neighbour
        return np.argsort(-similarity, axis=1, kind="stable")[:, :10]

    pairs = zip(nearest(embeddings), nearest(reference), strict=True)
    return float(np.mean([len(set(mine) & set(theirs)) / 10 for mine, theirs in pairs]))


def _start_worker(name: str, options: argparse.Namespace, artifact: str) -> WorkerProcess:
    command = [sys.executable, str(WORKER_SCRIPT), "--worker", name, "--model", options.model]
    command += ["--device", options.device, "--threads", str(options.threads)]
    command += ["--saved-model", artifact]
    return WorkerProcess(name, command, thread_environment(options.threads), options.verbose)


def _progress(options: argparse.Namespace, message: str) -> None:
    if not options.quiet:
        print(f"[bench] {message}", file=sys.stderr, flush=True)
