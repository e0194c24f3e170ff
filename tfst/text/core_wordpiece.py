"""Greedy longest-match-first WordPiece on core TensorFlow ops only (no tensorflow-text).

A drop-in for `tensorflow_text.WordpieceTokenizer(...).tokenize` as `WordPieceTokenizer` uses it:
words in, piece ids out, exactly as Hugging Face's WordPiece model splits them. Graphs built
from it load in any TensorFlow runtime (TF Serving, TF Java, ...) without custom ops.

There is no loop over characters or pieces. One batched lookup finds, at every character
position of every word, the longest vocabulary piece starting there ("##" before non-initial
ones); that makes each position point to the position after its piece. The greedy split is the
chain of pointers from the word's start: pointer doubling (a fixed number of gathers, log2 of the
longest word) marks the positions on it. A word whose chain stops before its end, at a position
where nothing matches, becomes the single unknown token, as in Hugging Face.

The words are cut from one string, " word0 word1 ... ", so no word is copied per candidate; a
word's first piece is cut with the space before it. The lookup table is keyed to match: " token"
for every token (first pieces) and "piece" for every "##piece" (later pieces). No key can be
confused with another, because words never contain spaces (the pre-tokenizer splits on them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf

SEPARATOR = " "


class CoreWordpiece(tf.Module):
    """WordPiece splitting of words with one vocabulary lookup for all pieces of all words.

    Args:
        vocabulary: the tokens, id = position.
        unknown_id: id of the token that replaces a word that cannot be split.
        max_word_length: characters in the longest word to split; longer words must already be
            replaced (as `WordPieceTokenizer` does with its `max_chars_per_word`).
        suffix_indicator: prefix of word-continuation pieces.

    Words must be valid UTF-8 without spaces, as `WordPieceTokenizer` makes them. A word of n
    characters costs about n * min(n, longest piece) candidate lookups.
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        unknown_id: int,
        max_word_length: int,
        suffix_indicator: str = "##",
    ) -> None:
        super().__init__(name="core_wordpiece")
        # As in Hugging Face, a first piece may be any token, a later one any "##" token.
        keys, ids = [], []
        for token_id, token in enumerate(vocabulary):
            if SEPARATOR in token:  # never matches a piece of a word
                continue
            keys.append(SEPARATOR + token)
            ids.append(token_id)
            if token.startswith(suffix_indicator):
                keys.append(token[len(suffix_indicator) :])
                ids.append(token_id)
        # Characters of the longest piece a word can be cut into (the separator is not one).
        self.longest_piece = max(len(key) - key.startswith(SEPARATOR) for key in keys)
        self.piece_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(ids, tf.int64)),
            default_value=-1,
        )
        self.unknown_id = int(unknown_id)
        # A chain has at most max_word_length + 1 links; each doubling round covers twice more.
        self._doubling_rounds = max(1, math.ceil(math.log2(int(max_word_length) + 1)))

    def tokenize(self, words: tf.Tensor) -> tf.RaggedTensor:
        """Piece ids per word: [words] strings → [words, (pieces)] int64."""
        no_pieces = tf.RaggedTensor.from_row_splits(
            tf.zeros([0], tf.int64), tf.zeros([1], tf.int64), validate=False
        )
        # Most batches have no word to split: skip the ~100 small ops then.
        return tf.cond(tf.size(words) > 0, lambda: self._split(words), lambda: no_pieces)

    def _split(self, words: tf.Tensor) -> tf.RaggedTensor:
        # Plain gathers, searchsorted and segment reductions stand in for ragged helpers
        # (repeat, boolean_mask, value_rowids), which cost ~4x as many small ops.
        text = tf.strings.join(
            [SEPARATOR, tf.strings.reduce_join(words, separator=SEPARATOR), SEPARATOR]
        )
        # Nodes are the characters of `text`: each word's separator, then its characters; the
        # next separator (or the last one) is the word's end.
        _, node_bytes = tf.strings.unicode_decode_with_offsets(text, "UTF-8")
        node_bytes = tf.cast(node_bytes, tf.int64)
        word_length = tf.cast(tf.strings.length(words, unit="UTF8_CHAR"), tf.int64)
        word_separator = tf.cumsum(word_length + 1, exclusive=True)
        word_end = word_separator + word_length + 1
        node = tf.range(tf.size(node_bytes, out_type=tf.int64))
        node_word = tf.searchsorted(word_separator, node, side="right", out_type=tf.int64) - 1
        position = node - tf.gather(word_separator, node_word) - 1  # -1 at separators
        remaining = tf.gather(word_length, node_word) - position
        is_position = (position >= 0) & (remaining > 0)
        is_start = is_position & tf.equal(position, 0)

        best_length, best_id = self._longest_pieces(
            text, node_bytes, tf.where(is_position, remaining, 0), is_start
        )
        # Each position points past its longest piece; ends and dead ends point to themselves.
        jump = node + best_length
        on_chain = tf.cast(is_start, tf.int32)
        for _ in range(self._doubling_rounds):
            on_chain = tf.maximum(
                on_chain, tf.math.unsorted_segment_max(on_chain, jump, tf.size(node))
            )
            jump = tf.gather(jump, jump)

        is_split = tf.gather(tf.gather(on_chain, word_end), node_word) > 0
        keep = is_position & tf.where(is_split, on_chain > 0, is_start)
        pieces_per_word = tf.math.unsorted_segment_sum(
            tf.cast(keep, tf.int64), node_word, tf.size(words)
        )
        return tf.RaggedTensor.from_row_splits(
            tf.gather(tf.where(is_split, best_id, self.unknown_id), tf.where(keep)[:, 0]),
            tf.concat([[0], tf.cumsum(pieces_per_word)], axis=0),
            validate=False,
        )

    def _longest_pieces(self, text, node_bytes, remaining, is_start):
        """Per node: characters in the longest vocabulary piece starting there (0 if none) and
        its id; every (position, length) candidate of every word is looked up in one batch."""
        candidate_count = tf.minimum(remaining, self.longest_piece)
        candidates_end = tf.cumsum(candidate_count)
        candidate = tf.range(candidates_end[-1])
        candidate_node = tf.searchsorted(candidates_end, candidate, side="right", out_type=tf.int64)
        length = candidate - tf.gather(candidates_end - candidate_count, candidate_node) + 1
        # A word's first piece starts one byte early, at the separator: " piece" keys.
        start_byte = tf.gather(node_bytes, candidate_node)
        start_byte -= tf.cast(tf.gather(is_start, candidate_node), tf.int64)
        pieces = tf.strings.substr(
            text, start_byte, tf.gather(node_bytes, candidate_node + length) - start_byte
        )
        ids = self.piece_table.lookup(pieces)
        node_count = tf.size(node_bytes)
        best_length = tf.math.unsorted_segment_max(
            tf.where(ids >= 0, length, 0), candidate_node, node_count
        )
        best_length = tf.maximum(best_length, 0)  # nodes without candidates
        is_best = (ids >= 0) & tf.equal(length, tf.gather(best_length, candidate_node))
        best_id = tf.math.unsorted_segment_max(
            tf.where(is_best, ids, -1), candidate_node, node_count
        )
        return best_length, best_id
