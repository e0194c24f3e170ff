"""The model as a Keras layer: inside a bigger functional model, trained with fit, in tf.data, saved."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_builders import build_sentence_folder

import tfst

TEXTS = [
    "what a wonderful film",
    "a dull and boring movie",
    "i loved every minute",
    "the worst plot ever",
    "brilliant acting throughout",
    "i want my money back",
    "a charming little story",
    "painfully slow and silly",
]
LABELS = [1, 0, 1, 0, 1, 0, 1, 0]


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    return build_sentence_folder(tmp_path_factory.mktemp("keras_tiny"), normalize=True)


def _classifier(model) -> keras.Model:
    """Strings → the sentence-transformers model → a softmax head, as a functional model."""
    keras.utils.set_random_seed(0)
    strings = keras.Input(shape=(), dtype="string", name="text")
    embeddings = model(strings)
    probabilities = keras.layers.Dense(2, activation="softmax", name="head")(embeddings)
    classifier = keras.Model(strings, probabilities)
    classifier.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy"
    )
    return classifier


def _dataset() -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((TEXTS, LABELS)).batch(4)


def test_gradients_flow_from_strings_into_every_encoder_weight(tiny_folder):
    model = tfst.load(tiny_folder)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(tf.constant(TEXTS))[:, 0])
    gradients = tape.gradient(loss, model.encoder.trainable_weights)
    assert len(gradients) == len(model.encoder.trainable_weights) > 0
    for variable, gradient in zip(model.encoder.trainable_weights, gradients, strict=True):
        assert gradient is not None, variable.path
        assert float(tf.reduce_max(tf.abs(tf.convert_to_tensor(gradient)))) > 0, variable.path


def test_eager_call_runs_the_traced_encode_graph_with_the_same_numbers(tiny_folder, monkeypatch):
    model = tfst.load(tiny_folder)
    transformer = model.pipeline_modules[0]
    calls = []
    tokenize = transformer.tokenize
    monkeypatch.setattr(
        transformer, "tokenize", lambda *args: calls.append(args) or tokenize(*args)
    )
    eager = [model(tf.constant(TEXTS[:size])).numpy() for size in (3, 8)]
    # Both batch sizes ran through one traced graph (the one encode uses): the Python code
    # ran once, when it was traced, not once per call as op-by-op execution would run it.
    assert len(calls) == 1
    in_graph = tf.function(model, autograph=False)(tf.constant(TEXTS)).numpy()
    np.testing.assert_allclose(eager[1], in_graph, atol=1e-6)
    np.testing.assert_allclose(eager[0], eager[1][:3], atol=1e-6)
    np.testing.assert_allclose(eager[1], model.encode(TEXTS), atol=1e-6)


@pytest.mark.parametrize("first_call", ["training", "inference"])
def test_eager_training_calls_drop_values_and_inference_calls_never_do(tiny_folder, first_call):
    from tfst.modules import Dropout

    base = tfst.load(tiny_folder)
    model = base.replace(modules=[*base.pipeline_modules, Dropout(0.5, name="dropout")])
    texts = tf.constant(TEXTS)
    if first_call == "inference":
        model(texts)  # traces the inference graph first
    dropped = model(texts, training=True).numpy()
    # Whichever call traced the graph, it drops nothing; training calls run op by op.
    kept = model(texts).numpy()
    assert (dropped == 0).sum() > 0
    assert (kept == 0).sum() == 0
    np.testing.assert_allclose(kept, model.encode(TEXTS), atol=1e-6)
    np.testing.assert_allclose(kept, base.encode(TEXTS), atol=1e-6)


def test_fit_on_a_string_dataset_lowers_the_loss_and_updates_the_encoder(tiny_folder):
    model = tfst.load(tiny_folder)
    word_embeddings = model.encoder.word_embeddings.embeddings.numpy().copy()
    query_kernel = model.encoder.blocks[0].query.kernel.numpy().copy()
    history = _classifier(model).fit(_dataset(), epochs=6, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    assert np.abs(model.encoder.word_embeddings.embeddings.numpy() - word_embeddings).max() > 0
    assert np.abs(model.encoder.blocks[0].query.kernel.numpy() - query_kernel).max() > 0


def test_frozen_word_embeddings_stay_put_while_the_rest_trains(tiny_folder):
    model = tfst.load(tiny_folder)
    model.encoder.word_embeddings.trainable = False
    word_embeddings = model.encoder.word_embeddings.embeddings.numpy().copy()
    query_kernel = model.encoder.blocks[0].query.kernel.numpy().copy()
    _classifier(model).fit(_dataset(), epochs=2, verbose=0)
    np.testing.assert_array_equal(model.encoder.word_embeddings.embeddings.numpy(), word_embeddings)
    assert np.abs(model.encoder.blocks[0].query.kernel.numpy() - query_kernel).max() > 0


def test_dataset_map_precomputes_the_embeddings_encode_gives(tiny_folder):
    model = tfst.load(tiny_folder)
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).batch(3).map(model)
    embeddings = np.concatenate([batch.numpy() for batch in dataset])
    np.testing.assert_allclose(embeddings, model.encode(TEXTS), atol=1e-5, rtol=0)


def test_keras_file_round_trip_of_a_model_containing_the_encoder(tiny_folder, tmp_path):
    model = tfst.load(tiny_folder, prompts={"query": "query: "}, truncate_dim=16)
    model.trainable = False
    classifier = _classifier(model)
    path = tmp_path / "classifier.keras"
    classifier.save(path)
    restored = keras.saving.load_model(path)
    texts = tf.constant(TEXTS)
    np.testing.assert_allclose(restored(texts).numpy(), classifier(texts).numpy(), atol=1e-6)
    inner = next(layer for layer in restored.layers if isinstance(layer, tfst.SentenceTransformer))
    assert inner.prompts["query"] == "query: " and inner.truncate_dim == 16
    assert len(restored.trainable_weights) == len(classifier.trainable_weights) == 2  # the head
    np.testing.assert_allclose(inner.encode(TEXTS), model.encode(TEXTS), atol=1e-6, rtol=0)
