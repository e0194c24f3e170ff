"""Tokenization alone: Hugging Face `tokenizers` (Rust) against tfst's in-graph tokenizer.

    python benchmarks/bench_tokenizers.py --model <BERT folder or hub id> [--json out.json]

Three pipelines (``tokenizer_pipelines``): the model folder's WordPiece as tfst resolves it, an
XLM-R style SentencePiece Unigram and a RoBERTa style byte-level BPE, both trained at start-up.
Each contender (``tokenizer_workers``: ``rust``, ``tfst`` called eagerly, ``tfst-function``
pre-traced) runs in its own process and loads every pipeline from the same ``tokenizer.json``.
Texts (``corpus``): English sentences, multilingual sentences, and one 10,000-character Chinese
paragraph, untruncated and truncated to 512 ids. Every workload's ids are compared between the
contenders before anything is timed; a pipeline whose ids differ is not timed (and the run exits
with status 1), a pipeline tfst cannot load yet is reported with the reason. Then interleaved
rounds as in ``bench_encode.py``: medians [min–max], ratios tfst/Rust, machine load.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from corpus import cjk_paragraph, english_texts, multilingual_texts
from machine import LoadMeter, describe_machine
from protocol import WorkerProcess, serve, thread_environment
from report import load_clause, ratio, run_clause, spread, table
from timing import interleaved_rounds, summary
from tokenizer_pipelines import Pipeline, builders
from tokenizer_workers import CONTENDERS, start_contender

BASELINE = "rust"
CJK_CHARACTERS = 10_000
TRUNCATED_LENGTH = 512
# Whose pipeline is split into stages (up to the model, and whole), on one batch of this size.
STAGES_CONTENDER = "tfst-function"
STAGES_BATCH = 32


@dataclass(frozen=True)
class Workload:
    """One timed pass: a text set in batches, optionally truncated."""

    set_name: str
    batch_size: int
    max_length: int | None = None

    @property
    def key(self) -> str:
        key = f"{self.set_name}@{self.batch_size}"
        return key if self.max_length is None else f"{key}/{self.max_length}"

    @property
    def per_text(self) -> bool:
        """Reported as milliseconds per text (the one long text) rather than texts/s."""
        return self.set_name == "cjk"


WORKLOADS = (
    Workload("english", 1),
    Workload("english", 32),
    Workload("multilingual", 1),
    Workload("multilingual", 32),
    Workload("cjk", 1),
    Workload("cjk", 1, TRUNCATED_LENGTH),
)


def run(options: argparse.Namespace) -> tuple[dict, bool]:
    """The results, and whether every pipeline that loaded gave identical ids."""
    sets = {
        "english": english_texts(options.texts, 5, 60, seed=0),
        "multilingual": multilingual_texts(options.texts, 5, 30, seed=0),
        "cjk": [cjk_paragraph(CJK_CHARACTERS, seed=0)],
    }
    pipelines: dict[str, dict] = {}  # the report's entry of each pipeline
    workers: dict[str, WorkerProcess] = {}
    load = LoadMeter()
    with tempfile.TemporaryDirectory(prefix="tfst_bench_tokenizers_") as scratch:
        try:
            # Workers first, while this process is small: Linux keeps ru_maxrss across exec, so
            # a worker spawned after the training below would report this process's peak as its
            # own.
            for name in CONTENDERS:
                _progress(options, f"starting {name}")
                workers[name] = _start_worker(name, options)
                for set_name, texts in sets.items():
                    workers[name].ask(command="texts", name=set_name, texts=texts)
            timed = []
            for name, build in builders(options.model).items():
                _progress(options, f"building the {name} pipeline, loading it, comparing ids")
                entry = pipelines[name] = {"title": name}
                try:
                    pipeline = build()
                except Exception as error:  # a missing trainer, say: report it, go on
                    entry.update(status="not built", reason=f"{type(error).__name__}: {error}")
                    continue
                path = Path(scratch) / f"{name}.json"
                path.write_text(pipeline.tokenizer_json, encoding="utf-8")
                entry.update(title=pipeline.title, stages=_stages(pipeline.tokenizer_json))
                if _load_everywhere(workers, pipeline, path, entry) and _same_ids(
                    workers, name, sets, entry
                ):
                    entry["status"] = "timed"
                    timed.append(name)
            workloads = [(name, workload) for name in timed for workload in WORKLOADS]

            def measure(contender: str, item) -> list[float]:
                name, workload = item
                answer = workers[contender].ask(
                    command="encode",
                    pipeline=name,
                    name=workload.set_name,
                    batch_size=workload.batch_size,
                    max_length=workload.max_length,
                )
                if "failed" in answer:  # the same call passed the ids check: stop, something broke
                    raise SystemExit(
                        f"error: {contender}, {name}, {workload.key}: {answer['failed']}"
                    )
                seconds = answer["seconds"]
                if workload.per_text:
                    return [seconds * 1e3 / len(sets[workload.set_name])]
                return [len(sets[workload.set_name]) / seconds]

            samples = interleaved_rounds(
                list(workers),
                workloads,
                options.rounds,
                measure,
                on_round=lambda index: _progress(options, f"round {index + 1}/{options.rounds}"),
            )
            for name, workload in workloads:
                pipelines[name].setdefault("workloads", {})[workload.key] = {
                    contender: summary(samples[contender][(name, workload)])
                    for contender in workers
                }
            for name in timed:
                pipelines[name]["stages_ms"] = {
                    set_name: {
                        contender: workers[contender].ask(
                            command="stages", pipeline=name, name=set_name, batch_size=STAGES_BATCH
                        )
                        for contender in (STAGES_CONTENDER, BASELINE)
                    }
                    for set_name in ("english", "multilingual")
                }
            peak_rss = {name: w.ask(command="rss")["peak_rss_mb"] for name, w in workers.items()}
        finally:
            for worker in workers.values():
                worker.close()
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": describe_machine(),
        "model": options.model,
        "threads": options.threads,
        "rounds": options.rounds,
        "texts": {name: len(texts) for name, texts in sets.items()},
        "mean_words": float(np.mean([len(text.split()) for text in sets["english"]])),
        "cjk_characters": CJK_CHARACTERS,
        "pipelines": pipelines,
        "startup": {name: w.startup for name, w in workers.items()},
        "peak_rss_mb": peak_rss,
        "machine_load": load.stop(),
    }
    identical = all(entry["status"] != "ids differ" for entry in pipelines.values())
    return results, identical


def _load_everywhere(
    workers: dict[str, WorkerProcess], pipeline: Pipeline, path: Path, entry: dict
) -> bool:
    """Load a pipeline in every contender; the first refusal is recorded in ``entry``."""
    entry["load"] = {}
    for contender, worker in workers.items():
        answer = worker.ask(
            command="load",
            pipeline=pipeline.name,
            path=str(path),
            pad_token_id=pipeline.pad_token_id,
            pad_token=pipeline.pad_token,
        )
        if not answer["loaded"]:
            entry.update(status="not loaded", reason=f"{contender}: {answer['reason']}")
            print(f"[bench] {pipeline.name}: {entry['reason']}", file=sys.stderr)
            return False
        entry["load"][contender] = {key: answer[key] for key in ("build_s", "first_call_s")}
    return True


def _same_ids(workers: dict[str, WorkerProcess], name: str, sets: dict, entry: dict) -> bool:
    """Whether every workload's ids, from every contender, equal Rust's, compared on the very
    calls that are timed (batches, truncation); the first difference is recorded in ``entry``.
    Doubles as every workload's warm-up."""
    entry["ids_per_text"] = {}
    for workload in WORKLOADS:
        ids = {}
        for contender, worker in workers.items():
            answer = worker.ask(
                command="encode",
                pipeline=name,
                name=workload.set_name,
                batch_size=workload.batch_size,
                max_length=workload.max_length,
                ids=True,
            )
            if "failed" in answer:
                entry.update(
                    status="failed", reason=f"{workload.key}, {contender}: {answer['failed']}"
                )
                print(f"[bench] {name}: {entry['reason']}", file=sys.stderr)
                return False
            ids[contender] = answer["ids"]
        reference = ids[BASELINE]
        entry["ids_per_text"][workload.key] = float(np.mean([len(row) for row in reference]))
        for contender, rows in ids.items():
            for index, (expected, found) in enumerate(zip(reference, rows, strict=True)):
                if expected != found:
                    reason = _difference(workload, sets, index, contender, expected, found)
                    entry.update(status="ids differ", reason=reason)
                    print(f"[bench] {name}: {reason}", file=sys.stderr)
                    return False
    return True


