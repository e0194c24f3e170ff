"""Probe the installed Hugging Face `tokenizers` and write `tfst/text/unicode_tables.npz`.

The Rust BERT normalizer and pre-tokenizer carry their own Unicode tables (unicode_categories,
unicode-normalization-alignments, Rust std lowercasing), which match neither Python's
`unicodedata` nor ICU. Rather than re-deriving them, this script asks `tokenizers` about every
code point and stores what it answers. `tests/test_wordpiece.py` reruns `build_tables()` and
compares it with the checked-in file, so a `tokenizers` upgrade that changes behaviour fails loudly.

Run: `python tests/generate_unicode_tables.py` (takes about ten seconds).
"""

from __future__ import annotations

import numpy as np
import tokenizers
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers

from tfst.text.unicode_tables import (
    CHINESE,
    CLEAN_DELETE,
    CLEAN_SPACE,
    NONSPACING_MARK,
    NUM_CODE_POINTS,
    PROPERTY_RANK_MASK,
    SPLIT_PUNCTUATION,
    SPLIT_WHITESPACE,
    TABLES_PATH,
    WORD_CHARACTER,
)

SURROGATES = range(0xD800, 0xE000)

# Two marks whose canonical combining classes (1 and 240) bracket every other non-zero class.
LOWEST_CLASS_MARK = "\u0334"
HIGHEST_CLASS_MARK = "\u0345"


def _bert_normalizer(**enabled: bool) -> normalizers.BertNormalizer:
    """A BertNormalizer with only the named steps switched on."""
    options = dict(
        clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False
    )
    return normalizers.BertNormalizer(**{**options, **enabled})


def _all_chars() -> list[str]:
    return [chr(cp) for cp in range(NUM_CODE_POINTS) if cp not in SURROGATES]


def _sparse_map(mapping: dict[int, str]) -> dict[str, np.ndarray]:
    """Code point → string mapping as sorted keys plus ragged values (splits, code points)."""
    keys = sorted(mapping)
    values = [[ord(ch) for ch in mapping[key]] for key in keys]
    splits = np.cumsum([0] + [len(v) for v in values])
    flat = [cp for v in values for cp in v]
    return {
        "keys": np.asarray(keys, dtype=np.int32),
        "splits": splits.astype(np.int32),
        "values": np.asarray(flat, dtype=np.int32),
    }


def _probe_flags(chars: list[str], nfd: dict[int, str]) -> np.ndarray:
    flags = np.zeros(NUM_CODE_POINTS, dtype=np.uint8)
    flags[SURROGATES.start : SURROGATES.stop] = CLEAN_DELETE  # category Cs; UTF-8 cannot carry them
    clean = _bert_normalizer(clean_text=True)
    chinese = _bert_normalizer(handle_chinese_chars=True)
    strip = _bert_normalizer(strip_accents=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    for ch in chars:
        cp = ord(ch)
        cleaned = clean.normalize_str(ch)
        if cleaned == "":
            flags[cp] |= CLEAN_DELETE
        elif cleaned == " " and ch != " ":
            flags[cp] |= CLEAN_SPACE
        else:
            assert cleaned == ch, f"clean_text maps U+{cp:04X} to {cleaned!r}"
        padded = chinese.normalize_str(ch)
        if padded == f" {ch} ":
            flags[cp] |= CHINESE
        else:
            assert padded == ch, f"handle_chinese_chars maps U+{cp:04X} to {padded!r}"
        if cp not in nfd:
            stripped = strip.normalize_str(ch)
            if stripped == "":
                flags[cp] |= NONSPACING_MARK
            else:
                assert stripped == ch, f"strip_accents maps U+{cp:04X} to {stripped!r}"
        pieces = [piece for piece, _ in splitter.pre_tokenize_str(f"a{ch}a")]
        if pieces == ["a", "a"]:
            flags[cp] |= SPLIT_WHITESPACE
        elif pieces == ["a", ch, "a"]:
            flags[cp] |= SPLIT_PUNCTUATION
        else:
            assert pieces == [f"a{ch}a"], f"pre-tokenizer splits a U+{cp:04X} a into {pieces}"
    return flags


def _probe_word_characters(chars: list[str]) -> np.ndarray:
    """Which code points are regex ``\\w`` for added tokens: a ``single_word`` added token right
    after a word character is not matched (`tokenizers`' ``ends_with_word``)."""
    marker = "\ue000"  # private use, so not a word character itself
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, marker: 1}, unk_token="[UNK]"))
    tokenizer.add_tokens([AddedToken(marker, single_word=True, normalized=False)])
    encodings = tokenizer.encode_batch([ch + marker for ch in chars], add_special_tokens=False)
    flags = np.zeros(NUM_CODE_POINTS, dtype=np.uint8)
    for ch, encoding in zip(chars, encodings, strict=True):
        if ch != marker and 1 not in encoding.ids:
            flags[ord(ch)] = WORD_CHARACTER
    return flags


