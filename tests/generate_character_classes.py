"""Probe the installed Hugging Face `tokenizers` and write `tfst/text/character_classes.npz`.

`tokenizers` classifies characters with Oniguruma (``Split``, ``Replace``, ``ByteLevel``
patterns), Rust's standard library (``Digits``, ``WhitespaceSplit``), the ``unicode_categories``
crate (``Punctuation``) and the ``regex`` crate (``Whitespace``), each with its own Unicode
version. Rather than re-deriving their tables from Python's older ``unicodedata``, this script
asks `tokenizers` about every code point, by running each class over one string that holds all
of them, and stores the answers. `tests/text/test_regex.py` reruns `build_tables()` and compares
it with the checked-in file, so a `tokenizers` upgrade that changes behaviour fails loudly.

Run: `python tests/generate_character_classes.py` (takes about half a minute).
"""

from __future__ import annotations

import numpy as np
import tokenizers
from tokenizers import Regex, pre_tokenizers

from tfst.text.character_classes import (
    CATEGORY_GROUPS,
    GENERAL_CATEGORIES,
    NUMERIC,
    ONIG_CLASS_WORD,
    ONIG_DIGIT,
    ONIG_HEX_DIGIT,
    ONIG_SPACE,
    ONIG_WORD,
    PUNCTUATION,
    REGEX_SPACE,
    REGEX_WORD,
    TABLES_PATH,
    WHITESPACE,
)
from tfst.text.unicode_tables import NUM_CODE_POINTS

SURROGATES = range(0xD800, 0xE000)
# Rust strings cannot hold surrogates, so no engine ever sees one; Oniguruma files them as Cs.
CODE_POINTS = np.asarray(
    [cp for cp in range(NUM_CODE_POINTS) if cp not in SURROGATES], dtype=np.int32
)
ALL_TEXT = "".join(map(chr, CODE_POINTS))

# The general categories whose characters can have case mappings (Unicode puts them on cased
# letters, modifier letters, the iota subscript mark, Roman numerals and circled letters); the
# others are checked to fold only onto themselves, category by category.
CASED_CATEGORIES = ("Lu", "Ll", "Lt", "Lm", "Mn", "Mc", "Nl", "No", "So", "Sk", "Sm")


def _covered(pieces: list[tuple[str, tuple[int, int]]], length: int) -> np.ndarray:
    """Which characters of a text of ``length`` characters lie in one of the returned pieces."""
    offsets = np.asarray([offsets for _, offsets in pieces], dtype=np.int64).reshape(-1, 2)
    edges = np.zeros(length + 1, dtype=np.int64)
    np.add.at(edges, offsets[:, 0], 1)
    np.add.at(edges, offsets[:, 1], -1)
    return np.cumsum(edges[:-1]) > 0


def _on_all_code_points(per_character: np.ndarray) -> np.ndarray:
    mask = np.zeros(NUM_CODE_POINTS, dtype=bool)
    mask[CODE_POINTS] = per_character
    return mask


def _matched(pattern: str, text: str = ALL_TEXT) -> np.ndarray:
    """Which characters of ``text`` Oniguruma's ``pattern`` (one character per match) matches."""
    splitter = pre_tokenizers.Split(Regex(pattern), "removed")
    return ~_covered(splitter.pre_tokenize_str(text), len(text))


def _onig_class(pattern: str) -> np.ndarray:
    return _on_all_code_points(_matched(f"(?:{pattern})+"))


