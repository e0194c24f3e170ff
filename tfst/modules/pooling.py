"""The Pooling module: token embeddings → one sentence embedding, in any of sentence-transformers'
pooling modes."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfst.config import ConfigError, Setting, read_json, setting
from tfst.files import write_json
from tfst.modules.base import PACKAGE, Module

POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
# Legacy boolean keys, in the order sentence-transformers concatenates their outputs.
_LEGACY_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}

# Token sums run in blocks of this many, over this many levels (see sum_over_tokens).
SUM_BLOCK = 32
SUM_LEVELS = 3


def sum_over_tokens(values: tf.Tensor) -> tf.Tensor:
    """``[batch, seq, dim]`` → ``[batch, dim]``, summed over the tokens in blocks of
    ``SUM_BLOCK``, those sums again in blocks, ``SUM_LEVELS`` levels in all.

    A plain ``reduce_sum`` adds the tokens one after the other, so float32 rounding grows with
    the length: over 2,000 tokens of one word the mean was 4e-5 off sentence-transformers, whose
    torch sum cascades. In blocks, each value passes through about ``SUM_BLOCK`` additions per
    level (up to 32,768 tokens), which keeps long texts within 1e-6 of it.
    """
    batch, width = tf.shape(values)[0], tf.shape(values)[2]
    for _ in range(SUM_LEVELS - 1):
        padding = tf.math.floormod(-tf.shape(values)[1], SUM_BLOCK)
        values = tf.pad(values, [[0, 0], [0, padding], [0, 0]])
        blocks = tf.reshape(values, [batch, -1, SUM_BLOCK, width])
        values = tf.reduce_sum(blocks, axis=2)
    return tf.reduce_sum(values, axis=1)


@keras.saving.register_keras_serializable(package="tfst")
class Pooling(Module):
    """One pooling module whose mode is data, as in sentence-transformers.

    Args:
        embedding_dimension: width of the token embeddings.
        modes: one or more of ``cls``, ``max``, ``mean``, ``mean_sqrt_len_tokens``,
            ``weightedmean``, ``lasttoken``; several are concatenated in the given order.
        include_prompt: if False, the first ``prompt_length`` tokens of each text ([CLS] and
            the prompt's tokens) are left out of the pooling, as INSTRUCTOR-style models need.

    Called on the features dict, it adds ``sentence_embedding`` ``[batch, dim * len(modes)]``
    pooled from ``token_embeddings`` ``[batch, seq, dim]`` where ``attention_mask`` is 1, leaving
    out the first ``prompt_length`` tokens (if in the features) when ``include_prompt`` is False.
    After a WordWeights module, whose ``token_weights_sum`` is in the features, the mean modes
    divide by that sum instead of the token count, as sentence-transformers does.
    ``pool`` does the same on plain tensors.
    """

    type_names = ("Pooling",)
    saved_type = f"{PACKAGE}.sentence_transformer.modules.pooling.Pooling"
    folder_name = "Pooling"

    def __init__(
        self, embedding_dimension: int, modes=("mean",), include_prompt: bool = True, **kwargs
    ):
        super().__init__(**kwargs)
        modes = (modes,) if isinstance(modes, str) else tuple(modes)
        for mode in modes:
            if mode not in POOLING_MODES:
                raise ValueError(
                    f"pooling mode {mode!r} is not supported; supported are {POOLING_MODES}"
                )
        self.embedding_dimension = embedding_dimension
        self.modes = modes
        self.include_prompt = bool(include_prompt)

    @classmethod
    def from_folder(cls, folder: Path, options=None) -> Pooling:
        """Pooling config in the legacy boolean form or the newer ``pooling_mode`` form."""
        path = folder / "config.json"
        raw = read_json(path)
        key = "embedding_dimension" if "embedding_dimension" in raw else "word_embedding_dimension"
        dimension = setting(raw, Setting(key, int, minimum=1), path)
        if "pooling_mode" in raw:
            mode = raw["pooling_mode"]
            modes = (
                (mode,) if isinstance(mode, str) else tuple(mode) if isinstance(mode, list) else ()
            )
            if not modes or not all(isinstance(mode, str) for mode in modes):
                raise ConfigError(
                    f"{path}: pooling_mode must be a mode name or a non-empty list of them, "
                    f"got {raw['pooling_mode']!r:.100}"
                )
        else:
            flags = {key: setting(raw, Setting(key, bool, False), path) for key in _LEGACY_KEYS}
            modes = tuple(mode for key, mode in _LEGACY_KEYS.items() if flags[key]) or ("mean",)
        for mode in modes:
            if mode not in POOLING_MODES:
                raise ConfigError(
                    f"{path}: pooling mode {mode!r:.50} is not supported; "
                    f"supported are {', '.join(POOLING_MODES)}"
                )
        include_prompt = setting(raw, Setting("include_prompt", bool, True), path)
        return cls(dimension, modes, include_prompt=include_prompt, name="pooling")

    def save(self, folder: Path) -> None:
        modes = list(self.modes)
        write_json(
            folder / "config.json",
            {
                "embedding_dimension": self.embedding_dimension,
                "pooling_mode": modes[0] if len(modes) == 1 else modes,
                "include_prompt": self.include_prompt,
            },
        )

    def expected_input_dimension(self) -> int:
        return self.embedding_dimension

    def output_dimension(self, input_dimension=None) -> int:
        return self.embedding_dimension * len(self.modes)

    def describe(self) -> str:
        return f"Pooling(modes={list(self.modes)})"

    def call(self, features):
        embedding = self.pool(
            features["token_embeddings"],
            features["attention_mask"],
            features.get("prompt_length"),
            features.get("token_weights_sum"),
        )
        return {**features, "sentence_embedding": embedding}

    def pool(self, token_embeddings, attention_mask, prompt_length=None, token_weights_sum=None):
        """``[batch, seq, dim]`` token embeddings and their ``[batch, seq]`` mask → ``[batch,
        dim * len(modes)]``; ``prompt_length`` (scalar) tokens are left out unless
        ``include_prompt``; ``token_weights_sum`` ``[batch]``, if given, is what the mean modes
        divide by."""
        length = tf.shape(token_embeddings)[1]
        # Index of the first real token: non-zero only for left-padded batches.
        first_token = tf.argmax(attention_mask, axis=1, output_type=tf.int32)
        if not self.include_prompt and prompt_length is not None:
            positions = tf.range(length)[tf.newaxis, :]
            in_prompt = positions < first_token[:, tf.newaxis] + tf.cast(prompt_length, tf.int32)
            attention_mask = tf.where(in_prompt, tf.zeros_like(attention_mask), attention_mask)
        mask = tf.cast(attention_mask, token_embeddings.dtype)
        mask_3d = mask[:, :, tf.newaxis]
        outputs = []
        for mode in self.modes:
            if mode == "cls":
                # The first token left after the prompt (the first position if none is left).
                first_kept = tf.argmax(attention_mask, axis=1, output_type=tf.int32)
                outputs.append(tf.gather(token_embeddings, first_kept, axis=1, batch_dims=1))
            elif mode == "max":
                masked = tf.where(mask_3d > 0, token_embeddings, float("-inf"))
                outputs.append(tf.reduce_max(masked, axis=1))
            elif mode in ("mean", "mean_sqrt_len_tokens"):
                summed = sum_over_tokens(token_embeddings * mask_3d)
                count = tf.reduce_sum(mask_3d, axis=1)
                if token_weights_sum is not None:
                    count = token_weights_sum[:, tf.newaxis]
                count = tf.maximum(count, 1e-9)
                outputs.append(summed / (count if mode == "mean" else tf.sqrt(count)))
            elif mode == "weightedmean":
                # Weights count from the first real token, prompt or not, as in sentence-transformers.
                positions = tf.cast(tf.range(1, length + 1), token_embeddings.dtype)
                weights = positions[tf.newaxis, :] - tf.cast(
                    first_token[:, tf.newaxis], token_embeddings.dtype
                )
                weighted_mask = (mask * weights)[:, :, tf.newaxis]
                summed = sum_over_tokens(token_embeddings * weighted_mask)
                total = sum_over_tokens(weighted_mask)
                if token_weights_sum is not None:
                    total = token_weights_sum[:, tf.newaxis]
                outputs.append(summed / tf.maximum(total, 1e-9))
            else:  # lasttoken
                reversed_mask = tf.reverse(attention_mask, axis=[1])
                from_end = tf.argmax(reversed_mask, axis=1, output_type=tf.int32)
                from_end = tf.where(tf.reduce_max(reversed_mask, axis=1) == 0, length - 1, from_end)
                outputs.append(
                    tf.gather(
                        token_embeddings * mask_3d, length - 1 - from_end, axis=1, batch_dims=1
                    )
                )
        return outputs[0] if len(outputs) == 1 else tf.concat(outputs, axis=-1)

    def portable_call(self, ops, features):
        """``pool`` as a portable graph; it sees token ids only, so no prompt is left out
        (as the SavedModel's token-id signatures)."""
        token_embeddings, attention_mask = features["token_embeddings"], features["attention_mask"]
        mask = ops.to_float(attention_mask)
        mask_3d = ops.expand(mask, [2])
        is_token = ops.expand(ops.not_equal(mask, ops.constant(np.float32(0))), [2])
        first_token = ops.argmax(mask, axis=1)
        tiny = ops.constant(np.float32(1e-9))
        outputs = []
        for mode in self.modes:
            if mode == "cls":
                outputs.append(ops.take_along_sequence(token_embeddings, first_token))
            elif mode == "max":
                masked = ops.where(is_token, token_embeddings, ops.constant(np.float32(-np.inf)))
                outputs.append(ops.reduce_max(masked, axis=1))
            elif mode in ("mean", "mean_sqrt_len_tokens"):
                summed = ops.reduce_sum(ops.multiply(token_embeddings, mask_3d), axis=1)
                count = ops.maximum(ops.reduce_sum(mask_3d, axis=1), tiny)
                outputs.append(ops.divide(summed, count if mode == "mean" else ops.sqrt(count)))
            elif mode == "weightedmean":
                length = ops.sequence_length(token_embeddings)
                positions = ops.to_float(ops.add(ops.range(length), ops.constant(np.int64(1))))
                weights = ops.subtract(
                    ops.expand(positions, [0]), ops.expand(ops.to_float(first_token), [1])
                )
                weighted_mask = ops.expand(ops.multiply(mask, weights), [2])
                summed = ops.reduce_sum(ops.multiply(token_embeddings, weighted_mask), axis=1)
                total = ops.maximum(ops.reduce_sum(weighted_mask, axis=1), tiny)
                outputs.append(ops.divide(summed, total))
            else:  # lasttoken; an all-padding row picks the last place, as ``pool``
                last_token = ops.argmax(mask, axis=1, last=True)
                masked = ops.multiply(token_embeddings, mask_3d)
                outputs.append(ops.take_along_sequence(masked, last_token))
        embedding = outputs[0] if len(outputs) == 1 else ops.concat(outputs, axis=-1)
        return {**features, "sentence_embedding": embedding}

    def compute_output_spec(self, features):
        batch = features["token_embeddings"].shape[0]
        return {
            **features,
            "sentence_embedding": keras.KerasTensor((batch, self.output_dimension()), "float32"),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_dimension=self.embedding_dimension,
            modes=list(self.modes),
            include_prompt=self.include_prompt,
        )
        return config
