"""The RoBERTa family (all-distilroberta-v1, the stsb-/nli-roberta models): its encoder layer,
checkpoint names and ``config.json`` settings.

RoBERTa is BERT's encoder (same blocks, same checkpoint names) with one difference, in
transformers' ``RobertaEmbeddings``: positions count from ``padding_idx + 1`` over the tokens
whose id is not the padding id (``create_position_ids_from_input_ids``), ``padding_idx`` being
``config.json``'s ``pad_token_id``. A real token whose id is the padding id (the text
``"<pad>"``, an added token) gets position ``padding_idx`` and does not advance the count, as in
transformers. Its token-type table usually has one row (``type_vocab_size: 1``).

XLM-RoBERTa (``tfst.models.xlm_roberta``) is the same encoder under another ``model_type``; the
layer keeps the ``model_type`` it was read as, so saving writes it back.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfst.config import ConfigError
from tfst.models.bert import BertEncoder
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
from tfst.weights import WeightTable

# Saved by transformers' task models (``roberta.``, also XLM-R's) and absent from
# sentence-transformers.
CHECKPOINT_PREFIXES = ("roberta.",)
# The pooler and task heads are not part of a sentence embedding; position_ids and
# token_type_ids are buffers (older checkpoints saved them).
SKIPPED_TENSORS = (
    r"pooler\..*",
    r"embeddings\.position_ids",
    r"embeddings\.token_type_ids",
    r"lm_head\..*",
    r"classifier\..*",
)
# transformers' RobertaConfig default.
DEFAULT_PAD_TOKEN_ID = 1


@keras.saving.register_keras_serializable(package="tfst")
class RobertaEncoder(BertEncoder):
    """RoBERTa / XLM-RoBERTa: word + position (past the padding id) + token-type embeddings,
    LayerNorm, then post-LN transformer blocks.

    Call with a dict of ``input_ids``, ``attention_mask`` and optionally ``token_type_ids``
    (``[batch, seq]`` integers); returns ``[batch, seq, hidden_size]``.

    Args:
        pad_token_id: transformers' ``padding_idx``: the id whose tokens do not count as
            positions, and the position just before the first one.
        model_type: ``roberta`` or ``xlm-roberta``, the family the layer was read as.
        (the others as ``BertEncoder``)

    Example:
        >>> encoder = RobertaEncoder(vocab_size=50265, hidden_size=768, num_layers=6,
        ...                          num_heads=12, intermediate_size=3072,
        ...                          max_position_embeddings=514, type_vocab_size=1)
    """

    def __init__(
        self,
        *args,
        pad_token_id: int = DEFAULT_PAD_TOKEN_ID,
        model_type: str = "roberta",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.pad_token_id = pad_token_id
        self.model_type = model_type

    def embed(self, inputs) -> tf.Tensor:
        input_ids = tf.ensure_shape(inputs["input_ids"], [None, None])
        not_padding = tf.cast(tf.not_equal(input_ids, self.pad_token_id), input_ids.dtype)
        positions = tf.cumsum(not_padding, axis=1) * not_padding + self.pad_token_id
        token_type_ids = inputs.get("token_type_ids")
        if token_type_ids is None:
            token_type_ids = tf.zeros_like(input_ids)
        return (
            self.word_embeddings(input_ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings(token_type_ids)
        )

    def portable_positions(self, ops, input_ids):
        return self.portable_positions_past_padding(ops, input_ids, self.pad_token_id)

    def usable_positions(self) -> int:
        # Positions start at pad_token_id + 1.
        return self.max_position_embeddings - self.pad_token_id - 1

    def get_config(self):
        config = super().get_config()
        config.update(pad_token_id=self.pad_token_id, model_type=self.model_type)
        return config

    def weight_table(self) -> WeightTable:
        """Every variable of this layer, keyed by its name in a RoBERTa / XLM-R checkpoint
        (BERT's names, with the ``roberta.`` prefix of transformers' task models)."""
        return WeightTable(super().weight_table().targets, CHECKPOINT_PREFIXES, SKIPPED_TENSORS)


def _check(arguments: dict, path) -> None:
    if arguments["pad_token_id"] + 1 >= arguments["max_position_embeddings"]:
        raise ConfigError(
            f"{path}: pad_token_id {arguments['pad_token_id']} leaves no position: positions "
            f"start at pad_token_id + 1 and there are {arguments['max_position_embeddings']}"
        )


def roberta_family(model_type: str, architecture: str, tokenizer_class: str) -> Family:
    """The family of RobertaEncoder under one ``model_type`` (RoBERTa's and XLM-R's
    ``config.json`` share their keys and defaults)."""
    return Family(
        model_type=model_type,
        encoder_class=RobertaEncoder,
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
            "pad_token_id": size(
                "pad_token_id", DEFAULT_PAD_TOKEN_ID, maximum=MAX_VOCABULARY, minimum=0
            ),
        },
        architecture=architecture,
        tokenizer_class=tokenizer_class,
        # A decoder configuration makes transformers' attention causal.
        fixed={"position_embedding_type": "absolute", "is_decoder": False},
        constants={"model_type": model_type},
        check=_check,
        # *ForSequenceClassification: classifier.dense + tanh on <s>, then classifier.out_proj.
        classification_head=ClassificationHeadSpec(
            architecture=architecture.replace("Model", "ForSequenceClassification"),
            encoder_prefix=CHECKPOINT_PREFIXES[0],
            dense="classifier.dense",
            output="classifier.out_proj",
            activation="tanh",
        ),
    )


FAMILY = roberta_family("roberta", "RobertaModel", "RobertaTokenizer")
