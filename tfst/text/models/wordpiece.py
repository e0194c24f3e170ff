"""The WordPiece model: greedy longest-match-first pieces, as Hugging Face's ``WordPiece`` model.

A word longer than ``max_input_chars_per_word`` characters (not bytes) is the unknown token; so is
a word that cannot be covered by vocabulary pieces from its start to its end. Most words are whole
vocabulary entries: one table lookup settles them, and only the rest are split.

The split itself is core TensorFlow by default (:class:`CoreWordpiece` below), so a graph with it
loads in any TensorFlow runtime (TF Serving, TF Java) without custom ops; ``ops="tensorflow_text"``
uses tensorflow-text's ``WordpieceTokenizer`` op instead (same ids), imported only then.

How the core split works: there is no loop over characters or pieces. One batched lookup finds, at
every character position of every word, the longest vocabulary piece starting there ("##" before
non-initial ones); that makes each position point to the position after its piece. The greedy
split is the chain of pointers from the word's start: pointer doubling (a fixed number of gathers,
log2 of the longest word) marks the positions on it. A word whose chain stops before its end, at a
position where nothing matches, becomes the single unknown token, as in Hugging Face.

The words are cut from one string, " word0 word1 ... ", so no word is copied per candidate; a
word's first piece is cut with the space before it. The lookup table is keyed to match: " token"
for every token (first pieces) and "piece" for every "##piece" (later pieces). No key can be
confused with another, because words never contain spaces (the pre-tokenizer splits on them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import tensorflow as tf

from tfst.text.code_points import encode_utf8
from tfst.text.models.base import TokenizerModel
from tfst.text.spec import TokenizerSpecError, option

# Implementations of the split; see the module docstring.
WORDPIECE_OPS = ("core", "tensorflow_text")
SEPARATOR = " "


def vocabulary_from_json(vocab: Any, where: str) -> list[str]:
    """A ``{"token": id}`` vocabulary as the list of tokens by id; ids must be 0..n-1."""
    if not isinstance(vocab, Mapping) or not vocab:
        raise TokenizerSpecError(f"{where}: vocab must be a non-empty object of token → id")
    tokens: list[str | None] = [None] * len(vocab)
    for token, token_id in vocab.items():
        if type(token_id) is not int or not 0 <= token_id < len(vocab) or tokens[token_id]:
            raise TokenizerSpecError(
                f"{where}: vocab ids must be 0..{len(vocab) - 1}, each once; {token!r:.50} has "
                f"{token_id!r:.20}"
            )
        tokens[token_id] = token
    return tokens


class WordPiece(TokenizerModel):
    """Greedy longest-match-first WordPiece, id-for-id with `tokenizers`.

    Args:
        vocabulary: the tokens, id = position.
        unk_token: replaces words that cannot be split; must be in the vocabulary.
        continuing_subword_prefix: marks pieces that continue a word (``##``).
        max_input_chars_per_word: longer words become the unknown token.
        ops: ``core`` (default) or ``tensorflow_text`` for the split (same ids).
    """

    type_name = "WordPiece"

    def __init__(
        self,
        vocabulary: Sequence[str],
        unk_token: str = "[UNK]",
        continuing_subword_prefix: str = "##",
        max_input_chars_per_word: int = 100,
        ops: str = "core",
    ):
        super().__init__(name="wordpiece")
        if ops not in WORDPIECE_OPS:
            raise ValueError(f"ops must be one of {WORDPIECE_OPS}, got {ops!r}")
        # A tuple and a read-only mapping: TensorFlow would wrap (and walk) a list or a dict
        # assigned to a module, which costs seconds for a large vocabulary.
        self._vocabulary = tuple(vocabulary)
        self._token_ids = MappingProxyType(
            {token: index for index, token in enumerate(self._vocabulary)}
        )
        if unk_token not in self._token_ids:
            raise TokenizerSpecError(f"the WordPiece unk_token {unk_token!r} is not in the vocab")
        self.unk_token = unk_token
        self.unknown_id = self._token_ids[unk_token]
        self.continuing_subword_prefix = continuing_subword_prefix
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.ops = ops
        self.vocabulary_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self._vocabulary), tf.range(len(self._vocabulary), dtype=tf.int64)
            ),
            default_value=-1,
        )
        self._splitter = self._make_splitter()

    @classmethod
    def from_json(cls, spec, where):
        return cls(
            vocabulary_from_json(option(spec, "vocab", dict, where), where),
            unk_token=option(spec, "unk_token", str, where, "[UNK]"),
            continuing_subword_prefix=option(spec, "continuing_subword_prefix", str, where, "##"),
            max_input_chars_per_word=option(spec, "max_input_chars_per_word", int, where, 100),
        )

    def with_ops(self, ops: str) -> WordPiece:
        """The same model splitting words with ``ops`` (``core`` or ``tensorflow_text``)."""
        if ops == self.ops:
            return self
        return WordPiece(
            self._vocabulary,
            self.unk_token,
            self.continuing_subword_prefix,
            self.max_input_chars_per_word,
            ops=ops,
        )

    def vocabulary(self) -> list[str]:
        return list(self._vocabulary)

    def _make_splitter(self):
        if self.ops == "core":
            return CoreWordpiece(
                self._vocabulary,
                unknown_id=self.unknown_id,
                max_word_length=self.max_input_chars_per_word,
                suffix_indicator=self.continuing_subword_prefix,
            )
        # Imported only here, so that the default runs where tensorflow-text is not installed.
        try:
            import tensorflow_text as tf_text
        except ImportError:
            raise ImportError(
                'ops="tensorflow_text" needs tensorflow-text: pip install '
                '"tensorflow-sentence-transformers[tensorflow-text]"'
            ) from None
        longest_token = max(len(token) for token in self._vocabulary)
        return tf_text.WordpieceTokenizer(
            self.vocabulary_table,
            suffix_indicator=self.continuing_subword_prefix,
            # Words over max_input_chars_per_word characters never reach this op, so this byte
            # bound only needs to admit every remaining word.
            max_bytes_per_word=4 * max(self.max_input_chars_per_word, longest_token),
            max_chars_per_token=longest_token,
            token_out_type=tf.int64,
            unknown_token=self.unk_token,
        )

    def tokenize(self, words):
        """Piece ids per word: ``[words, (code points)]`` → ``[words, (ids)]``.

        Whole-word vocabulary hits and over-long words are one id each; only the other words go
        through the slower splitter.
        """
        text = encode_utf8(words)
        too_long = words.row_lengths() > self.max_input_chars_per_word
        whole_id = self.vocabulary_table.lookup(text)
        is_single = (whole_id >= 0) | too_long
        unknown = tf.constant(self.unknown_id, tf.int64)
        single = tf.boolean_mask(tf.where(too_long, unknown, whole_id), is_single)
        singles = tf.RaggedTensor.from_row_lengths(single, tf.ones_like(single), validate=False)
        split = self._splitter.tokenize(tf.boolean_mask(text, ~is_single))
        # Row of each word in [single rows; split rows].
        single_count = tf.cumsum(tf.cast(is_single, tf.int64))
        split_count = tf.cumsum(tf.cast(~is_single, tf.int64))
        row = tf.where(is_single, single_count - 1, single_count[-1:] + split_count - 1)
        return tf.gather(tf.concat([singles, split], axis=0), row)


class CoreWordpiece(tf.Module):
    """WordPiece splitting of words with one vocabulary lookup for all pieces of all words
    (see the module docstring).

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
