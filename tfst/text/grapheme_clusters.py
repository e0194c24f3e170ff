"""Extended grapheme clusters (Unicode UAX #29) of whole batches of code points.

The ``Precompiled`` normalizer of Hugging Face `tokenizers` walks the text one extended grapheme
cluster at a time, as the Rust ``unicode-segmentation`` crate (1.13, Unicode 17.0) cuts it. This
module finds the same cluster starts with vectorized ops: every rule of UAX #29 compares a code
point with the one before it, and the three rules that look further back (GB9c Indic conjuncts,
GB11 emoji ZWJ sequences, GB12/GB13 regional indicator pairs) only need the position of the last
code point of some kind before each one, found for all code points at once by counting.

Each code point has one ``category`` (the crate's ``GraphemeCat``: its Grapheme_Cluster_Break
value, or Extended_Pictographic, or InCB=Consonant; the three never overlap) and two Indic conjunct
flags. They are stored in ``grapheme_break.npz``, written by ``tests/generate_grapheme_tables.py``
from Unicode 17.0 data and checked code point by code point against `tokenizers` by
``tests/text/test_precompiled.py``.
"""

from __future__ import annotations

import functools
import pathlib

import numpy as np
import tensorflow as tf

from tfst.text.code_point_maps import CodePointProperty
from tfst.text.code_points import next_values, previous_values, row_ids

TABLE_PATH = pathlib.Path(__file__).with_name("grapheme_break.npz")

# Categories, the low bits of the stored property. Control is 0 because placeholders read
# property 0 (``CodePointProperty``): an added token then breaks clusters on both sides, the same
# as the text on either side being separate strings.
CONTROL = 0
OTHER = 1
CR = 2
LF = 3
EXTEND = 4
ZWJ = 5
REGIONAL_INDICATOR = 6
PREPEND = 7
SPACING_MARK = 8
HANGUL_L = 9
HANGUL_V = 10
HANGUL_T = 11
HANGUL_LV = 12
HANGUL_LVT = 13
EXTENDED_PICTOGRAPHIC = 14
INCB_CONSONANT = 15
CATEGORY_MASK = 0x0F
# Indic_Conjunct_Break flags (GB9c): the code points allowed between two conjoined consonants.
INCB_EXTEND = 0x10
INCB_LINKER = 0x20
# Every joining rule of UAX #29 needs one of two things. The code point before the boundary is of
# one of these categories (GB3 a CR, GB6-GB8 a Hangul L, V, T, LV or LVT, GB9b a Prepend, GB11 a
# ZWJ, GB12/GB13 a regional indicator) or carries an Indic conjunct flag (GB9c: a Linker or an
# Extend between the conjoined consonants)... GB9c and GB11 never join a cluster's first code
# point to the next (both need one before it in the cluster); listing theirs anyway only sends
# a few more batches down the cluster path.
JOINS_NEXT = (
    CR,
    HANGUL_L,
    HANGUL_V,
    HANGUL_T,
    HANGUL_LV,
    HANGUL_LVT,
    PREPEND,
    ZWJ,
    REGIONAL_INDICATOR,
)
# ...or the code point after it is of one of these (GB9 Extend or ZWJ, GB9a SpacingMark).
JOINS_PREVIOUS = (EXTEND, ZWJ, SPACING_MARK)
# Bits of the per-code-point flags `GraphemeClusters.all_single` reads: a leader that can join the
# next code point; a leader; a code point that can join the previous one (one bit above a leader,
# so that shifting the next code point's flags right by one lines it up with this one's).
_LEADER_JOINS_NEXT = 1
_LEADER = 2
_JOINS_PREVIOUS = 4


@functools.cache
def load_grapheme_properties() -> np.ndarray:
    """The stored property (category | flags) of every code point, read once per process."""
    with np.load(TABLE_PATH) as archive:
        return archive["properties"]


def _is_any(category: tf.Tensor, *values: int) -> tf.Tensor:
    result = tf.equal(category, values[0])
    for value in values[1:]:
        result |= tf.equal(category, value)
    return result


def _last_position_before(stops: tf.Tensor) -> tf.Tensor:
    """For each position, the largest earlier position where ``stops`` holds, or -1.

    Core TensorFlow has no cumulative maximum; the count of stops before each position indexes
    the list of stop positions (after a -1 for "none") instead.
    """
    stop_positions = tf.concat([[-1], tf.where(stops)[:, 0]], axis=0)
    return tf.gather(stop_positions, tf.cumsum(tf.cast(stops, tf.int64), exclusive=True))


