"""What every tokenizer model provides; the models themselves are the sibling modules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import tensorflow as tf


class TokenizerModel(tf.Module):
    """One tokenizer model. Subclasses read their options and vocabulary in ``from_json``
    (raising ``TokenizerSpecError`` for anything unsupported) and build their lookup tables
    in ``__init__``, eagerly, so a Keras layer holding them can be saved.

    ``min_tokens_per_word`` is the fewest ids any non-empty word can give: 1 for models that
    always emit at least an unknown token. The tokenizer uses it to split only the words that
    can reach a truncated output; 0 means every word must be split.
    """

    type_name: ClassVar[str]
    min_tokens_per_word: int = 1

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], where: str) -> TokenizerModel:
        raise NotImplementedError

    def tokenize(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[words, (code points)]`` → ``[words, (ids)]`` int64."""
        raise NotImplementedError

    def vocabulary(self) -> list[str]:
        """The model's tokens, the token of id i at position i."""
        raise NotImplementedError
