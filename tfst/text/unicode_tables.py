"""Per-code-point tables that reproduce the Hugging Face BERT normalizer and pre-tokenizer.

`unicode_tables.npz` is probed from the installed `tokenizers` by
`tests/generate_unicode_tables.py`; it holds one flag byte and one combining-class rank per code
point plus the NFD and lowercase mappings. This module composes them, for one normalizer
configuration, into the two arrays the layer gathers from: which output a code point becomes, and
how the pre-tokenizer treats each output code point. Both are stored as two-level tables (a block
index into deduplicated pages), so a lookup is two gathers and the arrays stay small.
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

# Bits of the composed per-output-code-point property table read by the layer.
PROPERTY_RANK_MASK = 0x3F  # canonical combining class rank, 0 for starters
PROPERTY_MARK = 0x40  # dropped after canonical ordering when accents are stripped
PROPERTY_WHITESPACE = 0x80
PROPERTY_PUNCTUATION = 0x100

# In a mapping row, this value stands for the input code point itself.
SELF = -1
PAGE_BITS = 6
PAGE_MASK = (1 << PAGE_BITS) - 1
SPACE = 0x20


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
        # Each page as one opaque value: np.unique sorts those fifty times faster than rows.
        page_bytes = pages.view(np.dtype((np.void, pages.shape[1] * pages.itemsize))).reshape(-1)
        _, first, block_page = np.unique(page_bytes, return_index=True, return_inverse=True)
        blocks = (block_page.reshape(-1) << PAGE_BITS).astype(np.int32)
        return cls(blocks=blocks, pages=pages[first].reshape(-1))


@dataclasses.dataclass(frozen=True)
class NormalizerTables:
    """The BERT normalizer for one configuration, as arrays.

    `mapping` gives each input code point a row of `row_splits`/`row_values`: the code points it
    normalizes to, with `SELF` for itself. When `reorder_marks` is set (accent stripping), the
    rows hold lowercased NFD output and the layer must still put marks in canonical order and drop
    those with `PROPERTY_MARK`; `properties` describes every code point a row can produce.
    """

    mapping: TwoLevelTable
    row_splits: np.ndarray
    row_values: np.ndarray
    properties: TwoLevelTable
    reorder_marks: bool


@functools.cache
def build_normalizer_tables(
    clean_text: bool, handle_chinese_chars: bool, strip_accents: bool, lowercase: bool
) -> NormalizerTables:
    """Compose the probed tables in the order the BERT normalizer applies its steps.

    The steps are clean_text, handle_chinese_chars, strip_accents (NFD, then drop Mn) and
    lowercase; all are per code point except NFD's canonical ordering of combining marks, which
    the layer does afterwards (lowercasing first is safe: the generator checks that lowercasing
    NFD output never changes a combining class or Mn-ness).
    """
    tables = load_unicode_tables()
    flags = tables["flags"]
    nfd = _sparse_mapping(tables, "nfd") if strip_accents else {}
    lower = _sparse_mapping(tables, "lowercase") if lowercase else {}

    rows: dict[tuple[int, ...], int] = {(SELF,): 0, (): 1, (SPACE,): 2, (SPACE, SELF, SPACE): 3}
    row_of = np.zeros(NUM_CODE_POINTS, dtype=np.int32)
    if handle_chinese_chars:
        row_of[(flags & CHINESE) != 0] = 3
    if clean_text:
        row_of[(flags & CLEAN_SPACE) != 0] = 2
        row_of[(flags & CLEAN_DELETE) != 0] = 1
    for code_point in sorted(set(nfd) | set(lower)):
        if row_of[code_point] in (1, 2):
            continue
        output = [code_point]
        if handle_chinese_chars and flags[code_point] & CHINESE:
            output = [SPACE, code_point, SPACE]
        output = [x for cp in output for x in nfd.get(cp, [cp])]
        output = [x for cp in output for x in lower.get(cp, [cp])]
        row = tuple(SELF if x == code_point else x for x in output)
        row_of[code_point] = rows.setdefault(row, len(rows))

    ordered_rows = sorted(rows, key=rows.get)
    row_splits = np.cumsum([0] + [len(row) for row in ordered_rows]).astype(np.int32)
    row_values = np.asarray([x for row in ordered_rows for x in row], dtype=np.int32)

    properties = np.where(flags & SPLIT_WHITESPACE, PROPERTY_WHITESPACE, 0)
    properties |= np.where(flags & SPLIT_PUNCTUATION, PROPERTY_PUNCTUATION, 0)
    if strip_accents:
        properties |= tables["combining_rank"].astype(np.int64)
        properties |= np.where(flags & NONSPACING_MARK, PROPERTY_MARK, 0)
    return NormalizerTables(
        mapping=TwoLevelTable.from_array(row_of),
        row_splits=row_splits,
        row_values=row_values,
        properties=TwoLevelTable.from_array(properties),
        reorder_marks=strip_accents,
    )
