"""`model.export(path)`, by default a SavedModel of core TensorFlow ops only.

The proof runs in a fresh process where importing tensorflow_text fails (a meta-path hook), so
none of its ops can be registered: there, every op of every function in the SavedModel must be
known to TensorFlow's op registry, the model must load and run on strings, and its embeddings
must match sentence-transformers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from fresh_process import run_in_fresh_process
from hard_strings import ALL_HARD_STRINGS
from sentences import parity_corpus
from tokenizer_helpers import layer_from_folder

TEXTS = parity_corpus()[:60] + [text for text in ALL_HARD_STRINGS if len(text) <= 120]

SERVE_TEXTS = """
report["ops"], report["unregistered"] = unregistered_ops(request["export"])
_, report["control_unregistered"] = unregistered_ops(request["control"])
serve = tf.saved_model.load(request["export"]).signatures["serving_default"]
texts = request["texts"]
embeddings = [
    serve(sentences=tf.constant(texts[start : start + 64]))["sentence_embedding"].numpy()
    for start in range(0, len(texts), 64)
]
np.save(request["embeddings"], np.concatenate(embeddings))
"""


@pytest.fixture(scope="session")
def core_export(minilm, tmp_path_factory):
    return minilm.export(tmp_path_factory.mktemp("core_export") / "minilm")


@pytest.fixture(scope="session")
def tensorflow_text_tokenizer_export(minilm_folder, tmp_path_factory):
    """A tokenizer-only SavedModel with the tensorflow-text WordPiece: the op check's control."""
    module = tf.Module()
    module.tokenizer = layer_from_folder(minilm_folder, ops="tensorflow_text")
    module.tokenize = tf.function(
        lambda strings: module.tokenizer(strings),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    folder = tmp_path_factory.mktemp("control") / "tokenizer"
    tf.saved_model.save(module, str(folder))
    return folder


@pytest.fixture(scope="session")
def fresh_process(core_export, tensorflow_text_tokenizer_export, tmp_path_factory):
    """Report and embeddings of the export, from a process that cannot import tensorflow_text."""
    folder = tmp_path_factory.mktemp("fresh_process")
    request = {
        "export": str(core_export),
        "control": str(tensorflow_text_tokenizer_export),
        "texts": TEXTS,
        "embeddings": str(folder / "embeddings.npy"),
    }
    report = run_in_fresh_process(SERVE_TEXTS, request, folder)
    report["embeddings"] = np.load(folder / "embeddings.npy")
    return report


def test_fresh_process_loads_it_without_tensorflow_text_or_tfst(fresh_process):
    assert not fresh_process["tensorflow_text_imported"]
    assert not fresh_process["tfst_imported"]


def test_every_op_in_every_function_is_a_core_tensorflow_op(fresh_process):
    assert fresh_process["unregistered"] == []
    # The tokenizer is really in the graph: its string and table ops are among the checked ones.
    for op in ("UnicodeDecodeWithOffsets", "Substr", "StringJoin", "LookupTableFindV2"):
        assert op in fresh_process["ops"]


def test_op_check_flags_the_tensorflow_text_tokenizer(fresh_process):
    assert "WordpieceTokenizeWithOffsets" in fresh_process["control_unregistered"]


def test_embeddings_match_sentence_transformers(fresh_process, minilm_reference):
    expected = minilm_reference.encode(TEXTS)
    assert np.abs(fresh_process["embeddings"] - expected).max() <= 1e-5


def test_export_is_about_the_size_of_the_weights(core_export, minilm_folder):
    """The vocabulary lives in the graph once; nothing else adds more than a few percent."""
    exported = sum(path.stat().st_size for path in Path(core_export).rglob("*") if path.is_file())
    weights = (minilm_folder / "model.safetensors").stat().st_size
    assert exported <= 1.05 * weights


def test_core_is_the_default_and_an_export_override_leaves_the_model_alone(minilm, tmp_path):
    assert minilm.tokenizer.ops == "core"
    minilm.export(tmp_path / "export", tokenizer_ops="tensorflow_text")
    assert minilm.tokenizer.ops == "core"


def test_unknown_tokenizer_ops_are_rejected(minilm, tmp_path):
    with pytest.raises(ValueError, match="tokenizer_ops must be one of"):
        minilm.export(tmp_path / "export", tokenizer_ops="icu")


def test_saved_model_cli_run_serves_strings(core_export, minilm_reference, tmp_path):
    """The README's Serving example: ``saved_model_cli run`` loads the export the way TF Serving
    does (a TensorFlow 1 session and the restore op) with no tensorflow-text installed."""
    texts = TEXTS[:8]
    cli = Path(sys.executable).with_name("saved_model_cli")
    result = subprocess.run(
        [
            str(cli),
            "run",
            "--dir",
            str(core_export),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            f"sentences={json.dumps(texts)}",
            "--outdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "sentence_embedding.npy")
    assert np.abs(served - minilm_reference.encode(texts)).max() <= 1e-5
