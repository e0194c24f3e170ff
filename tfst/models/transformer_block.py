"""What BERT and DistilBERT share: the post-LayerNorm transformer block and the encoder skeleton.

Both families run ``x = LN(x + Attention(x)); x = LN(x + FFN(x))`` with the same shapes; they
differ only in their embeddings and checkpoint names, which their own modules define.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfst.weights import WeightTarget, as_is, linear_kernel

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


def activation_function(name: str):
    """Hugging Face ``hidden_act`` names → functions with the same numerics."""
    if name == "gelu":
        return lambda x: keras.activations.gelu(x, approximate=False)  # erf form, as torch
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: keras.activations.gelu(x, approximate=True)
    if name == "relu":
        return tf.nn.relu
    raise ValueError(f"hidden activation {name!r} is not supported; supported are {ACTIVATIONS}")


def attention_bias(attention_mask: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """``[batch, seq]`` 0/1 mask → ``[batch, 1, 1, seq]`` additive bias hiding padded keys."""
    mask = tf.cast(attention_mask[:, tf.newaxis, tf.newaxis, :], dtype)
    return (1.0 - mask) * dtype.min


@keras.saving.register_keras_serializable(package="tfst")
class TransformerBlock(keras.layers.Layer):
    """Multi-head self-attention and feed-forward, each followed by residual + LayerNorm.

    Args:
        hidden_size: width of the token vectors.
        num_heads: attention heads; must divide ``hidden_size``.
        intermediate_size: width of the feed-forward hidden layer.
        hidden_act: ``gelu`` (exact erf), ``gelu_new``/``gelu_pytorch_tanh`` (tanh), ``relu``.
        layer_norm_eps: LayerNorm epsilon, as in the checkpoint's config.

    Call with ``(hidden_states [batch, seq, hidden], bias [batch, 1, 1, seq])``.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-12,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.head_size = hidden_size // num_heads
        self._activation = activation_function(hidden_act)
        self.query = keras.layers.Dense(hidden_size, name="query")
        self.key = keras.layers.Dense(hidden_size, name="key")
        self.value = keras.layers.Dense(hidden_size, name="value")
        self.attention_output = keras.layers.Dense(hidden_size, name="attention_output")
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, name="attention_norm"
        )
        self.intermediate = keras.layers.Dense(intermediate_size, name="intermediate")
        self.output_dense = keras.layers.Dense(hidden_size, name="output")
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, name="output_norm"
        )

    def build(self, input_shape=None):
        hidden_shape = (None, None, self.hidden_size)
        for layer in (self.query, self.key, self.value, self.attention_output, self.intermediate):
            layer.build(hidden_shape)
        self.attention_norm.build(hidden_shape)
        self.output_dense.build((None, None, self.intermediate_size))
        self.output_norm.build(hidden_shape)
        self.built = True

    def _split_heads(self, tensor: tf.Tensor) -> tf.Tensor:
        batch, length = tf.shape(tensor)[0], tf.shape(tensor)[1]
        tensor = tf.reshape(tensor, [batch, length, self.num_heads, self.head_size])
        return tf.transpose(tensor, [0, 2, 1, 3])

    def call(self, hidden_states, bias):
        query = self._split_heads(self.query(hidden_states))
        key = self._split_heads(self.key(hidden_states))
        value = self._split_heads(self.value(hidden_states))
        scores = tf.matmul(query, key, transpose_b=True) * (1.0 / math.sqrt(self.head_size))
        probabilities = tf.nn.softmax(scores + bias, axis=-1)
        context = tf.transpose(tf.matmul(probabilities, value), [0, 2, 1, 3])
        context = tf.reshape(context, tf.shape(hidden_states))
        hidden_states = self.attention_norm(hidden_states + self.attention_output(context))
        feed_forward = self.output_dense(self._activation(self.intermediate(hidden_states)))
        return self.output_norm(hidden_states + feed_forward)

    def compute_output_shape(self, input_shape, bias_shape=None):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            layer_norm_eps=self.layer_norm_eps,
        )
        return config


