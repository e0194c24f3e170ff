"""Write `tfst/text/grapheme_break.npz`: the grapheme cluster properties of every code point.

`tokenizers` cuts text into extended grapheme clusters with the Rust `unicode-segmentation` crate
(1.13, Unicode 17.0), which merges three Unicode properties into one category per code point
(Grapheme_Cluster_Break, Extended_Pictographic, Indic_Conjunct_Break=Consonant) and reads the
InCB=Extend and InCB=Linker flags besides. Python's `unicodedata` has none of them; the `regex`
package has them all, but from a newer Unicode (18.0): code points that Unicode 17.0 had not yet
assigned (per `unicodedata2` 17.0) get the values UAX #29 gives unassigned code points instead.
`tests/text/test_precompiled.py` reruns `build_grapheme_properties()` against the checked-in file
and probes `tokenizers` with every code point, so a difference from the crate fails loudly.

Run: `python tests/generate_grapheme_tables.py` (takes about ten seconds).
"""

from __future__ import annotations

import numpy as np
import regex
import unicodedata2

from tfst.text import grapheme_clusters as gc
from tfst.text.unicode_tables import NUM_CODE_POINTS

UNICODE_VERSION = "17.0.0"  # unicode-segmentation 1.13, as built into tokenizers 0.23

# Properties of code points that Unicode 18.0 changed after 17.0, found by probing `tokenizers`
# (test_grapheme_clusters_match_tokenizers_for_every_code_point): regex reads them as 18.0 has them.
UNICODE_17_FLAGS = {
    0x1CF5: 0,  # VEDIC SIGN JIHVAMULIYA: InCB=Linker only from 18.0
    0x1CF6: 0,  # VEDIC SIGN UPADHMANIYA: InCB=Linker only from 18.0
    0x11A3A: 0,  # ZANABAZAR SQUARE CLUSTER-INITIAL LETTER RA: InCB=Linker only from 18.0
}

_GRAPHEME_CLUSTER_BREAK = {
    "Control": gc.CONTROL,
    "CR": gc.CR,
    "LF": gc.LF,
    "Extend": gc.EXTEND,
    "ZWJ": gc.ZWJ,
    "Regional_Indicator": gc.REGIONAL_INDICATOR,
    "Prepend": gc.PREPEND,
    "SpacingMark": gc.SPACING_MARK,
    "L": gc.HANGUL_L,
    "V": gc.HANGUL_V,
    "T": gc.HANGUL_T,
    "LV": gc.HANGUL_LV,
    "LVT": gc.HANGUL_LVT,
}


def _code_points_with(text: str, positions: np.ndarray, property_pattern: str) -> np.ndarray:
    """The code points of ``text`` (one per position) that match ``\\p{property_pattern}``."""
    found = [
        np.arange(match.start(), match.end())
        for match in regex.finditer(rf"\p{{{property_pattern}}}+", text)
    ]
    return positions[np.concatenate(found)] if found else np.zeros([0], np.int64)


def build_grapheme_properties() -> np.ndarray:
    """category | flags for every code point (uint8), as `tfst.text.grapheme_clusters` reads it."""
    assert unicodedata2.unidata_version == UNICODE_VERSION, "needs unicodedata2 17.0"
    # Surrogates cannot be in a Python str meant for regex; they never reach `tokenizers` either.
    positions = np.asarray(
        [cp for cp in range(NUM_CODE_POINTS) if not 0xD800 <= cp < 0xE000], dtype=np.int64
    )
    text = "".join(map(chr, positions.tolist()))
    properties = np.full(NUM_CODE_POINTS, gc.OTHER, dtype=np.uint8)
    properties[0xD800:0xE000] = gc.CONTROL
    assigned = np.zeros(NUM_CODE_POINTS, dtype=bool)
    merged = {
        **{
            f"Grapheme_Cluster_Break={name}": value
            for name, value in _GRAPHEME_CLUSTER_BREAK.items()
        },
        "Extended_Pictographic": gc.EXTENDED_PICTOGRAPHIC,
        "Indic_Conjunct_Break=Consonant": gc.INCB_CONSONANT,
    }
    for pattern, category in merged.items():
        code_points = _code_points_with(text, positions, pattern)
        # The crate keeps one category per code point; it checks that the three never overlap.
        assert not assigned[code_points].any(), f"{pattern} overlaps another category"
        assigned[code_points] = True
        properties[code_points] = category
    for pattern, flag in (
        ("Indic_Conjunct_Break=Extend", gc.INCB_EXTEND),
        ("Indic_Conjunct_Break=Linker", gc.INCB_LINKER),
    ):
        properties[_code_points_with(text, positions, pattern)] |= flag
    # Unassigned code points: Control if default-ignorable, Extended_Pictographic in the blocks
    # reserved for emoji (UTS #51: U+1F000..U+1FAFF, U+1FC00..U+1FFFD), else Other; no flags.
    unassigned = np.asarray(
        [unicodedata2.category(chr(cp)) == "Cn" for cp in positions.tolist()], dtype=bool
    )
    unassigned = positions[unassigned]
    emoji_reserve = ((unassigned >= 0x1F000) & (unassigned <= 0x1FAFF)) | (
        (unassigned >= 0x1FC00) & (unassigned <= 0x1FFFD)
    )
    ignorable = np.isin(
        unassigned, _code_points_with(text, positions, "Default_Ignorable_Code_Point")
    )
    properties[unassigned] = np.where(
        ignorable, gc.CONTROL, np.where(emoji_reserve, gc.EXTENDED_PICTOGRAPHIC, gc.OTHER)
    )
    for code_point, flags in UNICODE_17_FLAGS.items():
        properties[code_point] = (properties[code_point] & gc.CATEGORY_MASK) | flags
    assert properties[0] == gc.CONTROL
    return properties


def main() -> None:
    properties = build_grapheme_properties()
    np.savez_compressed(gc.TABLE_PATH, properties=properties)
    print(f"wrote {gc.TABLE_PATH} ({gc.TABLE_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
