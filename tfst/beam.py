"""Embed a large corpus with Apache Beam: RunInference model handlers and the embed-corpus job.

Needs the ``beam`` extra: ``pip install "tensorflow-sentence-transformers[beam]"``. ``import tfst``
never imports this module (nor Apache Beam).

Inside any Beam pipeline, ``(id, text)`` pairs in, ``(id, PredictionResult)`` out::

    embedded = keyed_texts | RunInference(
        KeyedModelHandler(SentenceEmbeddingModelHandler("minilm_savedmodel/"))
    )

A cross-encoder scores ``(id, (query, document))`` the same way, ``(id, PredictionResult)`` out
with the pair's score (what ``CrossEncoder.predict`` returns)::

    scored = keyed_pairs | RunInference(
        KeyedModelHandler(CrossEncoderModelHandler("reranker_savedmodel/"))
    )

``embed_corpus`` is the whole job behind ``tfst embed-corpus``: JSONL or text files in, Parquet
shards of ``id`` and ``embedding`` out, malformed lines to a dead-letter file.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import json
import lzma
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, BinaryIO, NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import (
    KeyedModelHandler,
    ModelHandler,
    PredictionResult,
    RunInference,
)
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineState

from tfst.text_checks import utf8_problem

METRICS_NAMESPACE = "tfst"
BAD_LINES = "bad_lines"
DEFAULT_MAX_LINE_BYTES = 1 << 20
"""Longest input line embed-corpus reads (1 MiB): a longer one is dead-lettered, not held."""
DEAD_LETTER_CONTENT_BYTES = 1000
"""How much of an overlong line its dead-letter record keeps."""
READ_CHUNK_BYTES = 1 << 16
PARQUET_SCHEMA = pyarrow.schema(
    [("id", pyarrow.string()), ("embedding", pyarrow.list_(pyarrow.float32()))]
)

Encoder = Callable[[list[str]], np.ndarray]
Scorer = Callable[[list[str], list[str]], np.ndarray]

_texts_read = Metrics.counter(METRICS_NAMESPACE, "texts")
_bad_lines = Metrics.counter(METRICS_NAMESPACE, BAD_LINES)
_embeddings_written = Metrics.counter(METRICS_NAMESPACE, "embeddings")


class _TfstModelHandler(ModelHandler):
    """What both handlers share: Beam's batching bounds, the model URI, no inference_args."""

    def __init__(
        self, model_uri: str, *, min_batch_size: int = 8, max_batch_size: int = 32, **kwargs
    ):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        super().__init__(
            min_batch_size=min(min_batch_size, max_batch_size),
            max_batch_size=max_batch_size,
            **kwargs,
        )
        self.model_uri = model_uri

    def validate_inference_args(self, inference_args: dict[str, Any] | None) -> None:
        if inference_args:
            raise ValueError(
                f"the tfst model handler takes no inference_args, got {inference_args}"
            )

    def get_metrics_namespace(self) -> str:
        return METRICS_NAMESPACE


