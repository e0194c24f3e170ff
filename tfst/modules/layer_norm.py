"""The LayerNorm module: layer normalization of the sentence embedding, as ``torch.nn.LayerNorm``."""

from __future__ import annotations

from pathlib import Path

import keras

from tfst.checkpoint import find_weights_file, load_checkpoint_tensors
from tfst.config import Setting, read_json, setting
from tfst.files import write_json, write_safetensors
from tfst.modules.base import PACKAGE, Module
from tfst.weights import WeightTable, WeightTarget

_DIMENSION = Setting("dimension", int, minimum=1, maximum=1 << 20)
# torch.nn.LayerNorm's default, which sentence-transformers' LayerNorm keeps.
EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="tfst")
class LayerNorm(Module):
    """``(x - mean) / sqrt(var + 1e-5) * weight + bias`` over the sentence embedding's width.

    Args:
        dimension: width of the sentence embedding.
    """

    type_names = ("LayerNorm",)
    saved_type = f"{PACKAGE}.sentence_transformer.modules.layer_norm.LayerNorm"
    folder_name = "LayerNorm"
    has_weights = True

    def __init__(self, dimension: int, **kwargs):
        super().__init__(**kwargs)
        self.dimension = int(dimension)
        self.norm = keras.layers.LayerNormalization(epsilon=EPSILON, name="norm")

    @classmethod
    def from_folder(cls, folder: Path, options=None) -> LayerNorm:
        path = folder / "config.json"
        module = cls(setting(read_json(path), _DIMENSION, path), name="layer_norm")
        module.build()
        weights = find_weights_file(folder)
        module.weight_table().assign(module, load_checkpoint_tensors(weights), source=weights)
        return module

    def save(self, folder: Path) -> None:
        write_json(folder / "config.json", {"dimension": self.dimension})
        write_safetensors(folder / "model.safetensors", self.weight_table().export(self))

    def weight_table(self) -> WeightTable:
        shape = (self.dimension,)
        return WeightTable(
            {
                "norm.weight": WeightTarget("norm.gamma", shape),
                "norm.bias": WeightTarget("norm.beta", shape),
            }
        )

    def build(self, input_shape=None):
        if not self.norm.built:
            self.norm.build((None, self.dimension))
        self.built = True

    def call(self, features):
        return {**features, "sentence_embedding": self.norm(features["sentence_embedding"])}

    def expected_input_dimension(self) -> int:
        return self.dimension

    def output_dimension(self, input_dimension=None) -> int:
        return self.dimension

    def describe(self) -> str:
        return f"LayerNorm({self.dimension})"

    def get_config(self):
        return {**super().get_config(), "dimension": self.dimension}
