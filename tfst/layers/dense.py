"""sentence-transformers' Dense module: a linear projection of the sentence embedding + activation."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfst.weights import WeightTarget, as_is, linear_kernel

_ACTIVATIONS = {
    "linear": tf.identity,
    "tanh": tf.tanh,
    "relu": tf.nn.relu,
    "gelu": lambda x: keras.activations.gelu(x, approximate=False),
    "sigmoid": tf.sigmoid,
}


@keras.saving.register_keras_serializable(package="tfst")
class Dense(keras.layers.Layer):
    """``activation(x @ kernel + bias)`` from ``in_features`` to ``out_features``.

    Args:
        in_features: width of the incoming sentence embedding.
        out_features: width of the projected embedding.
        bias: whether the projection has a bias vector.
        activation: ``linear``, ``tanh``, ``relu``, ``gelu`` (exact) or ``sigmoid``.
    """

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

    def call(self, embeddings):
        outputs = tf.matmul(embeddings, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return _ACTIVATIONS[self.activation](outputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.out_features)

    def get_config(self):
        config = super().get_config()
        config.update(
            in_features=self.in_features,
            out_features=self.out_features,
            bias=self.use_bias,
            activation=self.activation,
        )
        return config

    def weight_targets(self) -> dict[str, WeightTarget]:
        """Variables keyed by their names in the module's own checkpoint (``linear.weight``...)."""
        if not self.built:
            self.build()
        targets = {"linear.weight": WeightTarget(self.kernel, linear_kernel)}
        if self.bias is not None:
            targets["linear.bias"] = WeightTarget(self.bias, as_is)
        return targets
