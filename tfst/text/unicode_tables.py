"""Per-code-point facts probed from Hugging Face `tokenizers`, for the stages that need them.

`unicode_tables.npz` is probed from the installed `tokenizers` by
`tests/generate_unicode_tables.py`: one flag byte and one combining-class rank per code point plus
the NFD and lowercase mappings that its BERT normalizer uses (its Rust Unicode tables match neither
Python's `unicodedata` nor ICU exactly). This module turns them into what the stages gather from:
the BertNormalizer's per-code-point mapping, combining-mark properties, and character classes
(whitespace, BERT punctuation, regex word characters). Per-code-point arrays are stored as
two-level tables (a block index into deduplicated pages), so a lookup is two gathers.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib

import numpy as np

TABLES_PATH = pathlib.Path(__file__).with_name("unicode_tables.npz")
NUM_CODE_POINTS = 0x110000

# Bits of the probed `flags` array.
CLEAN_DELETE = 1  # clean_text removes it (controls, format, private use, NUL, U+FFFD)
CLEAN_SPACE = 2  # clean_text turns it into " " (\t \n \r and the other Unicode spaces)
CHINESE = 4  # handle_chinese_chars puts spaces around it
NONSPACING_MARK = 8  # strip_accents drops it after NFD (general category Mn)
SPLIT_WHITESPACE = 16  # the pre-tokenizer splits on it and drops it
SPLIT_PUNCTUATION = 32  # the pre-tokenizer makes it a word of its own
WORD_CHARACTER = 64  # Rust regex \w: single_word added tokens do not match next to it

# Bits of the property tables built below.
PROPERTY_RANK_MASK = 0x3F  # canonical combining class rank, 0 for starters
PROPERTY_MARK = 0x40  # nonspacing mark, dropped when accents are stripped
PROPERTY_WHITESPACE = 0x80  # Rust char::is_whitespace (also regex \s)
PROPERTY_PUNCTUATION = 0x100  # BertPreTokenizer punctuation
PROPERTY_WORD = 0x200  # Rust regex \w (Unicode)

PAGE_BITS = 6
PAGE_MASK = (1 << PAGE_BITS) - 1
SPACE = 0x20
# In a replacement row of a code point mapping, this value stands for the code point itself.
SELF = -1


@functools.cache
def load_unicode_tables() -> dict[str, np.ndarray]:
    """The probed tables, read once per process."""
    with np.load(TABLES_PATH) as archive:
        return {name: archive[name] for name in archive.files}


def _sparse_mapping(tables: dict[str, np.ndarray], name: str) -> dict[int, list[int]]:
    keys, splits, values = (tables[f"{name}_{part}"] for part in ("keys", "splits", "values"))
    return {
        int(key): values[splits[i] : splits[i + 1]].tolist() for i, key in enumerate(keys.tolist())
    }


@dataclasses.dataclass(frozen=True)
class TwoLevelTable:
    """A per-code-point int32 array as `pages[blocks[cp >> PAGE_BITS] + (cp & PAGE_MASK)]`."""

    blocks: np.ndarray  # int32 [NUM_CODE_POINTS >> PAGE_BITS], offsets into `pages`
    pages: np.ndarray  # int32 [num_pages << PAGE_BITS]

    @classmethod
    def from_array(cls, values: np.ndarray) -> TwoLevelTable:
        pages = np.ascontiguousarray(values.astype(np.int32).reshape(-1, 1 << PAGE_BITS))
        # Each page as one opaque item: a 1-D unique is ~10x faster than np.unique(axis=0).
        as_items = pages.view(np.dtype((np.void, pages.dtype.itemsize * pages.shape[1])))
        _, first, block_page = np.unique(as_items[:, 0], return_index=True, return_inverse=True)
        blocks = (block_page.reshape(-1) << PAGE_BITS).astype(np.int32)
        return cls(blocks=blocks, pages=pages[first].reshape(-1))


@functools.cache
def bert_normalizer_mapping(
    clean_text: bool, handle_chinese_chars: bool, strip_accents: bool, lowercase: bool
) -> tuple[dict[tuple[int, ...], np.ndarray], dict[int, tuple[int, ...]]]:
    """Code point → output of the BertNormalizer steps that work one code point at a time.

    The steps are clean_text, handle_chinese_chars, strip_accents (NFD, then drop Mn) and
    lowercase, composed in that order; NFD's canonical ordering of combining marks and the drop
    of marks (``combining_mark_properties``) need context and are left to the caller (lowercasing
    first is safe: the generator checks that lowercasing NFD output never changes a combining
    class or Mn-ness). Code points that map to themselves are left out.

    Returns ``(shared_rows, mapping)`` as ``CodePointMap`` takes them: the bulk (CJK ideographs
    padded with spaces, space-like and deleted code points, about 230,000) as a few rows shared
    by arrays of code points, built without a Python loop over them because every model load
    pays for it; ``mapping`` holds the rest and the exceptions, code point by code point.
    """
    tables = load_unicode_tables()
    flags = tables["flags"]
    nfd = _sparse_mapping(tables, "nfd") if strip_accents else {}
    lower = _sparse_mapping(tables, "lowercase") if lowercase else {}
    shared_rows: dict[tuple[int, ...], np.ndarray] = {}
    if handle_chinese_chars:
        shared_rows[(SPACE, SELF, SPACE)] = np.flatnonzero(flags & CHINESE)
    if clean_text:
        shared_rows[(SPACE,)] = np.flatnonzero(flags & CLEAN_SPACE)
        shared_rows[()] = np.flatnonzero(flags & CLEAN_DELETE)
    mapping: dict[int, tuple[int, ...]] = {}
    for code_point in sorted(set(nfd) | set(lower)):
        if clean_text and flags[code_point] & (CLEAN_SPACE | CLEAN_DELETE):
            continue
        if handle_chinese_chars and flags[code_point] & CHINESE:
            output = (SPACE, code_point, SPACE)
        else:
            output = (code_point,)
        output = [x for cp in output for x in nfd.get(cp, [cp])]
        output = tuple(x for cp in output for x in lower.get(cp, [cp]))
        if output != (code_point,):
            mapping[code_point] = output
    return shared_rows, mapping


@functools.cache
def combining_mark_properties() -> np.ndarray:
    """Per code point: its canonical combining class rank, plus ``PROPERTY_MARK`` for the
    nonspacing marks BertNormalizer's strip_accents drops."""
    tables = load_unicode_tables()
    properties = tables["combining_rank"].astype(np.int32)
    return properties | np.where(tables["flags"] & NONSPACING_MARK, PROPERTY_MARK, 0).astype(
        np.int32
    )


@functools.cache
def character_class_properties() -> np.ndarray:
    """Per code point: ``PROPERTY_WHITESPACE``, ``PROPERTY_PUNCTUATION`` (BertPreTokenizer's
    punctuation) and ``PROPERTY_WORD`` (regex ``\\w``) bits, as `tokenizers` classifies it."""
    flags = load_unicode_tables()["flags"]
    properties = np.where(flags & SPLIT_WHITESPACE, PROPERTY_WHITESPACE, 0)
    properties |= np.where(flags & SPLIT_PUNCTUATION, PROPERTY_PUNCTUATION, 0)
    properties |= np.where(flags & WORD_CHARACTER, PROPERTY_WORD, 0)
    return properties.astype(np.int32)
