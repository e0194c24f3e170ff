"""tfst.load → encode gives sentence-transformers' numbers on the real all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from sentences import parity_corpus

import tfst

CORPUS = parity_corpus()


def test_corpus_is_large_and_includes_truncated_texts(minilm):
    assert len(CORPUS) >= 100
    lengths = tf.reduce_sum(minilm.tokenize(CORPUS)["attention_mask"], axis=1).numpy()
    assert (lengths == minilm.max_seq_length).sum() >= 3


@pytest.mark.parametrize("normalize_embeddings", [False, True])
def test_embeddings_match_sentence_transformers(minilm, minilm_reference, normalize_embeddings):
    expected = minilm_reference.encode(CORPUS, normalize_embeddings=normalize_embeddings)
    actual = minilm.encode(CORPUS, normalize_embeddings=normalize_embeddings)
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape == (len(CORPUS), 384)
    assert np.abs(actual - expected).max() <= 1e-5


def test_batch_size_does_not_change_results(minilm):
    subset = CORPUS[:37]
    np.testing.assert_allclose(
        minilm.encode(subset, batch_size=1), minilm.encode(subset, batch_size=16), atol=1e-5, rtol=0
    )


def test_single_string_gives_a_vector(minilm, minilm_reference):
    vector = minilm.encode("Just one sentence.")
    assert vector.shape == (384,)
    np.testing.assert_allclose(
        vector, minilm_reference.encode("Just one sentence."), atol=1e-5, rtol=0
    )


def test_results_come_back_in_input_order(minilm):
    texts = ["short", "a considerably longer sentence than the first", "mid length"]
    together = minilm.encode(texts)
    for index, text in enumerate(texts):
        np.testing.assert_allclose(together[index], minilm.encode(text), atol=1e-5, rtol=0)


def test_convert_to_tensor_returns_a_tf_tensor(minilm):
    embeddings = minilm.encode(["a", "b"], convert_to_tensor=True)
    assert isinstance(embeddings, tf.Tensor)
    assert embeddings.shape == (2, 384)


def test_token_embeddings_have_no_padding(minilm, minilm_reference):
    texts = ["short", "a somewhat longer sentence here"]
    actual = minilm.encode(texts, output_value="token_embeddings")
    expected = minilm_reference.encode(texts, output_value="token_embeddings")
    for tokens, reference in zip(actual, expected, strict=True):
        assert tokens.shape == tuple(reference.shape)
        assert np.abs(tokens - reference.numpy()).max() <= 1e-5


def test_tokenize_matches_the_reference_tokenizer(minilm, minilm_reference):
    texts = ["Hello world!", "A somewhat longer sentence, with punctuation."]
    actual = minilm.tokenize(texts)
    expected = minilm_reference.preprocess(texts)
    np.testing.assert_array_equal(actual["input_ids"].numpy(), expected["input_ids"].numpy())
    np.testing.assert_array_equal(
        actual["attention_mask"].numpy(), expected["attention_mask"].numpy()
    )


def test_sentence_embedding_dimension_and_max_seq_length(minilm, minilm_reference):
    assert minilm.get_sentence_embedding_dimension() == 384
    assert minilm.max_seq_length == minilm_reference.max_seq_length == 256


def test_setting_max_seq_length_truncates_like_sentence_transformers(minilm_folder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_folder), device="cpu")
    model = tfst.load(minilm_folder)
    reference.max_seq_length = model.max_seq_length = 12
    texts = CORPUS[40:60]
    assert model.tokenize(texts)["input_ids"].shape[1] == 12
    np.testing.assert_allclose(model.encode(texts), reference.encode(texts), atol=1e-5, rtol=0)


def test_max_seq_length_beyond_the_position_embeddings_is_refused(minilm):
    with pytest.raises(ValueError, match="more than the encoder's 512 position embeddings"):
        minilm.max_seq_length = 513
    assert minilm.max_seq_length == 256


def test_non_string_items_are_refused_with_their_position(minilm):
    with pytest.raises(TypeError, match=r"sentences\[1\] is a int"):
        minilm.encode(["fine", 3])


def test_keras_functional_model_on_string_input(minilm):
    import keras

    strings = keras.Input(shape=(), dtype="string")
    wrapper = keras.Model(strings, minilm(strings))
    texts = ["inside a functional model", "works"]
    np.testing.assert_allclose(
        wrapper(tf.constant(texts)).numpy(), minilm.encode(texts), atol=1e-5, rtol=0
    )
