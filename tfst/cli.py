"""``tfst`` command line: export, encode, rerank, verify and inspect sentence-transformers models.

Every command takes MODEL as a Hugging Face Hub id or a local folder. Errors print one line to
stderr and exit non-zero; ``TFST_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

from tfst.text_checks import read_utf8_file, utf8_problem

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


def _model_folder(args) -> Path:
    from tfst.hub import resolve_model_folder

    return resolve_model_folder(
        args.model,
        revision=args.revision,
        cache_dir=args.cache_dir,
        local_files_only=args.local_files_only,
    )


def _load_cross_encoder(args):
    import tfst

    return tfst.load_cross_encoder(
        args.model,
        revision=args.revision,
        cache_dir=args.cache_dir,
        local_files_only=args.local_files_only,
    )


def _read_texts(path: Path, text_field: str) -> list[str]:
    if not path.is_file():
        raise CommandError(f"input file {path} not found")
    with _open_utf8(path) as file:
        return _texts_from_lines(
            file, str(path), jsonl=path.suffix == ".jsonl", text_field=text_field
        )


def _texts_from_lines(lines, source: str, *, jsonl: bool, text_field: str) -> list[str]:
    """One text per line, or per JSON record's ``text_field`` (blank lines skipped)."""
    if not jsonl:
        return [line.rstrip("\n").rstrip("\r") for line in lines]
    texts = []
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            reason = error if isinstance(error, ValueError) else "nested too deeply"
            raise CommandError(f"{source}:{line_number}: not valid JSON ({reason})") from None
        if not isinstance(record, dict) or not isinstance(record.get(text_field), str):
            raise CommandError(f"{source}:{line_number}: no string field {text_field!r}")
        if problem := utf8_problem(record[text_field]):
            raise CommandError(f"{source}:{line_number}: {text_field!r} holds {problem}")
        texts.append(record[text_field])
    return texts


def _open_utf8(path: Path) -> io.StringIO:
    """The file's text, split into lines as ``open(path, encoding="utf-8")`` splits them; invalid
    UTF-8 is refused naming the file and byte offset."""
    return io.StringIO(read_utf8_file(path), newline=None)


def _npy_path(output: str) -> str:
    """The file ``np.save(output, ...)`` writes: it appends ``.npy`` to any other name."""
    return output if output.endswith(".npy") else f"{output}.npy"


def command_export(args) -> int:
    from tfst.loading import is_cross_encoder_folder

    if args.format != "savedmodel" and args.tokenizer_ops is not None:
        raise CommandError("--tokenizer-ops applies to --format savedmodel only")
    if args.format != "onnx" and args.no_tokenizer:
        raise CommandError("--no-tokenizer applies to --format onnx only")
    if args.format != "tflite" and args.quantize is not None:
        raise CommandError("--quantize applies to --format tflite only")
    if args.format == "onnx" and importlib.util.find_spec("onnx") is None:
        raise CommandError(
            'the ONNX export needs the onnx extra: pip install "tensorflow-sentence-transformers[onnx]"'
        )
    if is_cross_encoder_folder(_model_folder(args)):
        if args.format != "savedmodel":
            raise CommandError("a cross-encoder exports as --format savedmodel only")
        model = _load_cross_encoder(args)
        path = model.export(args.outdir, overwrite=args.overwrite, tokenizer_ops=args.tokenizer_ops)
        print(f"exported {args.model} to {path} (serving_default: queries, documents → scores)")
        return 0
    model = _load(args)
    if args.format == "savedmodel":
        path = model.export(args.outdir, overwrite=args.overwrite, tokenizer_ops=args.tokenizer_ops)
        print(f"exported {args.model} to {path} (serving_default: strings → sentence_embedding)")
    elif args.format == "tflite":
        path = model.export_tflite(args.outdir, overwrite=args.overwrite, quantize=args.quantize)
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