def _difference(workload, sets, index, contender, expected, found) -> str:
    position = next(
        (i for i, (a, b) in enumerate(zip(expected, found, strict=False)) if a != b),
        min(len(expected), len(found)),
    )
    text = sets[workload.set_name][index]
    excerpt = text if len(text) <= 60 else text[:60] + "…"
    return (
        f"{workload.key}, text {index} ({excerpt!r}): {contender} differs from rust at id "
        f"{position} of {len(expected)}: rust {expected[position : position + 5]}, "
        f"{contender} {found[position : position + 5]}"
    )


def _stages(tokenizer_json: str) -> str:
    """``Precompiled → WhitespaceSplit + Metaspace → Unigram → TemplateProcessing``."""
    spec = json.loads(tokenizer_json)

    def types(stage: dict | None, members: str) -> str:
        if stage is None:
            return "—"
        if stage["type"] == "Sequence":
            return " + ".join(item["type"] for item in stage[members])
        return stage["type"]

    return " → ".join(
        [
            types(spec.get("normalizer"), "normalizers"),
            types(spec.get("pre_tokenizer"), "pretokenizers"),
            spec["model"]["type"],
            types(spec.get("post_processor"), "processors"),
        ]
    )


def _start_worker(name: str, options: argparse.Namespace) -> WorkerProcess:
    environment = thread_environment(options.threads)
    # Rust gets as many threads as TensorFlow: its rayon pool over the texts of a batch.
    environment["TOKENIZERS_PARALLELISM"] = "true" if options.threads > 1 else "false"
    environment["RAYON_NUM_THREADS"] = str(options.threads)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", name]
    command += ["--threads", str(options.threads)]
    return WorkerProcess(name, command, environment, options.verbose)


