"""Probe the installed `tokenizers` and write `tfst/text/normalization_tables.npz`.

The `tokenizers` normalizers NFD/NFKD/NFC/NFKC and StripAccents run on the Rust crate
`unicode-normalization-alignments` 0.1.12, whose tables are Unicode 9.0; Lowercase and Strip run
on Rust's standard library (`char::to_lowercase`, `char::is_whitespace`), whose Unicode version is
the compiler's. Python's `unicodedata` (Unicode 14.0 on Python 3.11) agrees with neither
everywhere, so every table here is what `tokenizers` itself does, probed code point by code point;
`unicodedata` only proposes the candidates that cannot be probed one code point at a time
(combining classes and composition pairs), and each candidate is checked against `tokenizers`.
`differences_from_unicodedata` counts where the two disagree; `tests/text/test_normalizers.py`
states those counts and reruns `build_tables()` against the checked-in file, so a `tokenizers`
upgrade that changes behaviour fails loudly.

Run: `python tests/generate_normalization_tables.py` (takes about twenty seconds).
"""

from __future__ import annotations

import unicodedata

import numpy as np
import tokenizers
from tokenizers import normalizers

from tfst.text.unicode_normalization import (
    HANGUL_LEADING_COUNT,
    HANGUL_LEADING_FIRST,
    HANGUL_SYLLABLE_COUNT,
    HANGUL_SYLLABLE_FIRST,
    HANGUL_TRAILING_BASE,
    HANGUL_TRAILING_COUNT,
    HANGUL_VOWEL_COUNT,
    HANGUL_VOWEL_FIRST,
    TABLES_PATH,
    decompose_hangul_syllable,
)

NUM_CODE_POINTS = 0x110000
SURROGATES = range(0xD800, 0xE000)
HANGUL_SYLLABLES = range(HANGUL_SYLLABLE_FIRST, HANGUL_SYLLABLE_FIRST + HANGUL_SYLLABLE_COUNT)

# Two marks whose canonical combining classes (1 and 240) bracket every other non-zero class.
LOWEST_CLASS_MARK = "\u0334"
HIGHEST_CLASS_MARK = "\u0345"


def _all_chars() -> list[str]:
    return [chr(cp) for cp in range(NUM_CODE_POINTS) if cp not in SURROGATES]


def _probe_mapping(normalizer, chars: list[str]) -> dict[int, str]:
    """Every code point the normalizer changes when it is alone, and what it becomes."""
    return {ord(ch): out for ch in chars if (out := normalizer.normalize_str(ch)) != ch}


def _probe_decomposition(normalizer, chars: list[str]) -> dict[int, str]:
    """Full decompositions (already in canonical order), without the algorithmic Hangul ones."""
    mapping = _probe_mapping(normalizer, chars)
    for cp in HANGUL_SYLLABLES:
        expected = "".join(map(chr, decompose_hangul_syllable(cp)))
        assert mapping.pop(cp) == expected, f"Hangul U+{cp:04X} decomposes unexpectedly"
    for cp, out in mapping.items():
        assert not any(ord(ch) in HANGUL_SYLLABLES for ch in out), f"U+{cp:04X} gives a syllable"
    return mapping


def _probe_combining_classes(chars: list[str], nfd: dict[int, str]) -> dict[int, int]:
    """Canonical combining class of each NFD-stable code point, as the Rust crate orders marks.

    Reordering only shows classes relative to each other, so the values are `unicodedata`'s,
    kept where `tokenizers` reorders exactly as they say and zeroed where it treats the code
    point as a starter (marks newer than the crate's Unicode 9.0 tables).
    """
    reorder = normalizers.NFD()

    def moves_after(first: str, second: str) -> bool:
        return reorder.normalize_str(f"a{first}{second}") == f"a{second}{first}"

    assert moves_after(HIGHEST_CLASS_MARK, LOWEST_CLASS_MARK)
    classes = {}
    for ch in chars:
        if ord(ch) in nfd:
            continue
        is_non_starter = (
            ch in (LOWEST_CLASS_MARK, HIGHEST_CLASS_MARK)
            or moves_after(ch, LOWEST_CLASS_MARK)
            or moves_after(HIGHEST_CLASS_MARK, ch)
        )
        claimed = unicodedata.combining(ch)
        assert claimed or not is_non_starter, f"U+{ord(ch):04X} is a mark unicodedata lacks"
        if is_non_starter:
            classes[ord(ch)] = claimed
    representatives = {}
    for cp, value in sorted(classes.items()):
        representatives.setdefault(value, chr(cp))
    for cp, value in classes.items():
        for other_value, other in representatives.items():
            ch = chr(cp)
            if ch == other:
                continue
            assert moves_after(ch, other) == (value > other_value), f"class of U+{cp:04X}"
            assert moves_after(other, ch) == (other_value > value), f"class of U+{cp:04X}"
    return classes


