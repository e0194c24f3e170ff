"""What share of tfst's ``encode`` time its in-graph tokenizer takes, on MiniLM-sized models.

    python benchmarks/bench_tokenizer_share.py --model MINILM_FOLDER [--rounds 10] [--json out.json]

The tokenizer issues set this goal beside raw tokenizer throughput: tokenization under 10% of
``encode`` time for a MiniLM-sized model. Three sentence-transformers folders of
all-MiniLM-L6-v2's size (6 layers, 384 hidden, 12 heads, 1,536 feed-forward, mean pooling,
normalize, max_seq_length 256), one per pipeline of ``bench_tokenizers.py``:

- ``wordpiece``: the ``--model`` folder itself (BERT, real weights);
- ``unigram``: a random BERT with the XLM-R style Unigram tokenizer trained here, the pairing of
  paraphrase-multilingual-MiniLM-L12-v2 (which has 12 layers; with 6 the encoder's part is
  smaller and the tokenizer's share larger);
- ``bpe``: a random RoBERTa with the byte-level BPE tokenizer trained here.

For each, on batches of 32 English and of 32 multilingual texts, in one process: ``encode`` of the
batch (tokenizer, encoder, pooling and normalize in one traced graph) and the tokenizer alone
(``model.tokenizer`` as a concrete function, as ``encode`` calls its graph; every output fetched),
each batch timed alternately, the two taking turns to go first. The share is the tokenizer's total
over encode's, from per-batch medians. Random weights give the real models' speed, not their
numbers. The random folders are built with transformers and sentence-transformers (the ``test``
extra) in a child process, so PyTorch never runs where TensorFlow is timed.

The Unigram and BPE tokenizers are ``bench_tokenizers.py``'s: 8,000 ids trained on the benchmark's
own text generator, so more of the benchmark's words are one piece (found whole, skipping the
model's merges or dynamic program) than a real vocabulary would find in real text. Real
multilingual tokenizers (XLM-R's 250,002 pieces) are not timed here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import english_texts, multilingual_texts
from machine import LoadMeter, describe_machine
from protocol import thread_environment
from report import load_clause, run_clause, table

BATCH_SIZE = 32
# all-MiniLM-L6-v2's shape, given to the random encoders.
MINILM_SHAPE = dict(
    hidden_size=384,
    num_hidden_layers=6,
    num_attention_heads=12,
    intermediate_size=1536,
    layer_norm_eps=1e-12,
)
MAX_SEQ_LENGTH = 256
GOAL = 0.10


def build_random_folder(pipeline: str, folder: Path) -> None:
    """Save a random MiniLM-sized encoder with the ``pipeline`` tokenizer (``unigram``: BERT,
    ``bpe``: RoBERTa) as a sentence-transformers folder at ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from tokenizer_pipelines import byte_level_bpe_tokenizer, unigram_tokenizer
    from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

    tokenizer = unigram_tokenizer() if pipeline == "unigram" else byte_level_bpe_tokenizer()
    tokenizer.model_max_length = 512
    torch.manual_seed(0)
    if pipeline == "unigram":
        # BERT's default padding id (the tokenizer pads with 1); it changes no timing.
        config = BertConfig(vocab_size=len(tokenizer), pad_token_id=0, **MINILM_SHAPE)
        encoder = BertModel(config, add_pooling_layer=False)
    else:
        config = RobertaConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=514,
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
            **MINILM_SHAPE,
        )
        encoder = RobertaModel(config, add_pooling_layer=False)
    with tempfile.TemporaryDirectory() as scratch:
        encoder_folder = Path(scratch) / "encoder"
        tokenizer.save_pretrained(str(encoder_folder))
        encoder.eval().save_pretrained(str(encoder_folder))
        transformer = Transformer(str(encoder_folder), max_seq_length=MAX_SEQ_LENGTH)
        pooling = Pooling(MINILM_SHAPE["hidden_size"], pooling_mode="mean")
        modules = [transformer, pooling, Normalize()]
        SentenceTransformer(modules=modules, device="cpu").save(str(folder))