def command_rerank(args) -> int:
    if args.documents == "-":
        documents = _texts_from_lines(
            sys.stdin, "stdin", jsonl=args.jsonl, text_field=args.text_field
        )
    else:
        path = Path(args.documents)
        if not path.is_file():
            raise CommandError(f"documents file {path} not found")
        with _open_utf8(path) as file:
            documents = _texts_from_lines(
                file,
                str(path),
                jsonl=args.jsonl or path.suffix == ".jsonl",
                text_field=args.text_field,
            )
    if args.top_k is not None and args.top_k < 1:
        raise CommandError(f"--top-k must be at least 1, got {args.top_k}")
    model = _load_cross_encoder(args)
    ranking = model.rank(
        args.query,
        documents,
        top_k=args.top_k,
        return_documents=True,
        batch_size=args.batch_size,
        show_progress_bar=not args.quiet,
    )
    for result in ranking:
        print(json.dumps(result, ensure_ascii=False))
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
    output = _npy_path(args.output)
    np.save(output, embeddings)
    print(f"wrote {embeddings.shape[0]} x {embeddings.shape[1]} float32 embeddings to {output}")
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
    from tfst.cross_encoder import activation_path_of
    from tfst.loading import is_cross_encoder_folder

    cross_encoder = is_cross_encoder_folder(_model_folder(args))
    model = _load_cross_encoder(args) if cross_encoder else _load(args)
    print(f"model: {args.model}")
    print(f"pipeline: {' → '.join(module.describe() for module in model.pipeline_modules)}")
    if cross_encoder:
        activation = activation_path_of(model.activation_fn) or "custom"
        print(f"cross-encoder labels: {', '.join(model.head.labels)} (activation: {activation})")
    else:
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
            max_line_bytes=args.max_line_bytes,
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
        description="sentence-transformers models in TensorFlow: export, encode, rerank, verify, "
        "inspect.",
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
        "Write a TensorFlow SavedModel (raw strings in, sentence embeddings out; for a "
        "cross-encoder, query and document strings in, scores out), or a TFLite or ONNX model.",
        command_export,
    )
    export.add_argument("outdir", metavar="OUTDIR", help="folder to write (must be empty)")
    export.add_argument(
        "--overwrite", action="store_true", help="replace an earlier export in OUTDIR"
    )
    export.add_argument(
        "--format",
        choices=("savedmodel", "tflite", "onnx"),
        default="savedmodel",
        help="savedmodel (default): strings in; tflite: model.tflite (token ids in) + tokenizer/; "
        "onnx: model.onnx (token ids in) + model_with_tokenizer.onnx (strings in, needs "
        "onnxruntime-extensions), needs the onnx extra",
    )
    export.add_argument(
        "--quantize",
        choices=("int8",),  # tfst.export.tflite.TFLITE_QUANTIZATIONS, without importing TF
        help="with --format tflite: int8 weights (dynamic range quantization), a quarter of the "
        "size and about twice as fast on CPU; embeddings close to the float32 ones, not equal",
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

    rerank = add(
        "rerank",
        "Rank documents for a query with a cross-encoder; prints one JSON line per document "
        "(corpus_id, score, text), best first.",
        command_rerank,
    )
    rerank.add_argument("--query", required=True, help="the query text")
    rerank.add_argument(
        "--documents",
        default="-",
        help="file with one document per line, or a .jsonl of records (default: stdin)",
    )
    rerank.add_argument(
        "--jsonl", action="store_true", help="the documents are JSON records (as a .jsonl file)"
    )
    rerank.add_argument("--text-field", default="text", help="JSONL field with the document")
    rerank.add_argument("--top-k", type=int, help="print only the best K documents")
    rerank.add_argument("--batch-size", type=int, default=32, help="pairs per batch")
    rerank.add_argument("--quiet", action="store_true", help="no progress bar")

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
        "Print the module pipeline, dimensions (a cross-encoder's labels and activation), max "
        "length and vocabulary size.",
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
    embed_corpus.add_argument(
        "--max-line-bytes",
        type=int,
        default=1 << 20,
        help="longest input line read, in bytes (default 1 MiB); a longer line goes to the "
        "bad lines with its first 1000 bytes",
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
