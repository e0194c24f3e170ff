"""Reading SentencePiece's ``precompiled_charsmap``: the rewrite rules of a ``Precompiled`` normalizer.

A SentencePiece model ships its normalization (``nmt_nfkc``, ``nfkc_cf``, ...) as one binary blob,
which `tokenizers` reads with the `spm_precompiled` crate:

- a little-endian u32: the byte size of the trie;
- the trie: that many bytes of little-endian u32 units, a Darts-clone double array whose keys are
  the UTF-8 strings to rewrite;
- the replacements: UTF-8 text where each key's trie value is the byte offset of its replacement,
  which runs up to the next NUL (or the end).

A unit packs a node's fields into 32 bits: bits 0-7 and 31 its label (a leaf-value unit has bit 31
set, so it never matches a key byte), bit 8 whether a key ends at the node, bits 10-31 the offset
to the node's children (shifted 8 more bits when bit 9 is set), and in a leaf-value unit bits 0-30
the value. From a node at ``base``, the child on byte ``b`` sits at ``base ^ b`` if its label is
``b``, and the node's own value sits at ``base ^ offset``.

`tokenizers` only ever looks up a whole grapheme cluster shorter than 6 bytes or a single code
point (see ``tfst.text.normalizers.Precompiled``), so only keys of at most 5 bytes can ever match;
:func:`read_precompiled_charsmap` decodes those. The longer keys (conjoining-jamo syllables,
decomposed sequences) are rules SentencePiece itself applies but `tokenizers` never reaches.
"""

from __future__ import annotations

import struct

import numpy as np

from tfst.text.spec import TokenizerSpecError

# `tokenizers` tries a grapheme cluster as a key when it is shorter than this many UTF-8 bytes.
CLUSTER_KEY_BYTES = 6
LONGEST_USABLE_KEY = CLUSTER_KEY_BYTES - 1

_LABEL_MASK = 0x800000FF
_HAS_LEAF = 1 << 8
_VALUE_MASK = 0x7FFFFFFF


def _child_offset(units: np.ndarray) -> np.ndarray:
    return (units >> 10) << ((units & (1 << 9)) >> 6)


def read_precompiled_charsmap(charsmap: bytes, where: str) -> dict[str, str]:
    """The rules of a ``precompiled_charsmap`` with keys of at most 5 UTF-8 bytes: key → replacement.

    Refuses (``TokenizerSpecError`` naming ``where``) a blob `tokenizers` cannot load, and rules
    it could only apply by crashing or by rewriting part of a character.
    """
    problem = f"{where}: precompiled_charsmap"
    if len(charsmap) < 4:
        raise TokenizerSpecError(f"{problem} has {len(charsmap)} bytes, too few for its header")
    (trie_bytes,) = struct.unpack_from("<I", charsmap, 0)
    unit_count = trie_bytes // 4
    if unit_count == 0 or 4 + 4 * unit_count > len(charsmap):
        raise TokenizerSpecError(
            f"{problem} declares a {trie_bytes}-byte trie in a {len(charsmap)}-byte blob"
        )
    units = np.frombuffer(charsmap, dtype="<u4", count=unit_count, offset=4).astype(np.int64)
    replacements = charsmap[4 + 4 * unit_count :]
    try:
        replacements.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TokenizerSpecError(
            f"{problem}: its replacement text is not UTF-8 ({error})"
        ) from None

    # Walk the trie down from the root one byte at a time. Rather than trying all 255 labels at
    # every node, invert the step: a unit whose label is byte b and that sits at position p can
    # only be the child of a node whose children start at p ^ b, so one sort of the units by that
    # parent offset finds the children of a whole level at once.
    labels = units & _LABEL_MASK
    is_child_unit = (labels >= 1) & (labels <= 0xFF)  # a NUL byte ends every lookup
    child_positions = np.flatnonzero(is_child_unit)
    parent_bases = child_positions ^ labels[child_positions]
    order = np.argsort(parent_bases, kind="stable")
    child_positions, parent_bases = child_positions[order], parent_bases[order]

    rules: dict[str, str] = {}
    keys = [b""]
    bases = _child_offset(units[:1])
    for _ in range(LONGEST_USABLE_KEY):
        first = np.searchsorted(parent_bases, bases, side="left")
        last = np.searchsorted(parent_bases, bases, side="right")
        counts = last - first
        parent = np.repeat(np.arange(len(bases)), counts)
        child = child_positions[
            np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        ]
        child_units = units[child]
        keys = [
            keys[node] + bytes([byte])
            for node, byte in zip(parent.tolist(), labels[child].tolist(), strict=True)
        ]
        bases = child ^ _child_offset(child_units)
        for key, base, unit in zip(keys, bases.tolist(), child_units.tolist(), strict=True):
            if unit & _HAS_LEAF:
                rules[_decode_key(key, problem)] = _replacement(
                    units, base, replacements, key, problem
                )
    return rules


def _decode_key(key: bytes, problem: str) -> str:
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        # `tokenizers` matches keys byte by byte, so such a rule would rewrite part of a character.
        raise TokenizerSpecError(
            f"{problem} has a rule for {key!r}, which is not whole UTF-8 characters; "
            "tfst supports rules on whole characters only"
        ) from None


def _replacement(units: np.ndarray, base: int, text: bytes, key: bytes, problem: str) -> str:
    if base >= len(units):
        raise TokenizerSpecError(
            f"{problem}: the value of the rule for {key!r} is outside the trie"
        )
    start = int(units[base] & _VALUE_MASK)
    end = text.find(b"\0", start)
    end = len(text) if end < 0 else end
    if start > len(text):
        raise TokenizerSpecError(
            f"{problem}: the rule for {key!r} points past the end of the replacement text"
        )
    try:
        return text[start:end].decode("utf-8")
    except UnicodeDecodeError:
        # The Rust crate slices the replacement text there, which panics inside a character.
        raise TokenizerSpecError(
            f"{problem}: the rule for {key!r} points inside a character of the replacement text"
        ) from None


def pack_key(key: str) -> int:
    """A key of at most 5 UTF-8 bytes as one int64: its bytes big-endian, under a length marker bit
    (so keys of different lengths never collide). ``Precompiled`` packs text the same way."""
    encoded = key.encode("utf-8")
    return int.from_bytes(encoded, "big") | (1 << (8 * len(encoded)))