def _probe_general_category() -> np.ndarray:
    """Each code point's general category: the one-letter groups over all code points, then
    each category over its group's code points only (to keep the probed text short)."""
    category = np.full(NUM_CODE_POINTS, 255, dtype=np.uint8)
    category[SURROGATES.start : SURROGATES.stop] = GENERAL_CATEGORIES.index("Cs")
    for group, members in CATEGORY_GROUPS.items():
        if group == "LC":
            continue
        in_group = _onig_class(rf"\p{{{group}}}")
        assert (category[in_group] == 255).all(), f"\\p{{{group}}} overlaps another group"
        text = "".join(map(chr, np.flatnonzero(in_group)))
        for name in members:
            if name == "Cs":
                continue
            in_category = np.zeros(NUM_CODE_POINTS, dtype=bool)
            in_category[np.flatnonzero(in_group)] = _matched(rf"(?:\p{{{name}}})+", text)
            assert (category[in_category] == 255).all(), f"\\p{{{name}}} overlaps another"
            category[in_category] = GENERAL_CATEGORIES.index(name)
        assert (category[in_group] != 255).all(), f"\\p{{{group}}} is more than {members}"
    assert (category != 255).all(), "some code points are in no general category"
    cased = np.isin(category, [GENERAL_CATEGORIES.index(name) for name in CATEGORY_GROUPS["LC"]])
    assert (_onig_class(r"\p{LC}") == cased).all(), "\\p{LC} is not Lu, Ll and Lt"
    return category