def block_weight_targets(block: TransformerBlock, prefix: str, names: dict[str, str]) -> dict:
    """Checkpoint names → variables of one block, given the family's sub-module names.

    ``names`` maps our sub-layer attribute (``query``, ``attention_norm``...) to the family's
    checkpoint module name (``attention.self.query``, ``sa_layer_norm``...).
    """
    targets = {}
    for attribute, checkpoint_name in names.items():
        layer = getattr(block, attribute)
        if isinstance(layer, keras.layers.LayerNormalization):
            targets[f"{prefix}{checkpoint_name}.weight"] = WeightTarget(layer.gamma, as_is)
            targets[f"{prefix}{checkpoint_name}.bias"] = WeightTarget(layer.beta, as_is)
        else:
            targets[f"{prefix}{checkpoint_name}.weight"] = WeightTarget(layer.kernel, linear_kernel)
            targets[f"{prefix}{checkpoint_name}.bias"] = WeightTarget(layer.bias, as_is)
    return targets


class TransformerEncoder(keras.layers.Layer):
    """Embeddings → LayerNorm → blocks; subclasses define the embeddings and checkpoint names.

    Call with a dict of ``input_ids`` and ``attention_mask`` (``[batch, seq]`` integers, plus
    whatever the family's embeddings read); returns token embeddings ``[batch, seq, hidden]``.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        intermediate_size: int,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-12,
        max_position_embeddings: int = 512,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.max_position_embeddings = max_position_embeddings
        self.word_embeddings = keras.layers.Embedding(
            vocab_size, hidden_size, name="word_embeddings"
        )
        self.position_embeddings = keras.layers.Embedding(
            max_position_embeddings, hidden_size, name="position_embeddings"
        )
        self.embeddings_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, name="embeddings_norm"
        )
        self.blocks = [
            TransformerBlock(
                hidden_size,
                num_heads,
                intermediate_size,
                hidden_act=hidden_act,
                layer_norm_eps=layer_norm_eps,
                name=f"block_{index}",
            )
            for index in range(num_layers)
        ]

    def build(self, input_shape=None):
        self.word_embeddings.build((None, None))
        self.position_embeddings.build((None, None))
        self.embeddings_norm.build((None, None, self.hidden_size))
        for block in self.blocks:
            block.build()
        self.built = True

    def embed(self, inputs) -> tf.Tensor:
        """Word + position embeddings; families add their own terms."""
        input_ids = tf.ensure_shape(inputs["input_ids"], [None, None])
        positions = tf.range(tf.shape(input_ids)[1])[tf.newaxis, :]
        return self.word_embeddings(input_ids) + self.position_embeddings(positions)

    def call(self, inputs):
        hidden_states = self.embeddings_norm(self.embed(inputs))
        bias = attention_bias(inputs["attention_mask"], hidden_states.dtype)
        for block in self.blocks:
            hidden_states = block(hidden_states, bias)
        return hidden_states

    def compute_output_shape(self, input_shape):
        return tuple(input_shape["input_ids"]) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            layer_norm_eps=self.layer_norm_eps,
            max_position_embeddings=self.max_position_embeddings,
        )
        return config

    def embedding_weight_targets(self) -> dict[str, WeightTarget]:
        """The embedding variables both families name alike (``embeddings.*``)."""
        if not self.built:
            self.build()
        return {
            "embeddings.word_embeddings.weight": WeightTarget(self.word_embeddings.embeddings),
            "embeddings.position_embeddings.weight": WeightTarget(
                self.position_embeddings.embeddings
            ),
            "embeddings.LayerNorm.weight": WeightTarget(self.embeddings_norm.gamma, as_is),
            "embeddings.LayerNorm.bias": WeightTarget(self.embeddings_norm.beta, as_is),
        }
