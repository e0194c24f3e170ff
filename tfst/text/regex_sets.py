"""Sets of code points for the regex translation (``tfst.text.regex``): ranges, and the sets of
the Unicode general categories and Oniguruma's character types, probed from Oniguruma itself
(``tfst.text.character_classes``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from tfst.text import character_classes
from tfst.text.character_classes import (
    CATEGORY_GROUPS,
    GENERAL_CATEGORIES,
)
from tfst.text.unicode_tables import NUM_CODE_POINTS

SURROGATES = (0xD800, 0xE000)


class CodePointSet:
    """A set of code points as sorted, disjoint, non-touching ``[start, end)`` ranges."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray):
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)

    @classmethod
    def from_ranges(cls, ranges: Sequence[tuple[int, int]]) -> CodePointSet:
        """The union of ``[start, end)`` ranges given in any order."""
        pairs = np.asarray(sorted(ranges), dtype=np.int64).reshape(-1, 2)
        if not len(pairs):
            return cls(pairs[:, 0], pairs[:, 1])
        starts, ends = pairs[:, 0], np.maximum.accumulate(pairs[:, 1])
        # Ranges that overlap or touch the run before them join it; a run ends where the next
        # range starts past everything so far.
        gap_after = np.concatenate([starts[1:] > ends[:-1], [True]])
        gap_before = np.concatenate([[True], gap_after[:-1]])
        return cls(starts[gap_before], ends[gap_after])

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> CodePointSet:
        edges = np.diff(mask.astype(np.int8), prepend=0, append=0)
        return cls(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))

    @classmethod
    def of(cls, *code_points: int) -> CodePointSet:
        return cls.from_ranges([(cp, cp + 1) for cp in code_points])

    def union(self, other: CodePointSet) -> CodePointSet:
        return CodePointSet.from_ranges(
            list(zip(self.starts.tolist(), self.ends.tolist(), strict=True))
            + list(zip(other.starts.tolist(), other.ends.tolist(), strict=True))
        )

    def complement(self) -> CodePointSet:
        bounds = np.concatenate([[0], np.stack([self.starts, self.ends], 1).reshape(-1)])
        bounds = np.concatenate([bounds, [NUM_CODE_POINTS]]).reshape(-1, 2)
        bounds = bounds[bounds[:, 0] < bounds[:, 1]]
        return CodePointSet(bounds[:, 0], bounds[:, 1])

    def intersection(self, other: CodePointSet) -> CodePointSet:
        return self.complement().union(other.complement()).complement()

    def contains(self, code_points: np.ndarray) -> np.ndarray:
        code_points = np.asarray(code_points, dtype=np.int64)
        if not len(self.starts):
            return np.zeros(code_points.shape, dtype=bool)
        index = np.searchsorted(self.starts, code_points, side="right") - 1
        return (index >= 0) & (code_points < self.ends[np.maximum(index, 0)])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CodePointSet)
            and np.array_equal(self.starts, other.starts)
            and np.array_equal(self.ends, other.ends)
        )

    def __hash__(self) -> int:
        return hash((self.starts.tobytes(), self.ends.tobytes()))


ALL_CODE_POINTS = CodePointSet.from_ranges([(0, NUM_CODE_POINTS)])


@functools.cache
def flag_set(flag: int) -> CodePointSet:
    return CodePointSet.from_mask(character_classes.flag_mask(flag))


@functools.cache
def category_set(categories: tuple[str, ...]) -> CodePointSet:
    return CodePointSet.from_mask(character_classes.general_category_mask(*categories))


def property_key(name: str) -> str:
    """Oniguruma compares property names ignoring case, spaces, hyphens and underscores."""
    return re.sub(r"[ _-]", "", name).lower()


CATEGORY_LONG_NAMES = {
    "Other": "C", "Control": "Cc", "Format": "Cf", "Unassigned": "Cn", "Private_Use": "Co",
    "Surrogate": "Cs", "Letter": "L", "Cased_Letter": "LC", "Lowercase_Letter": "Ll",
    "Modifier_Letter": "Lm", "Other_Letter": "Lo", "Titlecase_Letter": "Lt",
    "Uppercase_Letter": "Lu", "Mark": "M", "Combining_Mark": "M", "Spacing_Mark": "Mc",
    "Enclosing_Mark": "Me", "Nonspacing_Mark": "Mn", "Number": "N", "Decimal_Number": "Nd",
    "Letter_Number": "Nl", "Other_Number": "No", "Punctuation": "P",
    "Connector_Punctuation": "Pc", "Dash_Punctuation": "Pd", "Close_Punctuation": "Pe",
    "Final_Punctuation": "Pf", "Initial_Punctuation": "Pi", "Other_Punctuation": "Po",
    "Open_Punctuation": "Ps", "Symbol": "S", "Currency_Symbol": "Sc", "Modifier_Symbol": "Sk",
    "Math_Symbol": "Sm", "Other_Symbol": "So", "Separator": "Z", "Line_Separator": "Zl",
    "Paragraph_Separator": "Zp", "Space_Separator": "Zs",
}  # fmt: skip

# Property name (as property_key spells it) → the general categories it covers.
PROPERTY_CATEGORIES: dict[str, tuple[str, ...]] = {
    **{property_key(name): (name,) for name in GENERAL_CATEGORIES},
    **{property_key(name): members for name, members in CATEGORY_GROUPS.items()},
}
PROPERTY_CATEGORIES.update(
    {
        property_key(long): PROPERTY_CATEGORIES[property_key(short)]
        for long, short in CATEGORY_LONG_NAMES.items()
    }
)