def _progress(options: argparse.Namespace, message: str) -> None:
    if not options.quiet:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- report --------------------------------------------------------------------------------------


def _label(workload: Workload, cjk_characters: int) -> str:
    if workload.per_text:
        label = f"CJK paragraph ({cjk_characters:,} characters), ms"
        if workload.max_length is not None:
            label += f", truncated to {workload.max_length} ids"
        return label
    return f"{workload.set_name}, batch {workload.batch_size}, sentences/s"


def markdown(results: dict) -> str:
    threads = results["threads"]
    texts = results["texts"]
    lines = [
        f"{run_clause(results['date'], results['machine'])} · {threads} threads per contender "
        f"(Rust: RAYON_NUM_THREADS={threads}; TF intra-op {threads}, inter-op 1) · median of "
        f"{results['rounds']} interleaved rounds [min–max] · {texts['english']} English texts "
        f"of 5–60 words (mean {results['mean_words']:.0f}), {texts['multilingual']} "
        f"multilingual texts of 5–30 words, one CJK paragraph of "
        f"{results['cjk_characters']:,} characters · no truncation unless said"
        f"{load_clause(results.get('machine_load'))}",
        "",
        "Ratios are tfst / Rust: above 1 is faster for sentences/s, slower for ms.",
    ]
    for entry in results["pipelines"].values():
        lines += [
            "",
            f"**{entry['title']}**" + (f": {entry['stages']}" if "stages" in entry else ""),
        ]
        if entry["status"] != "timed":
            lines += ["", f"Not timed ({entry['status']}): {entry['reason']}"]
            continue
        names = list(next(iter(entry["workloads"].values())))
        rows = []
        for workload in WORKLOADS:
            measured = entry["workloads"][workload.key]
            reference = measured[BASELINE]["median"]
            formats = ("{:.2f}", "{:.2f}") if workload.per_text else ("{:,.0f}", "{:,.0f}")
            cells = []
            for name in names:
                cell = spread(measured[name], *formats)
                if name != BASELINE:
                    cell += ratio(measured[name]["median"], reference)
                cells.append(cell)
            label = _label(workload, results["cjk_characters"])
            rows.append([label, *cells])
        for key, label in (("build_s", "build, s"), ("first_call_s", "first call, s")):
            rows.append([label, *(f"{entry['load'][name][key]:.2f}" for name in names)])
        lines += ["", *table(["workload", *names], rows)]
        counts = entry["ids_per_text"]
        lines += [
            "",
            f"Ids per text (mean, special tokens included): English {counts['english@1']:.0f}, "
            f"multilingual {counts['multilingual@1']:.0f}, CJK paragraph {counts['cjk@1']:,.0f}.",
        ]
        if "stages_ms" in entry:
            lines += ["", _stages_line(entry)]
    startup = results["startup"]
    rss = results["peak_rss_mb"]
    lines += [
        "",
        "Per process (holding every pipeline that loaded): "
        + "; ".join(
            f"{name} import {startup[name]['import_s']:.2f} s, peak RSS {rss[name]:,.0f} MB"
            for name in startup
        ),
    ]
    return "\n".join(lines)