def _unicodedata_composition_pairs(chars: list[str]) -> dict[tuple[int, int], int]:
    """`unicodedata`'s primary composites: two-code-point canonical decompositions NFC keeps."""
    pairs = {}
    for ch in chars:
        fields = unicodedata.decomposition(ch).split()
        is_pair = len(fields) == 2 and not fields[0].startswith("<")
        if is_pair and unicodedata.normalize("NFC", ch) == ch:
            pairs[int(fields[0], 16), int(fields[1], 16)] = ord(ch)
    return pairs


def _probe_compositions(chars: list[str]) -> dict[tuple[int, int], int]:
    """The canonical composition pairs the crate applies (Hangul aside, which is algorithmic).

    Candidates are `unicodedata`'s; a pair is kept when `tokenizers` NFC composes it.
    Decompositions never change once assigned, so the crate's older tables can only lack pairs,
    not add them.
    """
    compose = normalizers.NFC()
    return {
        (first, second): composite
        for (first, second), composite in _unicodedata_composition_pairs(chars).items()
        if compose.normalize_str(chr(first) + chr(second)) == chr(composite)
    }


def _probe_set(predicate, chars: list[str]) -> list[int]:
    return [ord(ch) for ch in chars if predicate(ch)]


def _sparse_map(name: str, mapping: dict[int, str]) -> dict[str, np.ndarray]:
    """Code point → string as sorted keys plus ragged values (splits, code points)."""
    keys = sorted(mapping)
    values = [[ord(ch) for ch in mapping[key]] for key in keys]
    return {
        f"{name}_keys": np.asarray(keys, dtype=np.int32),
        f"{name}_splits": np.cumsum([0] + [len(v) for v in values]).astype(np.int32),
        f"{name}_values": np.asarray([cp for v in values for cp in v], dtype=np.int32),
    }


def _check_composition_facts(
    pairs: dict[tuple[int, int], int],
    classes: dict[int, int],
    decompositions: dict[str, dict[int, str]],
    changed: dict[str, list[int]],
) -> None:
    """Assert what `UnicodeNormalization` relies on when it composes in parallel."""
    nfd = decompositions["nfc"]
    # Each composition adds one code point to the composite's full decomposition, which bounds
    # the number of composition rounds.
    for (first, second), composite in pairs.items():
        assert nfd[composite] == nfd.get(first, chr(first)) + chr(second), f"U+{composite:04X}"
    leading = range(HANGUL_LEADING_FIRST, HANGUL_LEADING_FIRST + HANGUL_LEADING_COUNT)
    vowels = range(HANGUL_VOWEL_FIRST, HANGUL_VOWEL_FIRST + HANGUL_VOWEL_COUNT)
    trailing = range(HANGUL_TRAILING_BASE + 1, HANGUL_TRAILING_BASE + HANGUL_TRAILING_COUNT)
    firsts = {first for first, _ in pairs} | set(leading) | set(HANGUL_SYLLABLES)
    seconds = {second for _, second in pairs} | set(vowels) | set(trailing)
    # A starter that composes second never composes first: unless absorbed, it stays inert.
    second_starters = {cp for cp in seconds if cp not in classes}
    assert not second_starters & firsts, "a starter composes both first and second"
    # The quick check: a code point the form leaves alone decomposes to a starter that composes
    # with nothing before it, so in any text it recomposes to itself on its own.
    for form, decomposition in decompositions.items():
        for cp in set(decomposition) - set(changed[form]):
            head = ord(decomposition[cp][0])
            assert head not in classes and head not in seconds, f"{form} U+{cp:04X}"


