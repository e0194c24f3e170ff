"""Write `tfst/text/grapheme_break.npz`: the grapheme cluster properties of every code point.

`tokenizers` cuts text into extended grapheme clusters with the Rust `unicode-segmentation` crate
(1.13, Unicode 17.0), which merges three Unicode properties into one category per code point
(Grapheme_Cluster_Break, Extended_Pictographic, Indic_Conjunct_Break=Consonant) and reads the
InCB=Extend and InCB=Linker flags besides. Python's `unicodedata` has none of them; the `regex`
package carries the Unicode 17.0 database with all of them, so this script reads them from there.
`tests/text/test_precompiled.py` reruns `build_grapheme_properties()` against the checked-in file
and probes `tokenizers` with every code point, so a difference from the crate fails loudly.

Run: `python tests/generate_grapheme_tables.py` (takes about ten seconds).
"""

from __future__ import annotations

import numpy as np
import regex

from tfst.text import grapheme_clusters as gc
from tfst.text.unicode_tables import NUM_CODE_POINTS

UNICODE_VERSION_PROBE = "\U000323b0"  # CJK Extension J, new in Unicode 17.0

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
    assert regex.match(r"\p{Assigned}", UNICODE_VERSION_PROBE), "regex predates Unicode 17.0"
    # Surrogates cannot be in a Python str meant for regex; they never reach `tokenizers` either.
    positions = np.asarray(
        [cp for cp in range(NUM_CODE_POINTS) if not 0xD800 <= cp < 0xE000], dtype=np.int64
    )
    text = "".join(map(chr, positions.tolist()))
    properties = np.full(NUM_CODE_POINTS, gc.OTHER, dtype=np.uint8)
    properties[0xD800:0xE000] = gc.CONTROL
    assigned = np.zeros(NUM_CODE_POINTS, dtype=bool)
    merged = {
        **{f"Grapheme_Cluster_Break={name}": value for name, value in _GRAPHEME_CLUSTER_BREAK.items()},
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
    assert properties[0] == gc.CONTROL
    return properties


def main() -> None:
    properties = build_grapheme_properties()
    np.savez_compressed(gc.TABLE_PATH, properties=properties)
    print(f"wrote {gc.TABLE_PATH} ({gc.TABLE_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
