"""load_cross_encoder's options and refusals, and cross-encoders written back by save_pretrained
(and through Keras' own format)."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

import tfst
from tfst.config import ConfigError
from tfst.cross_encoder import ACTIVATION_FUNCTIONS
from tfst.weights import WeightMismatchError

TOLERANCE = 1e-5


def _edit_json(path, **changes) -> None:
    current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    path.write_text(json.dumps({**current, **changes}), encoding="utf-8")


@pytest.fixture
def bert_copy(cross_encoder_folder, tmp_path):
    """A modifiable copy of the classic BERT cross-encoder."""
    return shutil.copytree(cross_encoder_folder("bert_1_label", "classic"), tmp_path / "model")


@pytest.mark.parametrize(
    ("shape", "form"),
    [("bert_3_labels", "classic"), ("distilbert_1_label", "modular"), ("mpnet_1_label", "modular")],
)
def test_save_pretrained_writes_what_sentence_transformers_loads(
    shape, form, loaded, pairs, tmp_path
):
    from sentence_transformers import CrossEncoder

    model, reference = loaded(shape, form)
    model.save_pretrained(tmp_path / "saved")
    expected = reference.predict(pairs[:64])
    reloaded = CrossEncoder(str(tmp_path / "saved"), device="cpu")
    assert type(reloaded.activation_fn) is type(reference.activation_fn)
    assert np.abs(reloaded.predict(pairs[:64]) - expected).max() <= TOLERANCE
    assert (
        np.abs(tfst.load_cross_encoder(tmp_path / "saved").predict(pairs[:64]) - expected).max()
        <= TOLERANCE
    )
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["architectures"] == [type(reference.model).__name__]
    assert len(config["id2label"]) == model.num_labels


def test_keras_format_round_trip_keeps_scores_and_activation(loaded, pairs, tmp_path):
    import keras

    model, _ = loaded("bert_3_labels", "modular")
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert restored.activation_fn is model.activation_fn
    assert np.abs(restored.predict(pairs[:32]) - model.predict(pairs[:32])).max() <= 1e-6


def test_max_length_option_matches_sentence_transformers(cross_encoder_folder, pairs):
    from sentence_transformers import CrossEncoder

    folder = cross_encoder_folder("bert_1_label", "modular")
    model = tfst.load_cross_encoder(folder, max_length=40)
    reference = CrossEncoder(str(folder), device="cpu", max_length=40)
    assert model.max_seq_length == 40
    assert np.abs(model.predict(pairs[:64]) - reference.predict(pairs[:64])).max() <= TOLERANCE


def test_saved_prompts_apply_to_the_query_as_in_sentence_transformers(
    cross_encoder_folder, pairs, tmp_path
):
    from sentence_transformers import CrossEncoder

    folder = shutil.copytree(cross_encoder_folder("bert_1_label", "modular"), tmp_path / "model")
    _edit_json(
        folder / "config_sentence_transformers.json",
        prompts={"query": "query: ", "rerank": "Judge relevance: "},
        default_prompt_name="query",
    )
    model = tfst.load_cross_encoder(folder)
    reference = CrossEncoder(str(folder), device="cpu")
    for options in ({}, {"prompt_name": "rerank"}, {"prompt": "Q: "}):
        actual = model.predict(pairs[:40], **options)
        assert np.abs(actual - reference.predict(pairs[:40], **options)).max() <= TOLERANCE
    plain = tfst.load_cross_encoder(folder, default_prompt_name=None, prompts={"query": ""})
    assert np.abs(model.predict(pairs[:40]) - plain.predict(pairs[:40])).max() > 1e-3


def test_explicit_activation_replaces_the_saved_one(cross_encoder_folder, loaded, pairs):
    import tensorflow as tf

    _, reference = loaded("bert_1_label", "classic")
    model = tfst.load_cross_encoder(
        cross_encoder_folder("bert_1_label", "classic"), activation_fn=tf.math.sigmoid
    )
    expected = 1 / (1 + np.exp(-reference.predict(pairs[:16])))  # its saved one is identity
    assert np.abs(model.predict(pairs[:16]) - expected).max() <= TOLERANCE


def test_sentence_transformers_block_wins_over_the_legacy_key(bert_copy):
    import tensorflow as tf

    _edit_json(
        bert_copy / "config.json",
        sentence_transformers={"activation_fn": "torch.nn.modules.activation.Tanh"},
    )
    assert tfst.load_cross_encoder(bert_copy).activation_fn is tf.math.tanh


def test_torch_activation_tfst_lacks_is_refused_naming_it(bert_copy):
    _edit_json(
        bert_copy / "config.json",
        sentence_transformers={"activation_fn": "torch.nn.modules.activation.GELU"},
    )
    with pytest.raises(ConfigError, match=r"config\.json.*activation_fn .*GELU.* not supported"):
        tfst.load_cross_encoder(bert_copy)


def test_activation_outside_torch_falls_back_to_the_default_with_a_warning(bert_copy, caplog):
    _edit_json(bert_copy / "config.json", sbert_ce_default_activation_function="my.module.Act")
    with caplog.at_level(logging.WARNING):
        model = tfst.load_cross_encoder(bert_copy)
    assert "my.module.Act" in caplog.text
    assert model.activation_fn is ACTIVATION_FUNCTIONS["torch.nn.modules.activation.Sigmoid"]


def test_a_model_without_a_classification_head_is_refused(bert_copy):
    _edit_json(bert_copy / "config.json", architectures=["BertModel"])
    with pytest.raises(ConfigError, match="does not name BertForSequenceClassification"):
        tfst.load_cross_encoder(bert_copy)


def test_missing_head_tensors_are_named(bert_copy):
    from safetensors.numpy import load_file, save_file

    weights = bert_copy / "model.safetensors"
    tensors = load_file(weights)
    del tensors["bert.pooler.dense.weight"]
    save_file(tensors, weights)
    with pytest.raises(WeightMismatchError, match=r"missing tensors: bert\.pooler\.dense\.weight"):
        tfst.load_cross_encoder(bert_copy)


def test_labels_that_disagree_with_the_classifier_are_refused(bert_copy):
    _edit_json(bert_copy / "config.json", id2label={"0": "A", "1": "B"})
    with pytest.raises(WeightMismatchError, match=r"classifier\.weight has shape \(1, 32\)"):
        tfst.load_cross_encoder(bert_copy)


def test_id2label_with_a_gap_is_refused(bert_copy):
    _edit_json(bert_copy / "config.json", id2label={"0": "A", "2": "B"})
    with pytest.raises(ConfigError, match="id2label must number its labels 0 to n-1"):
        tfst.load_cross_encoder(bert_copy)


def test_tfst_load_points_a_cross_encoder_to_load_cross_encoder(cross_encoder_folder):
    with pytest.raises(ConfigError, match="load_cross_encoder"):
        tfst.load(cross_encoder_folder("bert_1_label", "modular"))


def test_an_embedding_model_is_not_a_cross_encoder(minilm_folder):
    with pytest.raises(ConfigError, match="does not name BertForSequenceClassification"):
        tfst.load_cross_encoder(minilm_folder)


def test_fine_tuned_in_keras_and_saved_it_scores_the_same_in_sentence_transformers(
    cross_encoder_folder, tmp_path
):
    import keras
    import tensorflow as tf
    from sentence_transformers import CrossEncoder

    model = tfst.load_cross_encoder(cross_encoder_folder("distilbert_1_label", "classic"))
    queries = ["what is a cat", "capital of France", "how tall is Everest", "best pasta"] * 4
    documents = ["a cat is an animal", "Paris", "8849 m", "carbonara"] * 4
    labels = np.array([1, 1, 0, 0] * 4, np.float32)[:, None]
    pairs = list(zip(queries, documents, strict=True))
    before = model.predict(pairs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    model.fit(
        tf.data.Dataset.from_tensor_slices(((queries, documents), labels)).batch(8),
        epochs=2,
        verbose=0,
    )
    after = model.predict(pairs)
    assert np.abs(after - before).max() > 1e-3
    model.save_pretrained(tmp_path / "fine_tuned")
    reloaded = CrossEncoder(str(tmp_path / "fine_tuned"), device="cpu")
    assert np.abs(reloaded.predict(pairs) - after).max() <= TOLERANCE
