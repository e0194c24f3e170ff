"""The LSTM module: a (bidirectional, multi-layer) LSTM over the token embeddings.

sentence-transformers packs the sequences (``pack_padded_sequence``), so each direction reads a
text's real tokens only, the backward one from its last real token; a text without tokens is
read as one (its padding token), and the padded positions of the output are zeros. Its folder
holds ``lstm_config.json`` (``embedding_dimension``, once ``word_embedding_dimension``,
``hidden_dim``, ``num_layers``, ``dropout``, ``bidirectional``) and torch's ``nn.LSTM`` weights
under ``encoder.``.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from tfst.checkpoint import find_weights_file, load_checkpoint_tensors
from tfst.config import Setting, read_json, setting
from tfst.files import write_json, write_safetensors
from tfst.modules.base import PACKAGE, Module
from tfst.weights import WeightTable, WeightTarget, linear_kernel

CONFIG_FILE = "lstm_config.json"
_SETTINGS = {
    "hidden_dim": Setting("hidden_dim", int, minimum=1, maximum=1 << 16),
    "num_layers": Setting("num_layers", int, 1, minimum=1, maximum=64),
    "dropout": Setting("dropout", float, 0.0, minimum=0.0, maximum=1.0),
    "bidirectional": Setting("bidirectional", bool, True),
}
# torch's gate order in the stacked weights: input, forget, cell candidate, output.
GATES = 4


@keras.saving.register_keras_serializable(package="tfst")
class LSTM(Module):
    """``token_embeddings`` → the LSTM's hidden states ``[batch, seq, hidden_dim * directions]``.

    Args:
        embedding_dimension: width of the incoming token embeddings.
        hidden_dim: hidden state width per direction.
        num_layers: stacked layers; each reads the previous one's (concatenated) outputs.
        dropout: dropout between layers while training (none when embedding).
        bidirectional: add a backward direction.
    """

    type_names = ("LSTM",)
    saved_type = f"{PACKAGE}.sentence_transformer.modules.lstm.LSTM"
    folder_name = "LSTM"
    has_weights = True

    def __init__(
        self,
        embedding_dimension: int,
        hidden_dim: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embedding_dimension = int(embedding_dimension)
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.dropout_layer = keras.layers.Dropout(self.dropout, name="dropout")

    @classmethod
    def from_folder(cls, folder: Path, options=None) -> LSTM:
        path = folder / CONFIG_FILE
        config = read_json(path)
        key = (
            "embedding_dimension" if "embedding_dimension" in config else "word_embedding_dimension"
        )
        dimension = setting(config, Setting(key, int, minimum=1, maximum=1 << 20), path)
        settings = {name: setting(config, spec, path) for name, spec in _SETTINGS.items()}
        module = cls(dimension, **settings, name="lstm")
        module.build()
        weights = find_weights_file(folder)
        module.weight_table().assign(module, load_checkpoint_tensors(weights), source=weights)
        return module

    def save(self, folder: Path) -> None:
        write_json(
            folder / CONFIG_FILE,
            {
                "embedding_dimension": self.embedding_dimension,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "dropout": self.dropout,
                "bidirectional": self.bidirectional,
            },
        )
        write_safetensors(folder / "model.safetensors", self.weight_table().export(self))

    @property
    def directions(self) -> tuple[str, ...]:
        """torch's parameter-name suffixes of the directions."""
        return ("", "_reverse") if self.bidirectional else ("",)

    def _input_width(self, layer: int) -> int:
        return self.embedding_dimension if layer == 0 else self.hidden_dim * len(self.directions)

    def _cells(self) -> list[tuple[int, str]]:
        """(layer, direction suffix) of every cell, in torch's order."""
        return [(layer, suffix) for layer in range(self.num_layers) for suffix in self.directions]

    def build(self, input_shape=None):
        gates = GATES * self.hidden_dim
        # One variable per torch tensor, named after it: input_kernel_l0, hidden_bias_l1_reverse...
        for layer, suffix in self._cells():
            name = f"l{layer}{suffix}"
            shapes = {
                "input_kernel": (self._input_width(layer), gates),
                "hidden_kernel": (self.hidden_dim, gates),
                "input_bias": (gates,),
                "hidden_bias": (gates,),
            }
            for part, shape in shapes.items():
                variable = self.add_weight(shape=shape, initializer="zeros", name=f"{part}_{name}")
                setattr(self, f"{part}_{name}", variable)
        self.built = True

    def weight_table(self) -> WeightTable:
        """torch's ``nn.LSTM`` names: ``encoder.weight_ih_l0``, ``encoder.bias_hh_l1_reverse``..."""
        gates = GATES * self.hidden_dim
        targets = {}
        for layer, suffix in self._cells():
            name = f"l{layer}{suffix}"
            input_shape = (self._input_width(layer), gates)
            targets[f"encoder.weight_ih_{name}"] = WeightTarget(
                f"input_kernel_{name}", input_shape, linear_kernel
            )
            targets[f"encoder.weight_hh_{name}"] = WeightTarget(
                f"hidden_kernel_{name}", (self.hidden_dim, gates), linear_kernel
            )
            targets[f"encoder.bias_ih_{name}"] = WeightTarget(f"input_bias_{name}", (gates,))
            targets[f"encoder.bias_hh_{name}"] = WeightTarget(f"hidden_bias_{name}", (gates,))
        return WeightTable(targets)

    def call(self, features, training=None):
        inputs = features["token_embeddings"]
        # As sentence-transformers: a text without tokens is read as one token long.
        lengths = tf.maximum(
            tf.reduce_sum(tf.cast(features["attention_mask"], tf.int64), axis=1), 1
        )
        real = tf.sequence_mask(lengths, tf.shape(inputs)[1])[:, :, tf.newaxis]
        for layer in range(self.num_layers):
            if layer > 0:
                inputs = self.dropout_layer(inputs, training=training)
            outputs = [
                self._direction(inputs, lengths, real, f"l{layer}{suffix}", suffix == "_reverse")
                for suffix in self.directions
            ]
            inputs = tf.concat(outputs, axis=-1) if len(outputs) > 1 else outputs[0]
        return {**features, "token_embeddings": inputs}

    def _direction(self, inputs, lengths, real, name: str, reverse: bool) -> tf.Tensor:
        """One direction of one layer: ``[batch, seq, in]`` → ``[batch, seq, hidden]``, zeros
        past each text's length; the backward direction reads each text's real tokens from its
        last one."""
        if reverse:
            inputs = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
        projected = (
            tf.einsum("bti,ig->btg", inputs, getattr(self, f"input_kernel_{name}"))
            + getattr(self, f"input_bias_{name}")
            + getattr(self, f"hidden_bias_{name}")
        )
        batch = tf.shape(inputs)[0]
        zeros = tf.zeros([batch, self.hidden_dim], projected.dtype)
        hidden_kernel = getattr(self, f"hidden_kernel_{name}")

        def step(state, projected_step):
            hidden, memory = state
            gates = projected_step + tf.matmul(hidden, hidden_kernel)
            input_gate, forget_gate, candidate, output_gate = tf.split(gates, GATES, axis=-1)
            memory = tf.sigmoid(forget_gate) * memory + tf.sigmoid(input_gate) * tf.tanh(candidate)
            hidden = tf.sigmoid(output_gate) * tf.tanh(memory)
            return hidden, memory

        hidden_states, _ = tf.scan(
            step, tf.transpose(projected, [1, 0, 2]), initializer=(zeros, zeros)
        )
        outputs = tf.where(real, tf.transpose(hidden_states, [1, 0, 2]), 0.0)
        if reverse:
            outputs = tf.reverse_sequence(outputs, lengths, seq_axis=1, batch_axis=0)
        return outputs

    def expected_input_dimension(self) -> int:
        return self.embedding_dimension

    def output_dimension(self, input_dimension=None) -> int:
        return self.hidden_dim * len(self.directions)

    def describe(self) -> str:
        return (
            f"LSTM(hidden_dim={self.hidden_dim}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional})"
        )

    def compute_output_spec(self, features):
        batch_and_length = features["token_embeddings"].shape[:2]
        width = self.output_dimension()
        return {**features, "token_embeddings": keras.KerasTensor((*batch_and_length, width))}

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_dimension=self.embedding_dimension,
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
        )
        return config
