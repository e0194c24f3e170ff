"""What the encoder families share: the post-LayerNorm transformer block and the encoder skeleton.

BERT, DistilBERT, MPNet, RoBERTa and XLM-R run ``x = LN(x + Attention(x)); x = LN(x + FFN(x))``
with the same shapes; they differ in their embeddings, checkpoint names and (MPNet) a relative
position bias added to the attention scores, which their own modules define through the hooks of
:class:`TransformerEncoder` (``embed``, ``position_bias``, ``weight_table``).

The block is written for TensorFlow's CPU graph optimizer (benchmarks/README.md has the figures):
the encoder passes only the real (unpadded) tokens through the blocks, and projections run on
them flattened to ``[tokens, hidden]`` as ``MatMul + BiasAdd (+ GELU)``, which oneDNN fuses into
one kernel each (through Keras ``Dense``, bias and the erf GELU ran as separate ops); the
attention scale is applied to the queries, not to the larger score matrix.
``precision="bfloat16"`` keeps the projection weights in bfloat16 and runs the matmuls there,
while embeddings, residual sums, LayerNorm and softmax stay float32 (see ``PRECISIONS``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import keras
import tensorflow as tf

from tfst.weights import WeightTable, WeightTarget, as_is, linear_kernel

# The encoder's compute precisions: float32 matches sentence-transformers to 1e-5; bfloat16 keeps
# the projection weights and matmuls in bfloat16 (CPUs with AVX512_BF16 or AMX, through oneDNN)
# and everything else in float32, for speed.
PRECISIONS = ("float32", "bfloat16")

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


def check_precision(precision: str) -> str:
    """``precision`` if it is one tfst supports; a ValueError naming the choices otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


# Attention scores held at once, in elements (16 MB in float32). A batch whose whole
# ``[batch, heads, seq, seq]`` score matrix would be larger runs attention over consecutive
# chunks of texts: 32 texts of 256 tokens would otherwise hold two 100 MB matrices (scores and
# probabilities) per layer, where PyTorch's fused attention never materializes them.
ATTENTION_CHUNK_ELEMENTS = 4 * 1024 * 1024


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


