"""BERT encoder as a Keras layer, and the table that fills it from a Hugging Face checkpoint."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfst.models.transformer_block import TransformerEncoder, block_weight_targets
from tfst.weights import WeightTarget

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
class BertEncoder(TransformerEncoder):
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

    def get_config(self):
        config = super().get_config()
        config.update(type_vocab_size=self.type_vocab_size)
        return config

    def weight_targets(self) -> dict[str, WeightTarget]:
        """Every variable of this layer, keyed by its name in a Hugging Face BERT checkpoint."""
        targets = self.embedding_weight_targets()
        targets["embeddings.token_type_embeddings.weight"] = WeightTarget(
            self.token_type_embeddings.embeddings
        )
        for index, block in enumerate(self.blocks):
            targets.update(block_weight_targets(block, f"encoder.layer.{index}.", _BLOCK_NAMES))
        return targets
