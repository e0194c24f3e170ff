"""Shared by the regex and splitting tests: real split patterns, hard texts, the reference.

`hard_texts()` is the hard-string corpus plus cases aimed at patterns and splitting: runs of
mixed whitespace, contractions, code, URLs, numbers, every Unicode space, punctuation and number
character, and every character the engines of `tokenizers` disagree on. `reference_pieces` asks
Oniguruma (through a `tokenizers` Split) for the pieces `find_matches` gives; `tfst_pieces`
reads the same from a tfst `PatternMatcher`.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf
from hard_strings import ALL_HARD_STRINGS
from hypothesis import strategies as st
from tokenizers import Regex, pre_tokenizers

from tfst.text.character_classes import (
    NUMERIC,
    ONIG_CLASS_WORD,
    ONIG_SPACE,
    ONIG_WORD,
    PUNCTUATION,
    REGEX_WORD,
    WHITESPACE,
    flag_mask,
    general_category_mask,
)
from tfst.text.code_points import decode_utf8
from tfst.text.regex import PatternMatcher

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

PATTERN_TEXTS = [
    " \t\n\u3000\u00a0word",
    "  a  b\t\tc \n\n d   ",
    "x \u3000\u00a0\t y\n \n z\r\n\r\nw \u2028 v",
    "trailing spaces   ",
    "\n\n\nleading newlines",
    "don't I'LL we'VE they're she's it'd you'm",
    "don’t I’ll we’ve ʼs ʼll 'S 'ſ 'K 'Ｓ",
    "''s ''' 's's 'sss '",
    "def f(x):\n    return x**2\n\n\tif x >= 10:  # comment\n\t\tpass",
    "for (int i = 0; i < n; ++i) { a[i] = b[i] * 2; }",
    "https://example.org/path/to?q=1&r=two#frag user@example.com",
    "1,234,567.89 1.234.567,89 12 345 678 ١٬٢٣٤٫٥ 1e-10 0x1F 2024-01-31",
    "12345678901234567890 9 99 999 9999 ①②③ ⅷ ½",
    "👨\u200d👩\u200d👧\u200d👦 family 🏳️\u200d🌈 flag 👍🏽 thumbs",
    "中文、日本語。한국어！混合text123",
    "e\u0301 a\u0300\u0301 \u0301\u0301 combining\u0308 marks",
    "ſ K Å ß ẞ İ ı ǅ ﬆ ﬁ Ω",
    "ALL CAPS and lower and MiXeD CaSe",
    "x" * 300 + " " * 50 + "y" * 300,
    " " * 120,
    "\r\n" * 30,
    "a" + "\u200b" * 40 + "b",
]


@functools.cache
def class_edge_texts() -> list[str]:
    """Every space, punctuation and number character, and every character two engines
    classify differently (Oniguruma's \\w inside and outside brackets, the regex crate's \\w),
    each between letters and doubled."""
    chosen = flag_mask(ONIG_SPACE) | flag_mask(WHITESPACE) | flag_mask(PUNCTUATION)
    chosen |= flag_mask(NUMERIC) | general_category_mask("Nd", "Nl", "No")
    chosen |= general_category_mask("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Zs", "Zl", "Zp")
    chosen |= flag_mask(ONIG_WORD) ^ flag_mask(ONIG_CLASS_WORD)
    chosen |= flag_mask(ONIG_WORD) ^ flag_mask(REGEX_WORD)
    chars = [chr(cp) for cp in np.flatnonzero(chosen)]
    pieces = [f"a{ch}b {ch}{ch}c{ch} " for ch in chars]
    return ["".join(pieces[start : start + 40]) for start in range(0, len(pieces), 40)]


def hard_texts() -> list[str]:
    return ALL_HARD_STRINGS + PATTERN_TEXTS + class_edge_texts()


# Characters hypothesis mixes into texts: the classes patterns care about, and their edges.
INTERESTING_CHARACTERS = (
    "aAbBsSſkKK zZ09٣_'’ʼ.,;!?-()[]{}\\/\"#$%&*+<=>@^`|~"
    " \t\n\r\x0b\x0c\x85\u00a0\u1680\u2000\u2028\u2029\u202f\u205f\u3000\u200b\ufeff"
    "éÉ\u0301\u0308中文한글ひカ١ßẞİıǅﬆ😀👍🏽\u200d"
)

texts = st.text(st.sampled_from(INTERESTING_CHARACTERS) | st.characters(codec="utf-8"), max_size=24)


@functools.lru_cache(maxsize=64)
def _splitters(pattern: str, literal: bool) -> tuple[pre_tokenizers.Split, pre_tokenizers.Split]:
    compiled = pattern if literal else Regex(pattern)
    return (
        pre_tokenizers.Split(compiled, "removed"),
        pre_tokenizers.Split(compiled, "isolated"),
    )


def reference_pieces(pattern: str, text: str, literal: bool = False) -> list[tuple[str, bool]]:
    """The non-empty pieces of `find_matches` in tokenizers, each with whether it is a match
    (``literal``: a String pattern)."""
    removed, isolated = _splitters(pattern, literal)
    gaps = {offsets for _, offsets in removed.pre_tokenize_str(text)}
    return [(piece, offsets not in gaps) for piece, offsets in isolated.pre_tokenize_str(text)]


def tfst_pieces(matcher: PatternMatcher, batch: list[str]) -> list[list[tuple[str, bool]]]:
    """The same from tfst, for a batch of texts (each text one word)."""
    words = decode_utf8(tf.constant(batch, dtype=tf.string))
    result = []
    for text, lengths in zip(batch, matcher.find_matches(words).to_list(), strict=True):
        start, pieces = 0, []
        for index, length in enumerate(lengths):
            if length:
                pieces.append((text[start : start + length], index % 2 == 1))
            start += length
        assert start == len(text), f"pieces do not cover {text!r}"
        result.append(pieces)
    return result