def attention(query, key, value, bias, position_bias=None) -> tf.Tensor:
    """Softmax attention on ``[batch, heads, seq, head_size]`` (queries already scaled) with an
    additive ``[batch, 1, 1, seq]`` bias, plus an optional ``[1, heads, seq, seq]`` bias shared
    by every text (MPNet's relative positions); returns the context, shaped like ``value``.

    Texts attend independently, so a batch whose scores exceed ``ATTENTION_CHUNK_ELEMENTS`` is
    computed a chunk of texts at a time, one chunk after another, with the same result.
    """
    if query.shape[0] == 1:  # a static single text (the TFLite graph) has nothing to split
        return _attend(query, key, value, bias, position_bias)
    shape = tf.shape(query, out_type=tf.int64)
    # At least 1: an empty batch (length 0) reaches here in a SavedModel.
    batch, scores_per_text = shape[0], tf.maximum(shape[1] * shape[2] * shape[2], 1)
    texts_per_chunk = tf.maximum(ATTENTION_CHUNK_ELEMENTS // scores_per_text, 1)
    return tf.cond(
        texts_per_chunk >= batch,
        lambda: _attend(query, key, value, bias, position_bias),
        lambda: _attend_in_chunks(query, key, value, bias, position_bias, texts_per_chunk),
    )


def _attend(query, key, value, bias, position_bias=None) -> tf.Tensor:
    scores = tf.cast(tf.matmul(query, key, transpose_b=True), tf.float32)
    if position_bias is not None:
        scores += position_bias
    probabilities = tf.cast(tf.nn.softmax(scores + bias, axis=-1), value.dtype)
    return tf.matmul(probabilities, value)


def _attend_in_chunks(query, key, value, bias, position_bias, texts_per_chunk) -> tf.Tensor:
    batch = tf.shape(query, out_type=tf.int64)[0]
    chunks = (batch + texts_per_chunk - 1) // texts_per_chunk
    contexts = tf.TensorArray(value.dtype, size=tf.cast(chunks, tf.int32), infer_shape=False)

    def attend_chunk(index, contexts):
        start = tf.cast(index, tf.int64) * texts_per_chunk
        end = tf.minimum(start + texts_per_chunk, batch)
        context = _attend(
            query[start:end], key[start:end], value[start:end], bias[start:end], position_bias
        )
        return index + 1, contexts.write(index, context)

    # One chunk at a time: parallel iterations would hold several chunks' scores again.
    _, contexts = tf.while_loop(
        lambda index, _: index < tf.cast(chunks, tf.int32),
        attend_chunk,
        (tf.constant(0), contexts),
        parallel_iterations=1,
    )
    return tf.ensure_shape(contexts.concat(), value.shape)


class TokenLayout(NamedTuple):
    """Where the real tokens of a padded ``[batch, seq]`` batch sit, for moving them between
    the flat ``[tokens, hidden]`` rows the projections use and the ``[batch, heads, seq,
    head_size]`` layout attention uses, with one gather each way (no scatter, no transpose).

    ``positions``: ``[tokens, 1]`` index of each real token in the flattened ``batch * seq``.
    ``to_heads``: ``[batch, heads, seq]`` row of ``[tokens * heads, head_size]`` to read; padded
        places read token 0's row, which is finite and masked out as a key, and whose query
        result is never read back.
    ``from_heads``: ``[tokens, heads]`` row of ``[batch * heads * seq, head_size]`` to read.
    """

    positions: tf.Tensor
    to_heads: tf.Tensor
    from_heads: tf.Tensor


def token_layout(attention_mask: tf.Tensor, num_heads: int) -> TokenLayout:
    """The :class:`TokenLayout` of a ``[batch, seq]`` 0/1 attention mask."""
    batch, length = tf.shape(attention_mask)[0], tf.shape(attention_mask)[1]
    flat_mask = tf.reshape(attention_mask, [-1]) != 0
    positions = tf.where(flat_mask)
    padded_places = tf.cast(positions[:, 0], tf.int32)
    # Token row of each padded place (0 for padding, which attention masks).
    token_rows = tf.scatter_nd(
        positions, tf.range(tf.shape(positions)[0], dtype=tf.int32), [batch * length]
    )
    heads = tf.range(num_heads, dtype=tf.int32)
    to_heads = token_rows[:, tf.newaxis] * num_heads + heads  # [batch * seq, heads]
    to_heads = tf.transpose(tf.reshape(to_heads, [batch, length, num_heads]), [0, 2, 1])
    sample, place = padded_places // length, padded_places % length
    from_heads = ((sample * num_heads)[:, tf.newaxis] + heads) * length + place[:, tf.newaxis]
    return TokenLayout(positions, to_heads, from_heads)


@keras.saving.register_keras_serializable(package="tfst")
class TransformerBlock(keras.layers.Layer):
    """Multi-head self-attention and feed-forward, each followed by residual + LayerNorm.

    Args:
        hidden_size: width of the token vectors.
        num_heads: attention heads; must divide ``hidden_size``.
        intermediate_size: width of the feed-forward hidden layer.
        hidden_act: ``gelu`` (exact erf), ``gelu_new``/``gelu_pytorch_tanh`` (tanh), ``relu``.
        layer_norm_eps: LayerNorm epsilon, as in the checkpoint's config.
        precision: ``float32``, or ``bfloat16`` for bfloat16 projection weights and matmuls.

    Call with ``(hidden_states [batch, seq, hidden], bias [batch, 1, 1, seq])``. The sub-layers
    hold the weights under the names checkpoints and Keras saves use; ``call`` does their math
    itself so that it can fuse and flatten it (see the module docstring).
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-12,
        precision: str = "float32",
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
        self.precision = check_precision(precision)
        self.head_size = hidden_size // num_heads
        self._activation = activation_function(hidden_act)

        def projection(units, name):
            return keras.layers.Dense(
                units, kernel_initializer="zeros", dtype=self.precision, name=name
            )

        self.query = projection(hidden_size, "query")
        self.key = projection(hidden_size, "key")
        self.value = projection(hidden_size, "value")
        self.attention_output = projection(hidden_size, "attention_output")
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, name="attention_norm"
        )
        self.intermediate = projection(intermediate_size, "intermediate")
        self.output_dense = projection(hidden_size, "output")
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

    def _project(self, tokens: tf.Tensor, layer: keras.layers.Dense, activation=None) -> tf.Tensor:
        """``tokens @ kernel + bias`` in the weights' dtype, as one fusable MatMul + BiasAdd."""
        outputs = tf.nn.bias_add(
            tf.matmul(tf.cast(tokens, layer.kernel.dtype), layer.kernel), layer.bias
        )
        return outputs if activation is None else activation(outputs)

    def _layer_norm(self, tokens: tf.Tensor, layer: keras.layers.LayerNormalization) -> tf.Tensor:
        mean, variance = tf.nn.moments(tokens, axes=[-1], keepdims=True)
        scale = tf.math.rsqrt(variance + self.layer_norm_eps) * layer.gamma
        return tokens * scale + (layer.beta - mean * scale)

    def call(self, hidden_states, bias):
        """``hidden_states`` ``[batch, seq, hidden]`` and ``bias`` ``[batch, 1, 1, seq]`` (from
        :func:`attention_bias`) → ``[batch, seq, hidden]``; every place counts as a token."""
        shape = tf.shape(hidden_states)
        mask = tf.ones(shape[:2], tf.int32)
        tokens = tf.reshape(hidden_states, [-1, self.hidden_size])
        tokens = self.forward_tokens(tokens, bias, token_layout(mask, self.num_heads))
        return tf.reshape(tokens, shape)

    def forward_tokens(self, tokens, bias, layout: TokenLayout, position_bias=None) -> tf.Tensor:
        """The block on the real tokens only, as rows ``[tokens, hidden]``; returns the same rows.

        Projections, LayerNorm and feed-forward skip the padding; only attention sees the padded
        ``[batch, heads, seq, head_size]`` layout, reached through ``layout``. ``position_bias``
        (``[1, heads, seq, seq]`` or None) is added to every text's attention scores.
        """
        query = self._project(tokens, self.query) * (1.0 / math.sqrt(self.head_size))
        query = self._split_heads(query, layout)
        key = self._split_heads(self._project(tokens, self.key), layout)
        value = self._split_heads(self._project(tokens, self.value), layout)
        context = attention(query, key, value, bias, position_bias)
        context = tf.gather(tf.reshape(context, [-1, self.head_size]), layout.from_heads)
        context = tf.reshape(context, [-1, self.hidden_size])
        attended = tf.cast(self._project(context, self.attention_output), tf.float32)
        tokens = self._layer_norm(tokens + attended, self.attention_norm)
        intermediate = self._project(tokens, self.intermediate, self._activation)
        feed_forward = tf.cast(self._project(intermediate, self.output_dense), tf.float32)
        return self._layer_norm(tokens + feed_forward, self.output_norm)

    def _split_heads(self, tokens, layout: TokenLayout) -> tf.Tensor:
        """Rows ``[tokens, hidden]`` -> ``[batch, heads, seq, head_size]``."""
        return tf.gather(tf.reshape(tokens, [-1, self.head_size]), layout.to_heads)

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
            precision=self.precision,
        )
        return config