def measure(folders: dict[str, Path], sets: dict[str, list[str]], options) -> dict:
    """Per pipeline and text set: median milliseconds per batch of ``encode`` and of the
    tokenizer alone, over ``options.rounds`` rounds of every batch."""
    os.environ.update(thread_environment(options.threads))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(options.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import tfst

    results = {}
    for name, folder in folders.items():
        _progress(options, f"loading {name} and timing it")
        steps = _steps(tf, tfst.load(folder))
        results[name] = {}
        for set_name, texts in sets.items():
            batches = [texts[i : i + BATCH_SIZE] for i in range(0, len(texts), BATCH_SIZE)]
            samples = {step: [[] for _ in batches] for step in steps}
            for step in steps.values():  # traces and warms both graphs
                step(batches[0])
            for round_index in range(options.rounds):
                order = list(steps.items())[:: 1 if round_index % 2 == 0 else -1]
                for index, batch in enumerate(batches):
                    for step_name, step in order:
                        start = time.perf_counter()
                        step(batch)
                        samples[step_name][index].append((time.perf_counter() - start) * 1e3)
            medians = {
                step: [statistics.median(values) for values in per_batch]
                for step, per_batch in samples.items()
            }
            results[name][set_name] = {
                **{step: sum(values) / len(values) for step, values in medians.items()},
                "share": sum(medians["tokenizer_ms"]) / sum(medians["encode_ms"]),
            }
    return results


def _steps(tf, model) -> dict:
    """The two timed calls on a batch of texts: ``encode``, and the tokenizer alone."""
    tokenize = tf.function(
        model.tokenizer, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False
    ).get_concrete_function()
    return {
        "encode_ms": lambda batch: model.encode(batch, batch_size=BATCH_SIZE),
        "tokenizer_ms": lambda batch: [
            output.numpy() for output in tokenize(tf.constant(batch)).values()
        ],
    }


def run(options: argparse.Namespace) -> dict:
    sets = {
        "english": english_texts(options.texts, 5, 60, seed=0),
        "multilingual": multilingual_texts(options.texts, 5, 30, seed=0),
    }
    with tempfile.TemporaryDirectory(prefix="tfst_bench_share_") as scratch:
        folders = {"wordpiece": Path(options.model)}
        for pipeline in ("unigram", "bpe"):
            _progress(options, f"building the random {pipeline} model")
            folders[pipeline] = Path(scratch) / pipeline
            built = subprocess.run(
                [sys.executable, __file__, "--build", pipeline, str(folders[pipeline])],
                capture_output=True,
                text=True,
            )
            if built.returncode:
                raise SystemExit(
                    f"error: building the {pipeline} model failed:\n{built.stderr[-3000:]}"
                )
        load = LoadMeter()  # the timed part only, not the builds
        timings = measure(folders, sets, options)
        machine_load = load.stop()
    return {
        "date": datetime.date.today().isoformat(),
        "machine": describe_machine(),
        "model": options.model,
        "threads": options.threads,
        "rounds": options.rounds,
        "texts": {name: len(texts) for name, texts in sets.items()},
        "batch_size": BATCH_SIZE,
        "results": timings,
        "machine_load": machine_load,
    }


def markdown(results: dict) -> str:
    header = (
        f"{run_clause(results['date'], results['machine'])} · {results['threads']} threads "
        f"(TF intra-op {results['threads']}, inter-op 1) · median of {results['rounds']} rounds "
        f"per batch of {results['batch_size']} · "
        + ", ".join(f"{count} {name} texts" for name, count in results["texts"].items())
        + load_clause(results.get("machine_load"))
    )
    rows = []
    for name, per_set in results["results"].items():
        for set_name, entry in per_set.items():
            rows.append(
                [
                    name,
                    set_name,
                    f"{entry['encode_ms']:.1f}",
                    f"{entry['tokenizer_ms']:.2f}",
                    f"{entry['share']:.1%}",
                ]
            )
    lines = [
        header,
        "",
        *table(
            ["pipeline", "texts", "encode, ms per batch", "tokenizer, ms per batch", "share"],
            rows,
        ),
        "",
        f"Goal: tokenization under {GOAL:.0%} of encode time. Largest share: "
        f"{max(row['share'] for entry in results['results'].values() for row in entry.values()):.1%}.",
    ]
    return "\n".join(lines)


def _progress(options: argparse.Namespace, message: str) -> None:
    if not options.quiet:
        print(f"[share] {message}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="the all-MiniLM-L6-v2 folder (its WordPiece pipeline)")
    parser.add_argument("--render", type=Path, help="print the Markdown of a saved --json result")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds of every batch")
    parser.add_argument("--texts", type=int, default=256, help="English and multilingual texts")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--build", nargs=2, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> None:
    arguments = parser()
    options = arguments.parse_args(argv)
    if options.build:
        build_random_folder(options.build[0], Path(options.build[1]))
        return
    if options.render:
        print(markdown(json.loads(options.render.read_text())))
        return
    if not options.model:
        arguments.error("--model is required")
    if options.texts < 1 or options.rounds < 1:
        arguments.error("--texts and --rounds must be at least 1")
    results = run(options)
    print(markdown(results))
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
