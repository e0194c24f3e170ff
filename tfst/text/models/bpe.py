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

**Merges** (``Word::merge_all``). `tokenizers` keeps a priority queue of adjacent pairs that have
a merge, ordered by (rank, position), and repeatedly merges the first one. Given the checks made
when the model is built (one token per id; every merge makes its left token longer), a queue
entry that no longer describes the current pair never passes its check (the merged token it
expects is shorter than the current pair's), so this is exactly: *merge the leftmost occurrence
of the lowest-ranked pair, until no pair has a rank*.

Here all words are merged together in rounds of a ``tf.while_loop``. One hash-table lookup gives
the rank of every adjacent pair of every word; words without a rank are done and leave the loop,
so a round costs time in proportion to the symbols of the words still merging. Within a word, a
round merges as long a prefix of that sequential order as can be proved from the current ranks:

- a pair whose rank is lower than its neighbours' ranks would be merged; along a slope of ranks
  falling towards such a local minimum the pairs alternate between merged and destroyed (a pair
  is destroyed when a neighbour that comes earlier is merged: its symbol is gone), and a peak is
  merged when neither neighbour is;
- a merge creates two new pairs with the merged symbol. The round stops before the first pair,
  in (rank, position) order, whose rank is not below every rank created so far: from there the
  sequential order may take a created pair first.

The lowest-ranked pair is always merged, so every round shortens every word still merging by at
least one symbol: the rounds are at most the symbols of the longest word, and memory stays linear
in the symbols. With trained merges the rounds are few (about the depth of the merge trees of a
word's tokens): 7 to 11 for random words of 5,000 to 11,000 characters with an 8,000-token
byte-level vocabulary. The bound is reached only by a table whose merges each need the one before
(``a b``, ``ab c``, ``abc d``, ...): a word of n such symbols takes n - 1 rounds of O(n) work,
as its merges cannot happen together (about 6 s for n = 5,000).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfst.text.code_points import encode_utf8, is_row_end, is_row_start, keep_where, row_ids
from tfst.text.models.base import TokenizerModel
from tfst.text.spec import TokenizerSpecError, option

# A rank no merge has: pairs without a merge, and symbols that end their word.
NO_RANK = 2**31 - 1
# Multiplier that puts a rank above any symbol position in one int64 priority key.
POSITION_RANGE = 2**32

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


def parse_merge_line(line: str, where: str) -> tuple[str, str]:
    """One merge in its legacy form, ``"left right"``: exactly one space, as `tokenizers`'
    ``convert_merges_to_hashmap`` splits it (tokens may be empty, never contain a space)."""
    parts = line.split(" ")
    if len(parts) != 2:
        raise TokenizerSpecError(
            f"{where}: a merge must be two tokens separated by one space, got {line!r:.100}"
        )
    return parts[0], parts[1]


def byte_token(byte: int) -> str:
    """The ``byte_fallback`` token of one byte, as `tokenizers` spells it: ``<0x0A>``."""
    return f"<0x{byte:02X}>"


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
        _check_ids(vocab, where)
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
        # Ids are below 2**31, so `id_range` packs two of them into an int64.
        self.id_range = self._tokens_by_id[-1][0] + 1 if vocab else 1
        byte_ids = [vocab.get(byte_token(byte), -1) for byte in range(256)]
        # A word can lose all its characters only if one can be neither a token, nor its bytes,
        # nor the unknown token (a missing unk_token raises instead).
        can_vanish = not self.has_unk and not (byte_fallback and min(byte_ids) >= 0)
        self.min_tokens_per_word = 0 if can_vanish else 1

        if merge_places is None:
            merge_places = [f"{where}: merges[{rank}]" for rank in range(len(merges))]
        pair_keys, pair_values = _merge_table(
            vocab, merges, merge_places, self.prefix, self.id_range
        )
        self.token_ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(vocab.keys()), tf.string),
                tf.constant(list(vocab.values()), tf.int64),
            ),
            default_value=-1,
        )
        # (left id, right id) → (rank, merged id), both packed in one int64 each way.
        self.merge_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(pair_keys, tf.int64), tf.constant(pair_values, tf.int64)
            ),
            default_value=-1,
        )
        self.byte_ids = tf.constant(byte_ids, tf.int64)

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
            _read_merges(option(spec, "merges", list, where), where),
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

    # Written in graph ops with an explicit tf.while_loop: AutoGraph would only spend seconds
    # of tracing converting it.
    @tf.autograph.experimental.do_not_convert
    def tokenize(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[words, (code points)]`` int32 → ``[words, (ids)]`` int64."""
        if not self.ignore_merges:
            return self._merge_all(self._initial_symbols(words))
        # `tokenize_with_cache`: the undecorated word looked up whole, before any merge; the
        # words found are emptied for the merging path.
        whole_ids = self.token_ids.lookup(encode_utf8(words))
        is_token = (whole_ids >= 0) & (words.row_lengths() > 0)
        words = keep_where(words, ~tf.gather(is_token, row_ids(words)))
        whole = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(whole_ids, is_token), tf.cast(is_token, tf.int64), validate=False
        )
        return tf.concat([whole, self._merge_all(self._initial_symbols(words))], axis=1)

    def _initial_symbols(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """Each word as the ids of its characters, before any merge (``merge_word``)."""
        code_points = words.values
        characters = tf.strings.unicode_encode(tf.expand_dims(code_points, 1), "UTF-8")
        pieces = [characters]
        if self.prefix:
            pieces.insert(0, tf.where(is_row_start(words), "", self.prefix))
        if self.suffix:
            pieces.append(tf.where(is_row_end(words), self.suffix, ""))
        decorated = tf.strings.join(pieces) if len(pieces) > 1 else characters
        ids = self.token_ids.lookup(decorated)
        known = ids >= 0
        if self.byte_fallback:
            return self._symbols_with_byte_fallback(words, decorated, ids)
        if not self.has_unk:
            return keep_where(words.with_values(ids), known)
        with tf.control_dependencies([self._check_unk_token(~known)]):
            ids = tf.where(known, ids, self.unk_id)
        if not self.fuse_unk:
            return words.with_values(ids)
        # A run of unknown characters is one unknown token: keep the first of each run.
        unknown_before = ~_previous(known, True) & ~is_row_start(words)
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

    def _merge_all(self, symbols: tf.RaggedTensor) -> tf.RaggedTensor:
        """Merge every word's symbols until no adjacent pair has a rank (``Word::merge_all``)."""
        # Finished words, round by round; the first (empty) entry makes `concat` always valid.
        nothing = tf.zeros([0], tf.int64)
        done_ids = tf.TensorArray(tf.int64, size=1, dynamic_size=True, infer_shape=False)
        done_words = tf.TensorArray(tf.int64, size=1, dynamic_size=True, infer_shape=False)
        done_ids, done_words = done_ids.write(0, nothing), done_words.write(0, nothing)

        def merge_round(ids, word_of_symbol, done_ids, done_words):
            rank, merged_id = self._pair_ranks(ids, word_of_symbol)
            word_start = tf.not_equal(word_of_symbol, _previous(word_of_symbol, -1))
            word_index = tf.cumsum(tf.cast(word_start, tf.int64)) - 1
            word_count = word_index[-1] + 1
            merging = tf.gather(
                tf.math.unsorted_segment_min(rank, word_index, word_count) < NO_RANK, word_index
            )
            slot = done_ids.size()
            done_ids = done_ids.write(slot, tf.boolean_mask(ids, ~merging))
            done_words = done_words.write(slot, tf.boolean_mask(word_of_symbol, ~merging))
            ids, word_of_symbol, rank, merged_id, word_start = (
                tf.boolean_mask(tensor, merging)
                for tensor in (ids, word_of_symbol, rank, merged_id, word_start)
            )
            merge_now = self._merges_of_round(ids, rank, merged_id, word_start)
            removed = _previous(merge_now, False)
            ids = tf.boolean_mask(tf.where(merge_now, merged_id, ids), ~removed)
            return ids, tf.boolean_mask(word_of_symbol, ~removed), done_ids, done_words

        _, _, done_ids, done_words = tf.while_loop(
            lambda ids, *_: tf.size(ids) > 0,
            merge_round,
            (symbols.values, row_ids(symbols), done_ids, done_words),
            shape_invariants=(
                tf.TensorShape([None]),
                tf.TensorShape([None]),
                tf.TensorShape(None),
                tf.TensorShape(None),
            ),
        )
        ids, word_of_id = done_ids.concat(), done_words.concat()
        # Rounds finish words out of order; within a word, ids stay in order.
        order = tf.argsort(word_of_id, stable=True)
        return tf.RaggedTensor.from_value_rowids(
            tf.gather(ids, order), tf.gather(word_of_id, order), symbols.nrows(), validate=False
        )

    def _pair_ranks(self, ids, word_of_symbol):
        """For each symbol, the rank and merged id of the pair it starts (``NO_RANK`` if none)."""
        has_next = tf.equal(word_of_symbol, _next(word_of_symbol, -1))
        rank, merged_id = self._lookup_pairs(ids, _next(ids, 0))
        return tf.where(has_next, rank, NO_RANK), merged_id

    def _lookup_pairs(self, left, right):
        packed = self.merge_table.lookup(left * self.id_range + right)
        rank = tf.where(packed >= 0, packed // self.id_range, NO_RANK)
        return rank, packed % self.id_range

    def _merges_of_round(self, ids, rank, merged_id, word_start):
        """Which pairs (by their first symbol) one round merges; see the module docstring.

        ``rank``/``merged_id`` describe the pair each symbol starts, ``word_start`` marks each
        word's first symbol; every word has at least one pair with a rank.
        """
        count = tf.size(ids, out_type=tf.int64)
        position = tf.range(count)
        rank_before = _previous(rank, NO_RANK)
        rank_after = _next(rank, NO_RANK)
        has_rank = rank < NO_RANK
        # Priority is (rank, position): an equal rank to the left comes first.
        earlier_before = rank_before <= rank
        earlier_after = rank_after < rank
        # Along a slope the nearest local minimum is where the slope's run of flags starts.
        slope_start = ~earlier_before | tf.equal(position, 0)
        minimum_before = tf.gather(
            tf.where(slope_start)[:, 0], tf.cumsum(tf.cast(slope_start, tf.int64)) - 1
        )
        slope_end = ~earlier_after
        minimum_after = tf.gather(
            tf.where(slope_end)[:, 0], tf.cumsum(tf.cast(slope_end, tf.int64), exclusive=True)
        )
        on_slope_merged = (
            has_rank
            & (~earlier_before | tf.equal((position - minimum_before) % 2, 0))
            & (~earlier_after | tf.equal((minimum_after - position) % 2, 0))
        )
        # A peak's neighbours are never peaks: it is merged if neither of them is.
        merged_before = _previous(on_slope_merged, False)
        merged_after = _next(on_slope_merged, False)
        peak = earlier_before & earlier_after
        merged = tf.where(peak, has_rank & ~merged_before & ~merged_after, on_slope_merged)

        # The pairs each merge creates, with the symbols around it at its turn. Arrays are
        # padded by two on each side, so index q + 2 reads pair q's neighbourhood.
        merges = tf.where(merged)[:, 0]
        merge_rank = tf.gather(rank, merges)
        new_id = tf.gather(merged_id, merges)
        ids_around = _pad_by_two(ids, 0)
        merged_around = _pad_by_two(merged, False)
        rank_around = _pad_by_two(rank, NO_RANK)
        merged_id_around = _pad_by_two(merged_id, 0)
        # The symbol before a merge is the one merged two pairs back, if that came earlier.
        left_earlier = tf.gather(merged_around, merges) & (
            tf.gather(rank_around, merges) <= merge_rank
        )
        left = tf.where(
            left_earlier, tf.gather(merged_id_around, merges), tf.gather(ids_around, merges + 1)
        )
        right_earlier = tf.gather(merged_around, merges + 4) & (
            tf.gather(rank_around, merges + 4) < merge_rank
        )
        right = tf.where(
            right_earlier,
            tf.gather(merged_id_around, merges + 4),
            tf.gather(ids_around, merges + 4),
        )
        starts_around = _pad_by_two(word_start, True)
        has_left = ~tf.gather(starts_around, merges + 2)
        has_right = ~tf.gather(starts_around, merges + 4)
        created_rank, _ = self._lookup_pairs(
            tf.concat([left, new_id], axis=0), tf.concat([new_id, right], axis=0)
        )
        merge_count = tf.size(merges)
        created_rank = tf.minimum(
            tf.where(has_left, created_rank[:merge_count], NO_RANK),
            tf.where(has_right, created_rank[merge_count:], NO_RANK),
        )
        # Stop before the first pair, in priority order, not ranked below every created pair.
        priority = rank * POSITION_RANGE + position
        merge_priority = tf.gather(priority, merges)
        cut = tf.maximum(merge_priority + 1, created_rank * POSITION_RANGE)
        word_index = tf.cumsum(tf.cast(word_start, tf.int64)) - 1
        word_count = tf.reduce_sum(tf.cast(word_start, tf.int64))
        word_cut = tf.math.unsorted_segment_min(cut, tf.gather(word_index, merges), word_count)
        return merged & (priority < tf.gather(word_cut, word_index))


def _previous(values: tf.Tensor, fill) -> tf.Tensor:
    """Each element's predecessor in a 1-D tensor; ``fill`` for the first."""
    return tf.concat([tf.constant([fill], values.dtype), values], axis=0)[:-1]


def _next(values: tf.Tensor, fill) -> tf.Tensor:
    """Each element's successor in a 1-D tensor; ``fill`` for the last."""
    return tf.concat([values, tf.constant([fill], values.dtype)], axis=0)[1:]


def _pad_by_two(values: tf.Tensor, fill) -> tf.Tensor:
    padding = tf.fill([2], tf.constant(fill, values.dtype))
    return tf.concat([padding, values, padding], axis=0)


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
    same_word_before = tf.equal(word_of_flushing, _previous(word_of_flushing, -1))
    after_unknown = same_word_before & _previous(flushing_unknown, False)
    if fuse_unk:
        after_unknown &= ~flushing_unknown
    last_of_word = tf.not_equal(word_of_flushing, _next(word_of_flushing, -1))
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


def _check_ids(vocab: Mapping[str, int], where: str) -> None:
    """Refuses tokens that are not Unicode text, ids out of range, and ids shared by two tokens:
    `tokenizers` finds merges by the ids of their parts, and its merge order is only reproduced
    with one token per id."""
    holder: dict[int, str] = {}
    for token, token_id in vocab.items():
        if not token.isascii():
            try:
                token.encode()
            except UnicodeEncodeError:
                raise TokenizerSpecError(
                    f"{where}: vocab token {token!r} is not valid Unicode (a lone surrogate)"
                ) from None
        if not 0 <= token_id < 2**31:
            raise TokenizerSpecError(
                f"{where}: vocab[{token!r}] is {token_id}; tfst supports ids in [0, 2**31)"
            )
        if token_id in holder:
            raise TokenizerSpecError(
                f"{where}: tokens {holder[token_id]!r} and {token!r} share id {token_id}; "
                "tfst needs one token per id"
            )
        holder[token_id] = token


def _read_merges(items: list, where: str) -> list[tuple[str, str]]:
    """Merges in either ``tokenizer.json`` form: ``["a", "b"]`` pairs or ``"a b"`` strings
    (where, as in merges.txt, lines starting with ``#version`` are skipped)."""
    if all(isinstance(item, list) for item in items):
        for index, item in enumerate(items):
            if len(item) != 2 or not all(isinstance(part, str) for part in item):
                raise TokenizerSpecError(
                    f"{where}: merges[{index}] must be two strings, got {item!r:.100}"
                )
        return [(left, right) for left, right in items]
    if all(isinstance(item, str) for item in items):
        return [
            parse_merge_line(item, f"{where}: merges[{index}]")
            for index, item in enumerate(items)
            if not item.startswith("#version")
        ]
    raise TokenizerSpecError(
        f'{where}: merges must be all strings ("a b") or all pairs (["a", "b"])'
    )


def _merge_table(vocab, merges, merge_places, prefix, id_range):
    """Packed keys and values of the (left id, right id) → (rank, merged id) table.

    Spells each merged token as ``BpeBuilder::build`` does: the left token, then the right token
    without its first ``len(prefix)`` bytes. Refuses what `tokenizers` refuses (tokens out of the
    vocabulary, a right token shorter than the prefix) and a right token no longer than the
    prefix, whose merge would not lengthen the token (the merge order argument needs it).
    """
    prefix_bytes = len(prefix.encode())
    table: dict[int, int] = {}
    for rank, ((left, right), place) in enumerate(zip(merges, merge_places, strict=True)):
        place = f"{place} ({left!r} {right!r})"
        for part in (left, right):
            if part not in vocab:
                raise TokenizerSpecError(f"{place}: token {part!r} is not in the vocab")
        right_bytes = right.encode()
        if len(right_bytes) <= prefix_bytes:
            raise TokenizerSpecError(
                f"{place}: the right token must be longer than the continuing_subword_prefix "
                f"{prefix!r}"
            )
        try:
            merged = left + right_bytes[prefix_bytes:].decode()
        except UnicodeDecodeError:
            merged = None
        if merged not in vocab:
            raise TokenizerSpecError(f"{place}: the merged token {merged!r} is not in the vocab")
        # A repeated pair takes its last rank, as the map `tokenizers` collects them in does.
        table[vocab[left] * id_range + vocab[right]] = rank * id_range + vocab[merged]
    keys = np.fromiter(table.keys(), np.int64, len(table))
    values = np.fromiter(table.values(), np.int64, len(table))
    return keys, values
