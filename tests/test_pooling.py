"""Pooling and Normalize layers against sentence-transformers' own modules."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfst.modules import Normalize, Pooling

MODES = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]


def _features(left_padding: bool):
    rng = np.random.default_rng(1)
    token_embeddings = rng.normal(size=(4, 9, 6)).astype(np.float32)
    lengths = [9, 5, 1, 3]
    mask = np.zeros((4, 9), dtype=np.int64)
    for row, length in enumerate(lengths):
        if left_padding:
            mask[row, 9 - length :] = 1
        else:
            mask[row, :length] = 1
    return token_embeddings, mask


def _reference(modes, token_embeddings, mask):
    import torch
    from sentence_transformers.sentence_transformer.modules import Pooling as ReferencePooling

    pooling = ReferencePooling(token_embeddings.shape[-1], pooling_mode=tuple(modes))
    features = {
        "token_embeddings": torch.tensor(token_embeddings),
        "attention_mask": torch.tensor(mask),
    }
    return pooling(features)["sentence_embedding"].numpy()


@pytest.mark.parametrize("left_padding", [False, True], ids=["right_padded", "left_padded"])
@pytest.mark.parametrize("modes", [[mode] for mode in MODES] + [MODES, ["mean", "cls"]], ids=str)
def test_pooling_matches_sentence_transformers(modes, left_padding):
    token_embeddings, mask = _features(left_padding)
    expected = _reference(modes, token_embeddings, mask)
    actual = Pooling(6, modes).pool(tf.constant(token_embeddings), tf.constant(mask, tf.int32))
    np.testing.assert_allclose(actual.numpy(), expected, atol=1e-6, rtol=0)


def test_pooling_output_dimension_counts_modes():
    assert Pooling(6, ["cls", "mean", "max"]).output_dimension() == 18


def test_unknown_pooling_mode_is_refused():
    with pytest.raises(ValueError, match=r"'median' is not supported"):
        Pooling(6, ["median"])


def test_pooling_get_config_round_trips():
    pooling = Pooling(6, ["weightedmean", "cls"])
    assert Pooling.from_config(pooling.get_config()).modes == ("weightedmean", "cls")


def test_normalize_gives_unit_vectors_and_keeps_zero_vectors():
    embeddings = tf.constant([[3.0, 4.0], [0.0, 0.0]])
    normalized = Normalize()({"sentence_embedding": embeddings})["sentence_embedding"]
    np.testing.assert_allclose(normalized.numpy(), [[0.6, 0.8], [0.0, 0.0]])