class SentenceEmbeddingModelHandler(
    _TfstModelHandler, ModelHandler[str, PredictionResult, Encoder]
):
    """A Beam RunInference model handler: texts in, ``PredictionResult(text, embedding)`` out.

    Each worker loads the model once; Beam's ``BatchElements`` groups texts into batches whose
    size it adapts, by timing model calls, between ``min_batch_size`` and ``max_batch_size``.
    Wrap it in ``KeyedModelHandler`` to carry ids: ``(id, text)`` in, ``(id, PredictionResult)``
    out. Embeddings are float32 NumPy vectors, exactly what the model returns (normalized only
    if the model has a Normalize module).

    Args:
        model_uri: a SavedModel written by ``tfst export`` / ``model.export`` (any path
            ``tf.io.gfile`` reads, e.g. ``gs://``), or a Hub id / model folder that each worker
            loads with ``tfst.load``.
        min_batch_size, max_batch_size: bounds for Beam's batching. Each batch is padded to its
            longest text, so much larger batches of mixed lengths waste work on padding.
        **kwargs: passed to Beam's ``ModelHandler`` (e.g. ``large_model=True``, ``env_vars``).
    """

    def load_model(self) -> Encoder:
        if is_saved_model(self.model_uri):
            return _SavedModelEncoder(self.model_uri)
        import tfst

        model = tfst.load(self.model_uri)
        return lambda texts: model.encode(texts, batch_size=len(texts), show_progress_bar=False)

    def run_inference(
        self,
        batch: Sequence[str],
        model: Encoder,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        embeddings = model(list(batch))
        return [
            PredictionResult(text, embedding, self.model_uri)
            for text, embedding in zip(batch, embeddings, strict=True)
        ]

    def get_num_bytes(self, batch: Sequence[str]) -> int:
        return sum(len(text.encode("utf-8")) for text in batch)


class CrossEncoderModelHandler(
    _TfstModelHandler, ModelHandler[tuple[str, str], PredictionResult, Scorer]
):
    """A Beam RunInference model handler for cross-encoders: ``(query, document)`` pairs in,
    ``PredictionResult(pair, score)`` out; ``KeyedModelHandler`` carries ids as for
    :class:`SentenceEmbeddingModelHandler`, whose arguments it takes.

    ``model_uri`` is a SavedModel written by ``tfst export`` / ``CrossEncoder.export`` (scores
    are its ``serving_default`` ``scores``: the model's activation, no prompt), or a Hub id /
    folder that each worker loads with ``tfst.load_cross_encoder``. A score is a float32 scalar
    for one label, else a ``[num_labels]`` vector.
    """

    def load_model(self) -> Scorer:
        if is_saved_model(self.model_uri):
            return _SavedModelScorer(self.model_uri)
        import tfst

        model = tfst.load_cross_encoder(self.model_uri)
        return lambda queries, documents: model.predict(
            list(zip(queries, documents, strict=True)),
            batch_size=len(queries),
            show_progress_bar=False,
        )

    def run_inference(
        self,
        batch: Sequence[tuple[str, str]],
        model: Scorer,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        scores = model([query for query, _ in batch], [document for _, document in batch])
        return [
            PredictionResult(pair, score, self.model_uri)
            for pair, score in zip(batch, scores, strict=True)
        ]

    def get_num_bytes(self, batch: Sequence[tuple[str, str]]) -> int:
        return sum(
            len(query.encode("utf-8")) + len(document.encode("utf-8")) for query, document in batch
        )


def _load_saved_model(path: str):
    """``tf.saved_model.load``, importing tensorflow-text only for an export that uses its ops
    (``tokenizer_ops="tensorflow_text"``), so core-ops workers spare its memory."""
    import tensorflow as tf

    try:
        return tf.saved_model.load(path)
    except RuntimeError as error:
        if "Op type not registered" not in str(error):
            raise
    import tensorflow_text  # noqa: F401  registers its ops

    return tf.saved_model.load(path)


class _SavedModelEncoder:
    """The ``serving_default`` signature of a tfst SavedModel as a list-of-str → NumPy function."""

    def __init__(self, path: str):
        # Keep the loaded object: the signature's variables live only as long as it does.
        self.saved_model = _load_saved_model(path)
        self.serving = self.saved_model.signatures["serving_default"]

    def __call__(self, texts: list[str]) -> np.ndarray:
        import tensorflow as tf

        sentences = tf.constant(texts, tf.string)
        return self.serving(sentences=sentences)["sentence_embedding"].numpy()


class _SavedModelScorer:
    """A tfst cross-encoder SavedModel's ``serving_default`` as a (queries, documents) → NumPy
    function."""

    def __init__(self, path: str):
        # Keep the loaded object: the signature's variables live only as long as it does.
        self.saved_model = _load_saved_model(path)
        self.serving = self.saved_model.signatures["serving_default"]

    def __call__(self, queries: list[str], documents: list[str]) -> np.ndarray:
        import tensorflow as tf

        outputs = self.serving(
            queries=tf.constant(queries, tf.string), documents=tf.constant(documents, tf.string)
        )
        return outputs["scores"].numpy()


def is_saved_model(path: str) -> bool:
    """Whether ``path`` (local or any ``tf.io.gfile`` file system) holds a SavedModel."""
    import tensorflow as tf

    return tf.io.gfile.exists(f"{path.rstrip('/')}/saved_model.pb")


def parse_corpus_file(
    readable_file: fileio.ReadableFile,
    id_field: str,
    text_field: str,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[tuple[str, str] | beam.pvalue.TaggedOutput]:
    """``(id, text)`` for every line of one file; a JSON dead-letter record for a bad line.

    ``*.jsonl`` files: one JSON object per line with a string or integer ``id_field`` and a
    string ``text_field``; blank lines are skipped. Other files: every line is a text and its id
    is ``<file name>:<line number>``. Compressed files (``.gz``, ``.bz2``, ...) are read as such.
    A line of more than ``max_line_bytes`` bytes is never held whole: it is dead-lettered with
    its first ``DEAD_LETTER_CONTENT_BYTES`` bytes as content.
    """
    path = readable_file.metadata.path
    name = PurePosixPath(path).name
    is_jsonl = ".jsonl" in PurePosixPath(path).suffixes
    with _open_decompressed(readable_file) as stream:
        for line_number, line in enumerate(_capped_lines(stream, max_line_bytes), start=1):
            try:
                if line.length > max_line_bytes:
                    raise ValueError(
                        f"line of {line.length:,} bytes is longer than max_line_bytes "
                        f"({max_line_bytes:,}); content holds its first bytes only"
                    )
                pair = _parse_line(
                    line.content, f"{name}:{line_number}", is_jsonl, id_field, text_field
                )
            except ValueError as error:
                _bad_lines.inc()
                content = line.content
                if line.length > max_line_bytes:
                    content = content[:DEAD_LETTER_CONTENT_BYTES]
                record = {
                    "file": path,
                    "line": line_number,
                    "error": str(error),
                    "content": content.decode("utf-8", errors="replace").removesuffix("\r"),
                }
                yield beam.pvalue.TaggedOutput(BAD_LINES, json.dumps(record, ensure_ascii=False))
                continue
            if pair is not None:
                _texts_read.inc()
                yield pair


# Python's decompressing readers return at most the bytes asked for. Beam's decompress 16 MiB
# of input at a time, which a highly compressed file (a 300 KB .gz holding one 300 MB line) turns
# into hundreds of megabytes held at once.
_BOUNDED_DECOMPRESSORS: dict[str, Callable[[BinaryIO], BinaryIO]] = {
    CompressionTypes.GZIP: lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    CompressionTypes.BZIP2: bz2.BZ2File,
    CompressionTypes.LZMA: lzma.LZMAFile,
}


@contextlib.contextmanager
def _open_decompressed(readable_file: fileio.ReadableFile) -> Iterator[BinaryIO]:
    """The file's bytes, decompressed as Beam would (by file name), through a reader whose
    ``read(n)`` holds about ``n`` bytes for ``.gz``, ``.bz2`` and ``.xz``/``.lzma`` files;
    ``.deflate`` and ``.zst`` files go through Beam's own reader."""
    decompressor = _BOUNDED_DECOMPRESSORS.get(
        CompressionTypes.detect_compression_type(readable_file.metadata.path)
    )
    if decompressor is None:
        with readable_file.open() as stream:
            yield stream
        return
    with (
        readable_file.open(compression_type=CompressionTypes.UNCOMPRESSED) as raw,
        decompressor(raw) as stream,
    ):
        yield stream


class _CappedLine(NamedTuple):
    """One line without its ``\\n``: all of it, or its first bytes when it is over the cap."""

    content: bytes
    length: int  # the whole line's length in bytes


def _capped_lines(stream: BinaryIO, max_line_bytes: int) -> Iterator[_CappedLine]:
    """The lines of a binary stream, split at ``\\n`` as ``readline`` splits them, reading
    ``READ_CHUNK_BYTES`` at a time and keeping at most ``max_line_bytes`` bytes of any line:
    Beam's readers of compressed files have a ``readline`` that cannot stop early, and one huge
    line would be held whole."""
    kept = bytearray()
    length = 0
    while chunk := stream.read(READ_CHUNK_BYTES):
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            kept += chunk[start : min(end, start + max_line_bytes - len(kept))]
            yield _CappedLine(bytes(kept), length + end - start)
            kept, length, start = bytearray(), 0, end + 1
        kept += chunk[start : start + max(max_line_bytes - len(kept), 0)]
        length += len(chunk) - start
    if length:
        yield _CappedLine(bytes(kept), length)


def _parse_line(
    raw_line: bytes, line_id: str, is_jsonl: bool, id_field: str, text_field: str
) -> tuple[str, str] | None:
    """``(id, text)`` of one line, None for a blank JSONL line; a ValueError says what is wrong."""
    try:
        line = raw_line.decode("utf-8").removesuffix("\r")
    except UnicodeDecodeError as error:
        raise ValueError(f"not valid UTF-8 ({error})") from None
    if not is_jsonl:
        return line_id, line
    if not line.strip():
        return None
    return _parse_jsonl_record(line, id_field, text_field)


def _parse_jsonl_record(line: str, id_field: str, text_field: str) -> tuple[str, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    identifier = record.get(id_field)
    if isinstance(identifier, bool) or not isinstance(identifier, str | int):
        raise ValueError(f"no string or integer field {id_field!r}")
    if not isinstance(record.get(text_field), str):
        raise ValueError(f"no string field {text_field!r}")
    for field_name in (id_field, text_field):
        problem = isinstance(record[field_name], str) and utf8_problem(record[field_name])
        if problem:
            raise ValueError(f"field {field_name!r} is not text: it holds {problem}")
    return str(identifier), record[text_field]


def _parquet_row(keyed_result: tuple[str, PredictionResult]) -> dict[str, Any]:
    identifier, result = keyed_result
    _embeddings_written.inc()
    return {"id": identifier, "embedding": result.inference}


@dataclass(frozen=True)
class CorpusSummary:
    """What ``embed_corpus`` read and wrote; counts are None if the runner reports no metrics."""

    texts: int | None
    embeddings: int | None
    bad_lines: int | None
    embeddings_pattern: str
    bad_lines_pattern: str


def embed_corpus(
    model_uri: str,
    input_pattern: str,
    output_dir: str,
    *,
    id_field: str = "id",
    text_field: str = "text",
    max_batch_size: int = 32,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    options: PipelineOptions | None = None,
) -> CorpusSummary:
    """Embed every text of the files matching ``input_pattern``; write Parquet to ``output_dir``.

    Writes ``embeddings-SSSSS-of-NNNNN.parquet`` (columns ``id``: string, ``embedding``: list of
    float32) and ``bad_lines-SSSSS-of-NNNNN.jsonl`` (one JSON object per malformed line: file,
    line, error, content); see ``parse_corpus_file`` for the input formats and
    ``max_line_bytes``. ``options`` picks the runner (DirectRunner when None). Refuses an
    ``output_dir`` that already holds files, so shards of an earlier run never mix in.
    """
    if max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be at least 1, got {max_line_bytes}")
    output_dir = output_dir.rstrip("/")
    require_new_output_dir(output_dir)
    embeddings_prefix = FileSystems.join(output_dir, "embeddings")
    bad_lines_prefix = FileSystems.join(output_dir, BAD_LINES)
    handler = SentenceEmbeddingModelHandler(model_uri, max_batch_size=max_batch_size)

    pipeline = beam.Pipeline(options=options)
    parsed = (
        pipeline
        | "MatchInput" >> fileio.MatchFiles(input_pattern, fileio.EmptyMatchTreatment.DISALLOW)
        | "OpenInput" >> fileio.ReadMatches()
        | "ParseLines"
        >> beam.FlatMap(parse_corpus_file, id_field, text_field, max_line_bytes).with_outputs(
            BAD_LINES, main="texts"
        )
    )
    _ = (
        parsed.texts
        # Files are read whole, one per worker; spread their lines over all workers.
        | "Spread" >> beam.Reshuffle()
        | "Embed" >> RunInference(KeyedModelHandler(handler))
        | "ToRows" >> beam.Map(_parquet_row)
        | "WriteEmbeddings"
        >> beam.io.WriteToParquet(
            embeddings_prefix, PARQUET_SCHEMA, codec="snappy", file_name_suffix=".parquet"
        )
    )
    _ = parsed[BAD_LINES] | "WriteBadLines" >> beam.io.WriteToText(
        bad_lines_prefix, file_name_suffix=".jsonl"
    )
    result = pipeline.run()
    state = result.wait_until_finish()
    if state != PipelineState.DONE:
        raise RuntimeError(f"the embedding pipeline ended in state {state}")
    counts = _counter_values(result)
    return CorpusSummary(
        texts=counts.get("texts", 0) if counts else None,
        embeddings=counts.get("embeddings", 0) if counts else None,
        bad_lines=counts.get(BAD_LINES, 0) if counts else None,
        embeddings_pattern=f"{embeddings_prefix}-*.parquet",
        bad_lines_pattern=f"{bad_lines_prefix}-*.jsonl",
    )


def require_new_output_dir(output_dir: str) -> None:
    """Refuse an output folder that already holds files (local or any Beam file system)."""
    pattern = FileSystems.join(output_dir.rstrip("/"), "*")
    if FileSystems.match([pattern])[0].metadata_list:
        raise FileExistsError(f"{output_dir} already holds files; choose a new output folder")


def _counter_values(result) -> dict[str, int]:
    counters = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    values: dict[str, int] = {}
    for counter in counters["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        values[counter.key.metric.name] = values.get(counter.key.metric.name, 0) + value
    return values
