"""The ``tfst`` command line, run as users run it: in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest


def run(*arguments, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "tfst", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_explains_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ("export", "encode", "verify", "info"):
        assert command in result.stdout


def test_export_writes_a_saved_model(minilm_folder, tmp_path):
    result = run("export", minilm_folder, tmp_path / "out")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "saved_model.pb").is_file()


def test_export_with_core_tokenizer_ops_has_no_tensorflow_text_op(minilm_folder, tmp_path):
    result = run("export", minilm_folder, tmp_path / "out", "--tokenizer-ops", "core")
    assert result.returncode == 0, result.stderr[-2000:]
    graph = (tmp_path / "out" / "saved_model.pb").read_bytes()
    assert b"StringJoin" in graph and b"WordpieceTokenizeWithOffsets" not in graph


def test_export_onnx_writes_both_models_and_prints_the_tokenizer_warning(minilm_folder, tmp_path):
    result = run("export", minilm_folder, tmp_path / "out", "--format", "onnx")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "model.onnx",
        "model_with_tokenizer.onnx",
    ]
    assert "tfst export: warning: model_with_tokenizer.onnx:" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_refuses_options_of_another_format(minilm_folder, tmp_path):
    result = run("export", minilm_folder, tmp_path / "out", "--no-tokenizer")
    assert result.returncode == 1
    assert "--no-tokenizer applies to --format onnx only" in result.stderr
    result = run("export", minilm_folder, tmp_path / "out", "--quantize", "int8")
    assert result.returncode == 1
    assert "--quantize applies to --format tflite only" in result.stderr


def test_quantize_choices_are_the_tflite_exports():
    from tfst.cli import build_parser
    from tfst.export.tflite import TFLITE_QUANTIZATIONS

    export = build_parser()._subparsers._group_actions[0].choices["export"]
    quantize = next(action for action in export._actions if action.dest == "quantize")
    assert tuple(quantize.choices) == TFLITE_QUANTIZATIONS


def test_export_refuses_a_non_empty_folder_in_one_line(minilm_folder, tmp_path):
    (tmp_path / "x").write_text("keep")
    result = run("export", minilm_folder, tmp_path)
    assert result.returncode == 1
    assert "not empty" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_encode_writes_embeddings(minilm_folder, minilm_reference, tmp_path, suffix):
    texts = ["first line", "second, longer line of text", "третья строка"]
    source = tmp_path / f"texts{suffix}"
    if suffix == ".txt":
        source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    else:
        lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(texts)]
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "emb.npy"
    result = run("encode", minilm_folder, "--input", source, "--output", output, "--normalize")
    assert result.returncode == 0, result.stderr[-2000:]
    expected = minilm_reference.encode(texts, normalize_embeddings=True)
    assert np.abs(np.load(output) - expected).max() <= 1e-5


def test_encode_reports_a_bad_jsonl_line(minilm_folder, tmp_path):
    source = tmp_path / "texts.jsonl"
    source.write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    result = run("encode", minilm_folder, "--input", source, "--output", tmp_path / "e.npy")
    assert result.returncode == 1
    assert "texts.jsonl:2: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_passes_on_the_real_model(minilm_folder):
    result = run("verify", minilm_folder)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("OK:")
    assert "max abs diff" in result.stdout and "min cosine" in result.stdout


def test_verify_fails_above_an_impossible_tolerance(minilm_folder):
    result = run("verify", minilm_folder, "--tolerance", "0")
    assert result.returncode == 1
    assert result.stdout.startswith("MISMATCH")


def test_verify_says_how_to_install_a_missing_reference(minilm_folder, tmp_path):
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'sentence_transformers':\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    import os

    environment = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "tfst", "verify", str(minilm_folder)],
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
    )
    assert result.returncode == 3
    assert "pip install" in result.stderr


def test_info_describes_the_pipeline(minilm_folder):
    result = run("info", minilm_folder)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Transformer(bert: num_layers=6, hidden_size=384" in result.stdout
    assert "Pooling(modes=['mean'])" in result.stdout
    assert "Normalize" in result.stdout
    assert "embedding dimension: 384" in result.stdout
    assert "max sequence length: 256" in result.stdout
    assert "vocabulary size: 30522" in result.stdout


def test_info_on_a_missing_model_is_one_line(tmp_path):
    result = run("info", tmp_path / "nowhere", "--local-files-only")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("tfst info: error:")
    assert "Traceback" not in result.stderr


# --- errors name the file; outputs are reported where they are -----------------------------------


def test_encode_on_a_file_that_is_not_utf8_names_file_and_byte_offset(tmp_path, capsys):
    from tfst.cli import main

    source = tmp_path / "texts.txt"
    source.write_bytes("first line\nsecond line, café\n".encode() + b"caf\xe9 in latin-1\n")
    assert main(["encode", "unused-model", "--input", str(source), "--output", "x.npy"]) == 1
    error = capsys.readouterr().err
    assert f"{source} is not valid UTF-8: invalid continuation byte at byte 33 (line 3)" in error
    assert "\n" not in error.strip()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": ' + "[" * 100_000 + "]" * 100_000 + "}", "texts.jsonl:2: not valid JSON"),
        ('{"text": "\\ud800"}', "texts.jsonl:2: 'text' holds a lone surrogate U+D800"),
    ],
    ids=["nested_too_deeply", "lone_surrogate"],
)
def test_encode_names_the_jsonl_line_that_is_not_text(tmp_path, capsys, line, message):
    from tfst.cli import main

    source = tmp_path / "texts.jsonl"
    source.write_text('{"text": "ok"}\n' + line + "\n", encoding="utf-8")
    assert main(["encode", "unused-model", "--input", str(source), "--output", "x.npy"]) == 1
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from model_builders import build_sentence_folder

    return build_sentence_folder(tmp_path_factory.mktemp("cli") / "model")


def test_encode_reports_the_npy_file_numpy_really_wrote(tiny_folder, tmp_path, capsys):
    from tfst.cli import main

    source = tmp_path / "texts.txt"
    source.write_text("one\ntwo\n", encoding="utf-8")
    output = tmp_path / "noext"
    argv = ["encode", str(tiny_folder), "--input", str(source), "--output", str(output)]
    assert main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"to {output}.npy")
    assert np.load(f"{output}.npy").shape == (2, 32)
    assert not output.exists()


def test_embed_corpus_documents_its_line_cap():
    from tfst.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["embed-corpus", "model", "in.jsonl", "out"])
    assert args.max_line_bytes == 1 << 20
    args = parser.parse_args(["embed-corpus", "model", "in.jsonl", "out", "--max-line-bytes", "99"])
    assert args.max_line_bytes == 99
