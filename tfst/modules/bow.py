"""The BoW module: a text as the (weighted) counts of its vocabulary words, one value per word.

Its ``config.json`` holds ``vocab``, ``word_weights`` (word → weight; a word missing from it is
looked up lowercased, then gets ``unknown_word_weight``) and ``cumulative_term_frequency``
(add the weight once per occurrence, or set it once). Texts are split by sentence-transformers'
``WhitespaceTokenizer`` over that vocabulary, with no stop words and no lowercasing.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfst.config import ConfigError, Setting, read_json, setting
from tfst.files import write_json
from tfst.modules.base import PACKAGE, Module
from tfst.text.whitespace_tokenizer import WhitespaceTokenizer

_UNKNOWN_WORD_WEIGHT = Setting("unknown_word_weight", float, 1.0)
_CUMULATIVE = Setting("cumulative_term_frequency", bool, True)


@keras.saving.register_keras_serializable(package="tfst")
class BoW(Module):
    """Strings → ``sentence_embedding`` ``[batch, len(vocab)]``: per word, its weight times its
    count (``cumulative_term_frequency``) or its weight if present.

    Args:
        vocab: the words (repeats dropped, first kept, as sentence-transformers does).
        word_weights: word → weight.
        unknown_word_weight: the weight of a word found in neither form.
        cumulative_term_frequency: count repeats (True) or not.
    """

    type_names = ("BoW",)
    saved_type = f"{PACKAGE}.sentence_transformer.modules.bow.BoW"
    folder_name = "BoW"
    is_input = True

    def __init__(
        self,
        vocab,
        word_weights: dict | None = None,
        unknown_word_weight: float = 1.0,
        cumulative_term_frequency: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab = tuple(dict.fromkeys(vocab))
        self.word_weights = dict(word_weights or {})
        self.unknown_word_weight = float(unknown_word_weight)
        self.cumulative_term_frequency = bool(cumulative_term_frequency)
        weights = [
            self.word_weights.get(word, self.word_weights.get(word.lower(), unknown_word_weight))
            for word in self.vocab
        ]
        self._weights = tf.constant(np.asarray(weights, dtype=np.float32))
        self.tokenizer = WhitespaceTokenizer(self.vocab, name="tokenizer")

    @classmethod
    def from_folder(cls, folder: Path, options=None) -> BoW:
        path = folder / "config.json"
        config = read_json(path)
        vocab = config.get("vocab")
        if not isinstance(vocab, list) or not all(isinstance(word, str) for word in vocab):
            raise ConfigError(f"{path}: vocab must be a list of strings, got {vocab!r:.80}")
        word_weights = config.get("word_weights", {})
        if not isinstance(word_weights, dict) or not all(
            isinstance(weight, (int, float)) and not isinstance(weight, bool)
            for weight in word_weights.values()
        ):
            raise ConfigError(
                f"{path}: word_weights must map words to numbers, got {word_weights!r:.80}"
            )
        return cls(
            vocab,
            word_weights,
            setting(config, _UNKNOWN_WORD_WEIGHT, path),
            setting(config, _CUMULATIVE, path),
            name="bow",
        )

    def save(self, folder: Path) -> None:
        write_json(
            folder / "config.json",
            {
                "vocab": list(self.vocab),
                "word_weights": self.word_weights,
                "unknown_word_weight": self.unknown_word_weight,
                "cumulative_term_frequency": self.cumulative_term_frequency,
            },
        )

    def text_layers(self) -> list:
        return [self.tokenizer]

    def tokenize(self, strings) -> dict:
        """Strings → the ``input_ids`` and ``attention_mask`` of their vocabulary words."""
        return self.tokenizer(strings)

    def call(self, features):
        mask = tf.cast(features["attention_mask"], tf.bool)
        word_ids = tf.cast(tf.boolean_mask(features["input_ids"], mask), tf.int64)
        text_of_word = tf.where(mask)[:, 0]
        size = tf.constant(len(self.vocab), tf.int64)
        batch = tf.shape(mask, out_type=tf.int64)[0]
        cell = text_of_word * size + word_ids
        if self.cumulative_term_frequency:
            # Added one occurrence at a time, in text order, as sentence-transformers adds them.
            values = tf.math.unsorted_segment_sum(
                tf.gather(self._weights, word_ids), cell, batch * size
            )
        else:
            seen = tf.math.unsorted_segment_max(tf.ones_like(cell, tf.int32), cell, batch * size)
            values = tf.where(seen > 0, tf.tile(self._weights, [batch]), 0.0)
        return {**features, "sentence_embedding": tf.reshape(values, [batch, size])}

    def output_dimension(self, input_dimension=None) -> int:
        return len(self.vocab)

    def describe(self) -> str:
        return (
            f"BoW(words={len(self.vocab)}, cumulative_term_frequency="
            f"{self.cumulative_term_frequency})"
        )

    def compute_output_spec(self, features):
        batch = features["input_ids"].shape[0]
        return {**features, "sentence_embedding": keras.KerasTensor((batch, len(self.vocab)))}

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab=list(self.vocab),
            word_weights=self.word_weights,
            unknown_word_weight=self.unknown_word_weight,
            cumulative_term_frequency=self.cumulative_term_frequency,
        )
        return config
