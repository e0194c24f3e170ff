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

from collections.abc import Mapping
from typing import Any, ClassVar

import tensorflow as tf

from tfst.text.code_point_maps import CodePointMap, CodePointProperty
from tfst.text.code_points import is_row_start, keep_where
from tfst.text.spec import build_component, option
from tfst.text.unicode_tables import (
    PROPERTY_MARK,
    PROPERTY_RANK_MASK,
    bert_normalizer_mapping,
    combining_mark_properties,
)


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


class BertNormalizer(Normalizer):
    """BERT's normalizer: clean up, pad CJK ideographs with spaces, strip accents, lowercase.

    Args:
        clean_text: delete control, format and private-use characters, NUL and U+FFFD; turn
            tabs, newlines and other Unicode spaces into spaces.
        handle_chinese_chars: put spaces around each CJK ideograph.
        strip_accents: NFD, then drop nonspacing marks; ``None`` follows ``lowercase``.
        lowercase: Rust ``char::to_lowercase`` (no final sigma, no NFKC).

    Every step but NFD's canonical ordering of marks works code point by code point, so they are
    composed into one table (``tfst.text.unicode_tables``, probed from `tokenizers`).
    """

    type_name = "BertNormalizer"

    def __init__(
        self,
        clean_text: bool = True,
        handle_chinese_chars: bool = True,
        strip_accents: bool | None = None,
        lowercase: bool = True,
    ):
        super().__init__(name="bert_normalizer")
        self.strips_accents = lowercase if strip_accents is None else strip_accents
        self._mapping = CodePointMap(
            bert_normalizer_mapping(
                clean_text, handle_chinese_chars, self.strips_accents, lowercase
            )
        )
        if self.strips_accents:
            self._marks = CodePointProperty(combining_mark_properties())

    @classmethod
    def from_json(cls, spec, where):
        return cls(
            clean_text=option(spec, "clean_text", bool, where, True),
            handle_chinese_chars=option(spec, "handle_chinese_chars", bool, where, True),
            strip_accents=option(spec, "strip_accents", (bool, type(None)), where, None),
            lowercase=option(spec, "lowercase", bool, where, True),
        )

    def normalize(self, texts):
        texts = self._mapping(texts)
        if self.strips_accents:
            texts = _canonical_order_without_marks(texts, self._marks(texts.values))
        return texts


def _canonical_order_without_marks(
    texts: tf.RaggedTensor, properties: tf.Tensor
) -> tf.RaggedTensor:
    """NFD's canonical ordering (stable sort of each run of marks by class), then drop Mn.

    A run starts at each starter (class 0, placeholders included) and at each row start;
    keying by (run, class) and sorting stably reorders marks inside runs only. Unicode reorders
    marks before the Mn filter, so this matters for the marks the filter keeps (e.g.
    U+1D165..U+1D172, and Arabic marks that the Rust tables, predating Unicode 9, do not class as
    Mn). The sort runs only when some mark follows one of a higher class, which plain text rarely
    has.
    """
    rank = tf.cast(tf.bitwise.bitwise_and(properties, PROPERTY_RANK_MASK), tf.int64)
    starts_run = (rank == 0) | is_row_start(texts)
    previous_rank = tf.concat([[0], rank], axis=0)[:-1]
    out_of_order = tf.reduce_any(~starts_run & (previous_rank > rank))
    run = tf.cumsum(tf.cast(starts_run, tf.int64))
    order = tf.cond(
        out_of_order,
        lambda: tf.argsort(run * (PROPERTY_RANK_MASK + 1) + rank, stable=True),
        lambda: tf.range(tf.size(rank)),
    )
    values = tf.gather(texts.values, order)
    is_mark = tf.not_equal(tf.bitwise.bitwise_and(tf.gather(properties, order), PROPERTY_MARK), 0)
    return keep_where(texts.with_values(values), ~is_mark)


NORMALIZERS: dict[str, type[Normalizer]] = {
    cls.type_name: cls for cls in (Sequence, BertNormalizer)
}


def normalizer_from_json(spec: Mapping[str, Any], where: str) -> Normalizer:
    """The normalizer a ``tokenizer.json`` ``normalizer`` entry describes (``where`` names it)."""
    return build_component("normalizer", NORMALIZERS, spec, where)
