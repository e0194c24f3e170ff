"""``tfst`` command line: export, encode, verify and inspect sentence-transformers models.

Every command takes MODEL as a Hugging Face Hub id or a local folder. Errors print one line to
stderr and exit non-zero; ``TFST_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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
    model = _load(args)
    path = model.export(args.outdir, overwrite=args.overwrite)
    print(f"exported {args.model} to {path} (serving_default: strings → sentence_embedding)")
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
    print(f"pipeline: {' → '.join(layer_description(layer) for layer in model_layers(model))}")
    print(f"embedding dimension: {model.get_sentence_embedding_dimension()}")
    print(f"max sequence length: {model.max_seq_length}")
    print(f"vocabulary size: {model.tokenizer.vocabulary_size()}")
    return 0


def model_layers(model) -> list:
    return [model.tokenizer, model.encoder, *model.pipeline_modules]


def layer_description(layer) -> str:
    config = layer.get_config()
    details = {
        "BertEncoder": ("num_layers", "hidden_size", "num_heads", "hidden_act"),
        "DistilBertEncoder": ("num_layers", "hidden_size", "num_heads", "hidden_act"),
        "Pooling": ("modes",),
        "Dense": ("in_features", "out_features", "activation"),
        "WordPieceTokenizer": ("lowercase",),
    }.get(type(layer).__name__, ())
    shown = ", ".join(f"{key}={config[key]}" for key in details if key in config)
    return f"{type(layer).__name__}({shown})"


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
        "Write a TensorFlow SavedModel: raw strings in, sentence embeddings out.",
        command_export,
    )
    export.add_argument("outdir", metavar="OUTDIR", help="folder to write (must be empty)")
    export.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTDIR")

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
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault(
        "TF_CPP_MIN_LOG_LEVEL", "2"
    )  # keep TensorFlow's C++ chatter out of stderr
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except Exception as error:
        if os.environ.get("TFST_DEBUG"):
            raise
        print(f"tfst {args.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
