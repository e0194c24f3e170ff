"""The Dense module: a linear projection of the sentence embedding, then an activation."""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from tfst.checkpoint import find_weights_file, load_checkpoint_tensors, read_checkpoint_header
from tfst.config import ConfigError, Setting, read_json, read_settings
from tfst.files import write_json, write_safetensors
from tfst.modules.base import PACKAGE, Module
from tfst.weights import WeightTable, WeightTarget, linear_kernel

# Our activation names → their functions and the torch class sentence-transformers names.
_ACTIVATIONS = {
    "linear": (tf.identity, "torch.nn.modules.linear.Identity"),
    "tanh": (tf.tanh, "torch.nn.modules.activation.Tanh"),
    "relu": (tf.nn.relu, "torch.nn.modules.activation.ReLU"),
    "gelu": (
        lambda x: keras.activations.gelu(x, approximate=False),
        "torch.nn.modules.activation.GELU",
    ),
    "sigmoid": (tf.sigmoid, "torch.nn.modules.activation.Sigmoid"),
}
# torch class name (any module path under torch.nn) → our name.
_BY_TORCH_NAME = {path.rsplit(".", 1)[-1]: name for name, (_, path) in _ACTIVATIONS.items()}
_SETTINGS = {
    "in_features": Setting("in_features", int, minimum=1, maximum=1 << 20),
    "out_features": Setting("out_features", int, minimum=1, maximum=1 << 20),
    "bias": Setting("bias", bool, True),
}


@keras.saving.register_keras_serializable(package="tfst")
class Dense(Module):
    """``activation(x @ kernel + bias)`` from ``in_features`` to ``out_features``, applied to the
    features' ``sentence_embedding``.

    Args:
        in_features: width of the incoming sentence embedding.
        out_features: width of the projected embedding.
        bias: whether the projection has a bias vector.
        activation: ``linear``, ``tanh``, ``relu``, ``gelu`` (exact) or ``sigmoid``.
    """

    type_names = ("Dense",)
    saved_type = f"{PACKAGE}.base.modules.dense.Dense"
    folder_name = "Dense"
    has_weights = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "tanh",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"Dense activation {activation!r} is not supported; supported are "
                f"{', '.join(_ACTIVATIONS)}"
            )
        self.in_features = in_features
        self.out_features = out_features
        self.use_bias = bias
        self.activation = activation

    @classmethod
    def from_folder(cls, folder: Path, options=None) -> Dense:
        """Dense config (the activation is a torch class path such as
        ``torch.nn.modules.activation.Tanh``) and its ``linear.*`` weights."""
        path = folder / "config.json"
        raw = read_json(path)
        input_name = raw.get("module_input_name", "sentence_embedding")
        if input_name != "sentence_embedding":
            raise ConfigError(
                f"{path}: module_input_name {input_name!r:.80} is not supported; "
                "supported is 'sentence_embedding'"
            )
        activation_path = raw.get("activation_function") or "torch.nn.modules.linear.Identity"
        activation = isinstance(activation_path, str) and _BY_TORCH_NAME.get(
            activation_path.rsplit(".", 1)[-1]
        )
        if not activation or not activation_path.startswith("torch.nn"):
            raise ConfigError(
                f"{path}: activation_function {activation_path!r:.80} is not supported; "
                f"supported are {', '.join(sorted(_BY_TORCH_NAME))} from torch.nn"
            )
        dense = cls(**read_settings(raw, _SETTINGS, path), activation=activation, name="dense")
        weights = find_weights_file(folder)
        table = dense.weight_table()
        header = read_checkpoint_header(weights)  # shapes checked before any data is read
        table.match({name: tensor.shape for name, tensor in header.items()}, weights)
        dense.build()
        table.assign(dense, load_checkpoint_tensors(weights), source=weights)
        return dense

    def save(self, folder: Path) -> None:
        write_json(
            folder / "config.json",
            {
                "in_features": self.in_features,
                "out_features": self.out_features,
                "bias": self.use_bias,
                "activation_function": _ACTIVATIONS[self.activation][1],
            },
        )
        write_safetensors(folder / "model.safetensors", self.weight_table().export(self))

    def build(self, input_shape=None):
        self.kernel = self.add_weight(
            shape=(self.in_features, self.out_features), initializer="glorot_uniform", name="kernel"
        )
        self.bias = (
            self.add_weight(shape=(self.out_features,), initializer="zeros", name="bias")
            if self.use_bias
            else None
        )
        self.built = True

    def call(self, features):
        outputs = tf.matmul(features["sentence_embedding"], self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return {**features, "sentence_embedding": _ACTIVATIONS[self.activation][0](outputs)}

    def portable_call(self, ops, features):
        bias = None if self.bias is None else ops.weight(self.bias)
        outputs = ops.dense(features["sentence_embedding"], ops.weight(self.kernel), bias)
        return {**features, "sentence_embedding": ops.activation(self.activation, outputs)}

    def expected_input_dimension(self) -> int:
        return self.in_features

    def output_dimension(self, input_dimension=None) -> int:
        return self.out_features

    def describe(self) -> str:
        return f"Dense(in_features={self.in_features}, out_features={self.out_features}, activation={self.activation})"

    def compute_output_spec(self, features):
        batch = features["sentence_embedding"].shape[0]
        return {
            **features,
            "sentence_embedding": keras.KerasTensor((batch, self.out_features), "float32"),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            in_features=self.in_features,
            out_features=self.out_features,
            bias=self.use_bias,
            activation=self.activation,
        )
        return config

    def weight_table(self) -> WeightTable:
        """Variables keyed by their names in the module's own checkpoint (``linear.weight``...)."""
        targets = {
            "linear.weight": WeightTarget(
                "kernel", (self.in_features, self.out_features), linear_kernel
            )
        }
        if self.use_bias:
            targets["linear.bias"] = WeightTarget("bias", (self.out_features,))
        return WeightTable(targets)
