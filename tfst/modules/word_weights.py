"""The WordWeights module: each token's embedding scaled by its word's weight (e.g. idf).

Its ``config.json`` holds ``vocab`` (the input module's words, in id order), ``word_weights``
(word → weight; a word missing from it is looked up lowercased, then gets
``unknown_word_weight``). sentence-transformers builds the per-id weights from this
configuration when it loads the module and ignores the weights file it saves beside it, so tfst
does the same (and writes that file too, for sentence-transformers' sake).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfst.config import ConfigError, Setting, read_json, setting
from tfst.files import write_json, write_safetensors
from tfst.modules.base import PACKAGE, Module

_UNKNOWN_WORD_WEIGHT = Setting("unknown_word_weight", float, 1.0)


@keras.saving.register_keras_serializable(package="tfst")
class WordWeights(Module):
    """Multiplies ``token_embeddings`` by a weight per token id and adds ``token_weights_sum``
    (the weights of each text's real tokens, summed), which Pooling's mean modes divide by.

    Args:
        vocab: the words, in the id order of the input module before it.
        word_weights: word → weight.
        unknown_word_weight: the weight of a word found in neither form.
    """

    type_names = ("WordWeights",)
    saved_type = f"{PACKAGE}.sentence_transformer.modules.word_weights.WordWeights"
    folder_name = "WordWeights"

    def __init__(self, vocab, word_weights: dict, unknown_word_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab = tuple(vocab)
        self.word_weights = dict(word_weights)
        self.unknown_word_weight = float(unknown_word_weight)
        weights = [
            self.word_weights.get(word, self.word_weights.get(word.lower(), unknown_word_weight))
            for word in self.vocab
        ]
        # As torch.FloatTensor(weights): rounded to float32.
        self._weights = tf.constant(np.asarray(weights, dtype=np.float32))

    @classmethod
    def from_folder(cls, folder: Path, options=None) -> WordWeights:
        path = folder / "config.json"
        config = read_json(path)
        vocab = config.get("vocab")
        if not isinstance(vocab, list) or not all(isinstance(word, str) for word in vocab):
            raise ConfigError(f"{path}: vocab must be a list of strings, got {vocab!r:.80}")
        word_weights = config.get("word_weights")
        if not isinstance(word_weights, dict) or not all(
            isinstance(weight, (int, float)) and not isinstance(weight, bool)
            for weight in word_weights.values()
        ):
            raise ConfigError(
                f"{path}: word_weights must map words to numbers, got {word_weights!r:.80}"
            )
        unknown = setting(config, _UNKNOWN_WORD_WEIGHT, path)
        return cls(vocab, word_weights, unknown, name="word_weights")

    def save(self, folder: Path) -> None:
        write_json(
            folder / "config.json",
            {
                "vocab": list(self.vocab),
                "word_weights": self.word_weights,
                "unknown_word_weight": self.unknown_word_weight,
            },
        )
        weights = self._weights.numpy()[:, np.newaxis]
        write_safetensors(folder / "model.safetensors", {"emb_layer.weight": weights})

    def call(self, features):
        mask = tf.cast(features["attention_mask"], tf.float32)
        token_weights = tf.gather(self._weights, features["input_ids"]) * mask
        return {
            **features,
            "token_embeddings": features["token_embeddings"] * token_weights[:, :, tf.newaxis],
            "token_weights_sum": tf.reduce_sum(token_weights, axis=1),
        }

    def describe(self) -> str:
        return f"WordWeights(words={len(self.vocab)}, weighted={len(self.word_weights)})"

    def compute_output_spec(self, features):
        batch = features["token_embeddings"].shape[0]
        return {**features, "token_weights_sum": keras.KerasTensor((batch,), "float32")}

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab=list(self.vocab),
            word_weights=self.word_weights,
            unknown_word_weight=self.unknown_word_weight,
        )
        return config