def build_tables() -> dict[str, np.ndarray]:
    """Everything the normalizers need, probed from the installed `tokenizers`."""
    chars = _all_chars()
    nfd = _probe_decomposition(normalizers.NFD(), chars)
    nfkd = _probe_decomposition(normalizers.NFKD(), chars)
    for mapping in (nfd, nfkd):
        for out in mapping.values():
            assert all(ord(ch) not in nfd for ch in out), "a decomposition is not NFD-stable"
    classes = _probe_combining_classes(chars, nfd)
    pairs = _probe_compositions(chars)
    changed = {
        "nfc": sorted(_probe_mapping(normalizers.NFC(), chars)),
        "nfkc": sorted(_probe_mapping(normalizers.NFKC(), chars)),
    }
    _check_composition_facts(pairs, classes, {"nfc": nfd, "nfkc": nfkd}, changed)
    strip_accents = normalizers.StripAccents()
    left_strip = normalizers.Strip(left=True, right=False)
    return {
        **_sparse_map("nfd", nfd),
        **_sparse_map("nfkd", nfkd),
        **_sparse_map("lowercase", _probe_mapping(normalizers.Lowercase(), chars)),
        "combining_class_keys": np.asarray(sorted(classes), dtype=np.int32),
        "combining_class_values": np.asarray(
            [classes[cp] for cp in sorted(classes)], dtype=np.int32
        ),
        "composition_pairs": np.asarray(sorted(pairs), dtype=np.int32).reshape(-1, 2),
        "composition_results": np.asarray([pairs[p] for p in sorted(pairs)], dtype=np.int32),
        "nfc_changed": np.asarray(changed["nfc"], dtype=np.int32),
        "nfkc_changed": np.asarray(changed["nfkc"], dtype=np.int32),
        "combining_marks": np.asarray(
            _probe_set(lambda ch: strip_accents.normalize_str(ch) == "", chars), dtype=np.int32
        ),
        "whitespace": np.asarray(
            _probe_set(lambda ch: left_strip.normalize_str(ch + "x") == "x", chars),
            dtype=np.int32,
        ),
        "tokenizers_version": np.asarray(tokenizers.__version__),
    }


def differences_from_unicodedata(tables: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """Per table, the code points where `tokenizers` and Python's `unicodedata` disagree."""
    chars = _all_chars()

    def mapping(name: str) -> dict[int, str]:
        keys, splits, values = (tables[f"{name}_{part}"] for part in ("keys", "splits", "values"))
        return {
            int(key): "".join(map(chr, values[splits[i] : splits[i + 1]]))
            for i, key in enumerate(keys)
        }

    nfd, nfkd, lower = mapping("nfd"), mapping("nfkd"), mapping("lowercase")
    classes = dict(
        zip(tables["combining_class_keys"], tables["combining_class_values"], strict=True)
    )
    pairs = {tuple(pair) for pair in tables["composition_pairs"].tolist()}
    marks = set(tables["combining_marks"].tolist())
    whitespace = set(tables["whitespace"].tolist())

    def decomposed(form: str, table: dict[int, str], ch: str) -> str:
        cp = ord(ch)
        if cp in HANGUL_SYLLABLES:
            return unicodedata.normalize(form, ch)
        return table.get(cp, ch)

    ucd_pairs = _unicodedata_composition_pairs(chars)
    return {
        "nfd": [
            ord(ch)
            for ch in chars
            if decomposed("NFD", nfd, ch) != unicodedata.normalize("NFD", ch)
        ],
        "nfkd": [
            ord(ch)
            for ch in chars
            if decomposed("NFKD", nfkd, ch) != unicodedata.normalize("NFKD", ch)
        ],
        "combining_class": [
            ord(ch)
            for ch in chars
            if ord(ch) not in nfd and classes.get(ord(ch), 0) != unicodedata.combining(ch)
        ],
        "composition": sorted(ucd_pairs[pair] for pair in set(ucd_pairs) - pairs),
        "combining_marks": [
            ord(ch)
            for ch in chars
            if (ord(ch) in marks) != unicodedata.category(ch).startswith("M")
        ],
        "lowercase": [ord(ch) for ch in chars if lower.get(ord(ch), ch) != ch.lower()],
        "whitespace": [ord(ch) for ch in chars if (ord(ch) in whitespace) != ch.isspace()],
    }


def main() -> None:
    tables = build_tables()
    np.savez_compressed(TABLES_PATH, **tables)
    print(f"wrote {TABLES_PATH} ({TABLES_PATH.stat().st_size} bytes)")
    for name, code_points in differences_from_unicodedata(tables).items():
        shown = " ".join(f"U+{cp:04X}" for cp in code_points[:12])
        print(f"{name}: {len(code_points)} code points differ from unicodedata: {shown}")


if __name__ == "__main__":
    main()