def _stages_line(entry: dict) -> str:
    """tfst's time up to the model against Rust's whole pipeline, on the same batch: how fast
    tfst could be with a model stage that cost nothing."""
    parts = []
    for set_name, answers in entry["stages_ms"].items():
        tfst, rust = answers[STAGES_CONTENDER], answers[BASELINE]
        failed = [answer["failed"] for answer in (tfst, rust) if "failed" in answer]
        if failed:
            parts.append(f"{set_name} not timed ({failed[0]})")
            continue
        parts.append(
            f"{set_name} {tfst['words_ms']:.2f} of {tfst['whole_ms']:.2f} ms, Rust's whole "
            f"pipeline {rust['whole_ms']:.2f} ms (so at most "
            f"{rust['whole_ms'] / tfst['words_ms']:.2f}× Rust's throughput with a model stage "
            "that cost nothing)"
        )
    return (
        f"{STAGES_CONTENDER} up to the model (added tokens, normalizer, pre-tokenizer) and whole, "
        f"median ms on the first {STAGES_BATCH} texts of each set, timed alternately; Rust on "
        "the same batch: " + "; ".join(parts) + "."
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="BERT folder or hub id (its WordPiece pipeline)")
    parser.add_argument("--render", type=Path, help="print the Markdown of a saved --json result")
    parser.add_argument("--threads", type=int, default=2, help="threads for every contender")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds")
    parser.add_argument("--texts", type=int, default=256, help="English and multilingual texts")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--verbose", action="store_true", help="show the workers' output")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> None:
    arguments = parser()
    options = arguments.parse_args(argv)
    if options.render:
        print(markdown(json.loads(options.render.read_text())))
        return
    if options.worker:
        serve(lambda: start_contender(options.worker, options.threads))
        return
    if not options.model:
        arguments.error("--model is required")
    results, identical = run(options)
    print(markdown(results))
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")
    if not identical:
        raise SystemExit(
            "error: ids differ between tfst and tokenizers; those pipelines were not timed"
        )


if __name__ == "__main__":
    main()