class GraphemeClusters(tf.Module):
    """Finds where extended grapheme clusters start in a ``[texts, (code points)]`` batch.

    Each text is segmented on its own (no rule looks across a text start), and added-token
    placeholders are clusters of their own that no rule looks across either.
    """

    def __init__(self, leaders: np.ndarray | None = None):
        """``leaders``: bool per code point, the code points whose clusters :meth:`all_single`
        is asked about (None: every code point)."""
        super().__init__(name="grapheme_clusters")
        properties = load_grapheme_properties().astype(np.int32)
        self._property = CodePointProperty(properties)
        category = properties & CATEGORY_MASK
        joins_next = np.isin(category, JOINS_NEXT) | (
            (properties & (INCB_EXTEND | INCB_LINKER)) != 0
        )
        if leaders is None:
            leaders = np.ones(len(properties), bool)
        leaders = leaders.copy()
        # U+0000's value must be 0 (placeholders read it); NUL, a control, joins nothing anyway.
        leaders[0] = False
        flags = (
            (leaders & joins_next) * _LEADER_JOINS_NEXT
            + leaders * _LEADER
            + np.isin(category, JOINS_PREVIOUS) * _JOINS_PREVIOUS
        )
        self._flags = CodePointProperty(flags.astype(np.int32))

    def all_single(self, texts: tf.RaggedTensor) -> tf.Tensor:
        """Scalar bool, true when no leader of the batch can share a cluster with the code point
        after it: then every cluster that starts with a leader is that one code point. A few ops on one
        table lookup, against the hundred-odd of :meth:`cluster_starts`; false does not mean
        some cluster is longer.

        It holds when no leader is followed by a code point that can join a cluster (Extend,
        ZWJ, SpacingMark) and no leader can join the next code point itself (``JOINS_NEXT``);
        each text's last code point is paired with the next text's first, which can only make
        it false."""
        flags = self._flags(texts.values)
        next_flags = next_values(flags, 0)
        # A leader that joins the next (value 1), or a leader (value 2) before a joiner (value 4,
        # shifted to 2).
        risky = tf.bitwise.bitwise_and(
            flags, tf.bitwise.bitwise_or(tf.bitwise.right_shift(next_flags, 1), _LEADER_JOINS_NEXT)
        )
        return ~tf.reduce_any(risky > 0)

    def cluster_starts(self, texts: tf.RaggedTensor) -> tf.Tensor:
        """Bool per code point of ``texts.values``: whether a grapheme cluster starts there."""
        properties = self._property(texts.values)
        category = tf.bitwise.bitwise_and(properties, CATEGORY_MASK)
        is_linker = tf.bitwise.bitwise_and(properties, INCB_LINKER) != 0
        is_conjunct_extend = tf.bitwise.bitwise_and(properties, INCB_EXTEND) != 0
        position = tf.range(tf.size(category, out_type=tf.int64))
        text_start = tf.gather(texts.row_starts(), row_ids(texts))
        is_text_start = tf.equal(position, text_start)
        # The category before each code point (anything at a text start: that is a break anyway).
        before = previous_values(category, CONTROL)

        # GB9c: Consonant [Extend Linker]* Linker [Extend Linker]* x Consonant.
        conjunct_run_start = _last_position_before(~(is_linker | is_conjunct_extend))
        linkers_before = tf.cumsum(tf.cast(is_linker, tf.int64), exclusive=True)
        linkers_through_run_start = tf.gather(linkers_before, conjunct_run_start + 1)
        joins_conjunct = (
            tf.equal(category, INCB_CONSONANT)
            & (conjunct_run_start >= text_start)
            & tf.equal(tf.gather(category, tf.maximum(conjunct_run_start, 0)), INCB_CONSONANT)
            & (linkers_before > linkers_through_run_start)
        )
        # GB11: ExtPict Extend* ZWJ x ExtPict (the ZWJ is the code point before).
        non_extend_before = _last_position_before(tf.not_equal(category, EXTEND))
        emoji_base = tf.gather(non_extend_before, tf.maximum(position - 1, 0))
        joins_emoji = (
            tf.equal(category, EXTENDED_PICTOGRAPHIC)
            & tf.equal(before, ZWJ)
            & (emoji_base >= text_start)
            & tf.equal(tf.gather(category, tf.maximum(emoji_base, 0)), EXTENDED_PICTOGRAPHIC)
        )
        # GB12, GB13: regional indicators pair up; an odd run before means this one closes a pair.
        non_indicator_before = tf.maximum(
            _last_position_before(tf.not_equal(category, REGIONAL_INDICATOR)), text_start - 1
        )
        indicators_before = position - 1 - non_indicator_before
        joins_flag = (
            tf.equal(category, REGIONAL_INDICATOR)
            & tf.equal(before, REGIONAL_INDICATOR)
            & tf.equal(tf.bitwise.bitwise_and(indicators_before, 1), 1)
        )

        joins = (
            (
                tf.equal(before, HANGUL_L)
                & _is_any(category, HANGUL_L, HANGUL_V, HANGUL_LV, HANGUL_LVT)
            )
            | (_is_any(before, HANGUL_LV, HANGUL_V) & _is_any(category, HANGUL_V, HANGUL_T))
            | (_is_any(before, HANGUL_LVT, HANGUL_T) & tf.equal(category, HANGUL_T))
            | _is_any(category, EXTEND, ZWJ, SPACING_MARK)
            | tf.equal(before, PREPEND)
            | joins_conjunct
            | joins_emoji
            | joins_flag
        )
        # GB4, GB5 (breaks around controls) outrank all the joins above; GB3 (CR x LF) outranks them.
        around_control = _is_any(before, CONTROL, CR, LF) | _is_any(category, CONTROL, CR, LF)
        crlf = tf.equal(before, CR) & tf.equal(category, LF)
        return is_text_start | ~(crlf | (joins & ~around_control))
