"""DistilBERT encoder as a Keras layer, and the table that fills it from a Hugging Face checkpoint.

DistilBERT is BERT without token types, with its own checkpoint names. Its
``sinusoidal_pos_embds`` option only changes how transformers *initializes* the position table;
the table is saved in every checkpoint, so it is loaded like any other weight.
"""

from __future__ import annotations

import keras

from tfst.models.transformer_block import TransformerEncoder, block_weight_targets
from tfst.weights import WeightTarget

# Our block sub-layers → DistilBERT's checkpoint module names inside ``transformer.layer.N.``.
_BLOCK_NAMES = {
    "query": "attention.q_lin",
    "key": "attention.k_lin",
    "value": "attention.v_lin",
    "attention_output": "attention.out_lin",
    "attention_norm": "sa_layer_norm",
    "intermediate": "ffn.lin1",
    "output_dense": "ffn.lin2",
    "output_norm": "output_layer_norm",
}
CHECKPOINT_PREFIXES = ("distilbert.",)
# Masked-LM and classification heads, and the position_ids buffer, are not sentence embeddings.
SKIPPED_TENSORS = (
    r"embeddings\.position_ids",
    r"vocab_(transform|layer_norm|projector)\..*",
    r"(pre_)?classifier\..*",
)


@keras.saving.register_keras_serializable(package="tfst")
class DistilBertEncoder(TransformerEncoder):
    """DistilBERT: word + position embeddings, LayerNorm, then post-LN transformer blocks.

    Call with a dict of ``input_ids`` and ``attention_mask`` (``[batch, seq]`` integers; any
    ``token_type_ids`` are ignored, as DistilBERT has none); returns ``[batch, seq, hidden]``.
    """

    def weight_targets(self) -> dict[str, WeightTarget]:
        """Every variable of this layer, keyed by its name in a Hugging Face DistilBERT checkpoint."""
        targets = self.embedding_weight_targets()
        for index, block in enumerate(self.blocks):
            targets.update(block_weight_targets(block, f"transformer.layer.{index}.", _BLOCK_NAMES))
        return targets
