"""The BERT family: its encoder layer, its checkpoint-name table and its ``config.json`` settings."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

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

# Our block sub-layers → BERT's checkpoint module names inside ``encoder.layer.N.``.
_BLOCK_NAMES = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "intermediate": "intermediate.dense",
    "output_dense": "output.dense",
    "output_norm": "output.LayerNorm",
}
# Saved by transformers' task models (``bert.`` prefix) and absent from sentence-transformers.
CHECKPOINT_PREFIXES = ("bert.",)
# The pooler and task heads are not part of a sentence embedding; position_ids is a buffer.
SKIPPED_TENSORS = (r"pooler\..*", r"embeddings\.position_ids", r"cls\..*")


@keras.saving.register_keras_serializable(package="tfst")
class BertEncoder(PortableEncoder, TransformerEncoder):
    """BERT: word + position + token-type embeddings, LayerNorm, then post-LN transformer blocks.

    Call with a dict of ``input_ids``, ``attention_mask`` and optionally ``token_type_ids``
    (``[batch, seq]`` integers); returns token embeddings ``[batch, seq, hidden_size]``.

    Example:
        >>> encoder = BertEncoder(vocab_size=30522, hidden_size=384, num_layers=6, num_heads=12,
        ...                       intermediate_size=1536)
    """

    def __init__(self, *args, type_vocab_size: int = 2, **kwargs):
        super().__init__(*args, **kwargs)
        self.type_vocab_size = type_vocab_size
        self.token_type_embeddings = keras.layers.Embedding(
            type_vocab_size,
            self.hidden_size,
            embeddings_initializer="zeros",
            name="token_type_embeddings",
        )

    def build(self, input_shape=None):
        self.token_type_embeddings.build((None, None))
        super().build(input_shape)

    def embed(self, inputs) -> tf.Tensor:
        token_type_ids = inputs.get("token_type_ids")
        if token_type_ids is None:
            token_type_ids = tf.zeros_like(inputs["input_ids"])
        return super().embed(inputs) + self.token_type_embeddings(token_type_ids)

    def portable_embed(self, ops, features):
        token_type_ids = features.get("token_type_ids")
        # Without token types every token is type 0: one row, broadcast, is the same sum.
        token_types = ops.lookup(
            self.token_type_embeddings.embeddings,
            ops.constant(np.int64(0)) if token_type_ids is None else token_type_ids,
        )
        return ops.add(super().portable_embed(ops, features), token_types)

    def get_config(self):
        config = super().get_config()
        config.update(type_vocab_size=self.type_vocab_size)
        return config

    def weight_table(self) -> WeightTable:
        """Every variable of this layer, keyed by its name in a Hugging Face BERT checkpoint."""
        targets = self.embedding_weight_targets()
        targets["embeddings.token_type_embeddings.weight"] = WeightTarget(
            "token_type_embeddings.embeddings", (self.type_vocab_size, self.hidden_size)
        )
        for index, block in enumerate(self.blocks):
            targets.update(
                block_weight_targets(
                    block, f"blocks.{index}", f"encoder.layer.{index}.", _BLOCK_NAMES
                )
            )
        return WeightTable(targets, CHECKPOINT_PREFIXES, SKIPPED_TENSORS)


FAMILY = Family(
    model_type="bert",
    encoder_class=BertEncoder,
    settings={
        "vocab_size": size("vocab_size", maximum=MAX_VOCABULARY),
        "hidden_size": size("hidden_size"),
        "num_layers": size("num_hidden_layers", maximum=MAX_LAYERS),
        "num_heads": size("num_attention_heads"),
        "intermediate_size": size("intermediate_size"),
        "hidden_act": activation("hidden_act"),
        "layer_norm_eps": layer_norm_epsilon(),
        "max_position_embeddings": size("max_position_embeddings", maximum=MAX_POSITIONS),
        "type_vocab_size": size("type_vocab_size", 2, maximum=MAX_VOCABULARY),
    },
    architecture="BertModel",
    tokenizer_class="BertTokenizer",
    fixed={"position_embedding_type": "absolute"},
    # BertForSequenceClassification: the pooler (dense + tanh on [CLS]), then the classifier.
    classification_head=ClassificationHeadSpec(
        architecture="BertForSequenceClassification",
        encoder_prefix=CHECKPOINT_PREFIXES[0],
        dense="bert.pooler.dense",
        output="classifier",
        activation="tanh",
    ),
)
