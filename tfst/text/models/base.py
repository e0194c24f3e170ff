"""What every tokenizer model provides; the models themselves are the sibling modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import tensorflow as tf

from tfst.text.code_points import encode_utf8, fill_empty_rows, keep_where, row_ids

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
    # Word → id of the words looked up whole instead of split (``split_unless_whole``).
    _whole_words: tf.lookup.StaticHashTable | None = None

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], where: str) -> TokenizerModel:
        raise NotImplementedError

    def tokenize(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[words, (code points)]`` → ``[words, (ids)]`` int64."""
        raise NotImplementedError

    def vocabulary(self) -> list[str]:
        """The model's tokens, the token of id i at position i."""
        raise NotImplementedError

    def whole_words(self) -> dict[str, int]:
        """The words the model looks up whole instead of splitting them, with their ids (empty
        for a model without such a table)."""
        if self._whole_words is None:
            return {}
        keys, values = self._whole_words.export()
        return {
            key.decode("utf-8"): int(value)
            for key, value in zip(keys.numpy().tolist(), values.numpy().tolist(), strict=True)
            if value >= 0
        }


def split_unless_whole(
    words: tf.RaggedTensor,
    whole_words: tf.lookup.StaticHashTable,
    split: Callable[[tf.RaggedTensor], tf.RaggedTensor],
) -> tf.RaggedTensor:
    """``[words, (code points)]`` → ``[words, (ids)]``: the id ``whole_words`` gives a word
    (string → id, -1 for none), else the ids ``split`` gives it. ``split`` sees every word,
    those found whole emptied of their characters, and must give an empty word no id; a batch
    whose words are all found whole (a short query, often) does not run it at all."""
    whole_ids = whole_words.lookup(encode_utf8(words))
    length = words.row_lengths()
    whole = (whole_ids >= 0) & (length > 0)

    def split_the_rest():
        rest = keep_where(words, ~tf.gather(whole, row_ids(words)))
        return fill_empty_rows(split(rest), whole_ids, whole)

    def all_whole():
        return tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(whole_ids, whole), tf.cast(whole, tf.int64), validate=False
        )

    return tf.cond(tf.reduce_all(whole | tf.equal(length, 0)), all_whole, split_the_rest)