def _probe_combining_rank(chars: list[str], nfd: dict[int, str]) -> np.ndarray:
    """Rank of each code point's canonical combining class (0 for starters), as NFD orders them.

    NFD sorts runs of non-starters by class, so the rank is recovered from reordering alone:
    x is a non-starter if it moves past a class-1 or class-240 mark, and its rank is the number of
    distinct classes it moves past.
    """
    reorder = normalizers.NFD()

    def moves_after(first: str, second: str) -> bool:
        return reorder.normalize_str(f"a{first}{second}") == f"a{second}{first}"

    assert moves_after(HIGHEST_CLASS_MARK, LOWEST_CLASS_MARK)
    stable = [ch for ch in chars if ord(ch) not in nfd]
    non_starters = [
        ch
        for ch in stable
        if moves_after(ch, LOWEST_CLASS_MARK)
        or moves_after(HIGHEST_CLASS_MARK, ch)
        or ch in (LOWEST_CLASS_MARK, HIGHEST_CLASS_MARK)
    ]
    lower_count = {ch: sum(moves_after(ch, other) for other in non_starters) for ch in non_starters}
    dense = {count: rank for rank, count in enumerate(sorted(set(lower_count.values())), start=1)}
    assert len(dense) <= PROPERTY_RANK_MASK, "more combining classes than the layer can key"
    ranks = np.zeros(NUM_CODE_POINTS, dtype=np.uint8)
    for ch, count in lower_count.items():
        ranks[ord(ch)] = dense[count]
    return ranks


def _check_context_free(
    flags: np.ndarray, ranks: np.ndarray, nfd: dict[int, str], lower: dict[int, str]
) -> None:
    """Assert the facts tfst/text/wordpiece.py relies on when it maps code points one by one."""
    lowercase = _bert_normalizer(lowercase=True)
    # Rust's char::to_lowercase has no final-sigma rule.
    assert lowercase.normalize_str("ΟΔΟΣ ΟΔΟΣ.") == "οδοσ οδοσ."
    # NFD does reorder marks across code points (canonical ordering): that step needs context.
    assert normalizers.NFD().normalize_str("a\u0301\u0316") == "a\u0316\u0301"
    # On NFD output, lowercasing maps one code point to one and keeps its combining class and
    # Mn-ness, so with strip_accents the layer may lowercase before ordering and dropping marks.
    for cp, out in lower.items():
        if cp in nfd:
            continue
        assert len(out) == 1, f"U+{cp:04X} is NFD-stable but lowercases to {out!r}"
        assert ranks[ord(out)] == ranks[cp], f"lowercasing changes the class of U+{cp:04X}"
        same_mark = flags[ord(out)] & NONSPACING_MARK == flags[cp] & NONSPACING_MARK
        assert same_mark, f"lowercasing changes whether U+{cp:04X} is Mn"


def build_tables() -> dict[str, np.ndarray]:
    """Everything the layer needs, probed from the installed `tokenizers`."""
    chars = _all_chars()
    decompose = normalizers.NFD()
    lowercase = _bert_normalizer(lowercase=True)
    nfd = {ord(ch): out for ch in chars if (out := decompose.normalize_str(ch)) != ch}
    lower = {ord(ch): out for ch in chars if (out := lowercase.normalize_str(ch)) != ch}
    for out in nfd.values():
        assert all(ord(ch) not in nfd for ch in out), "NFD output is not NFD-stable"
    flags = _probe_flags(chars, nfd) | _probe_word_characters(chars)
    ranks = _probe_combining_rank(chars, nfd)
    _check_context_free(flags, ranks, nfd, lower)
    tables = {"flags": flags, "combining_rank": ranks}
    for name, mapping in (("nfd", nfd), ("lowercase", lower)):
        for part, array in _sparse_map(mapping).items():
            tables[f"{name}_{part}"] = array
    tables["tokenizers_version"] = np.asarray(tokenizers.__version__)
    return tables


def main() -> None:
    tables = build_tables()
    np.savez_compressed(TABLES_PATH, **tables)
    print(f"wrote {TABLES_PATH} ({TABLES_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
