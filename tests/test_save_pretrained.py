"""``save_pretrained`` writes a folder that sentence-transformers itself loads, with the same numbers."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from hard_strings import ALL_HARD_STRINGS
from model_builders import MINILM_FOLDER, build_distiluse_shaped_folder, build_sentence_folder
from safetensors.numpy import load_file
from sentences import parity_corpus

import tfst

TEXTS = parity_corpus()[:40]
TRAINING_TEXTS = ["a great film", "a dreadful film", "truly lovely", "truly awful"]


def _reference(folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")


def _max_diff(actual, expected) -> float:
    return float(np.abs(np.asarray(actual) - np.asarray(expected)).max())


@pytest.fixture(scope="session")
def saved_minilm_folder(minilm, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved_minilm")
    minilm.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def distiluse_shaped_folder(tmp_path_factory):
    return build_distiluse_shaped_folder(tmp_path_factory.mktemp("distiluse_for_saving"))


def test_saved_minilm_loads_in_sentence_transformers_with_the_same_embeddings(
    saved_minilm_folder, minilm_reference
):
    reloaded = _reference(saved_minilm_folder)
    assert reloaded.max_seq_length == minilm_reference.max_seq_length
    assert _max_diff(reloaded.encode(TEXTS), minilm_reference.encode(TEXTS)) <= 1e-5


def test_saved_weights_keep_the_checkpoint_names_and_values(saved_minilm_folder):
    original = load_file(MINILM_FOLDER / "model.safetensors")
    saved = load_file(saved_minilm_folder / "model.safetensors")
    # The pooler (not part of a sentence embedding) and the position_ids buffer are skipped on
    # loading, so they are not written either.
    skipped = {"pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"}
    assert set(saved) == set(original) - skipped
    for name, tensor in saved.items():
        np.testing.assert_array_equal(tensor, original[name], err_msg=name)


@pytest.mark.parametrize("source", ["minilm", "cased_multilingual"])
def test_saved_tokenizer_gives_the_original_ids(
    source, saved_minilm_folder, distiluse_shaped_folder, tmp_path
):
    from transformers import AutoTokenizer

    if source == "minilm":
        original, saved = MINILM_FOLDER, saved_minilm_folder
    else:
        original, saved = distiluse_shaped_folder, tmp_path / "saved"
        tfst.load(original).save_pretrained(saved)
    expected = AutoTokenizer.from_pretrained(str(original))(ALL_HARD_STRINGS)["input_ids"]
    assert AutoTokenizer.from_pretrained(str(saved))(ALL_HARD_STRINGS)["input_ids"] == expected


def test_distilbert_with_dense_round_trips_through_sentence_transformers(
    distiluse_shaped_folder, tmp_path
):
    model = tfst.load(distiluse_shaped_folder)
    model.save_pretrained(tmp_path / "saved")
    reloaded = _reference(tmp_path / "saved")
    assert (
        _max_diff(reloaded.encode(TEXTS), _reference(distiluse_shaped_folder).encode(TEXTS)) <= 1e-5
    )
    assert _max_diff(reloaded.encode(TEXTS), model.encode(TEXTS)) <= 1e-5


def test_fine_tuned_model_round_trips_through_sentence_transformers(tmp_path):
    source = build_sentence_folder(tmp_path / "source", normalize=True)
    model = tfst.load(source)
    keras.utils.set_random_seed(0)
    strings = keras.Input(shape=(), dtype="string")
    scores = keras.layers.Dense(1)(model(strings))
    trainer = keras.Model(strings, scores)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    dataset = tf.data.Dataset.from_tensor_slices((TRAINING_TEXTS, [1.0, -1.0, 1.0, -1.0]))
    trainer.fit(dataset.batch(2), epochs=3, verbose=0)

    model.save_pretrained(tmp_path / "fine_tuned")
    reloaded = _reference(tmp_path / "fine_tuned")
    assert _max_diff(reloaded.encode(TEXTS), model.encode(TEXTS)) <= 1e-5
    assert _max_diff(reloaded.encode(TEXTS), _reference(source).encode(TEXTS)) > 1e-3


def test_model_settings_survive_the_round_trip(tmp_path):
    source = build_sentence_folder(tmp_path / "source", pooling_modes=("mean", "cls"))
    settings = dict(
        prompts={"query": "query: ", "passage": "passage: "},
        default_prompt_name="query",
        similarity_fn_name="manhattan",
        truncate_dim=16,
    )
    model = tfst.load(source, **settings)
    model.set_pooling_include_prompt(False)
    model.save_pretrained(tmp_path / "saved")
    reloaded, again = _reference(tmp_path / "saved"), tfst.load(tmp_path / "saved")
    for loaded in (reloaded, again):
        assert loaded.prompts == model.prompts
        assert loaded.default_prompt_name == "query"
        assert loaded.similarity_fn_name == "manhattan"
        assert loaded.truncate_dim == 16
    assert reloaded[1].include_prompt is False
    assert _max_diff(reloaded.encode(TEXTS), model.encode(TEXTS)) <= 1e-5
    np.testing.assert_array_equal(again.encode(TEXTS), model.encode(TEXTS))


def test_saved_folder_lists_sentence_transformers_modules(saved_minilm_folder):
    modules = json.loads((saved_minilm_folder / "modules.json").read_text())
    assert [(module["path"], module["type"].rsplit(".", 1)[-1]) for module in modules] == [
        ("", "Transformer"),
        ("1_Pooling", "Pooling"),
        ("2_Normalize", "Normalize"),
    ]


# --- nothing written through links ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tfst.load(build_sentence_folder(tmp_path_factory.mktemp("tiny_for_links") / "model"))


@pytest.fixture(scope="module")
def clean_save(tiny_model, tmp_path_factory):
    """What ``save_pretrained`` writes into an empty folder."""
    folder = tmp_path_factory.mktemp("clean_save")
    tiny_model.save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    "name", ["vocab.txt", "config.json", "model.safetensors", "1_Pooling/config.json"]
)
@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_link_in_the_target_is_replaced_never_written_through(
    tiny_model, clean_save, tmp_path, name, link
):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    target = tmp_path / "saved"
    (target / name).parent.mkdir(parents=True)
    if link == "symbolic":
        (target / name).symlink_to(outside)
    else:
        os.link(outside, target / name)
    tiny_model.save_pretrained(target)
    assert outside.read_text() == "precious"
    assert not (target / name).is_symlink() and (target / name).stat().st_nlink == 1
    assert (target / name).read_bytes() == (clean_save / name).read_bytes()


def test_a_symlinked_module_folder_is_replaced_never_written_into(tiny_model, clean_save, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.json").write_text("precious")
    target = tmp_path / "saved"
    target.mkdir()
    (target / "1_Pooling").symlink_to(outside, target_is_directory=True)
    tiny_model.save_pretrained(target)
    assert [path.name for path in outside.iterdir()] == ["config.json"]
    assert (outside / "config.json").read_text() == "precious"
    assert (target / "1_Pooling").is_dir() and not (target / "1_Pooling").is_symlink()
    config = "1_Pooling/config.json"
    assert (target / config).read_bytes() == (clean_save / config).read_bytes()


def test_saving_leaves_no_temporary_files(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path)
    tiny_model.save_pretrained(tmp_path)  # over the first save
    assert not [path for path in tmp_path.rglob(".*")]
