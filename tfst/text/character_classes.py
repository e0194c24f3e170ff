"""Which code points belong to which character class, as Hugging Face `tokenizers` decides it.

`tokenizers` classifies characters with several engines, each with its own Unicode tables:
Oniguruma for the patterns of ``Split``, ``Replace`` and ``ByteLevel`` (``\\p{L}``, ``\\s``,
``\\w``, ``(?i)``), and Rust's standard library, the ``unicode_categories`` crate and the
``regex`` crate for ``Digits``, ``WhitespaceSplit``, ``Punctuation`` and ``Whitespace``. Their
Unicode versions differ from each other and from Python's ``unicodedata``, so
`character_classes.npz` is probed from the installed `tokenizers` by
`tests/generate_character_classes.py` (a test regenerates it and compares). This module reads it
and answers with boolean masks over all code points, built once per process and per question.
"""

from __future__ import annotations

import functools
import pathlib

import numpy as np

from tfst.text.unicode_tables import NUM_CODE_POINTS

TABLES_PATH = pathlib.Path(__file__).with_name("character_classes.npz")

# Oniguruma's general categories, in the order of the `general_category` array's values.
GENERAL_CATEGORIES = (
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
    "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
    "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
)  # fmt: skip

# The groups of general categories Oniguruma names with one letter (and LC, the cased letters).
CATEGORY_GROUPS = {
    "L": ("Lu", "Ll", "Lt", "Lm", "Lo"),
    "LC": ("Lu", "Ll", "Lt"),
    "M": ("Mn", "Mc", "Me"),
    "N": ("Nd", "Nl", "No"),
    "P": ("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"),
    "S": ("Sm", "Sc", "Sk", "So"),
    "Z": ("Zs", "Zl", "Zp"),
    "C": ("Cc", "Cf", "Cs", "Co", "Cn"),
}

# Bits of the `flags` array: what each engine answers for a code point.
ONIG_SPACE = 1  # Oniguruma \s
ONIG_WORD = 2  # Oniguruma \w outside brackets
ONIG_DIGIT = 4  # Oniguruma \d
ONIG_HEX_DIGIT = 8  # Oniguruma \h
PUNCTUATION = 16  # the Punctuation pre-tokenizer splits on it (unicode_categories + ASCII)
NUMERIC = 32  # the Digits pre-tokenizer splits on it (Rust char::is_numeric)
WHITESPACE = 64  # the WhitespaceSplit pre-tokenizer splits on it (Rust char::is_whitespace)
REGEX_WORD = 128  # \w of the Whitespace pre-tokenizer's `\w+|[^\w\s]+` (Rust regex crate)
REGEX_SPACE = 256  # \s of that pattern
ONIG_CLASS_WORD = 512  # Oniguruma \w inside brackets, which leaves out ¹ ² ³ ¼ ½ ¾


@functools.cache
def load_character_classes() -> dict[str, np.ndarray]:
    """The probed tables, read once per process."""
    with np.load(TABLES_PATH) as archive:
        return {name: archive[name] for name in archive.files}


def general_category_mask(*categories: str) -> np.ndarray:
    """Which code points Oniguruma puts in any of the given (two-letter) general categories."""
    wanted = [GENERAL_CATEGORIES.index(category) for category in categories]
    return np.isin(load_character_classes()["general_category"], wanted)


def flag_mask(flag: int) -> np.ndarray:
    """Which code points have the given bit of the `flags` array."""
    return (load_character_classes()["flags"] & flag) != 0


@functools.cache
def case_fold_orbits() -> np.ndarray:
    """For every code point, the smallest code point Oniguruma's ``(?i)`` matches it with.

    Code points that match only themselves map to themselves; the others to a shared
    representative, so two code points match each other case-insensitively exactly when they
    map to the same value (single-character folding; see :func:`multi_char_folds`).
    """
    tables = load_character_classes()
    orbits = np.arange(NUM_CODE_POINTS, dtype=np.int32)
    orbits[tables["case_fold_code_points"]] = tables["case_fold_orbits"]
    return orbits


def case_fold_pairs() -> tuple[np.ndarray, np.ndarray]:
    """The code points whose ``(?i)`` orbit has other members, and each one's representative."""
    tables = load_character_classes()
    return tables["case_fold_code_points"], tables["case_fold_orbits"]


@functools.cache
def multi_char_folds() -> tuple[frozenset[int], tuple[tuple[int, ...], ...]]:
    """The code points whose case folding is several characters (``ß`` → ``ss``), and those
    folded strings as code points: Oniguruma's ``(?i)`` lets one match the other."""
    tables = load_character_classes()
    splits = tables["multi_fold_splits"]
    values = tables["multi_fold_values"].tolist()
    targets = tuple(
        tuple(values[start:end]) for start, end in zip(splits[:-1], splits[1:], strict=True)
    )
    return frozenset(tables["multi_fold_sources"].tolist()), targets
