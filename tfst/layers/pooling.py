"""Token embeddings → one sentence embedding, in any of sentence-transformers' pooling modes."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfst.config import POOLING_MODES


@keras.saving.register_keras_serializable(package="tfst")
class Pooling(keras.layers.Layer):
    """One pooling layer whose mode is data, as in sentence-transformers.

    Args:
        embedding_dimension: width of the token embeddings.
        modes: one or more of ``cls``, ``max``, ``mean``, ``mean_sqrt_len_tokens``,
            ``weightedmean``, ``lasttoken``; several are concatenated in the given order.
        include_prompt: if False, the first ``prompt_length`` tokens of each text ([CLS] and
            the prompt's tokens) are left out of the pooling, as INSTRUCTOR-style models need.

    Call with ``(token_embeddings [batch, seq, dim], attention_mask [batch, seq])`` and
    optionally ``prompt_length`` (scalar int; 0 means no prompt); returns
    ``[batch, dim * len(modes)]``.
    """

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

    @property
    def output_dimension(self) -> int:
        return self.embedding_dimension * len(self.modes)

    def call(self, token_embeddings, attention_mask, prompt_length=None):
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
                summed = tf.reduce_sum(token_embeddings * mask_3d, axis=1)
                count = tf.maximum(tf.reduce_sum(mask_3d, axis=1), 1e-9)
                outputs.append(summed / (count if mode == "mean" else tf.sqrt(count)))
            elif mode == "weightedmean":
                # Weights count from the first real token, prompt or not, as in sentence-transformers.
                positions = tf.cast(tf.range(1, length + 1), token_embeddings.dtype)
                weights = positions[tf.newaxis, :] - tf.cast(
                    first_token[:, tf.newaxis], token_embeddings.dtype
                )
                weighted_mask = (mask * weights)[:, :, tf.newaxis]
                summed = tf.reduce_sum(token_embeddings * weighted_mask, axis=1)
                outputs.append(summed / tf.maximum(tf.reduce_sum(weighted_mask, axis=1), 1e-9))
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

    def compute_output_shape(
        self, token_embeddings_shape, attention_mask_shape=None, prompt_length_shape=None
    ):
        return (token_embeddings_shape[0], self.output_dimension)

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_dimension=self.embedding_dimension,
            modes=list(self.modes),
            include_prompt=self.include_prompt,
        )
        return config
