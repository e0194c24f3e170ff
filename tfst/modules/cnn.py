"""The CNN module: 1-D convolutions of several kernel sizes over the token embeddings.

Each convolution is torch's ``nn.Conv1d`` with zero padding ``(kernel_size - 1) // 2`` on both
sides; their outputs are concatenated per token. Its folder holds ``cnn_config.json``
(``in_embedding_dimension``, once ``in_word_embedding_dimension``, ``out_channels``,
``kernel_sizes``, ``stride_sizes``) and the ``convs.{i}.weight`` / ``convs.{i}.bias`` tensors.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from tfst.checkpoint import find_weights_file, load_checkpoint_tensors
from tfst.config import ConfigError, Setting, read_json, setting
from tfst.files import write_json, write_safetensors
from tfst.modules.base import PACKAGE, Module
from tfst.weights import WeightTable, WeightTarget, linear_kernel

CONFIG_FILE = "cnn_config.json"
_OUT_CHANNELS = Setting("out_channels", int, 256, minimum=1, maximum=1 << 16)


@keras.saving.register_keras_serializable(package="tfst")
class CNN(Module):
    """``token_embeddings`` → ``[batch, seq, out_channels * len(kernel_sizes)]``.

    Args:
        in_embedding_dimension: width of the incoming token embeddings.
        out_channels: channels of each convolution.
        kernel_sizes: one convolution per size; odd sizes only (see below).

    Only odd kernel sizes with stride 1 are supported: they keep one output per token, which
    the attention mask (and so Pooling) needs. sentence-transformers pools the other shapes
    with an all-ones mask, padding included, or fails to concatenate them.
    """

    type_names = ("CNN",)
    saved_type = f"{PACKAGE}.sentence_transformer.modules.cnn.CNN"
    folder_name = "CNN"
    has_weights = True

    def __init__(
        self, in_embedding_dimension: int, out_channels: int = 256, kernel_sizes=(1, 3, 5), **kwargs
    ):
        super().__init__(**kwargs)
        self.in_embedding_dimension = int(in_embedding_dimension)
        self.out_channels = int(out_channels)
        self.kernel_sizes = tuple(int(size) for size in kernel_sizes)
        if not self.kernel_sizes or any(size < 1 or size % 2 == 0 for size in self.kernel_sizes):
            raise ValueError(f"kernel sizes must be odd and positive, got {self.kernel_sizes}")

    @classmethod
    def from_folder(cls, folder: Path, options=None) -> CNN:
        path = folder / CONFIG_FILE
        config = read_json(path)
        key = (
            "in_embedding_dimension"
            if "in_embedding_dimension" in config
            else "in_word_embedding_dimension"
        )
        dimension = setting(config, Setting(key, int, minimum=1, maximum=1 << 20), path)
        kernel_sizes = _integers(config, "kernel_sizes", [1, 3, 5], path)
        strides = _integers(config, "stride_sizes", None, path)
        if any(size < 1 or size % 2 == 0 for size in kernel_sizes) or not kernel_sizes:
            raise ConfigError(
                f"{path}: kernel_sizes {kernel_sizes} are not supported; supported are odd "
                "sizes, which give one output per token"
            )
        if strides is not None and (len(strides) != len(kernel_sizes) or set(strides) != {1}):
            raise ConfigError(
                f"{path}: stride_sizes {strides} are not supported; supported is stride 1 for "
                "every kernel, which gives one output per token"
            )
        out_channels = setting(config, _OUT_CHANNELS, path)
        module = cls(dimension, out_channels, kernel_sizes, name="cnn")
        module.build()
        weights = find_weights_file(folder)
        module.weight_table().assign(module, load_checkpoint_tensors(weights), source=weights)
        return module

    def save(self, folder: Path) -> None:
        write_json(
            folder / CONFIG_FILE,
            {
                "in_embedding_dimension": self.in_embedding_dimension,
                "out_channels": self.out_channels,
                "kernel_sizes": list(self.kernel_sizes),
                "stride_sizes": [1] * len(self.kernel_sizes),
            },
        )
        write_safetensors(folder / "model.safetensors", self.weight_table().export(self))

    def build(self, input_shape=None):
        for index, size in enumerate(self.kernel_sizes):
            shape = (size, self.in_embedding_dimension, self.out_channels)
            setattr(self, f"kernel_{index}", self.add_weight(shape=shape, name=f"kernel_{index}"))
            bias = self.add_weight(
                shape=(self.out_channels,), initializer="zeros", name=f"bias_{index}"
            )
            setattr(self, f"bias_{index}", bias)
        self.built = True

    def weight_table(self) -> WeightTable:
        """torch's ``nn.Conv1d`` weights ``[out, in, size]``; ours are ``[size, in, out]``,
        the full transpose (``linear_kernel`` reverses every axis)."""
        targets = {}
        for index, size in enumerate(self.kernel_sizes):
            shape = (size, self.in_embedding_dimension, self.out_channels)
            targets[f"convs.{index}.weight"] = WeightTarget(f"kernel_{index}", shape, linear_kernel)
            targets[f"convs.{index}.bias"] = WeightTarget(f"bias_{index}", (self.out_channels,))
        return WeightTable(targets)

    def call(self, features):
        inputs = features["token_embeddings"]
        outputs = []
        for index, size in enumerate(self.kernel_sizes):
            side = (size - 1) // 2
            padded = tf.pad(inputs, [[0, 0], [side, side], [0, 0]])
            convolved = tf.nn.conv1d(padded, getattr(self, f"kernel_{index}"), 1, "VALID")
            outputs.append(tf.nn.bias_add(convolved, getattr(self, f"bias_{index}")))
        return {**features, "token_embeddings": tf.concat(outputs, axis=-1)}

    def expected_input_dimension(self) -> int:
        return self.in_embedding_dimension

    def output_dimension(self, input_dimension=None) -> int:
        return self.out_channels * len(self.kernel_sizes)

    def describe(self) -> str:
        return f"CNN(out_channels={self.out_channels}, kernel_sizes={list(self.kernel_sizes)})"

    def compute_output_spec(self, features):
        batch_and_length = features["token_embeddings"].shape[:2]
        width = self.output_dimension()
        return {**features, "token_embeddings": keras.KerasTensor((*batch_and_length, width))}

    def get_config(self):
        config = super().get_config()
        config.update(
            in_embedding_dimension=self.in_embedding_dimension,
            out_channels=self.out_channels,
            kernel_sizes=list(self.kernel_sizes),
        )
        return config


def _integers(config: dict, key: str, default, path: Path) -> list[int] | None:
    value = config.get(key, default)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        raise ConfigError(f"{path}: {key} must be a list of integers, got {value!r:.80}")
    return value
