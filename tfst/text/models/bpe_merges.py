"""The merges of the ``BPE`` model (``Word::merge_all``), all words of a batch together.

`tokenizers` keeps a priority queue of adjacent pairs that have a merge, ordered by (rank,
position), and repeatedly merges the first one. Given the checks made when the model is built (one
token per id; every merge makes its left token longer), a queue entry that no longer describes the
current pair never passes its check (the merged token it expects is shorter than the current
pair's), so this is exactly: *merge the leftmost occurrence of the lowest-ranked pair, until no pair
has a rank*.

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
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from tfst.text.code_points import next_values, previous_values, row_ids

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
# The columns of a round's per-symbol facts (``MergeRounds._merges_of_round``), and the rows
# that pad them: no symbol, not merged, no rank, a word start.
_ID, _MERGED, _RANK, _MERGED_ID, _WORD_START = range(5)
_PADDING_FACTS = np.array([[0, 0, NO_RANK, 0, 1]] * 2, np.int64)


class MergeRounds(tf.Module):
    """A ``BPE`` model's merges and the rounds that apply them (module docstring).

    Args:
        pairs: ``bpe_vocab.merge_table``'s (left id, right id) → (rank, merged id), packed.
        id_range: one more than the highest token id.
        id_bits: the bits of one id in a packed key or value.
    """

    def __init__(self, pairs: Mapping[int, int], id_range: int, id_bits: int) -> None:
        super().__init__(name="merge_rounds")
        self.id_bits = id_bits
        # (left id, right id) → (rank, merged id), both packed in one int64 each way.
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(np.fromiter(pairs.keys(), np.int64, len(pairs))),
                tf.constant(np.fromiter(pairs.values(), np.int64, len(pairs))),
            ),
            default_value=NO_RANK << id_bits,
        )
        # Per token, the lowest rank of a merge that takes it as its left part, as its right
        # part, and as either (NO_RANK for none): the first two stop the certain merges' walks,
        # the third is checked on the merged token.
        as_left, as_right = _lowest_ranks_of_parts(pairs, id_range, id_bits)
        self.lowest_rank_as_left = tf.constant(as_left)
        self.lowest_rank_as_right = tf.constant(as_right)
        self.lowest_rank_as_part = tf.constant(np.minimum(as_left, as_right))

    def merge_all(self, symbols: tf.RaggedTensor) -> tf.RaggedTensor:
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
        kept = tf.where(~previous_values(merge_now, False))[:, 0]
        ids = tf.gather(tf.where(merge_now, merged_id, ids), kept)
        return ids, tf.gather(word_of_symbol, kept), tf.reduce_any(merge_now)

    def _pairs(self, ids, word_of_symbol):
        """Per symbol: whether it starts its word, whether its word goes on after it, and the
        rank (``NO_RANK`` if none) and merged id of the pair it starts."""
        word_start = tf.not_equal(word_of_symbol, previous_values(word_of_symbol, -1))
        has_next = tf.equal(word_of_symbol, next_values(word_of_symbol, -1))
        rank, merged_id = self.lookup_pairs(ids, next_values(ids, 0))
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
        link = tf.stack([previous_values(rank, -1), tf.reverse(rank, [0])])
        reach, through = stop, link  # over 1 symbol: the symbol's own stop, and its link
        for step in range(CHAIN_STEPS):
            width = 1 << step
            reach = tf.maximum(reach, tf.minimum(through, _from_before(reach, width, -1)))
            if step + 1 < CHAIN_STEPS:
                through = tf.minimum(through, _from_before(through, width, -1))
        left_reach, right_reach = tf.unstack(reach, num=2)
        right_reach_after = next_values(tf.reverse(right_reach, [0]), -1)
        return (
            (left_reach > rank)
            & (right_reach_after >= rank)
            & (tf.gather(self.lowest_rank_as_part, merged_id) > rank)
        )

    def lookup_pairs(self, left, right):
        """The rank (``NO_RANK`` if none) and merged id of each (left, right) pair."""
        packed = self.table.lookup(
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
        rank_before = previous_values(rank, NO_RANK)
        rank_after = next_values(rank, NO_RANK)
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
        merged_before = previous_values(on_slope_merged, False)
        merged_after = next_values(on_slope_merged, False)
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
        created_rank, _ = self.lookup_pairs(tf.stack([left, new_id]), tf.stack([new_id, right]))
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
