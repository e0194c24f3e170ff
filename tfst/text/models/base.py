"""What every tokenizer model provides; the models themselves are the sibling modules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import tensorflow as tf

# How many tokens of its vocabulary a model tries as whole words when it is built, in Python, the
# most frequent first (by id for BPE's trained merges, by score for Unigram): words of real text
# are mostly one token, and a word found whole skips the model's loops.
WHOLE_WORD_CANDIDATES = 1 << 14


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
