"""Per-code-point tables applied to whole batches: the building block of table-driven stages.

A :class:`CodePointMap` sends each code point to a sequence of code points (most to itself):
lowercasing, decomposition, clean-up, padding CJK ideographs with spaces. A
:class:`CodePointProperty` gives each code point a small integer (bit flags, classes). Both store
their per-code-point arrays as two-level tables (a block index into deduplicated pages,
``tfst.text.unicode_tables.TwoLevelTable``), so a lookup is two gathers and the constants stay
small. Placeholders (``tfst.text.code_points``) map to themselves and read property 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from tfst.text.code_points import ADDED_TOKEN_BASE, expand
from tfst.text.unicode_tables import NUM_CODE_POINTS, PAGE_BITS, PAGE_MASK, SELF, TwoLevelTable

__all__ = ["SELF", "CodePointMap", "CodePointProperty", "two_level_lookup"]


def two_level_lookup(blocks: tf.Tensor, pages: tf.Tensor, code_points: tf.Tensor) -> tf.Tensor:
    """Each code point's entry in a ``TwoLevelTable`` (given as its ``blocks`` and ``pages``
    tensors); placeholders read code point 0's entry."""
    code_points = tf.where(code_points < ADDED_TOKEN_BASE, code_points, 0)
    block = tf.gather(blocks, tf.bitwise.right_shift(code_points, PAGE_BITS))
    return tf.gather(pages, block + tf.bitwise.bitwise_and(code_points, PAGE_MASK))


class CodePointProperty:
    """An int32 value per code point (0 for placeholders), looked up for a whole tensor at once."""

    def __init__(self, values: np.ndarray):
        if values.shape != (NUM_CODE_POINTS,):
            raise ValueError(f"expected one value per code point, got shape {values.shape}")
        if values[0] != 0:
            raise ValueError("U+0000's value must be 0: placeholders read it")
        table = TwoLevelTable.from_array(values)
        self._blocks = tf.constant(table.blocks)
        self._pages = tf.constant(table.pages)

    def __call__(self, code_points: tf.Tensor) -> tf.Tensor:
        return two_level_lookup(self._blocks, self._pages, code_points)


class CodePointMap:
    """Sends each code point to a sequence of code points; unlisted ones map to themselves.

    Args:
        mapping: code point → its replacement (empty to delete it). The code point itself in
            its replacement is stored as ``SELF``, so rows like "space, self, space" are shared.
        shared_rows: replacement row (``SELF`` for each code point itself) → the code points
            that take it, for rows shared by very many code points (given as arrays, no Python
            loop runs over them); in the given order, later rows and then ``mapping`` win.
    """

    def __init__(
        self,
        mapping: Mapping[int, Sequence[int]],
        shared_rows: Mapping[tuple[int, ...], np.ndarray] | None = None,
    ):
        rows: dict[tuple[int, ...], int] = {(SELF,): 0}
        row_of = np.zeros(NUM_CODE_POINTS, dtype=np.int32)
        for row, code_points in (shared_rows or {}).items():
            if len(code_points):
                row_of[np.asarray(code_points, np.int64)] = rows.setdefault(tuple(row), len(rows))
        row_numbers = []
        for code_point, replacement in mapping.items():
            row = tuple(replacement)
            if code_point in row:
                row = tuple(SELF if value == code_point else value for value in row)
            row_numbers.append(rows.setdefault(row, len(rows)))
        row_of[np.fromiter(mapping, np.int64, len(mapping))] = row_numbers
        ordered = sorted(rows, key=rows.get)
        row_splits = np.cumsum([0] + [len(row) for row in ordered]).astype(np.int32)
        table = TwoLevelTable.from_array(row_of)
        self._blocks = tf.constant(table.blocks)
        self._pages = tf.constant(table.pages)
        self._row_starts = tf.constant(row_splits[:-1])
        self._row_lengths = tf.constant(np.diff(row_splits).astype(np.int32))
        self._row_values = tf.constant(
            np.asarray([value for row in ordered for value in row] or [0], dtype=np.int32)
        )
        self.is_identity = len(rows) == 1

    def apply_flat(self, code_points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Map a flat ``[n]`` tensor: the output code points and how many each input became."""
        row = tf.where(
            code_points < ADDED_TOKEN_BASE,
            two_level_lookup(self._blocks, self._pages, code_points),
            0,
        )
        lengths = tf.gather(self._row_lengths, row)
        source, offset = expand(lengths)
        starts = tf.gather(tf.gather(self._row_starts, row), source)
        values = tf.gather(self._row_values, starts + offset)
        values = tf.where(values == SELF, tf.gather(code_points, source), values)
        return values, lengths

    def __call__(self, texts: tf.RaggedTensor) -> tf.RaggedTensor:
        """Map every code point of a ``[rows, (code points)]`` tensor; rows keep their order."""
        if self.is_identity:
            return texts
        values, lengths = self.apply_flat(texts.values)
        ends = tf.concat([[0], tf.cumsum(tf.cast(lengths, tf.int64))], axis=0)
        return tf.RaggedTensor.from_row_splits(
            values, tf.gather(ends, texts.row_splits), validate=False
        )
