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

from tfst.text.code_point_maps import SELF, CodePointMap, CodePointProperty
from tfst.text.code_points import (
    ADDED_TOKEN_BASE,
    expand,
    is_added_token,
    is_row_start,
    keep_where,
    previous_values,
    row_ids,
    utf8_bytes,
    utf8_lengths,
)
from tfst.text.grapheme_clusters import GraphemeClusters
from tfst.text.precompiled_charsmap import (
    CLUSTER_KEY_BYTES,
    LONGEST_USABLE_KEY,
    pack_key,
    read_precompiled_charsmap,
)
from tfst.text.regex import PatternMatcher, pattern_from_json, replace_matches
from tfst.text.spec import TokenizerSpecError, build_component, option
from tfst.text.unicode_normalization import (
    UnicodeNormalization,
    code_point_set,
    load_normalization_tables,
    sparse_mapping,
)
from tfst.text.unicode_tables import (
    NUM_CODE_POINTS,
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


class _UnicodeForm(Normalizer):
    """A Unicode normalization form (``tfst.text.unicode_normalization``); no options."""

    form: ClassVar[str]

    def __init__(self):
        super().__init__(name=self.form.lower())
        self.normalization = UnicodeNormalization(self.form)

    @classmethod
    def from_json(cls, spec, where):
        return cls()

    def normalize(self, texts):
        return self.normalization(texts)


class NFD(_UnicodeForm):
    """Canonical decomposition."""

    type_name = form = "NFD"


class NFKD(_UnicodeForm):
    """Compatibility decomposition."""

    type_name = form = "NFKD"


class NFC(_UnicodeForm):
    """Canonical decomposition, then canonical composition."""

    type_name = form = "NFC"


class NFKC(_UnicodeForm):
    """Compatibility decomposition, then canonical composition."""

    type_name = form = "NFKC"


class Lowercase(Normalizer):
    """Rust's ``char::to_lowercase``, code point by code point: no final-sigma rule, and U+0130
    becomes two code points ("i" and U+0307)."""

    type_name = "Lowercase"

    def __init__(self):
        super().__init__(name="lowercase")
        self.lowercase = CodePointMap(sparse_mapping(load_normalization_tables(), "lowercase"))

    @classmethod
    def from_json(cls, spec, where):
        return cls()

    def normalize(self, texts):
        return self.lowercase(texts)


class StripAccents(Normalizer):
    """Drops combining marks (general category M in the crate's Unicode 9.0 tables) as they are:
    it does not decompose first, so "é" stays and only a separate U+0301 goes."""

    type_name = "StripAccents"

    def __init__(self):
        super().__init__(name="strip_accents")
        marks = code_point_set(load_normalization_tables(), "combining_marks")
        self.is_mark = CodePointProperty(marks.astype(np.int32))

    @classmethod
    def from_json(cls, spec, where):
        return cls()

    def normalize(self, texts):
        return keep_where(texts, tf.equal(self.is_mark(texts.values), 0))


class Strip(Normalizer):
    """Removes whitespace (Rust's ``char::is_whitespace``) from the start and/or the end of each
    piece of text between placeholders, as `tokenizers` normalizes each piece alone."""

    type_name = "Strip"

    def __init__(self, strip_left: bool, strip_right: bool):
        super().__init__(name="strip")
        self.strip_left = strip_left
        self.strip_right = strip_right
        whitespace = code_point_set(load_normalization_tables(), "whitespace")
        self.is_whitespace = CodePointProperty(whitespace.astype(np.int32))

    @classmethod
    def from_json(cls, spec, where):
        return cls(
            strip_left=option(spec, "strip_left", bool, where),
            strip_right=option(spec, "strip_right", bool, where),
        )

    def normalize(self, texts):
        if not (self.strip_left or self.strip_right):
            return texts
        values = texts.values
        is_space = tf.not_equal(self.is_whitespace(values), 0)
        # Placeholders are content too: a space next to one is inside the text, not at its end,
        # unless the placeholder itself is the piece's end.
        is_content = ~is_space
        added = is_added_token(values)
        keep = tf.ones_like(is_space)
        if self.strip_left:
            keep &= ~(is_space & _nearest_content_is_boundary(texts, is_content, added, True))
        if self.strip_right:
            keep &= ~(is_space & _nearest_content_is_boundary(texts, is_content, added, False))
        return keep_where(texts, keep)


class Prepend(Normalizer):
    """Puts a string before each non-empty piece of text between placeholders (an empty text
    stays empty), as `tokenizers` normalizes each piece alone."""

    type_name = "Prepend"

    def __init__(self, prepend: str):
        super().__init__(name="prepend")
        self.prepend = prepend
        self._prefix = tf.constant([ord(ch) for ch in prepend] or [0], dtype=tf.int32)

    @classmethod
    def from_json(cls, spec, where):
        return cls(option(spec, "prepend", str, where))

    def normalize(self, texts):
        if not self.prepend:
            return texts
        values = texts.values
        added = is_added_token(values)
        after_added = previous_values(added, False)
        starts_piece = (is_row_start(texts) | after_added) & ~added
        prefix_length = len(self.prepend)
        lengths = 1 + prefix_length * tf.cast(starts_piece, tf.int32)
        ends = tf.cumsum(lengths)
        source = tf.repeat(tf.range(tf.size(values)), lengths)
        offset = tf.range(tf.size(source)) - tf.gather(ends - lengths, source)
        is_prefix = tf.gather(starts_piece, source) & (offset < prefix_length)
        prefixed = tf.where(
            is_prefix,
            tf.gather(self._prefix, tf.minimum(offset, prefix_length - 1)),
            tf.gather(values, source),
        )
        row_ends = tf.concat([[0], tf.cast(ends, tf.int64)], axis=0)
        return tf.RaggedTensor.from_row_splits(
            prefixed, tf.gather(row_ends, texts.row_splits), validate=False
        )


class Nmt(Normalizer):
    """The NMT clean-up of `tokenizers` (``normalizers/unicode.rs``, ``do_nmt``): drops the
    control characters U+0001..U+0008, U+000B, U+000E..U+001F, U+007F, U+008F, U+009F, then turns
    tab, line feed, form feed, carriage return, U+1680, U+200B..U+200F, U+2028, U+2029, U+2581,
    U+FEFF and U+FFFD into a space. U+0000 and the other C1 controls stay."""

    type_name = "Nmt"

    REMOVED = (*range(0x01, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F, 0x8F, 0x9F)
    TO_SPACE = (0x09, 0x0A, 0x0C, 0x0D, 0x1680, *range(0x200B, 0x2010), 0x2028, 0x2029, 0x2581)
    TO_SPACE += (0xFEFF, 0xFFFD)

    def __init__(self):
        super().__init__(name="nmt")
        mapping = {code_point: [] for code_point in self.REMOVED}
        mapping.update({code_point: [0x20] for code_point in self.TO_SPACE})
        self.clean = CodePointMap(mapping)

    @classmethod
    def from_json(cls, spec, where):
        return cls()

    def normalize(self, texts):
        return self.clean(texts)


def _nearest_content_is_boundary(
    texts: tf.RaggedTensor, is_content: tf.Tensor, added: tf.Tensor, before: bool
) -> tf.Tensor:
    """For each code point, whether the nearest content code point at or ``before`` it (else at
    or after it) in its text is missing or a placeholder: a space there is at a piece's edge."""
    content_position = tf.cast(tf.where(is_content)[:, 0], tf.int32)
    count = tf.size(content_position)
    if before:
        index = tf.cumsum(tf.cast(is_content, tf.int32)) - 1
    else:
        index = count - tf.cumsum(tf.cast(is_content, tf.int32), reverse=True)
    padded_position = tf.concat([[-1], content_position, [-1]], axis=0)
    nearest = tf.gather(padded_position, index + 1)
    row = row_ids(texts)
    in_row = (nearest >= tf.cast(tf.gather(texts.row_starts(), row), tf.int32)) & (
        nearest < tf.cast(tf.gather(texts.row_limits(), row), tf.int32)
    )
    is_placeholder = tf.gather(
        tf.concat([added, [False]], axis=0), tf.where(in_row, nearest, tf.size(added))
    )
    return ~in_row | is_placeholder


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
        shared_rows, mapping = bert_normalizer_mapping(
            clean_text, handle_chinese_chars, self.strips_accents, lowercase
        )
        self._mapping = CodePointMap(mapping, shared_rows)
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
    previous_rank = previous_values(rank, 0)
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
    table of packed keys, and the winning replacements are spliced in. Only a cluster that starts
    with the first code point of some key can differ from the code points taken one by one, so a
    batch where no such code point can join the next one's cluster takes a shortcut with the same
    result: each code point follows its own rule, read from a per-code-point table. Most text
    does, whatever its script: in ``nmt_nfkc`` the code points that start a key are compatibility
    forms, controls, and Latin, Greek, Cyrillic and some Arabic letters (for their decomposed
    accents and hamza forms), so combining marks on those letters (NFD text, Arabic vowel marks)
    take the cluster path, while e.g. क, ก, か, カ, 가, ᄀ and emoji start no key (Thai's SARA AM
    and Devanagari's precomposed nukta letters do).
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
        leaders = np.zeros(NUM_CODE_POINTS, bool)
        leaders[[ord(key[0]) for key in rules if key]] = True
        self._clusters = GraphemeClusters(leaders)
        self._single_code_point_rules = CodePointMap(
            {
                ord(key): list(map(ord, replacement))
                for key, replacement in rules.items()
                if len(key) == 1
            }
        )

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
        texts = texts.with_row_splits_dtype(tf.int64)  # both branches give int64 row splits
        return tf.cond(
            self._clusters.all_single(texts),
            lambda: self._single_code_point_rules(texts),
            lambda: self._normalize_clusters(texts),
        )

    def _normalize_clusters(self, texts):
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
        source, within = expand(lengths)
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


class Replace(Normalizer):
    """Replaces every match of a pattern (``String``: literal text, ``Regex``: Oniguruma) with
    ``content``, in each piece of text between added tokens."""

    type_name = "Replace"

    def __init__(self, pattern: PatternMatcher, content: str):
        super().__init__(name="replace")
        self.pattern = pattern
        self.content = [ord(char) for char in content]

    @classmethod
    def from_json(cls, spec, where):
        return cls(
            pattern_from_json(option(spec, "pattern", dict, where), f"{where}.pattern"),
            option(spec, "content", str, where),
        )

    def normalize(self, texts):
        return replace_matches(texts, self.pattern, self.content)


NORMALIZERS: dict[str, type[Normalizer]] = {
    cls.type_name: cls
    for cls in (
        Sequence,
        BertNormalizer,
        NFD,
        NFKD,
        NFC,
        NFKC,
        Lowercase,
        StripAccents,
        Strip,
        Prepend,
        Nmt,
        Precompiled,
        Replace,
    )
}


def normalizer_from_json(spec: Mapping[str, Any], where: str) -> Normalizer:
    """The normalizer a ``tokenizer.json`` ``normalizer`` entry describes (``where`` names it)."""
    return build_component("normalizer", NORMALIZERS, spec, where)
