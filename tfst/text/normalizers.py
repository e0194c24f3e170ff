"""Normalizers: the first stage of a `tokenizers` pipeline, rewriting the text code point by code point.

Each class here is one ``normalizer`` type of ``tokenizer.json`` with the same name and options.
``normalize`` takes and returns ``[texts, (code points)]`` int32 tensors (see
``tfst.text.code_points``): placeholders of added tokens pass unchanged and cut the text, so a
normalizer that looks at its neighbours (``Strip``, ``Replace``, composition in ``NFC``) treats the
pieces between placeholders as separate strings, as `tokenizers` does.

Build one from its JSON with :func:`normalizer_from_json`; every type this module registers in
``NORMALIZERS`` is supported, any other is refused.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from tfst.text.code_point_maps import SELF
from tfst.text.code_points import ADDED_TOKEN_BASE, utf8_bytes, utf8_lengths
from tfst.text.grapheme_clusters import GraphemeClusters
from tfst.text.precompiled_charsmap import (
    CLUSTER_KEY_BYTES,
    LONGEST_USABLE_KEY,
    pack_key,
    read_precompiled_charsmap,
)
from tfst.text.spec import TokenizerSpecError, build_component, option


class Normalizer(tf.Module):
    """One normalizer stage. Subclasses read their options in ``from_json`` (raising
    ``TokenizerSpecError`` for anything unsupported) and build their tables in ``__init__``."""

    type_name: ClassVar[str]

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], where: str) -> Normalizer:
        raise NotImplementedError

    def normalize(self, texts: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[texts, (code points)]`` → the normalized ``[texts, (code points)]``."""
        raise NotImplementedError


class Sequence(Normalizer):
    """Several normalizers, applied in order."""

    type_name = "Sequence"

    def __init__(self, normalizers: list[Normalizer]):
        super().__init__(name="sequence")
        self.normalizers = list(normalizers)

    @classmethod
    def from_json(cls, spec, where):
        items = option(spec, "normalizers", list, where)
        return cls(
            [
                normalizer_from_json(item, f"{where}.normalizers[{index}]")
                for index, item in enumerate(items)
            ]
        )

    def normalize(self, texts):
        for normalizer in self.normalizers:
            texts = normalizer.normalize(texts)
        return texts


