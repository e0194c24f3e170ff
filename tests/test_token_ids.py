"""Token ids from outside tfst's tokenizer (the exported ``from_token_ids`` signatures and
``forward_features``) are checked in the graph: a bad id or mask is an ``InvalidArgumentError``
saying what is wrong, never silently wrong numbers, NaN or a failure deep in a gather.

sentence-transformers raises ``IndexError`` on a negative id; tfst refuses every id outside
``[0, vocab_size)`` in the graph, where a SavedModel can only raise ``InvalidArgumentError``.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from model_builders import build_sentence_folder

import tfst

VOCAB_SIZE = 30522  # MiniLM's vocabulary, which the tiny model uses
MAX_POSITIONS = 128

# Case → (input_ids, attention_mask, expected message). Ids are int64 here, cast per signature.
BAD_INPUTS = {
    "negative_id": ([[101, -5, 102]], [[1, 1, 1]], "input_ids must not be negative"),
    "id_past_the_vocabulary": (
        [[101, VOCAB_SIZE, 102]],
        [[1, 1, 1]],
        f"input_ids must be less than the vocabulary size {VOCAB_SIZE}",
    ),
    "mask_value_two": ([[101, 7592, 102]], [[1, 2, 1]], "attention_mask values must be 0 or 1"),
    "negative_mask_value": (
        [[101, 7592, 102]],
        [[1, -1, 1]],
        "attention_mask values must be 0 or 1",
    ),
    "all_zero_mask": (
        [[101, 7592, 102]],
        [[0, 0, 0]],
        "every text needs at least one attention_mask value of 1",
    ),
    "one_row_without_tokens": (
        [[101, 7592, 102], [101, 102, 0]],
        [[1, 1, 1], [0, 0, 0]],
        "every text needs at least one attention_mask value of 1",
    ),
    "no_tokens_at_all": (
        np.zeros((2, 0), np.int64),
        np.zeros((2, 0), np.int64),
        "every text needs at least one attention_mask value of 1",
    ),
    "mask_shorter_than_ids": (
        [[101, 7592, 102]],
        [[1, 1]],
        "attention_mask must have the shape of input_ids",
    ),
    "more_texts_in_the_mask": (
        [[101, 7592, 102]],
        [[1, 1, 1], [1, 1, 1]],
        "attention_mask must have the shape of input_ids",
    ),
    "longer_than_the_position_embeddings": (
        [[101] + [7592] * MAX_POSITIONS],
        [[1] * (MAX_POSITIONS + 1)],
        f"sequences may have at most {MAX_POSITIONS} tokens",
    ),
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tfst.load(build_sentence_folder(tmp_path_factory.mktemp("token_ids") / "model"))


@pytest.fixture(scope="module")
def signatures(tiny_model, tmp_path_factory):
    export = tiny_model.export(tmp_path_factory.mktemp("token_ids_export") / "export")
    loaded = tf.saved_model.load(str(export))
    return loaded, loaded.signatures


def _embed(signatures, dtype, input_ids, attention_mask):
    _, functions = signatures
    name = "from_token_ids" if dtype == tf.int64 else "from_token_ids_int32"
    output = functions[name](
        input_ids=tf.constant(np.asarray(input_ids, np.int64), dtype),
        attention_mask=tf.constant(np.asarray(attention_mask, np.int64), dtype),
    )
    return output["sentence_embedding"].numpy()


@pytest.mark.parametrize("dtype", [tf.int64, tf.int32], ids=["int64", "int32"])
@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_ids_or_masks_are_refused_by_the_saved_model(signatures, dtype, case):
    input_ids, attention_mask, message = BAD_INPUTS[case]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _embed(signatures, dtype, input_ids, attention_mask)


def test_an_int64_id_that_int32_would_wrap_is_refused(signatures):
    """2**32 + 7592 is 7592 in int32: the check must run before the cast."""
    with pytest.raises(tf.errors.InvalidArgumentError, match="less than the vocabulary size"):
        _embed(signatures, tf.int64, [[101, 2**32 + 7592, 102]], [[1, 1, 1]])


def test_an_empty_batch_gives_no_rows(signatures):
    empty = np.zeros((0, 5), np.int64)
    assert _embed(signatures, tf.int64, empty, empty).shape == (0, 32)


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_ids_or_masks_are_refused_by_forward_features(tiny_model, case):
    input_ids, attention_mask, message = BAD_INPUTS[case]
    features = {
        "input_ids": tf.constant(np.asarray(input_ids, np.int32)),
        "attention_mask": tf.constant(np.asarray(attention_mask, np.int32)),
    }
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        tiny_model.forward_features(features)


@pytest.mark.parametrize(
    ("token_type_ids", "message"),
    [
        ([[0, 2, 0]], "token_type_ids must be less than type_vocab_size 2"),
        ([[0, -1, 0]], "token_type_ids must not be negative"),
        ([[0, 0]], "token_type_ids must have the shape of input_ids"),
    ],
)
def test_bad_token_types_are_refused_by_forward_features(tiny_model, token_type_ids, message):
    features = {
        "input_ids": tf.constant([[101, 7592, 102]]),
        "attention_mask": tf.constant([[1, 1, 1]]),
        "token_type_ids": tf.constant(token_type_ids),
    }
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        tiny_model.forward_features(features)


def test_forward_features_on_the_tokenizer_s_ids_matches_encode(tiny_model):
    texts = ["a first text", "and a second, longer one"]
    features = tiny_model.tokenize(texts)
    embeddings = tiny_model.forward_features(features)["sentence_embedding"].numpy()
    np.testing.assert_allclose(embeddings, tiny_model.encode(texts), atol=1e-6, rtol=0)
