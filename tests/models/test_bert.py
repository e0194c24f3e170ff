"""BertEncoder: same hidden states as transformers' BertModel, and a strict checkpoint mapping."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from model_builders import save_tiny_bert
from parity import largest_difference_from_transformers, load_encoder, random_features

from tfst.checkpoint import load_checkpoint_tensors
from tfst.models import transformer_block
from tfst.models.bert import BertEncoder
from tfst.models.transformer_block import attention, attention_bias
from tfst.weights import WeightMismatchError

HIDDEN_ACTS = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"]


@pytest.fixture(scope="session", params=HIDDEN_ACTS)
def tiny_bert_folder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"bert_{request.param}")
    save_tiny_bert(folder, hidden_act=request.param, seed=3)
    return folder


def test_hidden_states_match_transformers(tiny_bert_folder):
    encoder = load_encoder(tiny_bert_folder)
    assert (
        largest_difference_from_transformers(tiny_bert_folder, encoder, random_features()) <= 1e-5
    )


def test_attention_over_chunks_of_texts_equals_attention_over_the_whole_batch(monkeypatch):
    rng = np.random.default_rng(0)
    query, key, value = (tf.constant(rng.normal(size=(5, 2, 7, 4)), tf.float32) for _ in range(3))
    mask = np.ones((5, 7), np.int32)
    mask[1, 4:] = 0
    mask[4, 2:] = 0
    bias = attention_bias(tf.constant(mask), tf.float32)
    whole = attention(query, key, value, bias).numpy()

    chunk_sizes = []
    attend = transformer_block._attend

    def counting_attend(query, key, value, bias, position_bias=None):
        chunk_sizes.append(int(query.shape[0]))
        return attend(query, key, value, bias, position_bias)

    # Two texts' scores (2 heads x 7 x 7 each) fit; the batch of 5 runs as 2 + 2 + 1, eagerly.
    monkeypatch.setattr(transformer_block, "ATTENTION_CHUNK_ELEMENTS", 2 * 2 * 7 * 7 + 1)
    monkeypatch.setattr(transformer_block, "_attend", counting_attend)
    chunked = attention(query, key, value, bias).numpy()
    assert chunk_sizes == [2, 2, 1]
    assert np.abs(chunked - whole).max() <= 1e-6


def test_hidden_states_match_transformers_when_attention_runs_in_chunks(gelu_folder, monkeypatch):
    monkeypatch.setattr(transformer_block, "ATTENTION_CHUNK_ELEMENTS", 1)  # one text per chunk
    encoder = load_encoder(gelu_folder)
    run = tf.function(encoder)  # as encode runs it: tf.cond and tf.while_loop in a graph
    features = random_features(seed=4, batch=5, length=12)
    assert largest_difference_from_transformers(gelu_folder, run, features) <= 1e-5


def test_a_block_alone_matches_a_transformers_bert_layer(gelu_folder):
    """TransformerBlock is usable on its own: ``[batch, seq, hidden]`` and a mask bias."""
    import torch
    from transformers import BertModel

    layer = BertModel.from_pretrained(gelu_folder).eval().encoder.layer[1]
    block = load_encoder(gelu_folder).blocks[1]
    rng = np.random.default_rng(1)
    hidden_states = rng.standard_normal((2, 6, 32)).astype(np.float32)
    attention_mask = np.array([[1] * 6, [1] * 4 + [0] * 2])
    bias = attention_bias(tf.constant(attention_mask), tf.float32)
    with torch.no_grad():
        expected = layer(torch.tensor(hidden_states), attention_mask=torch.tensor(bias.numpy()))
    expected = (expected[0] if isinstance(expected, tuple) else expected).numpy()
    actual = block(tf.constant(hidden_states), bias).numpy()
    real = attention_mask.astype(bool)
    assert np.abs(actual[real] - expected[real]).max() <= 1e-5


def _targets_and_tensors(folder):
    encoder = BertEncoder(
        vocab_size=30522,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    table = encoder.weight_table()
    encoder.build()
    return encoder, table, load_checkpoint_tensors(folder / "model.safetensors")


@pytest.fixture(scope="session")
def gelu_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert_strict")
    save_tiny_bert(folder, seed=5)
    return folder


def test_every_variable_is_filled_from_the_checkpoint(gelu_folder):
    encoder, table, tensors = _targets_and_tensors(gelu_folder)
    table.assign(encoder, tensors, source="ckpt")
    word_embeddings = encoder.word_embeddings.embeddings.numpy()
    np.testing.assert_array_equal(word_embeddings, tensors["embeddings.word_embeddings.weight"])
    query = encoder.blocks[1].query.kernel.numpy()
    np.testing.assert_array_equal(query, tensors["encoder.layer.1.attention.self.query.weight"].T)
    assert len(table.targets) == len(encoder.weights)


def test_bert_prefix_is_accepted(gelu_folder):
    encoder, table, tensors = _targets_and_tensors(gelu_folder)
    table.assign(encoder, {f"bert.{name}": value for name, value in tensors.items()}, source="ckpt")
    np.testing.assert_array_equal(
        encoder.embeddings_norm.gamma.numpy(), tensors["embeddings.LayerNorm.weight"]
    )


def test_legacy_gamma_beta_layer_norm_names_are_accepted(gelu_folder):
    encoder, table, tensors = _targets_and_tensors(gelu_folder)
    renamed = {
        name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        ): value
        for name, value in tensors.items()
    }
    table.assign(encoder, renamed, source="ckpt")
    np.testing.assert_array_equal(
        encoder.embeddings_norm.beta.numpy(), tensors["embeddings.LayerNorm.bias"]
    )


def test_pooler_and_position_ids_are_skipped_on_purpose(gelu_folder):
    encoder, table, tensors = _targets_and_tensors(gelu_folder)
    assert any(name.startswith("pooler.") for name in tensors)
    table.assign(
        encoder, {**tensors, "embeddings.position_ids": np.arange(128)[None]}, source="ckpt"
    )


def test_missing_tensor_is_named_and_nothing_is_assigned(gelu_folder):
    encoder, table, tensors = _targets_and_tensors(gelu_folder)
    before = encoder.word_embeddings.embeddings.numpy().copy()
    del tensors["encoder.layer.1.output.dense.bias"]
    with pytest.raises(
        WeightMismatchError, match=r"missing tensors: encoder\.layer\.1\.output\.dense\.bias"
    ):
        table.assign(encoder, tensors, source="ckpt")
    np.testing.assert_array_equal(encoder.word_embeddings.embeddings.numpy(), before)


def test_unexpected_tensor_is_named(gelu_folder):
    encoder, table, tensors = _targets_and_tensors(gelu_folder)
    tensors["encoder.layer.2.attention.self.query.weight"] = np.zeros((32, 32), np.float32)
    with pytest.raises(
        WeightMismatchError, match=r"unexpected tensors: encoder\.layer\.2\.attention"
    ):
        table.assign(encoder, tensors, source="ckpt")


def test_shape_mismatch_names_the_tensor_and_both_shapes(gelu_folder):
    encoder, table, tensors = _targets_and_tensors(gelu_folder)
    tensors["encoder.layer.0.intermediate.dense.weight"] = np.zeros((65, 32), np.float32)
    with pytest.raises(
        WeightMismatchError,
        match=r"encoder\.layer\.0\.intermediate\.dense\.weight has shape \(65, 32\), expected \(64, 32\)",
    ):
        table.assign(encoder, tensors, source="ckpt")


def test_unsupported_activation_is_named():
    with pytest.raises(ValueError, match=r"'swish' is not supported"):
        BertEncoder(
            vocab_size=10,
            hidden_size=8,
            num_layers=1,
            num_heads=2,
            intermediate_size=8,
            hidden_act="swish",
        )


def test_get_config_round_trips():
    encoder = BertEncoder(
        vocab_size=10,
        hidden_size=8,
        num_layers=1,
        num_heads=2,
        intermediate_size=16,
        hidden_act="relu",
        layer_norm_eps=1e-6,
    )
    clone = BertEncoder.from_config(encoder.get_config())
    assert clone.get_config() == encoder.get_config()
