"""DistilBERT models and the Dense module, against sentence-transformers, from either weight format."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from model_builders import (
    HIDDEN_SIZE,
    LEGACY_TYPES,
    _write_json,
    build_distiluse_shaped_folder,
    save_cased_multilingual_tokenizer,
    save_tiny_distilbert,
)
from sentences import parity_corpus

import tfst
from tfst.models.distilbert import DistilBertEncoder

CORPUS = parity_corpus()


def _reference(folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")


def _assert_parity(folder, texts=CORPUS):
    expected = _reference(folder).encode(texts)
    actual = tfst.load(folder).encode(texts)
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= 1e-5


@pytest.fixture(scope="session")
def distiluse_shaped_bin_folder(tmp_path_factory):
    return build_distiluse_shaped_folder(
        tmp_path_factory.mktemp("distiluse_bin"), safetensors=False
    )


@pytest.mark.parametrize("activation", ["gelu", "relu"])
@pytest.mark.parametrize("safetensors", [True, False], ids=["safetensors", "bin"])
def test_distilbert_mean_pooling_matches(tmp_path, activation, safetensors):
    """The nq-distilbert shape: DistilBERT + mean pooling."""
    vocab_size = save_cased_multilingual_tokenizer(tmp_path)
    save_tiny_distilbert(
        tmp_path, vocab_size=vocab_size, activation=activation, safetensors=safetensors
    )
    _write_json(
        tmp_path / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": LEGACY_TYPES["Transformer"]},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": LEGACY_TYPES["Pooling"]},
        ],
    )
    _write_json(
        tmp_path / "1_Pooling" / "config.json",
        {"word_embedding_dimension": HIDDEN_SIZE, "pooling_mode_mean_tokens": True},
    )
    _assert_parity(tmp_path)


def test_distiluse_shape_from_pytorch_bin_only(distiluse_shaped_bin_folder):
    """Cased multilingual DistilBERT + mean + Dense(tanh) + Normalize, all weights as .bin."""
    assert not list(distiluse_shaped_bin_folder.rglob("*.safetensors"))
    _assert_parity(distiluse_shaped_bin_folder)


def test_distiluse_shape_output_dimension_is_the_dense_width(distiluse_shaped_bin_folder):
    model = tfst.load(distiluse_shaped_bin_folder)
    assert model.get_sentence_embedding_dimension() == 16
    assert np.allclose(np.linalg.norm(model.encode(["unit length"]), axis=1), 1.0, atol=1e-6)


def test_distilbert_with_sinusoidal_positions_matches(tmp_path):
    vocab_size = save_cased_multilingual_tokenizer(tmp_path)
    save_tiny_distilbert(tmp_path, vocab_size=vocab_size, sinusoidal=True)
    _assert_parity(tmp_path, CORPUS[:30])


@pytest.mark.parametrize(
    "activation",
    [
        "torch.nn.modules.linear.Identity",
        "torch.nn.modules.activation.ReLU",
        "torch.nn.modules.activation.GELU",
        "torch.nn.modules.activation.Sigmoid",
    ],
)
def test_dense_activations_match(tmp_path, activation):
    from model_builders import save_dense_module

    folder = build_distiluse_shaped_folder(tmp_path, safetensors=True)
    save_dense_module(
        folder / "2_Dense",
        in_features=HIDDEN_SIZE,
        out_features=16,
        activation=activation,
        safetensors=True,
        seed=4,
    )
    _assert_parity(folder, CORPUS[:20])


def test_dense_without_bias_matches(tmp_path):
    from model_builders import save_dense_module

    folder = build_distiluse_shaped_folder(tmp_path, safetensors=True)
    save_dense_module(
        folder / "2_Dense", in_features=HIDDEN_SIZE, out_features=16, bias=False, safetensors=True
    )
    _assert_parity(folder, CORPUS[:20])


def test_distilbert_prefix_and_mlm_head_are_handled(tmp_path):
    import torch
    from transformers import DistilBertConfig, DistilBertForMaskedLM

    vocab_size = save_cased_multilingual_tokenizer(tmp_path)
    torch.manual_seed(0)
    config = DistilBertConfig(
        vocab_size=vocab_size,
        dim=32,
        n_layers=1,
        n_heads=4,
        hidden_dim=64,
        max_position_embeddings=128,
    )
    DistilBertForMaskedLM(config).eval().save_pretrained(tmp_path)
    _assert_parity(tmp_path, CORPUS[:20])


def test_token_type_ids_are_ignored():
    encoder = DistilBertEncoder(
        vocab_size=50, hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16
    )
    inputs = {
        "input_ids": tf.constant([[1, 2, 3]]),
        "attention_mask": tf.constant([[1, 1, 1]]),
    }
    with_types = dict(inputs, token_type_ids=tf.constant([[0, 1, 1]]))
    np.testing.assert_array_equal(encoder(inputs).numpy(), encoder(with_types).numpy())
