"""Encoder families, each a Keras layer beside its checkpoint-name table."""

from __future__ import annotations

from tfst.config import SUPPORTED_MODEL_TYPES, EncoderConfig
from tfst.models import bert, distilbert


def build_encoder(config: EncoderConfig, precision: str = "float32"):
    """The encoder layer for a ``config.json``, with its checkpoint prefixes and skipped tensors.

    ``precision`` is ``float32`` or the opt-in ``bfloat16`` (see ``tfst.precision``).
    """
    shape = dict(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        hidden_act=config.hidden_act,
        layer_norm_eps=config.layer_norm_eps,
        max_position_embeddings=config.max_position_embeddings,
        precision=precision,
        name="encoder",
    )
    if config.model_type == "bert":
        encoder = bert.BertEncoder(type_vocab_size=config.type_vocab_size, **shape)
        return encoder, bert.CHECKPOINT_PREFIXES, bert.SKIPPED_TENSORS
    if config.model_type == "distilbert":
        encoder = distilbert.DistilBertEncoder(**shape)
        return encoder, distilbert.CHECKPOINT_PREFIXES, distilbert.SKIPPED_TENSORS
    raise ValueError(
        f"model_type {config.model_type!r} is not supported; supported are "
        f"{', '.join(SUPPORTED_MODEL_TYPES)}"
    )
