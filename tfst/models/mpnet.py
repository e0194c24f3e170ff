"""The MPNet family (all-mpnet-base-v2 and kin): encoder layer, checkpoint names, ``config.json``.

MPNet is BERT's post-LayerNorm encoder with two differences, both in transformers' ``MPNetModel``:

- positions count from ``padding_idx + 1`` (``padding_idx`` is 1), over the tokens whose id is
  not the padding id, and there are no token types;
- every layer adds a relative position bias to its attention scores: T5-style buckets of the
  distance between query and key (bidirectional, 32 buckets, exact up to 8, logarithmic up to
  128), looked up in one ``[buckets, heads]`` table shared by all layers. transformers always
  buckets into 32, whatever ``relative_attention_num_buckets`` says (it only sizes the table).

The bias depends only on the padded sequence length, so it is computed once per batch and shared
by every layer (``TransformerEncoder.position_bias``).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfst.config import ConfigError
from tfst.models.classification_head import ClassificationHeadSpec
from tfst.models.family import (
    MAX_LAYERS,
    MAX_POSITIONS,
    MAX_VOCABULARY,
    Family,
    activation,
    layer_norm_epsilon,
    size,
)
from tfst.models.portable_encoder import PortableEncoder
from tfst.models.transformer_block import TransformerEncoder, block_weight_targets
from tfst.weights import WeightTable, WeightTarget

# transformers' MPNet: the padding id its position ids skip, and its bucketing constants.
PADDING_IDX = 1
BUCKETS = 32
MAX_DISTANCE = 128

_BLOCK_NAMES = {
    "query": "attention.attn.q",
    "key": "attention.attn.k",
    "value": "attention.attn.v",
    "attention_output": "attention.attn.o",
    "attention_norm": "attention.LayerNorm",
    "intermediate": "intermediate.dense",
    "output_dense": "output.dense",
    "output_norm": "output.LayerNorm",
}
CHECKPOINT_PREFIXES = ("mpnet.",)
# The pooler and task heads are not part of a sentence embedding; position_ids is a buffer.
SKIPPED_TENSORS = (
    r"pooler\..*",
    r"embeddings\.position_ids",
    r"lm_head\..*",
    r"classifier\..*",
)


def distance_buckets(largest_distance: int) -> np.ndarray:
    """Bucket of each absolute query-key distance 0..largest_distance (keys before queries; keys
    after add ``BUCKETS // 2``), with transformers' float32 arithmetic, truncating casts included."""
    half = BUCKETS // 2
    max_exact = half // 2
    distance = np.arange(largest_distance + 1)
    # Distances below max_exact are their own bucket; the log only serves the others.
    logarithmic = np.maximum(distance, max_exact).astype(np.float32)
    scaled = (
        np.log(logarithmic / np.float32(max_exact))
        / np.float32(math.log(MAX_DISTANCE / max_exact))
        * np.float32(half - max_exact)
    )
    large = np.minimum(max_exact + scaled.astype(np.int64), half - 1)
    return np.where(distance < max_exact, distance, large).astype(np.int32)


@keras.saving.register_keras_serializable(package="tfst")
class MPNetEncoder(PortableEncoder, TransformerEncoder):
    """MPNet: word + position embeddings (positions past the padding id), LayerNorm, post-LN
    blocks whose attention adds a shared relative position bias.

    Call with a dict of ``input_ids`` and ``attention_mask`` (``[batch, seq]`` integers; any
    ``token_type_ids`` are ignored); returns ``[batch, seq, hidden]``.

    Args:
        relative_attention_num_buckets: rows of the relative position bias table (>= 32).
        (the others as ``TransformerEncoder``)
    """

    def __init__(self, *args, relative_attention_num_buckets: int = BUCKETS, **kwargs):
        super().__init__(*args, **kwargs)
        self.relative_attention_num_buckets = relative_attention_num_buckets
        self.relative_attention_bias = keras.layers.Embedding(
            relative_attention_num_buckets,
            self.num_heads,
            embeddings_initializer="zeros",
            name="relative_attention_bias",
        )
        # Every distance a sequence of max_position_embeddings can hold.
        self._distance_buckets = tf.constant(distance_buckets(self.max_position_embeddings))

    def build(self, input_shape=None):
        self.relative_attention_bias.build((None, None))
        super().build(input_shape)

    def embed(self, inputs) -> tf.Tensor:
        input_ids = tf.ensure_shape(inputs["input_ids"], [None, None])
        not_padding = tf.cast(tf.not_equal(input_ids, PADDING_IDX), input_ids.dtype)
        positions = tf.cumsum(not_padding, axis=1) * not_padding + PADDING_IDX
        return self.word_embeddings(input_ids) + self.position_embeddings(positions)

    def usable_positions(self) -> int:
        # Positions start at PADDING_IDX + 1.
        return self.max_position_embeddings - PADDING_IDX - 1

    def position_bias(self, length: tf.Tensor) -> tf.Tensor:
        positions = tf.range(length)
        # transformers' n = -(key - query): positive when the key comes first.
        distance = positions[:, tf.newaxis] - positions[tf.newaxis, :]
        largest = tf.shape(self._distance_buckets)[0] - 1
        bucket = tf.gather(self._distance_buckets, tf.minimum(tf.abs(distance), largest))
        bucket += tf.where(distance < 0, BUCKETS // 2, 0)
        bias = tf.gather(self.relative_attention_bias.embeddings, bucket)  # [seq, seq, heads]
        return tf.transpose(bias, [2, 0, 1])[tf.newaxis]

    def portable_positions(self, ops, input_ids):
        return self.portable_positions_past_padding(ops, input_ids, PADDING_IDX)

    def portable_position_bias(self, ops, length):
        positions = ops.range(length)
        distance = ops.subtract(ops.expand(positions, [1]), ops.expand(positions, [0]))
        table = distance_buckets(self.max_position_embeddings)
        largest = ops.constant(np.int64(len(table) - 1))
        bucket = ops.gather(ops.constant(table), ops.minimum(ops.abs(distance), largest))
        after = ops.where(
            ops.less(distance, ops.constant(np.int64(0))),
            ops.constant(np.int64(BUCKETS // 2)),
            ops.constant(np.int64(0)),
        )
        bias = ops.lookup(self.relative_attention_bias.embeddings, ops.add(bucket, after))
        return ops.expand(ops.transpose(bias, [2, 0, 1]), [0])

    def get_config(self):
        config = super().get_config()
        config.update(relative_attention_num_buckets=self.relative_attention_num_buckets)
        return config

    def weight_table(self) -> WeightTable:
        """Every variable of this layer, keyed by its name in a Hugging Face MPNet checkpoint."""
        targets = self.embedding_weight_targets()
        targets["encoder.relative_attention_bias.weight"] = WeightTarget(
            "relative_attention_bias.embeddings",
            (self.relative_attention_num_buckets, self.num_heads),
        )
        for index, block in enumerate(self.blocks):
            targets.update(
                block_weight_targets(
                    block, f"blocks.{index}", f"encoder.layer.{index}.", _BLOCK_NAMES
                )
            )
        return WeightTable(targets, CHECKPOINT_PREFIXES, SKIPPED_TENSORS)


def _check(arguments: dict, path) -> None:
    if arguments["relative_attention_num_buckets"] < BUCKETS:
        raise ConfigError(
            f"{path}: relative_attention_num_buckets {arguments['relative_attention_num_buckets']}"
            f" is below the {BUCKETS} buckets transformers' MPNet always uses"
        )


FAMILY = Family(
    model_type="mpnet",
    encoder_class=MPNetEncoder,
    settings={
        "vocab_size": size("vocab_size", maximum=MAX_VOCABULARY),
        "hidden_size": size("hidden_size"),
        "num_layers": size("num_hidden_layers", maximum=MAX_LAYERS),
        "num_heads": size("num_attention_heads"),
        "intermediate_size": size("intermediate_size"),
        "hidden_act": activation("hidden_act"),
        "layer_norm_eps": layer_norm_epsilon(),
        "max_position_embeddings": size("max_position_embeddings", maximum=MAX_POSITIONS),
        "relative_attention_num_buckets": size("relative_attention_num_buckets", BUCKETS),
    },
    architecture="MPNetModel",
    tokenizer_class="MPNetTokenizer",
    check=_check,
    # MPNetForSequenceClassification: classifier.dense + tanh on <s>, then classifier.out_proj.
    classification_head=ClassificationHeadSpec(
        architecture="MPNetForSequenceClassification",
        encoder_prefix=CHECKPOINT_PREFIXES[0],
        dense="classifier.dense",
        output="classifier.out_proj",
        activation="tanh",
    ),
)
