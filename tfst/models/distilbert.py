"""The DistilBERT family: its encoder layer, its checkpoint-name table and its ``config.json`` settings.

DistilBERT is BERT without token types, with its own checkpoint names. Its
``sinusoidal_pos_embds`` option only changes how transformers *initializes* the position table;
the table is saved in every checkpoint, so it is loaded like any other weight.
"""

from __future__ import annotations

import keras

from tfst.models.classification_head import ClassificationHeadSpec
from tfst.models.family import (
    MAX_LAYERS,
    MAX_POSITIONS,
    MAX_VOCABULARY,
    Family,
    activation,
    size,
)
from tfst.models.portable_encoder import PortableEncoder
from tfst.models.transformer_block import TransformerEncoder, block_weight_targets
from tfst.weights import WeightTable

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
class DistilBertEncoder(PortableEncoder, TransformerEncoder):
    """DistilBERT: word + position embeddings, LayerNorm, then post-LN transformer blocks.

    Call with a dict of ``input_ids`` and ``attention_mask`` (``[batch, seq]`` integers; any
    ``token_type_ids`` are ignored, as DistilBERT has none); returns ``[batch, seq, hidden]``.
    """

    def weight_table(self) -> WeightTable:
        """Every variable of this layer, keyed by its name in a Hugging Face DistilBERT checkpoint."""
        targets = self.embedding_weight_targets()
        for index, block in enumerate(self.blocks):
            targets.update(
                block_weight_targets(
                    block, f"blocks.{index}", f"transformer.layer.{index}.", _BLOCK_NAMES
                )
            )
        return WeightTable(targets, CHECKPOINT_PREFIXES, SKIPPED_TENSORS)


FAMILY = Family(
    model_type="distilbert",
    encoder_class=DistilBertEncoder,
    settings={
        "vocab_size": size("vocab_size", maximum=MAX_VOCABULARY),
        "hidden_size": size("dim"),
        "num_layers": size("n_layers", maximum=MAX_LAYERS),
        "num_heads": size("n_heads"),
        "intermediate_size": size("hidden_dim"),
        "hidden_act": activation("activation"),
        "max_position_embeddings": size("max_position_embeddings", maximum=MAX_POSITIONS),
    },
    architecture="DistilBertModel",
    tokenizer_class="BertTokenizer",
    # DistilBERT's LayerNorm epsilon is fixed in transformers, not configurable.
    constants={"layer_norm_eps": 1e-12},
    # DistilBertForSequenceClassification: pre_classifier + ReLU on [CLS], then the classifier.
    classification_head=ClassificationHeadSpec(
        architecture="DistilBertForSequenceClassification",
        encoder_prefix=CHECKPOINT_PREFIXES[0],
        dense="pre_classifier",
        output="classifier",
        activation="relu",
    ),
)
