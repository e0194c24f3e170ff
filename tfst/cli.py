"""``tfst`` command line: export, encode, verify and inspect sentence-transformers models.

Every command takes MODEL as a Hugging Face Hub id or a local folder. Errors print one line to
stderr and exit non-zero; ``TFST_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

VERIFY_SENTENCES = [
    "A man is eating food.",
    "The new movie is awesome!",
    "C'est la vie, déjà vu, naïve café crème brûlée.",
    "我们今天去公园散步。",
    "Emoji 😀👍🏽 and tabs\tand\nnewlines.",
    "",
    "word " * 600,
]
EXIT_ERROR = 1
EXIT_MISSING_REFERENCE = 3
# Beam runners whose workers read this machine's files (Beam matches names case-insensitively).
LOCAL_RUNNERS = ("direct", "fnapi", "prism")


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code ``EXIT_ERROR``."""


def _load(args):
    import tfst

    return tfst.load(
        args.model,
        revision=args.revision,
        cache_dir=args.cache_dir,
        local_files_only=args.local_files_only,
    )


def _read_texts(path: Path, text_field: str) -> list[str]:
    if not path.is_file():
        raise CommandError(f"input file {path} not found")
    if path.suffix == ".jsonl":
        texts = []
        with open(path, encoding="utf-8") as file:
            for line_number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise CommandError(f"{path}:{line_number}: not valid JSON ({error})") from None
                if not isinstance(record, dict) or not isinstance(record.get(text_field), str):
                    raise CommandError(f"{path}:{line_number}: no string field {text_field!r}")
                texts.append(record[text_field])
        return texts
    with open(path, encoding="utf-8") as file:
        return [line.rstrip("\n").rstrip("\r") for line in file]


def command_export(args) -> int:
    if args.format != "savedmodel" and args.tokenizer_ops is not None:
        raise CommandError("--tokenizer-ops applies to --format savedmodel only")
    if args.format != "onnx" and args.no_tokenizer:
        raise CommandError("--no-tokenizer applies to --format onnx only")
    if args.format == "onnx" and importlib.util.find_spec("onnx") is None:
        raise CommandError(
            'the ONNX export needs the onnx extra: pip install "tensorflow-sentence-transformers[onnx]"'
        )
    model = _load(args)
    if args.format == "savedmodel":
        path = model.export(args.outdir, overwrite=args.overwrite, tokenizer_ops=args.tokenizer_ops)
        print(f"exported {args.model} to {path} (serving_default: strings → sentence_embedding)")
    elif args.format == "tflite":
        path = model.export_tflite(args.outdir, overwrite=args.overwrite)
        print(
            f"exported {args.model} to {path} (model.tflite: token ids; tokenizer/: strings → ids)"
        )
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = model.export_onnx(
                args.outdir, overwrite=args.overwrite, with_tokenizer=not args.no_tokenizer
            )
        for warning in caught:
            print(f"tfst export: warning: {warning.message}", file=sys.stderr)
        files = ", ".join(sorted(file.name for file in path.iterdir()))
        print(f"exported {args.model} to {path} ({files})")
    return 0


def command_encode(args) -> int:
    import numpy as np

    texts = _read_texts(Path(args.input), args.text_field)
    model = _load(args)
    embeddings = model.encode(
        texts,
        batch_size=args.batch_size,
        show_progress_bar=not args.quiet,
        normalize_embeddings=args.normalize,
    )
    np.save(args.output, embeddings)
    print(
        f"wrote {embeddings.shape[0]} x {embeddings.shape[1]} float32 embeddings to {args.output}"
    )
    return 0


def command_verify(args) -> int:
    import numpy as np

    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        print(
            "tfst verify needs the PyTorch reference, which is not installed: "
            'pip install "tensorflow-sentence-transformers[test]" '
            "(or: pip install torch==2.13.0 sentence-transformers)",
            file=sys.stderr,
        )
        return EXIT_MISSING_REFERENCE
    model = _load(args)
    from tfst.hub import resolve_model_folder

    folder = resolve_model_folder(
        args.model,
        revision=args.revision,
        cache_dir=args.cache_dir,
        local_files_only=args.local_files_only,
    )
    reference = SentenceTransformer(str(folder), device="cpu").encode(VERIFY_SENTENCES)
    actual = model.encode(VERIFY_SENTENCES)
    max_diff = float(np.abs(actual - reference).max())
    cosine = np.sum(actual * reference, axis=1) / (
        np.linalg.norm(actual, axis=1) * np.linalg.norm(reference, axis=1)
    )
    status = "OK" if max_diff <= args.tolerance else "MISMATCH"
    print(
        f"{status}: {len(VERIFY_SENTENCES)} sentences, max abs diff {max_diff:.3e} "
        f"(tolerance {args.tolerance:.0e}), min cosine {float(cosine.min()):.8f}"
    )
    return 0 if status == "OK" else EXIT_ERROR


def command_info(args) -> int:
    model = _load(args)
    print(f"model: {args.model}")
    print(f"pipeline: {' → '.join(module.describe() for module in model.pipeline_modules)}")
    print(f"embedding dimension: {model.get_sentence_embedding_dimension()}")
    print(f"max sequence length: {model.max_seq_length}")
    print(f"vocabulary size: {model.tokenizer.vocabulary_size()}")
    return 0