def block_weight_targets(
    block: TransformerBlock, path: str, prefix: str, names: dict[str, str]
) -> dict[str, WeightTarget]:
    """Checkpoint names → targets of one block at attribute ``path`` (``blocks.3``), given the
    family's checkpoint module names.

    ``names`` maps our sub-layer attribute (``query``, ``attention_norm``...) to the family's
    checkpoint module name (``attention.self.query``, ``sa_layer_norm``...).
    """
    hidden, intermediate = block.hidden_size, block.intermediate_size
    inputs = {"output_dense": intermediate}
    outputs = {"intermediate": intermediate}
    targets = {}
    for attribute, checkpoint_name in names.items():
        layer = getattr(block, attribute)
        name, where = f"{prefix}{checkpoint_name}", f"{path}.{attribute}"
        if isinstance(layer, keras.layers.LayerNormalization):
            targets[f"{name}.weight"] = WeightTarget(f"{where}.gamma", (hidden,))
            targets[f"{name}.bias"] = WeightTarget(f"{where}.beta", (hidden,))
        else:
            units = outputs.get(attribute, hidden)
            kernel = (inputs.get(attribute, hidden), units)
            targets[f"{name}.weight"] = WeightTarget(f"{where}.kernel", kernel, linear_kernel)
            targets[f"{name}.bias"] = WeightTarget(f"{where}.bias", (units,))
    return targets


