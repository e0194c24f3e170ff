"""L2 normalization of sentence embeddings, as torch.nn.functional.normalize does it."""

from __future__ import annotations

import keras
import tensorflow as tf


def l2_normalize(embeddings: tf.Tensor) -> tf.Tensor:
    """Divide by the L2 norm, floored at 1e-12 like torch (an all-zero vector stays zero)."""
    norm = tf.norm(embeddings, axis=-1, keepdims=True)
    return embeddings / tf.maximum(norm, 1e-12)


@keras.saving.register_keras_serializable(package="tfst")
class Normalize(keras.layers.Layer):
    """sentence-transformers' Normalize module: unit-length embeddings, so dot product = cosine."""

    def call(self, embeddings):
        return l2_normalize(embeddings)

    def compute_output_shape(self, input_shape):
        return input_shape