def _probe_flags() -> np.ndarray:
    flags = np.zeros(NUM_CODE_POINTS, dtype=np.uint16)
    for flag, pattern in (
        (ONIG_SPACE, r"\s"),
        (ONIG_WORD, r"\w"),
        (ONIG_CLASS_WORD, r"[\w]"),
        (ONIG_DIGIT, r"\d"),
        (ONIG_HEX_DIGIT, r"\h"),
    ):
        flags[_onig_class(pattern)] |= flag
    # Only \w means something else inside brackets; the parser relies on the others not to.
    for pattern in (r"\s", r"\d", r"\h"):
        assert (_onig_class(pattern) == _onig_class(f"[{pattern}]")).all(), pattern

    length = len(ALL_TEXT)
    punctuation = pre_tokenizers.Punctuation("removed").pre_tokenize_str(ALL_TEXT)
    flags[_on_all_code_points(~_covered(punctuation, length))] |= PUNCTUATION
    whitespace = pre_tokenizers.WhitespaceSplit().pre_tokenize_str(ALL_TEXT)
    flags[_on_all_code_points(~_covered(whitespace, length))] |= WHITESPACE

    # Digits without individual_digits cuts the text into alternating runs of numeric and other
    # characters; U+0000 is not numeric, so the runs at even positions are the other ones.
    runs = pre_tokenizers.Digits(individual_digits=False).pre_tokenize_str(ALL_TEXT)
    assert runs[0][0][0] == "\x00"
    numeric = _covered([run for index, run in enumerate(runs) if index % 2 == 1], length)
    flags[_on_all_code_points(numeric)] |= NUMERIC

    # `\w+|[^\w\s]+`, its matches kept: probe each character c in "a" + c + " ". A word
    # character joins the "a" ("ac"), any other non-space character stands alone, and a space
    # character vanishes.
    probes = "".join(f"a{ch} " for ch in ALL_TEXT)
    pieces = pre_tokenizers.Whitespace().pre_tokenize_str(probes)
    offsets = np.asarray([offsets for _, offsets in pieces], dtype=np.int64)
    starts, lengths = offsets[:, 0], offsets[:, 1] - offsets[:, 0]
    word = np.zeros(length, dtype=bool)
    word[starts[(starts % 3 == 0) & (lengths == 2)] // 3] = True
    other = np.zeros(length, dtype=bool)
    other[starts[starts % 3 == 1] // 3] = True
    assert not (word & other).any()
    flags[_on_all_code_points(word)] |= REGEX_WORD
    flags[_on_all_code_points(~word & ~other)] |= REGEX_SPACE
    return flags


def _class_pattern(code_points: list[int]) -> str:
    """A ``(?i)`` bracket class of the given code points, consecutive ones as ranges."""
    ranges, points = [], sorted(code_points)
    for cp in points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "(?i)[" + "".join(rf"\x{{{a:X}}}-\x{{{b:X}}}" for a, b in ranges) + "]"


def _probe_case_folding(category: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Oniguruma's single-character case folding, as (code points, orbit representative).

    Probing each code point alone is slow, so Python's case folding proposes the orbits and a
    few dozen probes check the proposal: a bracket class under ``(?i)`` matches its members'
    whole orbits, so for each bit of the orbits' numbers, the class of the first members of
    the orbits with that bit set must match exactly those orbits. When every bit passes, each
    proposed orbit is a true one (a character outside its true orbit, or a true mate outside
    it, would differ in some bit). Code points a check singles out are probed one by one and
    the proposal corrected, until the checks pass.
    """
    cased_codes = [GENERAL_CATEGORIES.index(name) for name in CASED_CATEGORIES]
    cased = np.isin(category, cased_codes)
    uncased = "".join(rf"\p{{{name}}}" for name in CASED_CATEGORIES)
    assert (_onig_class(f"(?i)[^{uncased}]") == ~cased & _on_all_code_points(True)).all(), (
        "(?i) folds a character outside CASED_CATEGORIES onto one inside"
    )
    candidates = np.flatnonzero(cased)
    # A NUL after each candidate keeps a class from matching a multi-character fold in the
    # text: (?i)[ﬆ] matches "st", and s and t are neighbours in code point order.
    text = "".join(f"{chr(cp)}\x00" for cp in candidates)
    position = {cp: index for index, cp in enumerate(candidates.tolist())}

    def closure(code_points: list[int]) -> set[int]:
        return set(candidates[_matched(_class_pattern(code_points), text)[::2]].tolist())

    orbit_of = {}
    for cp in candidates.tolist():
        folded = chr(cp).casefold()
        key = ord(folded) if len(folded) == 1 and ord(folded) in position else cp
        orbit_of[cp] = key
    while True:
        orbits: dict[int, list[int]] = {}
        for cp, key in orbit_of.items():
            orbits.setdefault(key, []).append(cp)
        numbered = sorted(orbits.values())
        suspects = set()
        for bit in range(len(numbered).bit_length()):
            chosen = [orbit for number, orbit in enumerate(numbered, 1) if number >> bit & 1]
            expected = {cp for orbit in chosen for cp in orbit}
            suspects |= closure([orbit[0] for orbit in chosen]) ^ expected
        if not suspects:
            break
        for cp in sorted(suspects):
            members = sorted(closure([cp]))
            for member in members:
                orbit_of[member] = members[0]
    pairs = sorted((cp, min(orbit)) for orbit in numbered if len(orbit) > 1 for cp in orbit)
    return (
        np.asarray([cp for cp, _ in pairs], dtype=np.int32),
        np.asarray([representative for _, representative in pairs], dtype=np.int32),
    )


def _probe_multi_char_folds() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Characters Oniguruma's ``(?i)`` matches with a string of several characters (ß, ss)."""
    sources, targets = [], []
    for ch in ALL_TEXT:
        folded = ch.casefold()
        if len(folded) > 1:
            pattern = rf"(?i)\x{{{ord(ch):X}}}"
            matched = pre_tokenizers.Split(Regex(pattern), "isolated").pre_tokenize_str(folded)
            assert matched == [(folded, (0, len(folded)))], f"{pattern} does not match {folded!r}"
            sources.append(ord(ch))
            targets.append([ord(x) for x in folded])
    splits = np.cumsum([0] + [len(target) for target in targets])
    values = [cp for target in targets for cp in target]
    return (
        np.asarray(sources, dtype=np.int32),
        splits.astype(np.int32),
        np.asarray(values, dtype=np.int32),
    )


def build_tables() -> dict[str, np.ndarray]:
    """Every table `tfst.text.character_classes` reads, probed from the installed `tokenizers`."""
    category = _probe_general_category()
    fold_code_points, fold_orbits = _probe_case_folding(category)
    multi_sources, multi_splits, multi_values = _probe_multi_char_folds()
    return {
        "general_category": category,
        "flags": _probe_flags(),
        "case_fold_code_points": fold_code_points,
        "case_fold_orbits": fold_orbits,
        "multi_fold_sources": multi_sources,
        "multi_fold_splits": multi_splits,
        "multi_fold_values": multi_values,
        "tokenizers_version": np.asarray(tokenizers.__version__),
    }


def main() -> None:
    tables = build_tables()
    np.savez_compressed(TABLES_PATH, **tables)
    print(f"wrote {TABLES_PATH} ({TABLES_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
