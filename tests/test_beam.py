"""Embedding a corpus with Apache Beam on the DirectRunner: same numbers as encode, nothing lost.

The runs use the DirectRunner's FnApiRunner explicitly: plain ``DirectRunner`` hands a pipeline
to Prism when it can download it, and Prism ignores ``--direct_num_workers``.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sentences import EVERYDAY

pytestmark = pytest.mark.skipif(
    find_spec("apache_beam") is None,
    reason='Apache Beam is not installed: pip install -e ".[beam]"',
)

CORPUS_SIZE = 2000
MAX_DIFF = 1e-5
# (line content, expected error) for the malformed lines spread through the corpus.
BAD_LINES = [
    (b'{"id": "cut", "text": ', "not valid JSON"),
    (b'["an array", "not an object"]', "not a JSON object"),
    (b'{"text": "no id here"}', "no string or integer field 'id'"),
    (b'{"id": "n", "text": 42}', "no string field 'text'"),
    (b'{"id": "latin-1", "text": "caf\xe9"}', "not valid UTF-8"),
]


class Corpus(NamedTuple):
    path: Path
    texts: dict[str, str]  # by id
    bad_line_numbers: list[int]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A JSONL corpus of short texts with malformed lines (and one blank line) among them."""
    texts = {
        f"doc-{index}": f"{EVERYDAY[index % len(EVERYDAY)]} {index}" for index in range(CORPUS_SIZE)
    }
    texts["7"] = "An integer id is kept as text."
    lines = [
        json.dumps({"id": 7 if key == "7" else key, "text": text}, ensure_ascii=False).encode()
        for key, text in texts.items()
    ]
    for position, (content, _) in enumerate(BAD_LINES, start=1):
        lines.insert(position * len(lines) // (len(BAD_LINES) + 1), content)
    lines.insert(len(lines) // 3, b"")
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return Corpus(path, texts, [lines.index(content) + 1 for content, _ in BAD_LINES])


@pytest.fixture(scope="session")
def reference(minilm, corpus):
    embeddings = minilm.encode(list(corpus.texts.values()), batch_size=64)
    return dict(zip(corpus.texts, embeddings, strict=True))


def read_output(folder):
    import pyarrow.parquet as pq

    table = pq.read_table(sorted(glob.glob(f"{folder}/embeddings-*.parquet")))
    ids = table.column("id").to_pylist()
    embeddings = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    bad_lines = [
        json.loads(line)
        for shard in sorted(glob.glob(f"{folder}/bad_lines-*.jsonl"))
        for line in Path(shard).read_text(encoding="utf-8").splitlines()
    ]
    return ids, embeddings, bad_lines


@pytest.fixture(scope="session")
def in_process_run(minilm_folder, corpus, tmp_path_factory):
    """``embed_corpus`` in this process; the handler loads the model folder with ``tfst.load``."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from tfst.beam import embed_corpus

    output = tmp_path_factory.mktemp("in_process") / "out"
    summary = embed_corpus(
        str(minilm_folder),
        str(corpus.path),
        str(output),
        options=PipelineOptions(["--runner=FnApiRunner"]),
    )
    return summary, *read_output(output)


@pytest.fixture(scope="session")
def two_worker_run(minilm_folder, corpus, tmp_path_factory):
    """``tfst embed-corpus`` on a model folder, which the command exports once as a SavedModel for
    the 2 worker processes."""
    output = tmp_path_factory.mktemp("two_workers") / "out"
    command = [sys.executable, "-m", "tfst", "embed-corpus", minilm_folder, corpus.path, output]
    beam_options = [
        "--runner=FnApiRunner",
        "--direct_num_workers=2",
        "--direct_running_mode=multi_processing",
    ]
    result = subprocess.run(
        [*map(str, command), *beam_options], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, *read_output(output)


def max_diff(ids, embeddings, reference):
    return float(np.abs(embeddings - np.stack([reference[i] for i in ids])).max())


def test_importing_tfst_and_its_command_line_imports_no_apache_beam():
    script = (
        "import sys, tfst, tfst.cli; tfst.cli.build_parser(); print('apache_beam' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_in_process_pipeline_matches_encode(in_process_run, reference):
    _, ids, embeddings, _ = in_process_run
    assert embeddings.dtype == np.float32
    assert max_diff(ids, embeddings, reference) <= MAX_DIFF


def test_in_process_pipeline_writes_every_id_exactly_once(in_process_run, corpus):
    summary, ids, _, _ = in_process_run
    assert sorted(ids) == sorted(corpus.texts)
    assert summary.texts == summary.embeddings == len(corpus.texts) == CORPUS_SIZE + 1


def test_in_process_pipeline_dead_letters_each_malformed_line_with_its_reason(
    in_process_run, corpus
):
    summary, _, _, bad_lines = in_process_run
    assert summary.bad_lines == len(BAD_LINES)
    by_line = {record["line"]: record for record in bad_lines}
    assert sorted(by_line) == corpus.bad_line_numbers
    for line_number, (content, reason) in zip(corpus.bad_line_numbers, BAD_LINES, strict=True):
        record = by_line[line_number]
        assert record["file"].endswith("corpus.jsonl")
        assert record["error"].startswith(reason)
        assert record["content"] == content.decode("utf-8", errors="replace")


def test_two_worker_command_matches_encode_and_writes_every_id_once(two_worker_run, reference):
    _, ids, embeddings, _ = two_worker_run
    assert sorted(ids) == sorted(reference)
    assert max_diff(ids, embeddings, reference) <= MAX_DIFF


def test_two_worker_command_reports_counts_and_bad_lines(two_worker_run, corpus):
    stdout, _, _, bad_lines = two_worker_run
    count = len(corpus.texts)
    assert f"embedded {count} of {count} texts" in stdout
    assert f"bad lines: {len(BAD_LINES)}" in stdout
    assert sorted(record["line"] for record in bad_lines) == corpus.bad_line_numbers


def test_a_glob_reads_text_and_gzipped_jsonl_files(minilm, minilm_folder, tmp_path):
    """A text file gives one text per line with ``<file name>:<line number>`` ids."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from tfst.beam import embed_corpus

    texts = ["first line", "", "third line, after an empty one"]
    (tmp_path / "notes.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    with gzip.open(tmp_path / "notes.jsonl.gz", "wt", encoding="utf-8") as file:
        file.write(json.dumps({"id": "zipped", "text": "from a gzipped file"}) + "\n")
    summary = embed_corpus(
        str(minilm_folder),
        str(tmp_path / "notes*"),
        str(tmp_path / "out"),
        options=PipelineOptions(["--runner=FnApiRunner"]),
    )
    ids, embeddings, bad_lines = read_output(tmp_path / "out")
    expected_ids = ["notes.txt:1", "notes.txt:2", "notes.txt:3", "zipped"]
    embedded = minilm.encode([*texts, "from a gzipped file"])
    reference = dict(zip(expected_ids, embedded, strict=True))
    assert sorted(ids) == expected_ids
    assert max_diff(ids, embeddings, reference) <= MAX_DIFF
    assert (summary.texts, summary.bad_lines, bad_lines) == (4, 0, [])


def test_handler_batches_between_its_bounds():
    from tfst.beam import SentenceEmbeddingModelHandler

    kwargs = SentenceEmbeddingModelHandler("model").batch_elements_kwargs()
    assert (kwargs["min_batch_size"], kwargs["max_batch_size"]) == (8, 32)
    small = SentenceEmbeddingModelHandler("model", max_batch_size=4).batch_elements_kwargs()
    assert (small["min_batch_size"], small["max_batch_size"]) == (4, 4)


def test_command_refuses_an_output_folder_with_files_before_loading_the_model(
    corpus, tmp_path, capsys
):
    from tfst.cli import main

    (tmp_path / "embeddings-00000-of-00001.parquet").write_bytes(b"old")
    assert main(["embed-corpus", "no/such-model", str(corpus.path), str(tmp_path)]) == 1
    assert "already holds files; choose a new output folder" in capsys.readouterr().err


def test_command_without_a_saved_model_on_a_remote_runner_is_one_line(
    minilm_folder, corpus, tmp_path, capsys
):
    from tfst.cli import main

    argv = ["embed-corpus", str(minilm_folder), str(corpus.path), str(tmp_path / "out")]
    assert main([*argv, "--runner=DataflowRunner", "--project=p"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("tfst embed-corpus: error: with --runner DataflowRunner")
    assert "tfst export" in error and "\n" not in error


def test_command_without_apache_beam_says_how_to_install(monkeypatch, capsys, tmp_path):
    from tfst.cli import main

    monkeypatch.setitem(sys.modules, "apache_beam", None)  # find_spec now answers None
    assert main(["embed-corpus", "model", "in.jsonl", str(tmp_path)]) == 1
    assert "pip install" in capsys.readouterr().err


def test_other_commands_still_refuse_unknown_options(capsys):
    from tfst.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["info", "model", "--runner=DirectRunner"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --runner=DirectRunner" in capsys.readouterr().err


@pytest.mark.parametrize("tokenizer_ops", ["core", "tensorflow_text"])
def test_workers_import_tensorflow_text_only_for_an_export_that_needs_it(
    minilm, tokenizer_ops, tmp_path
):
    export = minilm.export(tmp_path / "export", tokenizer_ops=tokenizer_ops)
    script = (
        "import sys, json\n"
        "from tfst.beam import _SavedModelEncoder\n"
        f"embeddings = _SavedModelEncoder({str(export)!r})(['A sentence', 'Another one'])\n"
        "print(json.dumps({'tensorflow_text': 'tensorflow_text' in sys.modules,"
        " 'embeddings': embeddings.tolist()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["tensorflow_text"] == (tokenizer_ops == "tensorflow_text")
    expected = minilm.encode(["A sentence", "Another one"])
    assert np.abs(np.array(report["embeddings"]) - expected).max() <= 1e-5


# --- line caps and lines that are not text ---------------------------------------------------------


def _parse(path: Path, **options) -> tuple[list, list[dict]]:
    from apache_beam.io.fileio import ReadableFile
    from apache_beam.io.filesystem import FileMetadata
    from apache_beam.pvalue import TaggedOutput

    from tfst.beam import parse_corpus_file

    pairs, bad_lines = [], []
    readable_file = ReadableFile(FileMetadata(str(path), path.stat().st_size))
    for output in parse_corpus_file(readable_file, "id", "text", **options):
        if isinstance(output, TaggedOutput):
            bad_lines.append(json.loads(output.value))
        else:
            pairs.append(output)
    return pairs, bad_lines


def test_an_overlong_gzipped_line_is_dead_lettered_with_its_first_bytes_only(tmp_path):
    """300 KB on disk holding a 64 MB line: read a chunk at a time, never held whole."""
    import tracemalloc

    path = tmp_path / "huge.txt.gz"
    with gzip.open(path, "wb") as file:
        file.write(b"before\n" + b"x" * (64 << 20) + b"\nafter\n")
    assert path.stat().st_size < 300_000
    _parse(path, max_line_bytes=1)  # once untraced, so that imports are not counted
    tracemalloc.start()
    try:
        pairs, bad_lines = _parse(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert pairs == [("huge.txt.gz:1", "before"), ("huge.txt.gz:3", "after")]
    [record] = bad_lines
    assert record["line"] == 2
    assert record["error"].startswith("line of 67,108,864 bytes is longer than max_line_bytes")
    assert record["content"] == "x" * 1000
    assert peak < 16 << 20


def test_a_jsonl_line_over_max_line_bytes_is_dead_lettered(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "a", "text": "short"}\n{"id": "b", "text": "' + "y" * 200 + '"}\n')
    pairs, bad_lines = _parse(path, max_line_bytes=100)
    assert pairs == [("a", "short")]
    assert [(r["line"], r["error"][:40]) for r in bad_lines] == [
        (2, "line of 223 bytes is longer than max_lin")
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (rb'{"id": "c", "text": "\ud800"}', "field 'text' is not text: it holds a lone surrogate"),
        (rb'{"id": "\udfff", "text": "fine"}', "field 'id' is not text: it holds a lone surrogate"),
        (b'{"id": "d", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not valid JSON"),
    ],
    ids=["surrogate_in_text", "surrogate_in_id", "nested_too_deeply"],
)
def test_a_line_that_cannot_be_text_is_dead_lettered(tmp_path, line, reason):
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b'{"id": "a", "text": "fine"}\n' + line + b"\n")
    pairs, bad_lines = _parse(path)
    assert pairs == [("a", "fine")]
    [record] = bad_lines
    assert record["line"] == 2 and record["error"].startswith(reason)
    json.dumps(record, ensure_ascii=False).encode("utf-8")  # what WriteToText will do


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"\n", b"\r\n", b"a", b"bc", b"\xff", b"x" * 70_000])).map(
        b"".join
    ),
    max_line_bytes=st.integers(1, 100_000),
)
def test_capped_lines_split_as_readline_does(data, max_line_bytes):
    from tfst.beam import _capped_lines

    expected = [line.removesuffix(b"\n") for line in io.BytesIO(data).readlines()]
    lines = list(_capped_lines(io.BytesIO(data), max_line_bytes))
    assert [line.length for line in lines] == [len(line) for line in expected]
    assert [line.content for line in lines] == [line[:max_line_bytes] for line in expected]


def test_embed_corpus_refuses_a_max_line_bytes_below_one(tmp_path):
    from tfst.beam import embed_corpus

    with pytest.raises(ValueError, match="max_line_bytes must be at least 1"):
        embed_corpus("model", str(tmp_path / "*.txt"), str(tmp_path / "out"), max_line_bytes=0)
