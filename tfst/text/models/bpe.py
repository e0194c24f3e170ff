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

The round also merges pair (x, y) of rank r, out of that order, when two walks succeed and
show that no merge before it in (rank, position) order can take x or y, so that the sequential
order merges them as they stand. Walking left from x, every pair passed ranks above r, up to a
word start or a symbol that no merge ranked r or below takes as its right part (whatever symbol
ends up to its left); walking right from y, every pair passed ranks r or above (an equal rank
further right comes later), up to a word end or a symbol that no merge ranked below r takes as
its left part. Each walk looks at most ``2**CHAIN_STEPS - 1`` pairs far; one that meets no stop
within them fails and the pair waits. Such a *certain* merge also needs every merge that takes the
merged token as either part to rank above r (checked per token; true of trained merges, where a
token is built before it is used): its new pairs then rank above every merge that precedes it, so
merging it early changes no other step. Two certain merges never share a symbol, and with the
prefix they all belong to the one sequential history. They matter in long words, where one pair
created early in the order stops the whole word's round while unrelated merges wait elsewhere in
it: on Japanese and Chinese runs of 40 to 200 byte-level symbols they halve the rounds, to near
the depth of the merge trees. A batch whose words all have at most ``CERTAIN_MERGES_FROM`` symbols
(before merging) merges without them: there they save no round and cost ops.