def command_embed_corpus(args) -> int:
    if importlib.util.find_spec("apache_beam") is None:
        raise CommandError(
            'embed-corpus needs Apache Beam: pip install "tensorflow-sentence-transformers[beam]"'
        )
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from tfst.beam import embed_corpus, is_saved_model, require_new_output_dir

    require_new_output_dir(args.output)
    options = PipelineOptions(args.beam_options)
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    with tempfile.TemporaryDirectory(prefix="tfst-embed-corpus-") as staging:
        model_uri = args.model
        if not is_saved_model(args.model):
            if runner.lower().removesuffix("runner") not in LOCAL_RUNNERS:
                raise CommandError(
                    f"with --runner {runner}, MODEL must be a SavedModel the workers can read: "
                    "run `tfst export MODEL DIR`, copy DIR to shared storage (e.g. gs://...), "
                    "and pass that path"
                )
            model_uri = str(_load(args).export(Path(staging) / "savedmodel"))
        summary = embed_corpus(
            model_uri,
            args.input,
            args.output,
            id_field=args.id_field,
            text_field=args.text_field,
            max_batch_size=args.batch_size,
            options=options,
        )
    if summary.texts is None:
        print(f"done; this runner reports no counts: see {summary.embeddings_pattern}")
        return 0
    print(
        f"embedded {summary.embeddings} of {summary.texts} texts into "
        f"{summary.embeddings_pattern}; bad lines: {summary.bad_lines} "
        f"(in {summary.bad_lines_pattern})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfst",
        description="sentence-transformers models in TensorFlow: export, encode, verify, inspect.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, handler):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("model", metavar="MODEL", help="Hugging Face Hub id or local folder")
        command.add_argument("--revision", help="hub revision (branch, tag or commit)")
        command.add_argument(
            "--cache-dir", help="Hugging Face cache folder (default: HF_HUB_CACHE)"
        )
        command.add_argument(
            "--local-files-only",
            action="store_true",
            help="never download; use the Hugging Face cache only (as HF_HUB_OFFLINE=1)",
        )
        command.set_defaults(handler=handler)
        return command

    export = add(
        "export",
        "Write a TensorFlow SavedModel (raw strings in, sentence embeddings out), or a TFLite or "
        "ONNX model.",
        command_export,
    )
    export.add_argument("outdir", metavar="OUTDIR", help="folder to write (must be empty)")
    export.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTDIR")
    export.add_argument(
        "--format",
        choices=("savedmodel", "tflite", "onnx"),
        default="savedmodel",
        help="savedmodel (default): strings in; tflite: model.tflite (token ids in) + tokenizer/; "
        "onnx: model.onnx (token ids in) + model_with_tokenizer.onnx (strings in, needs "
        "onnxruntime-extensions), needs the onnx extra",
    )
    export.add_argument(
        "--no-tokenizer",
        action="store_true",
        help="with --format onnx: write model.onnx only",
    )
    export.add_argument(
        "--tokenizer-ops",
        choices=("tensorflow_text", "core"),
        help="tokenizer ops in the graph: 'core' (the default) needs only TensorFlow to serve "
        "(TF Serving, TF Java, saved_model_cli); 'tensorflow_text' (same ids) needs "
        "tensorflow-text where it is served",
    )

    encode = add(
        "encode", "Embed the lines of a .txt or records of a .jsonl into a .npy.", command_encode
    )
    encode.add_argument("--input", required=True, help=".txt (one text per line) or .jsonl")
    encode.add_argument("--output", required=True, help=".npy file for [texts, dim] float32")
    encode.add_argument("--text-field", default="text", help="JSONL field with the text")
    encode.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    encode.add_argument("--normalize", action="store_true", help="L2-normalize the embeddings")
    encode.add_argument("--quiet", action="store_true", help="no progress bar")

    verify = add(
        "verify",
        "Compare tfst with sentence-transformers (PyTorch) on built-in sentences.",
        command_verify,
    )
    verify.add_argument("--tolerance", type=float, default=1e-5, help="max abs difference")

    add(
        "info",
        "Print the module pipeline, dimensions, max length and vocabulary size.",
        command_info,
    )

    embed_corpus = add(
        "embed-corpus",
        "Embed .jsonl/.txt files with Apache Beam into Parquet (id, embedding); "
        "other options (--runner, ...) go to Beam.",
        command_embed_corpus,
    )
    embed_corpus.allow_abbrev = False  # a Beam option must never pass for a prefix of ours
    embed_corpus.add_argument("input", metavar="INPUT", help="file or glob: .jsonl or text")
    embed_corpus.add_argument("output", metavar="OUTPUT", help="new folder (or gs://...)")
    embed_corpus.add_argument("--id-field", default="id", help="JSONL field with the id")
    embed_corpus.add_argument("--text-field", default="text", help="JSONL field with the text")
    embed_corpus.add_argument(
        "--batch-size", type=int, default=32, help="most sentences per model call"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault(
        "TF_CPP_MIN_LOG_LEVEL", "2"
    )  # keep TensorFlow's C++ chatter out of stderr
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "embed-corpus":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.beam_options = unknown
    try:
        return args.handler(args)
    except Exception as error:
        if os.environ.get("TFST_DEBUG"):
            raise
        print(f"tfst {args.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
