"""Python's ``str.split()``, ``str.lower()`` and ``str.strip(string.punctuation)`` on whole
batches of code points, for sentence-transformers' plain-Python ``WhitespaceTokenizer``.

The per-code-point tables (``python_text_tables.npz``) are probed from Python's ``str`` by
``tests/generate_python_text_tables.py``; they record the Unicode version of the Python that
wrote them (Unicode 14.0: Python 3.11), which is the version these functions follow.
"""

from __future__ import annotations

import functools
import pathlib
import string

import numpy as np
import tensorflow as tf

from tfst.text.code_point_maps import CodePointMap, CodePointProperty
from tfst.text.code_points import previous_values, row_ids, split_words, texts_as_words
from tfst.text.unicode_normalization import code_point_set, sparse_mapping

TABLES_PATH = pathlib.Path(__file__).with_name("python_text_tables.npz")
CAPITAL_SIGMA = 0x03A3
FINAL_SIGMA = 0x03C2
# Bits of the property table.
WHITESPACE = 1
CASE_IGNORABLE = 2
CASED = 4
ASCII_PUNCTUATION = np.zeros(128, dtype=bool)
ASCII_PUNCTUATION[[ord(char) for char in string.punctuation]] = True


@functools.cache
def load_python_text_tables() -> dict[str, np.ndarray]:
    """The probed tables, read once per process."""
    with np.load(TABLES_PATH) as archive:
        return {name: archive[name] for name in archive.files}


class PythonText:
    """The ``str`` operations the tables describe, as TensorFlow ops on ragged code points."""

    def __init__(self):
        tables = load_python_text_tables()
        flags = np.zeros(0x110000, dtype=np.int32)
        for name, bit in (
            ("whitespace", WHITESPACE),
            ("case_ignorable", CASE_IGNORABLE),
            ("cased", CASED),
        ):
            flags |= np.where(code_point_set(tables, name), bit, 0).astype(np.int32)
        self._flags = CodePointProperty(flags)
        self._lowercase = CodePointMap(sparse_mapping(tables, "lowercase"))
        self._punctuation = tf.constant(ASCII_PUNCTUATION)

    def split(self, texts: tf.RaggedTensor) -> tf.RaggedTensor:
        """``str.split()``: ``[texts, (code points)]`` → ``[texts, (words), (code points)]``,
        cut at runs of whitespace, which are dropped."""
        space = tf.bitwise.bitwise_and(self._flags(texts.values), WHITESPACE) > 0
        after_space = previous_values(space, False)
        return split_words(texts_as_words(texts), starts=space | after_space, keep=~space)

    def lower(self, texts: tf.RaggedTensor) -> tf.RaggedTensor:
        """``str.lower()`` of each row of ``[rows, (code points)]``, final sigma included.

        CPython lowercases Σ to ς when a cased character precedes it and no cased character
        follows it in the same string, skipping case-ignorable characters both ways.
        """
        code_points = texts.values
        flags = self._flags(code_points)
        anchor = tf.bitwise.bitwise_and(flags, CASE_IGNORABLE) == 0
        anchor_positions = tf.where(anchor)[:, 0]
        anchor_cased = tf.bitwise.bitwise_and(tf.boolean_mask(flags, anchor), CASED) > 0
        anchors_through = tf.cumsum(tf.cast(anchor, tf.int64))
        sigma = tf.where(tf.equal(code_points, CAPITAL_SIGMA))[:, 0]
        rows = tf.gather(row_ids(texts), sigma)
        row_start = tf.gather(texts.row_starts(), rows)
        row_limit = tf.gather(texts.row_limits(), rows)
        # Σ is an anchor itself (not case-ignorable): the one before it is two back.
        before = tf.gather(anchors_through, sigma) - 2
        after = before + 2
        count = tf.size(anchor_positions, out_type=tf.int64)
        padded_positions = tf.concat([anchor_positions, [-1]], axis=0)
        padded_cased = tf.concat([anchor_cased, [False]], axis=0)
        before_index = tf.where(before >= 0, before, count)
        after_index = tf.where(after < count, after, count)
        cased_before = tf.gather(padded_cased, before_index) & (
            tf.gather(padded_positions, before_index) >= row_start
        )
        after_in_row = (after < count) & (tf.gather(padded_positions, after_index) < row_limit)
        cased_after = after_in_row & tf.gather(padded_cased, after_index)
        final = cased_before & ~cased_after
        code_points = tf.tensor_scatter_nd_update(
            code_points,
            tf.boolean_mask(sigma, final)[:, tf.newaxis],
            tf.fill(tf.reduce_sum(tf.cast(final, tf.int32))[tf.newaxis], FINAL_SIGMA),
        )
        return self._lowercase(texts.with_values(code_points))

    def strip_punctuation(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """``str.strip(string.punctuation)`` of each row of ``[rows, (code points)]``: ASCII
        punctuation off both ends."""
        code_points = words.values
        punctuation = (code_points < 128) & tf.gather(
            self._punctuation, tf.clip_by_value(code_points, 0, 127)
        )
        rows = row_ids(words)
        position = tf.range(tf.size(code_points, out_type=tf.int64))
        other = tf.where(punctuation, tf.constant(-1, tf.int64), position)
        last = tf.gather(tf.math.unsorted_segment_max(other, rows, words.nrows()), rows)
        first_other = tf.where(punctuation, tf.int64.max, position)
        first = tf.gather(tf.math.unsorted_segment_min(first_other, rows, words.nrows()), rows)
        keep = (position >= first) & (position <= last)
        kept_before = tf.concat([[0], tf.cumsum(tf.cast(keep, tf.int64))], axis=0)
        return tf.RaggedTensor.from_row_splits(
            tf.boolean_mask(code_points, keep),
            tf.gather(kept_before, words.row_splits),
            validate=False,
        )