The lowest-ranked pair is always merged, so every round shortens every word still merging by at
least one symbol: the rounds are at most the symbols of the longest word, and memory stays linear
in the symbols. With trained merges the rounds are few (about the depth of the merge trees of a
word's tokens): 7 to 11 for random words of 5,000 to 11,000 characters with an 8,000-token
byte-level vocabulary. The bound is reached only by a table whose merges each need the one before
(``a b``, ``ab c``, ``abc d``, ...): a word of n such symbols takes n - 1 rounds of O(n) work,
as its merges cannot happen together (about 6 s for n = 5,000).

Most words of real text are one token. When the model is built, the first tokens by id (the
most frequent, for trained merges) spelled by known characters are merged once, in Python; a
word found among those that gave one token skips the initial symbols and the rounds of merging
(with ``ignore_merges``, any token does). Words of one symbol skip the loop, and a word with
nothing left to merge stays in it, inert: a round costs mostly op overhead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfst.text.code_point_maps import two_level_lookup
from tfst.text.code_points import (
    is_row_end,
    is_row_start,
    keep_where,
    row_ids,
)
from tfst.text.models.base import WHOLE_WORD_CANDIDATES, TokenizerModel, split_unless_whole
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

# A rank no merge has: pairs without a merge, and symbols that end their word.
NO_RANK = 2**31 - 1
# Multiplier that puts a rank above any symbol position in one int64 priority key.
POSITION_RANGE = 2**32
# Certain merges (module docstring): each walk covers up to 2**CHAIN_STEPS - 1 pairs, and a batch
# uses them when its longest word to merge has more than CERTAIN_MERGES_FROM symbols. Measured on
# multilingual batches of 32 (longest words 69 to 198 symbols): rounds 205 → 117 / 100 / 98 for
# 2 / 3 / 4 steps. Shorter words save few rounds for the ops they add: English batches (longest
# 14 to 27) none, and a 10,000-character Chinese paragraph (1,230 words of up to 39 symbols,
# 26,000 in all) 2 of 11, while its time went up by 12%.
CHAIN_STEPS = 3
CERTAIN_MERGES_FROM = 64
# The columns of a round's per-symbol facts (``BPE._merges_of_round``), and the rows that pad
# them: no symbol, not merged, no rank, a word start.
_ID, _MERGED, _RANK, _MERGED_ID, _WORD_START = range(5)
_PADDING_FACTS = np.array([[0, 0, NO_RANK, 0, 1]] * 2, np.int64)

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
        # Per token, the lowest rank of a merge that takes it as its left part, as its right
        # part, and as either (NO_RANK for none): the first two stop the certain merges' walks,
        # the third is checked on the merged token.
        as_left, as_right = _lowest_ranks_of_parts(pairs, self.id_range, self.id_bits)
        self.lowest_rank_as_left = tf.constant(as_left)
        self.lowest_rank_as_right = tf.constant(as_right)
        self.lowest_rank_as_part = tf.constant(np.minimum(as_left, as_right))
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
                tf.constant(np.fromiter(pairs.keys(), np.int64, len(pairs))),
                tf.constant(np.fromiter(pairs.values(), np.int64, len(pairs))),
            ),
            default_value=NO_RANK << self.id_bits,
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

    # Written in graph ops with an explicit tf.while_loop: AutoGraph would only spend seconds
    # of tracing converting it.
    @tf.autograph.experimental.do_not_convert
    def tokenize(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[words, (code points)]`` int32 → ``[words, (ids)]`` int64."""
        # A word known to be one token skips the merges: with ``ignore_merges`` any token
        # (`tokenize_with_cache` looks the undecorated word up first), else the words whose
        # merges were found to give one token when the model was built. Such a word is that one
        # token; the others are merged.
        return split_unless_whole(
            words, self._whole_words, lambda rest: self._merge_all(self._initial_symbols(rest))
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
        symbol_word = row_ids(symbols)
        # Words of one symbol have no pair (single characters; words found whole arrive empty):
        # they skip the loop. The others stay in it to the end, a word with nothing left to merge
        # being inert: a round is mostly op overhead, so carrying them costs less than taking them
        # out.
        in_loop = tf.gather(symbols.row_lengths() > 1, symbol_word)
        looped = tf.where(in_loop)[:, 0]
        skipped = tf.where(~in_loop)[:, 0]

        word_count = symbols.nrows()
        start = (tf.gather(symbols.values, looped), tf.gather(symbol_word, looped))

        def merge_rounds(with_certain_merges: bool):
            ids, word_of_id, _ = tf.while_loop(
                lambda ids, word_of_symbol, merged: merged,
                lambda ids, word_of_symbol, _: self._merge_round(
                    ids, word_of_symbol, word_count, with_certain_merges
                ),
                (*start, tf.size(looped) > 0),
                shape_invariants=(
                    tf.TensorShape([None]),
                    tf.TensorShape([None]),
                    tf.TensorShape([]),
                ),
            )
            return ids, word_of_id

        # Symbols before any merge, not characters, decide.
        ids, word_of_id = tf.cond(
            tf.reduce_any(symbols.row_lengths() > CERTAIN_MERGES_FROM),
            lambda: merge_rounds(True),
            lambda: merge_rounds(False),
        )
        ids = tf.concat([ids, tf.gather(symbols.values, skipped)], axis=0)
        word_of_id = tf.concat([word_of_id, tf.gather(symbol_word, skipped)], axis=0)
        # Within a word, ids stay in order.
        order = tf.argsort(word_of_id, stable=True)
        return tf.RaggedTensor.from_value_rowids(
            tf.gather(ids, order), tf.gather(word_of_id, order), symbols.nrows(), validate=False
        )

    def _merge_round(self, ids, word_of_symbol, word_count, with_certain_merges):
        """One round over the symbols of every word, all words concatenated: the symbols after
        it, their words, and whether anything was merged. ``word_of_symbol`` numbers each
        symbol's word (below ``word_count``), in order. ``with_certain_merges`` adds the certain
        merges (module docstring) to the proved prefix."""
        word_start, has_next, rank, merged_id = self._pairs(ids, word_of_symbol)
        merge_now = self._merges_of_round(
            ids, rank, merged_id, word_start, word_of_symbol, word_count
        )
        if with_certain_merges:
            merge_now |= self._certain_merges(ids, rank, merged_id, word_start, has_next)
        kept = tf.where(~_previous(merge_now, False))[:, 0]
        ids = tf.gather(tf.where(merge_now, merged_id, ids), kept)
        return ids, tf.gather(word_of_symbol, kept), tf.reduce_any(merge_now)

    def _pairs(self, ids, word_of_symbol):
        """Per symbol: whether it starts its word, whether its word goes on after it, and the
        rank (``NO_RANK`` if none) and merged id of the pair it starts."""
        word_start = tf.not_equal(word_of_symbol, _previous(word_of_symbol, -1))
        has_next = tf.equal(word_of_symbol, _next(word_of_symbol, -1))
        rank, merged_id = self._lookup_pairs(ids, _next(ids, 0))
        return word_start, has_next, tf.where(has_next, rank, NO_RANK), merged_id

    def _certain_merges(self, ids, rank, merged_id, word_start, has_next):
        """Which pairs (by their first symbol) are certain merges (module docstring).

        A walk's reach at a symbol is the highest, over the stops within its range, of the lowest
        bar met on the way there (the stop's own bar, the ranks of the pairs passed), -1 if none:
        pair (x, y) of rank r is certain when the reach left from x is above r, the reach right
        from y is at least r, and every merge using the merged token ranks above r. Both walks
        run together as rows of one matrix, the rightward one reversed (there the link at a
        symbol is the pair it starts), and each step doubles the symbols they cover."""
        any_rank = tf.constant(NO_RANK, tf.int64)
        # A symbol stops the leftward walk if it starts its word, or for ranks r below the lowest
        # rank of a merge taking it as a right part; the walk goes on to the symbol before through
        # their pair, for ranks r below that pair's. Mirrored (and with "at most") rightwards. A
        # word's edge stops every walk at any rank, and the pair across it has none, so what
        # lies beyond it never counts.
        stop = tf.stack(
            [
                tf.where(word_start, any_rank, tf.gather(self.lowest_rank_as_right, ids)),
                tf.reverse(
                    tf.where(has_next, tf.gather(self.lowest_rank_as_left, ids), any_rank), [0]
                ),
            ]
        )
        link = tf.stack([_previous(rank, -1), tf.reverse(rank, [0])])
        reach, through = stop, link  # over 1 symbol: the symbol's own stop, and its link
        for step in range(CHAIN_STEPS):
            width = 1 << step
            reach = tf.maximum(reach, tf.minimum(through, _from_before(reach, width, -1)))
            if step + 1 < CHAIN_STEPS:
                through = tf.minimum(through, _from_before(through, width, -1))
        left_reach, right_reach = tf.unstack(reach, num=2)
        right_reach_after = _next(tf.reverse(right_reach, [0]), -1)
        return (
            (left_reach > rank)
            & (right_reach_after >= rank)
            & (tf.gather(self.lowest_rank_as_part, merged_id) > rank)
        )

    def _lookup_pairs(self, left, right):
        """The rank (``NO_RANK`` if none) and merged id of each (left, right) pair."""
        packed = self.merge_table.lookup(
            tf.bitwise.bitwise_or(tf.bitwise.left_shift(left, self.id_bits), right)
        )
        return (
            tf.bitwise.right_shift(packed, self.id_bits),
            tf.bitwise.bitwise_and(packed, (1 << self.id_bits) - 1),
        )

    def _merges_of_round(self, ids, rank, merged_id, word_start, word_index, word_count):
        """Which pairs (by their first symbol) one round merges; see the module docstring.

        ``rank``/``merged_id`` describe the pair each symbol starts, ``word_start`` marks each
        word's first symbol and ``word_index`` numbers the words (below ``word_count``, not
        necessarily all present); a word without a ranked pair merges nothing.
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
            & (~earlier_before | _is_even(position - minimum_before))
            & (~earlier_after | _is_even(minimum_after - position))
        )
        # A peak's neighbours are never peaks: it is merged if neither of them is.
        merged_before = _previous(on_slope_merged, False)
        merged_after = _next(on_slope_merged, False)
        peak = earlier_before & earlier_after
        merged = tf.where(peak, has_rank & ~merged_before & ~merged_after, on_slope_merged)

        # The pairs each merge creates, with the symbols around it at its turn. Each symbol's
        # facts in one row, padded by two rows on each side, so row q + 2 reads pair q's.
        merges = tf.where(merged)[:, 0]
        facts = tf.concat(
            [
                _PADDING_FACTS,
                tf.stack(
                    [
                        ids,
                        tf.cast(merged, tf.int64),
                        rank,
                        merged_id,
                        tf.cast(word_start, tf.int64),
                    ],
                    axis=1,
                ),
                _PADDING_FACTS,
            ],
            axis=0,
        )
        two_before = tf.unstack(tf.gather(facts, merges), num=5, axis=1)
        one_before = tf.unstack(tf.gather(facts, merges + 1), num=5, axis=1)
        here = tf.unstack(tf.gather(facts, merges + 2), num=5, axis=1)
        two_after = tf.unstack(tf.gather(facts, merges + 4), num=5, axis=1)
        merge_rank, new_id = here[_RANK], here[_MERGED_ID]
        # The symbol before a merge is the one merged two pairs back, if that came earlier.
        left_earlier = (two_before[_MERGED] > 0) & (two_before[_RANK] <= merge_rank)
        left = tf.where(left_earlier, two_before[_MERGED_ID], one_before[_ID])
        right_earlier = (two_after[_MERGED] > 0) & (two_after[_RANK] < merge_rank)
        right = tf.where(right_earlier, two_after[_MERGED_ID], two_after[_ID])
        has_left = tf.equal(here[_WORD_START], 0)
        has_right = tf.equal(two_after[_WORD_START], 0)
        # The lower of the two created ranks, the left pair's then the right pair's in rows.
        created_rank, _ = self._lookup_pairs(tf.stack([left, new_id]), tf.stack([new_id, right]))
        created_rank = tf.reduce_min(
            tf.where(tf.stack([has_left, has_right]), created_rank, NO_RANK), axis=0
        )
        # Stop before the first pair, in priority order, not ranked below every created pair.
        priority = rank * POSITION_RANGE + position
        merge_priority = tf.gather(priority, merges)
        cut = tf.maximum(merge_priority + 1, created_rank * POSITION_RANGE)
        word_cut = tf.math.unsorted_segment_min(cut, tf.gather(word_index, merges), word_count)
        return merged & (priority < tf.gather(word_cut, word_index))