class TransformerEncoder(keras.layers.Layer):
    """Embeddings → LayerNorm → blocks; subclasses define the embeddings and checkpoint names.

    Call with a dict of ``input_ids`` and ``attention_mask`` (``[batch, seq]`` integers, plus
    whatever the family's embeddings read); returns float32 token embeddings
    ``[batch, seq, hidden]``, zero at padded positions (only real tokens are computed).
    ``precision`` is the blocks' (see ``TransformerBlock``).

    Families override ``embed`` (their embedding sum), ``position_bias`` (a bias shared by all
    texts, added to every layer's attention scores) and ``weight_table`` (their checkpoint names).

    Weights start at zero, not random: an encoder is always filled from a checkpoint through its
    ``weight_table``, and drawing ~23M random numbers first made loading slower.
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
        precision: str = "float32",
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
        self.precision = check_precision(precision)
        self.word_embeddings = keras.layers.Embedding(
            vocab_size, hidden_size, embeddings_initializer="zeros", name="word_embeddings"
        )
        self.position_embeddings = keras.layers.Embedding(
            max_position_embeddings,
            hidden_size,
            embeddings_initializer="zeros",
            name="position_embeddings",
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
                precision=self.precision,
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

    def usable_positions(self) -> int:
        """The longest token sequence the position embeddings cover."""
        return self.max_position_embeddings

    def position_bias(self, length: tf.Tensor) -> tf.Tensor | None:
        """A ``[1, heads, seq, seq]`` attention bias for sequences of ``length``, or None."""
        return None

    def call(self, inputs):
        hidden_states = self.embeddings_norm(self.embed(inputs))
        attention_mask = inputs["attention_mask"]
        bias = attention_bias(attention_mask, hidden_states.dtype)
        # Computed once per batch and shared by every layer.
        position_bias = self.position_bias(tf.shape(hidden_states)[1])
        batch, length = tf.shape(hidden_states)[0], tf.shape(hidden_states)[1]
        # Only real tokens go through the blocks: with per-batch padding, a third to a half of a
        # batch of mixed-length texts is padding, which no output depends on.
        layout = token_layout(attention_mask, self.num_heads)
        tokens = tf.gather_nd(tf.reshape(hidden_states, [-1, self.hidden_size]), layout.positions)
        for block in self.blocks:
            tokens = block.forward_tokens(tokens, bias, layout, position_bias)
        hidden_states = tf.scatter_nd(layout.positions, tokens, [batch * length, self.hidden_size])
        return tf.reshape(hidden_states, [batch, length, self.hidden_size])

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
            precision=self.precision,
        )
        return config

    def embedding_weight_targets(self) -> dict[str, WeightTarget]:
        """The embedding variables every family names alike (``embeddings.*``)."""
        hidden = (self.hidden_size,)
        return {
            "embeddings.word_embeddings.weight": WeightTarget(
                "word_embeddings.embeddings", (self.vocab_size, self.hidden_size)
            ),
            "embeddings.position_embeddings.weight": WeightTarget(
                "position_embeddings.embeddings", (self.max_position_embeddings, self.hidden_size)
            ),
            "embeddings.LayerNorm.weight": WeightTarget("embeddings_norm.gamma", hidden, as_is),
            "embeddings.LayerNorm.bias": WeightTarget("embeddings_norm.beta", hidden, as_is),
        }

    def weight_table(self) -> WeightTable:
        """Checkpoint name → variable, for the family's checkpoints (works before ``build``)."""
        raise NotImplementedError
