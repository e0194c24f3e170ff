"""Byte-pair encoding: the ``BPE`` model of ``tokenizer.json``, on core TensorFlow ops.

The ids are those of Hugging Face `tokenizers` 0.23.3 (``tokenizers/src/models/bpe/model.rs``,
``word.rs``, ``serialization.rs``). A word is tokenized in two steps.

**Symbols** (``BPE::merge_word``). Each character becomes the token of its string, with
``continuing_subword_prefix`` before every character but the first and ``end_of_word_suffix`` after
the last. A character whose string is not in the vocabulary becomes, with ``byte_fallback``, the
``<0xNN>`` tokens of the UTF-8 bytes of that *decorated* string (all of them or none); otherwise, if
there is an ``unk_token``, an unknown token, one per character or one per run with ``fuse_unk``;
otherwise nothing. As in `tokenizers`, an unknown token waits until the next known character (or
another unknown one when not fused, or the word's end) to be emitted, so byte-fallback tokens met
in between come out before it, and a fused run of unknowns may span byte-fallback characters.

**Merges** (``Word::merge_all``): merge the leftmost occurrence of the lowest-ranked pair until
no pair has a rank, all words of a batch together in rounds (``tfst.text.models.bpe_merges``).

Most words of real text are one token. When the model is built, the first tokens by id (the
most frequent, for trained merges) spelled by known characters are merged once, in Python; a
word found among those that gave one token skips the initial symbols and the rounds of merging
(with ``ignore_merges``, any token does). Words of one symbol skip the loop, and a word with
nothing left to merge stays in it, inert: a round costs mostly op overhead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf

from tfst.text.code_point_maps import two_level_lookup
from tfst.text.code_points import (
    is_row_end,
    is_row_start,
    keep_where,
    next_values,
    previous_values,
    row_ids,
)
from tfst.text.models.base import WHOLE_WORD_CANDIDATES, TokenizerModel, split_unless_whole
from tfst.text.models.bpe_merges import MergeRounds
from tfst.text.models.bpe_vocab import (
    REPLACEMENT,
    byte_token,
    character_ids,
    check_ids,
    code_point_table,
    merge_table,
    merge_word,
    read_merges,
)
from tfst.text.spec import TokenizerSpecError, option
from tfst.text.unicode_tables import NUM_CODE_POINTS

# tokenizer.json keys `tokenizers` reads for a BPE model, and the one it never serializes but
# its Python constructor takes (`cache_capacity`: a cache only saves time, no id changes).
_KNOWN_KEYS = (
    "type",
    "dropout",
    "unk_token",
    "continuing_subword_prefix",
    "end_of_word_suffix",
    "fuse_unk",
    "byte_fallback",
    "ignore_merges",
    "vocab",
    "merges",
    "cache_capacity",
)


class BPE(TokenizerModel):
    """The ``BPE`` model: merges of adjacent symbols by rank, as `tokenizers` applies them.

    Args:
        vocab: token → id; ids must be distinct (a merge is found by the ids of its parts).
        merges: (left, right) token pairs; a pair's rank is its position (a repeated pair keeps
            its last position, as `tokenizers`' map does).
        unk_token: the token of characters not in the vocabulary (None: they are dropped).
        continuing_subword_prefix: before every character of a word but the first; stripped from
            the right part of a merge to spell the merged token.
        end_of_word_suffix: after the last character of a word.
        fuse_unk: one unknown token for a run of unknown characters.
        byte_fallback: unknown characters become their ``<0xNN>`` byte tokens when all exist.
        ignore_merges: a word that is itself a token is that token.
        where: the file and place these came from, for errors.
        merge_places: where each merge came from, for errors (default ``merges[i]``).

    Example:
        >>> model = BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")])
        >>> model.tokenize(tf.ragged.constant([[ord("a"), ord("b"), ord("a")]])).to_list()
        [[2, 0]]
    """

    type_name = "BPE"

    def __init__(
        self,
        vocab: Mapping[str, int],
        merges: Sequence[tuple[str, str]],
        *,
        unk_token: str | None = None,
        continuing_subword_prefix: str | None = None,
        end_of_word_suffix: str | None = None,
        fuse_unk: bool = False,
        byte_fallback: bool = False,
        ignore_merges: bool = False,
        where: str = "BPE model",
        merge_places: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name="bpe")
        check_ids(vocab, where)
        # (id, token) pairs by id; a tuple, so tf.Module tracking leaves it as it is.
        self._tokens_by_id = tuple(sorted((token_id, token) for token, token_id in vocab.items()))
        self.prefix = continuing_subword_prefix or ""
        self.suffix = end_of_word_suffix or ""
        self.fuse_unk = bool(fuse_unk)
        self.byte_fallback = bool(byte_fallback)
        self.ignore_merges = bool(ignore_merges)
        self.has_unk = unk_token is not None
        self.unk_token = unk_token
        self.unk_id = vocab.get(unk_token, -1) if unk_token is not None else -1
        self.id_range = self._tokens_by_id[-1][0] + 1 if vocab else 1
        # Ids are below 2**31, so two of them pack into an int64 as ``high << id_bits | low``:
        # shifts and masks unpack them 1.7 to 2.7 times faster than an int64 division.
        self.id_bits = max(1, (self.id_range - 1).bit_length())
        byte_ids = [vocab.get(byte_token(byte), -1) for byte in range(256)]
        # A word can lose all its characters only if one can be neither a token, nor its bytes,
        # nor the unknown token (a missing unk_token raises instead).
        can_vanish = not self.has_unk and not (byte_fallback and min(byte_ids) >= 0)
        self.min_tokens_per_word = 0 if can_vanish else 1

        if merge_places is None:
            merge_places = [f"{where}: merges[{rank}]" for rank in range(len(merges))]
        pairs = merge_table(vocab, merges, merge_places, self.prefix, self.id_bits)
        self.merge_rounds = MergeRounds(pairs, self.id_range, self.id_bits)
        self.token_ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(vocab.keys()), tf.string),
                tf.constant(list(vocab.values()), tf.int64),
            ),
            default_value=-1,
        )
        self.byte_ids = tf.constant(byte_ids, tf.int64)
        # Each character's token as a per-code-point table: two gathers, where strings of single
        # characters and a hash lookup cost several times more.
        characters = character_ids(vocab, self.prefix, self.suffix)
        self._character_ids = {}
        for variant, ids in characters.items():
            table = code_point_table(ids)
            self._character_ids[variant] = (tf.constant(table.blocks), tf.constant(table.pages))
        if self.ignore_merges:
            self._whole_words = self.token_ids
        else:
            self._whole_words = self._single_token_words(vocab, characters, pairs)

    def _single_token_words(self, vocab, characters, pairs) -> tf.lookup.StaticHashTable:
        """Word → id of the words that merge into one token: the first tokens by id (and,
        with a suffix, those tokens without it) spelled by known characters, merged once in
        Python (some 20 µs a token, so a big vocabulary gives its most frequent words)."""
        first = sorted(vocab, key=vocab.get)[:WHOLE_WORD_CANDIDATES]
        words = dict.fromkeys(first)
        if self.suffix:
            words.update(
                dict.fromkeys(
                    token[: -len(self.suffix)] for token in first if token.endswith(self.suffix)
                )
            )
        keys, values = [""], [-1]  # the empty word is never looked up; a table needs a key
        prefixed, suffixed = bool(self.prefix), bool(self.suffix)
        for word in words:
            if not word:
                continue
            # Each character's token as merge_word decorates it: prefixed unless first,
            # suffixed if last.
            last = len(word) - 1
            ids = [
                characters[prefixed and index > 0, suffixed and index == last].get(character)
                for index, character in enumerate(word)
            ]
            if None in ids:
                continue
            merged = merge_word(ids, pairs, self.id_bits)
            if len(merged) == 1:
                keys.append(word)
                values.append(merged[0])
        return tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string), tf.constant(values, tf.int64)
            ),
            default_value=-1,
        )

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], where: str) -> BPE:
        unknown = sorted(set(spec) - set(_KNOWN_KEYS))
        if unknown:
            raise TokenizerSpecError(
                f"{where}: BPE option {unknown[0]!r} is not supported; supported are "
                + ", ".join(_KNOWN_KEYS)
            )
        dropout = option(spec, "dropout", (int, float, type(None)), where, None)
        if dropout not in (None, 0):
            raise TokenizerSpecError(
                f"{where}: dropout {dropout!r} is not supported; only null or 0 (dropout "
                "randomizes merges, for training only)"
            )
        # `cache_capacity` is read for its type only: a cache saves time, it changes no id.
        option(spec, "cache_capacity", (int, type(None)), where, None)
        vocab = option(spec, "vocab", dict, where)
        for token, token_id in vocab.items():
            if isinstance(token_id, bool) or not isinstance(token_id, int):
                raise TokenizerSpecError(
                    f"{where}: vocab[{token!r}] must be an integer id, got {token_id!r:.100}"
                )
        return cls(
            vocab,
            read_merges(option(spec, "merges", list, where), where),
            unk_token=option(spec, "unk_token", (str, type(None)), where, None),
            continuing_subword_prefix=option(
                spec, "continuing_subword_prefix", (str, type(None)), where, None
            ),
            end_of_word_suffix=option(spec, "end_of_word_suffix", (str, type(None)), where, None),
            fuse_unk=option(spec, "fuse_unk", (bool, type(None)), where, None) or False,
            byte_fallback=option(spec, "byte_fallback", (bool, type(None)), where, None) or False,
            ignore_merges=option(spec, "ignore_merges", (bool, type(None)), where, None) or False,
            where=where,
        )

    def vocabulary(self) -> list[str]:
        """The tokens by id; an id the vocabulary skips (added tokens often fill it) is ``""``."""
        tokens = [""] * self.id_range
        for token_id, token in self._tokens_by_id:
            tokens[token_id] = token
        return tokens

    # Graph ops, the merges an explicit tf.while_loop (``MergeRounds.merge_all``): AutoGraph
    # would only spend seconds of tracing converting them.
    @tf.autograph.experimental.do_not_convert
    def tokenize(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[words, (code points)]`` int32 → ``[words, (ids)]`` int64."""
        # A word known to be one token skips the merges: with ``ignore_merges`` any token
        # (`tokenize_with_cache` looks the undecorated word up first), else the words whose
        # merges were found to give one token when the model was built. Such a word is that one
        # token; the others are merged.
        return split_unless_whole(
            words,
            self._whole_words,
            lambda rest: self.merge_rounds.merge_all(self._initial_symbols(rest)),
        )

    def _initial_symbols(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """Each word as the ids of its characters, before any merge (``merge_word``)."""
        code_points = words.values
        # Code points a string cannot hold read as U+FFFD, as unicode_encode writes them.
        code_points = tf.where(
            (code_points >= 0) & (code_points < NUM_CODE_POINTS), code_points, REPLACEMENT
        )
        first = is_row_start(words) if self.prefix else None
        last = is_row_end(words) if self.suffix else None
        ids = None
        for (prefixed, suffixed), (blocks, pages) in self._character_ids.items():
            variant_ids = two_level_lookup(blocks, pages, code_points)
            if ids is None:  # the undecorated variant, first
                ids = variant_ids
                continue
            # Every character but a word's first gets the prefix; its last gets the suffix.
            uses = [~first if prefixed else first] if first is not None else []
            uses += [last if suffixed else ~last] if last is not None else []
            ids = tf.where(uses[0] & uses[1] if len(uses) == 2 else uses[0], variant_ids, ids)
        ids = tf.cast(ids, tf.int64)
        known = ids >= 0
        if self.byte_fallback:
            characters = tf.strings.unicode_encode(tf.expand_dims(code_points, 1), "UTF-8")
            pieces = [characters]
            if self.prefix:
                pieces.insert(0, tf.where(first, "", self.prefix))
            if self.suffix:
                pieces.append(tf.where(last, self.suffix, ""))
            decorated = tf.strings.join(pieces) if len(pieces) > 1 else characters
            return self._symbols_with_byte_fallback(words, decorated, ids)
        if not self.has_unk:
            return keep_where(words.with_values(ids), known)
        with tf.control_dependencies([self._check_unk_token(~known)]):
            ids = tf.where(known, ids, self.unk_id)
        if not self.fuse_unk:
            return words.with_values(ids)
        # A run of unknown characters is one unknown token: keep the first of each run.
        unknown_before = ~previous_values(known, True) & ~is_row_start(words)
        return keep_where(words.with_values(ids), known | ~unknown_before)

    def _symbols_with_byte_fallback(self, words, decorated, ids):
        """``merge_word`` with ``byte_fallback``: known characters, byte tokens, and unknown
        tokens emitted where `tokenizers` emits them (see the module docstring)."""
        known = ids >= 0
        unknown_strings = tf.boolean_mask(decorated, ~known)
        byte_strings = tf.strings.bytes_split(unknown_strings)
        byte_values = tf.reshape(tf.io.decode_raw(byte_strings.values, tf.uint8), [-1])
        byte_ids = tf.gather(self.byte_ids, tf.cast(byte_values, tf.int32))
        # The plain segment ops: ragged reductions cost rows × longest row.
        unknown_of_byte = row_ids(byte_strings)
        all_bytes_known = (
            tf.math.unsorted_segment_min(byte_ids, unknown_of_byte, tf.size(unknown_strings)) >= 0
        )
        unknown_positions = tf.where(~known)[:, 0]
        falls_back = _scatter_flags(unknown_positions, all_bytes_known, tf.size(known))
        fallback_lengths = tf.scatter_nd(
            tf.expand_dims(unknown_positions, 1),
            tf.where(all_bytes_known, byte_strings.row_lengths(), 0),
            tf.shape(known, out_type=tf.int64),
        )
        fallback_ids = tf.boolean_mask(byte_ids, tf.gather(all_bytes_known, unknown_of_byte))
        pieces = [
            _single_where(known, ids),
            tf.RaggedTensor.from_row_lengths(fallback_ids, fallback_lengths, validate=False),
        ]
        if self.has_unk:
            unknown = ~known & ~falls_back
            with tf.control_dependencies([self._check_unk_token(unknown)]):
                unk_before, unk_after = _pending_unknowns(words, known, unknown, self.fuse_unk)
            unk_id = tf.constant(self.unk_id, tf.int64)
            pieces = [
                _single_where(unk_before, unk_id),
                *pieces,
                _single_where(unk_after, unk_id),
            ]
        per_character = tf.concat(pieces, axis=1)
        return tf.RaggedTensor.from_row_splits(
            per_character.values,
            tf.gather(per_character.row_splits, words.row_splits),
            validate=False,
        )

    def _check_unk_token(self, unknown: tf.Tensor) -> tf.Operation:
        """`tokenizers` fails a word that needs an ``unk_token`` missing from the vocabulary."""
        if self.unk_id >= 0:
            return tf.no_op()
        return tf.debugging.Assert(
            ~tf.reduce_any(unknown),
            [
                f"BPE: the unk_token {self.unk_token} is not in the vocabulary, and a word has "
                "a character that needs it"
            ],
        )


def _single_where(condition: tf.Tensor, values: tf.Tensor) -> tf.RaggedTensor:
    """``[n, (0 or 1)]``: ``values`` (one per row, or one for all) where ``condition`` holds."""
    values = tf.broadcast_to(values, tf.shape(condition))
    return tf.RaggedTensor.from_row_lengths(
        tf.boolean_mask(values, condition), tf.cast(condition, tf.int64), validate=False
    )


def _pending_unknowns(words, known, unknown, fuse_unk):
    """Per character, whether an unknown token comes out just before its own tokens, and
    whether one comes out after them (at its word's end), as ``merge_word`` emits them: a pending
    unknown token is flushed by the next known character, or by the next unknown one when not
    fused, or by the word's end, and byte-fallback characters never flush it."""
    flushes = known | unknown
    flushing = tf.where(flushes)[:, 0]
    flushing_unknown = tf.gather(unknown, flushing)
    word_of_flushing = tf.gather(row_ids(words), flushing)
    same_word_before = tf.equal(word_of_flushing, previous_values(word_of_flushing, -1))
    after_unknown = same_word_before & previous_values(flushing_unknown, False)
    if fuse_unk:
        after_unknown &= ~flushing_unknown
    last_of_word = tf.not_equal(word_of_flushing, next_values(word_of_flushing, -1))
    count = tf.size(known)
    unk_before = _scatter_flags(flushing, after_unknown, count)
    # The word's pending unknown token is emitted after its last character's tokens.
    pending_at_end = _scatter_flags(
        tf.gather(words.row_limits(), tf.boolean_mask(word_of_flushing, last_of_word)) - 1,
        tf.boolean_mask(flushing_unknown, last_of_word),
        count,
    )
    return unk_before, pending_at_end


def _scatter_flags(indices: tf.Tensor, flags: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """``count`` bools, ``flags`` at the distinct ``indices`` and false elsewhere."""
    spread = tf.scatter_nd(tf.expand_dims(indices, 1), tf.cast(flags, tf.int32), [count])
    return spread > 0
