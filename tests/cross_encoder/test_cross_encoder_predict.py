"""CrossEncoder.predict and rank against sentence-transformers 6's CrossEncoder, on random
BERT (1 and 3 labels), DistilBERT and MPNet cross-encoders saved in both forms."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from cross_encoder_builders import MAX_LENGTH

from tfst.cross_encoder import ACTIVATION_FUNCTIONS

TOLERANCE = 1e-5


def test_predict_matches_sentence_transformers(case, loaded, pairs):
    model, reference = loaded(*case)
    actual = model.predict(pairs)
    expected = reference.predict(pairs)
    assert len(pairs) >= 200
    assert actual.shape == expected.shape
    assert actual.dtype == np.float32
    assert np.abs(actual - expected).max() <= TOLERANCE


@pytest.mark.parametrize("shape", ["bert_1_label", "distilbert_1_label", "mpnet_1_label"])
def test_pair_token_ids_are_the_ones_sentence_transformers_feeds(shape, loaded, pairs):
    """Exact ids, types and masks, most pairs cut by longest_first (the odd id goes to the
    longer text)."""
    model, reference = loaded(shape, "modular")
    expected = reference[0].preprocess([list(pair) for pair in pairs])
    actual = model.tokenizer([query for query, _ in pairs], [document for _, document in pairs])
    # Enough pairs reach MAX_LENGTH that truncation is exercised (49 of 210 today).
    assert int(expected["attention_mask"].sum(axis=1).eq(MAX_LENGTH).sum()) >= 40
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        if name in expected:
            np.testing.assert_array_equal(actual[name].numpy(), expected[name].numpy())


@pytest.mark.parametrize("shape", ["bert_1_label", "distilbert_1_label", "mpnet_1_label"])
@pytest.mark.parametrize("form", ["classic", "modular"])
def test_rank_gives_sentence_transformers_order_and_scores(shape, form, loaded, pairs):
    """Random tiny models score many documents within float32 noise of each other, so the
    order is compared exactly on documents whose reference scores are further apart than the
    tolerance, and everywhere else up to ties within it."""
    model, reference = loaded(shape, form)
    query = "What do people write about the sea?"
    documents = list(dict.fromkeys(document for _, document in pairs))[:100]
    actual = model.rank(query, documents, return_documents=True)
    expected = reference.rank(query, documents, return_documents=True)
    expected_scores = {r["corpus_id"]: r["score"] for r in expected}
    assert all(type(r["score"]) is float for r in actual)
    assert all(documents[r["corpus_id"]] == r["text"] for r in actual)
    assert max(abs(r["score"] - expected_scores[r["corpus_id"]]) for r in actual) <= TOLERANCE
    ranked = [expected_scores[r["corpus_id"]] for r in actual]
    assert all(
        first >= second - TOLERANCE for first, second in zip(ranked[:-1], ranked[1:], strict=True)
    )

    apart = [expected[0]["corpus_id"]]
    for result in expected[1:]:
        if expected_scores[apart[-1]] - result["score"] > 2 * TOLERANCE:
            apart.append(result["corpus_id"])
    assert len(apart) >= 8
    subset = [documents[index] for index in apart]
    assert [r["corpus_id"] for r in model.rank(query, subset)] == list(range(len(apart)))
    top = model.rank(query, documents, top_k=5)
    assert top == [{"corpus_id": r["corpus_id"], "score": r["score"]} for r in actual[:5]]


def test_rank_keeps_document_order_among_equal_scores(loaded):
    model, reference = loaded("bert_1_label", "classic")
    documents = ["same text", "other text", "same text", "same text"]
    ranking = [result["corpus_id"] for result in model.rank("query", documents)]
    assert ranking == [result["corpus_id"] for result in reference.rank("query", documents)]
    assert [index for index in ranking if documents[index] == "same text"] == [0, 2, 3]


def test_rank_refuses_a_model_with_several_labels(loaded):
    model, _ = loaded("bert_3_labels", "classic")
    with pytest.raises(ValueError, match="one label"):
        model.rank("query", ["document"])


@pytest.mark.parametrize("form", ["classic", "modular"])
def test_apply_softmax_matches_sentence_transformers(form, loaded, pairs):
    model, reference = loaded("bert_3_labels", form)
    actual = model.predict(pairs[:64], apply_softmax=True)
    expected = reference.predict(pairs[:64], apply_softmax=True)
    assert np.abs(actual - expected).max() <= TOLERANCE
    np.testing.assert_allclose(actual.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("tf_function", "torch_class"),
    [(tf.identity, "Identity"), (tf.math.tanh, "Tanh"), (tf.math.sigmoid, "Sigmoid")],
)
@pytest.mark.parametrize("shape", ["bert_1_label", "bert_3_labels"])
def test_activation_fn_argument_matches_sentence_transformers(
    shape, tf_function, torch_class, loaded, pairs
):
    import torch

    model, reference = loaded(shape, "modular")
    actual = model.predict(pairs[:48], activation_fn=tf_function)
    expected = reference.predict(pairs[:48], activation_fn=getattr(torch.nn, torch_class)())
    assert np.abs(actual - expected).max() <= TOLERANCE


def test_default_activation_is_the_one_sentence_transformers_reads(case, loaded):
    """Legacy sbert_ce_default_activation_function, config.json's sentence_transformers block,
    config_sentence_transformers.json, or sigmoid for one label."""
    from sentence_transformers.util import fullname

    model, reference = loaded(*case)
    assert model.activation_fn is ACTIVATION_FUNCTIONS[fullname(reference.activation_fn)]


def test_scores_come_back_in_input_order_whatever_the_batch_size(loaded, pairs):
    model, _ = loaded("mpnet_1_label", "classic")
    forward = model.predict(pairs[:50], batch_size=7)
    backward = model.predict(pairs[:50][::-1], batch_size=32)
    assert np.abs(forward - backward[::-1]).max() <= TOLERANCE


@pytest.mark.parametrize("shape", ["bert_1_label", "bert_3_labels"])
def test_result_types_and_shapes_follow_sentence_transformers(shape, loaded):
    model, reference = loaded(shape, "classic")
    pair = ("a query", "a document")
    for inputs in (pair, list(pair), np.array(pair), [pair], [pair, pair], np.array([pair, pair])):
        actual, expected = model.predict(inputs), reference.predict(inputs)
        assert np.shape(actual) == np.shape(expected)
        assert np.abs(actual - expected).max() <= TOLERANCE
    assert model.predict([]).shape == reference.predict([]).shape == (0,)
    tensor = model.predict([pair, pair], convert_to_tensor=True)
    assert isinstance(tensor, tf.Tensor) and tensor.shape[0] == 2
    rows = model.predict([pair, pair], convert_to_numpy=False)
    assert isinstance(rows, list) and len(rows) == 2 and isinstance(rows[0], tf.Tensor)


def test_malformed_pairs_are_refused_naming_their_position(loaded):
    model, _ = loaded("bert_1_label", "classic")
    with pytest.raises(ValueError, match=r"inputs\[1\] must be a \(query, document\) pair"):
        model.predict([("q", "d"), ("q", "d", "extra")])
    with pytest.raises(TypeError, match=r"inputs\[0\]\[1\] is a int"):
        model.predict([("q", 3)])
    with pytest.raises(ValueError, match=r"inputs\[0\]\[0\] is not valid UTF-8"):
        model.predict([(b"\xff", "d")])
    with pytest.raises(ValueError, match="batch_size"):
        model.predict([("q", "d")], batch_size=0)


def test_keras_call_gives_the_logits(loaded, pairs):
    import keras

    model, reference = loaded("bert_3_labels", "modular")
    queries = tf.constant([query for query, _ in pairs[:16]])
    documents = tf.constant([document for _, document in pairs[:16]])
    expected = reference.predict(pairs[:16], activation_fn=lambda logits: logits)
    assert np.abs(model(queries, documents).numpy() - expected).max() <= TOLERANCE
    query_input = keras.Input(shape=(), dtype="string")
    document_input = keras.Input(shape=(), dtype="string")
    functional = keras.Model([query_input, document_input], model(query_input, document_input))
    assert np.abs(functional([queries, documents]).numpy() - expected).max() <= TOLERANCE