class Precompiled(Normalizer):
    """SentencePiece's normalization (``nmt_nfkc``, ``nfkc_cf``, ...) as `tokenizers` applies it.

    The rules come from the model's ``precompiled_charsmap`` (``tfst.text.precompiled_charsmap``).
    `tokenizers` (``normalizers/precompiled.rs``) does not apply them as SentencePiece does
    (longest match anywhere); it walks the text one extended grapheme cluster at a time:

    - a cluster shorter than 6 UTF-8 bytes is looked up whole: if some rule's key is a prefix of
      it, the *shortest* such key wins (``spm_precompiled``'s ``transform`` takes the first
      ``common_prefix_search`` result) and its replacement stands for the whole cluster, so the
      code points after the key are dropped ("e" + U+0301 under an "e" rule loses its accent);
    - otherwise each code point is looked up alone and replaced if it is a key.

    Here every cluster prefix and every single code point of the batch is looked up in one hash
    table of packed keys, and the winning replacements are spliced in.
    """

    type_name = "Precompiled"

    def __init__(self, charsmap: bytes, where: str = "Precompiled"):
        super().__init__(name="precompiled")
        rules = read_precompiled_charsmap(charsmap, where)
        # Replacement rows: one keeps the code point, one deletes it, then one per distinct text.
        rows = {(SELF,): _KEEP_ROW, (): _DELETE_ROW}
        keys, key_rows = [], []
        for key, replacement in rules.items():
            keys.append(pack_key(key))
            key_rows.append(rows.setdefault(tuple(map(ord, replacement)), len(rows)))
        ordered = sorted(rows, key=rows.get)
        lengths = np.asarray([len(row) for row in ordered], dtype=np.int32)
        self._row_starts = tf.constant((np.cumsum(lengths) - lengths).astype(np.int32))
        self._row_lengths = tf.constant(lengths)
        self._row_values = tf.constant(
            np.asarray([value for row in ordered for value in row], dtype=np.int32)
        )
        self._rule_rows = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys or [-1], tf.int64),
                tf.constant(key_rows or [_KEEP_ROW], tf.int32),
            ),
            default_value=-1,
        )
        self._clusters = GraphemeClusters()

    @classmethod
    def from_json(cls, spec, where):
        encoded = option(spec, "precompiled_charsmap", str, where)
        try:
            charsmap = base64.b64decode(encoded, validate=True)
        except binascii.Error as error:
            raise TokenizerSpecError(
                f"{where}: precompiled_charsmap is not base64 ({error})"
            ) from None
        return cls(charsmap, where)

    def normalize(self, texts):
        code_points = texts.values
        is_text = code_points < ADDED_TOKEN_BASE
        position = tf.range(tf.size(code_points))
        starts = self._clusters.cluster_starts(texts)
        cluster = tf.cumsum(tf.cast(starts, tf.int32)) - 1
        start_of_cluster = tf.cast(tf.where(starts)[:, 0], tf.int32)
        cluster_start = tf.gather(start_of_cluster, cluster)
        offset = position - cluster_start
        byte_lengths = utf8_lengths(code_points)
        bytes_through = tf.cumsum(byte_lengths)
        cluster_bytes = tf.math.segment_sum(byte_lengths, cluster)
        # Placeholders are clusters of their own that no rule may match.
        is_short = is_text & (tf.gather(cluster_bytes, cluster) < CLUSTER_KEY_BYTES)

        # Each code point's UTF-8 bytes as one big-endian integer (see `pack_key`).
        encoded = tf.cast(utf8_bytes(code_points), tf.int64)
        packed = encoded[:, 0]
        for index in range(1, 4):
            packed = tf.where(index < byte_lengths, packed * 256 + encoded[:, index], packed)
        # The cluster prefix ending at each code point of a short cluster, packed the same way:
        # at most 5 code points, as the prefix has at most 5 bytes.
        prefix = packed
        for back in range(1, LONGEST_USABLE_KEY):
            earlier = tf.maximum(position - back, 0)
            reaches = is_short & (offset >= back)
            later_bytes = bytes_through - tf.gather(bytes_through, earlier)
            shift = tf.cast(8 * tf.where(reaches, later_bytes, 0), tf.int64)
            prefix += tf.where(reaches, tf.bitwise.left_shift(tf.gather(packed, earlier), shift), 0)
        prefix_bytes = bytes_through - tf.gather(bytes_through - byte_lengths, cluster_start)
        single_key = packed | _length_marker(byte_lengths)
        prefix_key = prefix | _length_marker(tf.where(is_short, prefix_bytes, 0))
        single_row = self._rule_rows.lookup(tf.where(is_text, single_key, -1))
        prefix_row = self._rule_rows.lookup(tf.where(is_short, prefix_key, -1))

        # In a short cluster with a matching prefix, the shortest one's replacement stands for the
        # whole cluster; everywhere else each code point follows its own rule, if any.
        no_match = LONGEST_USABLE_KEY
        match_offset = tf.math.segment_min(tf.where(prefix_row >= 0, offset, no_match), cluster)
        matched = match_offset < no_match
        match_row = tf.gather(prefix_row, start_of_cluster + tf.where(matched, match_offset, 0))
        cluster_matches = tf.gather(matched, cluster)
        row = tf.where(
            cluster_matches,
            tf.where(offset == 0, tf.gather(match_row, cluster), _DELETE_ROW),
            tf.where(single_row >= 0, single_row, _KEEP_ROW),
        )

        lengths = tf.gather(self._row_lengths, row)
        source = tf.repeat(position, lengths)
        output_start = tf.cumsum(lengths, exclusive=True)
        within = tf.range(tf.size(source)) - tf.gather(output_start, source)
        values = tf.gather(
            self._row_values, tf.gather(tf.gather(self._row_starts, row), source) + within
        )
        values = tf.where(values == SELF, tf.gather(code_points, source), values)
        output_ends = tf.concat([[0], tf.cumsum(tf.cast(lengths, tf.int64))], axis=0)
        return tf.RaggedTensor.from_row_splits(
            values, tf.gather(output_ends, texts.row_splits), validate=False
        )


_KEEP_ROW = 0
_DELETE_ROW = 1


def _length_marker(byte_count: tf.Tensor) -> tf.Tensor:
    """The bit above a packed key of ``byte_count`` bytes (see `pack_key`)."""
    return tf.bitwise.left_shift(tf.constant(1, tf.int64), tf.cast(8 * byte_count, tf.int64))


NORMALIZERS: dict[str, type[Normalizer]] = {cls.type_name: cls for cls in (Sequence, Precompiled)}


def normalizer_from_json(spec: Mapping[str, Any], where: str) -> Normalizer:
    """The normalizer a ``tokenizer.json`` ``normalizer`` entry describes (``where`` names it)."""
    return build_component("normalizer", NORMALIZERS, spec, where)
