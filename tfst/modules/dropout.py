"""The Dropout module: identity when embedding, dropout of the sentence embedding when training."""

from __future__ import annotations

from pathlib import Path

import keras

from tfst.config import Setting, read_json, setting
from tfst.files import write_json
from tfst.modules.base import PACKAGE, Module

_DROPOUT = Setting("dropout", float, 0.2, minimum=0.0, maximum=1.0)


@keras.saving.register_keras_serializable(package="tfst")
class Dropout(Module):
    """sentence-transformers' Dropout on ``sentence_embedding``.

    Args:
        dropout: the probability of zeroing each value while training (Keras ``fit``);
            ``encode`` and the exported SavedModel never drop anything, as sentence-transformers
            does not at inference.
    """

    type_names = ("Dropout",)
    saved_type = f"{PACKAGE}.sentence_transformer.modules.dropout.Dropout"
    folder_name = "Dropout"

    def __init__(self, dropout: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.dropout = float(dropout)
        self.dropout_layer = keras.layers.Dropout(self.dropout, name="dropout")

    @classmethod
    def from_folder(cls, folder: Path, options=None) -> Dropout:
        path = folder / "config.json"
        return cls(setting(read_json(path), _DROPOUT, path), name="dropout")

    def save(self, folder: Path) -> None:
        write_json(folder / "config.json", {"dropout": self.dropout})

    def call(self, features, training=None):
        embedding = self.dropout_layer(features["sentence_embedding"], training=training)
        return {**features, "sentence_embedding": embedding}

    def describe(self) -> str:
        return f"Dropout({self.dropout:g})"

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}
