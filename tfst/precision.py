"""Opt-in faster numerics: which precisions an encoder computes in, and converting a loaded model.

This is the encoder's compute precision (``tfst.load(..., encoder_precision=...)``), not the
output quantization of ``encode(precision="int8")``, which applies to finished embeddings.

``float32`` (the default) matches sentence-transformers to 1e-5. ``bfloat16`` stores the
transformer blocks' projection weights in bfloat16 and runs their matmuls in bfloat16 (on CPUs
with AVX512_BF16 or AMX, through oneDNN), keeping embeddings, residual sums, LayerNorm, softmax
and pooling in float32. On all-MiniLM-L6-v2 its embeddings stay within cosine 0.9995 of float32
(tests/test_precision.py; the benchmark prints the figure measured on its texts).
"""

from __future__ import annotations

import keras

PRECISIONS = ("float32", "bfloat16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one tfst supports; a ValueError naming the choices otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def with_precision(model, precision: str):
    """A model like ``model`` whose encoder computes in ``precision``, sharing its other layers.

    The encoder is rebuilt from its config and its weights cast; prompts, similarity and
    ``truncate_dim`` carry over; ``model`` itself is unchanged. ``tfst.load(...,
    encoder_precision=...)`` builds such a model directly.

    Example:
        >>> fast = with_precision(tfst.load("sentence-transformers/all-MiniLM-L6-v2"), "bfloat16")
    """
    from tfst.sentence_model import SentenceTransformer

    encoder = model.encoder
    if check_precision(precision) == encoder.precision:
        return model
    converted = type(encoder).from_config({**encoder.get_config(), "precision": precision})
    converted.build()
    for target, source in zip(converted.weights, encoder.weights, strict=True):
        target.assign(keras.ops.cast(source, target.dtype))
    return SentenceTransformer(
        model.tokenizer,
        converted,
        model.pipeline_modules,
        prompts=model.prompts,
        default_prompt_name=model.default_prompt_name,
        similarity_fn_name=model.similarity_fn_name,
        truncate_dim=model.truncate_dim,
        name=model.name,
    )