def _lowest_ranks_of_parts(
    pairs: Mapping[int, int], id_range: int, id_bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per token id, the lowest rank of a merge (``merge_table``'s packed pairs) whose left
    part it is, and of one whose right part it is; ``NO_RANK`` where there is none."""
    keys = np.fromiter(pairs.keys(), np.int64, len(pairs))
    ranks = np.fromiter(pairs.values(), np.int64, len(pairs)) >> id_bits
    as_left = np.full(id_range, NO_RANK, np.int64)
    as_right = np.full(id_range, NO_RANK, np.int64)
    np.minimum.at(as_left, keys >> id_bits, ranks)
    np.minimum.at(as_right, keys & ((1 << id_bits) - 1), ranks)
    return as_left, as_right


def _from_before(values: tf.Tensor, width: int, fill) -> tf.Tensor:
    """Each row of a matrix (of a row count known when tracing) moved ``width`` places right,
    ``fill`` coming in."""
    padding = tf.constant(np.full([values.shape[0], width], fill), values.dtype)
    return tf.concat([padding, values], axis=1)[:, :-width]


def _is_even(values: tf.Tensor) -> tf.Tensor:
    """Whether each of some integers is even (a bit test: int64 modulo is slow)."""
    return tf.equal(tf.bitwise.bitwise_and(values, 1), 0)


def _previous(values: tf.Tensor, fill) -> tf.Tensor:
    """Each element's predecessor in a 1-D tensor; ``fill`` for the first."""
    return tf.concat([tf.constant([fill], values.dtype), values], axis=0)[:-1]


def _next(values: tf.Tensor, fill) -> tf.Tensor:
    """Each element's successor in a 1-D tensor; ``fill`` for the last."""
    return tf.concat([values, tf.constant([fill], values.dtype)], axis=0)[1:]


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
