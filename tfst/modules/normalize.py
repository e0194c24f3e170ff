"""The Normalize module: unit-length sentence embeddings, as torch.nn.functional.normalize does it."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfst.modules.base import PACKAGE, Module


def l2_normalize(embeddings: tf.Tensor) -> tf.Tensor:
    """Divide by the L2 norm, floored at 1e-12 like torch (an all-zero vector stays zero)."""
    norm = tf.norm(embeddings, axis=-1, keepdims=True)
    return embeddings / tf.maximum(norm, 1e-12)


@keras.saving.register_keras_serializable(package="tfst")
class Normalize(Module):
    """sentence-transformers' Normalize module: unit-length embeddings, so dot product = cosine."""

    type_names = ("Normalize",)
    saved_type = f"{PACKAGE}.base.modules.normalize.Normalize"
    folder_name = "Normalize"
    has_folder = False

    @classmethod
    def from_folder(cls, folder: Path, options=None) -> Normalize:
        return cls(name="normalize")

    def save(self, folder: Path) -> None:
        """Normalize has no configuration; sentence-transformers writes an empty folder."""

    def call(self, features):
        return {**features, "sentence_embedding": l2_normalize(features["sentence_embedding"])}

    def portable_call(self, ops, features):
        embeddings = features["sentence_embedding"]
        norm = ops.maximum(ops.l2_norm(embeddings), ops.constant(np.float32(1e-12)))
        return {**features, "sentence_embedding": ops.divide(embeddings, norm)}
