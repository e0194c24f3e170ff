"""SavedModel export: strings in, embeddings out, loadable with TensorFlow + tensorflow-text only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_builders import build_distiluse_shaped_folder
from sentences import parity_corpus

import tfst

TEXTS = parity_corpus()[:60]


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.fixture(scope="session")
def minilm_export(minilm, tmp_path_factory):
    """The tensorflow-text flavour; tests/test_core_export.py covers the default core one."""
    return minilm.export(
        tmp_path_factory.mktemp("export") / "minilm", tokenizer_ops="tensorflow_text"
    )


def _run_in_fresh_process(export_dir: Path, texts: list[str], output: Path) -> None:
    """Load and call the SavedModel in a process that imports TensorFlow and tensorflow-text only."""
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        import tensorflow_text  # registers the tokenizer ops
        texts = json.loads(open({str(output) + ".json"!r}, encoding="utf-8").read())
        loaded = tf.saved_model.load({str(export_dir)!r})
        result = loaded.signatures["serving_default"](tf.constant(texts))
        np.save({str(output)!r}, result["sentence_embedding"].numpy())
        assert not any(name == "tfst" or name.startswith("tfst.") for name in sys.modules)
        """
    )
    Path(str(output) + ".json").write_text(json.dumps(texts), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_fresh_process_without_tfst_matches_sentence_transformers(
    minilm_export, minilm_reference, tmp_path
):
    output = tmp_path / "embeddings.npy"
    _run_in_fresh_process(minilm_export, TEXTS, output)
    expected = minilm_reference.encode(TEXTS)
    assert np.abs(np.load(output) - expected).max() <= 1e-5


def test_distilbert_dense_export_matches_in_a_fresh_process(tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = build_distiluse_shaped_folder(tmp_path / "model", safetensors=False)
    export_dir = tfst.load(folder).export(tmp_path / "export")
    output = tmp_path / "embeddings.npy"
    _run_in_fresh_process(export_dir, TEXTS, output)
    expected = SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert np.abs(np.load(output) - expected).max() <= 1e-5


@pytest.mark.parametrize("dtype", [tf.int64, tf.int32])
def test_token_id_signature_matches(minilm_export, minilm_reference, dtype):
    loaded = tf.saved_model.load(str(minilm_export))
    name = "from_token_ids" if dtype == tf.int64 else "from_token_ids_int32"
    features = minilm_reference.preprocess(TEXTS[:20])
    result = loaded.signatures[name](
        input_ids=tf.constant(features["input_ids"].numpy(), dtype),
        attention_mask=tf.constant(features["attention_mask"].numpy(), dtype),
    )
    expected = minilm_reference.encode(TEXTS[:20])
    assert np.abs(result["sentence_embedding"].numpy() - expected).max() <= 1e-5


def test_signatures_are_dynamic_in_batch_and_length(minilm_export):
    signature = tf.saved_model.load(str(minilm_export)).signatures["serving_default"]
    assert signature.structured_input_signature[1]["sentences"].shape.as_list() == [None]
    for texts in (["one"], ["two texts", "of different length, quite a bit longer"] * 3):
        assert signature(tf.constant(texts))["sentence_embedding"].shape == (len(texts), 384)


def test_saved_model_cli_lists_both_signatures(minilm_export):
    cli = Path(sys.executable).with_name("saved_model_cli")
    result = subprocess.run(
        [str(cli), "show", "--dir", str(minilm_export), "--all"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("serving_default", "from_token_ids", "from_token_ids_int32"):
        assert f"signature_def['{name}']" in result.stdout
    assert "sentence_embedding" in result.stdout


@pytest.mark.parametrize("signature_name", ["serving_default", "from_token_ids"])
def test_tensorflow_1_session_loader_serves_it(minilm_export, minilm_reference, signature_name):
    """TF Serving and TF Java load SavedModels into a session and run its restore op; the
    variables the signatures read must be the ones that op restores."""
    texts = TEXTS[:20]
    features = minilm_reference.preprocess(texts)
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(minilm_export))
        signature = meta_graph.signature_def[signature_name]
        if signature_name == "serving_default":
            feed = {signature.inputs["sentences"].name: texts}
        else:
            feed = {
                signature.inputs[name].name: features[name].numpy()
                for name in ("input_ids", "attention_mask")
            }
        result = session.run(signature.outputs["sentence_embedding"].name, feed)
    assert np.abs(result - minilm_reference.encode(texts)).max() <= 1e-5


def test_export_is_about_the_size_of_the_weights(minilm_export, minilm_folder):
    weights = (minilm_folder / "model.safetensors").stat().st_size
    assert _folder_size(minilm_export) <= 1.05 * weights


def test_non_empty_folder_is_refused_and_overwrite_replaces_only_an_export(minilm, tmp_path):
    """tests/test_export_folders.py checks replacing an earlier export."""
    (tmp_path / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not empty.*overwrite=True"):
        minilm.export(tmp_path)
    with pytest.raises(FileExistsError, match=r"is not an earlier export \(it holds keep\.txt\)"):
        minilm.export(tmp_path, overwrite=True)
    assert (tmp_path / "keep.txt").read_text() == "user data"


def test_symlinked_target_is_refused_and_nothing_is_written_through_it(minilm, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "link").symlink_to(outside)
    with pytest.raises(FileExistsError, match="symbolic link"):
        minilm.export(tmp_path / "link")
    assert list(outside.iterdir()) == []


def test_keras_file_round_trip_gives_identical_outputs(minilm, tmp_path):
    path = tmp_path / "minilm.keras"
    minilm.save(path)
    restored = keras.models.load_model(path)
    texts = tf.constant(TEXTS[:16])
    np.testing.assert_array_equal(restored(texts).numpy(), minilm(texts).numpy())


def test_keras_file_loads_in_a_process_that_only_imports_tfst(minilm, tmp_path):
    path = tmp_path / "minilm.keras"
    minilm.save(path)
    expected = minilm.encode(["round trip"])
    script = textwrap.dedent(
        f"""
        import keras, numpy as np, tfst
        model = keras.models.load_model({str(path)!r})
        np.save({str(tmp_path / "out.npy")!r}, model.encode(["round trip"]))
        """
    )
    environment = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=environment
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Another process may pick other oneDNN kernels/thread splits: equal to float32 rounding.
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6, rtol=0)
