"""Probe Python's ``str`` methods and write ``tfst/text/python_text_tables.npz``.

sentence-transformers' ``WhitespaceTokenizer`` (the tokenizer of ``WordEmbeddings`` and ``BoW``)
is plain Python: ``str.split()`` cuts at ``str.isspace()`` characters and ``str.lower()``
lowercases, including the context-dependent final sigma (Σ → ς at the end of a word). So the
reference is the running Python's ``str``, probed code point by code point:

- ``lowercase``: every code point ``chr(c).lower()`` changes, and what it becomes (U+0130 "İ"
  becomes two code points; U+03A3 "Σ" alone becomes "σ");
- ``whitespace``: ``chr(c).isspace()``;
- ``case_ignorable`` and ``cased``, the two properties of Python's final-sigma rule
  (``handle_capital_sigma`` in CPython's ``unicodeobject.c``: Σ is final when a cased character
  precedes it and none follows, case-ignorable characters between them skipped), probed through
  ``lower()`` itself: ``"A" + c + "Σ"`` ends in ς but ``"1" + c + "Σ"`` does not exactly when c
  is case-ignorable, and ``c + "Σ"`` ends in ς exactly when c is cased and not case-ignorable
  (the only cased characters the rule ever looks at).

The file records the Unicode version of the Python that wrote it (``unicode_version``);
``tests/text/test_whitespace_tokenizer.py`` regenerates the tables and compares when it runs on
a Python with the same version. Run: ``python tests/generate_python_text_tables.py`` (seconds).
"""

from __future__ import annotations

import unicodedata

import numpy as np

from tfst.text.python_text import TABLES_PATH

NUM_CODE_POINTS = 0x110000
FINAL_SIGMA = "\u03c2"


def build_tables() -> dict[str, np.ndarray]:
    keys, splits, values = [], [0], []
    whitespace, case_ignorable, cased = [], [], []
    for code_point in range(NUM_CODE_POINTS):
        char = chr(code_point)
        lowered = char.lower()
        if lowered != char:
            keys.append(code_point)
            values.extend(ord(out) for out in lowered)
            splits.append(len(values))
        if char.isspace():
            whitespace.append(code_point)
        after_cased = ("A" + char + "\u03a3").lower()[-1] == FINAL_SIGMA
        after_uncased = ("1" + char + "\u03a3").lower()[-1] == FINAL_SIGMA
        if after_cased and not after_uncased:
            case_ignorable.append(code_point)
        elif (char + "\u03a3").lower()[-1] == FINAL_SIGMA:
            cased.append(code_point)
    return {
        "lowercase_keys": np.asarray(keys, np.int32),
        "lowercase_splits": np.asarray(splits, np.int32),
        "lowercase_values": np.asarray(values, np.int32),
        "whitespace": np.asarray(whitespace, np.int32),
        "case_ignorable": np.asarray(case_ignorable, np.int32),
        "cased": np.asarray(cased, np.int32),
        "unicode_version": np.asarray(unicodedata.unidata_version),
    }


if __name__ == "__main__":
    tables = build_tables()
    np.savez_compressed(TABLES_PATH, **tables)
    sizes = {name: table.size for name, table in tables.items()}
    print(f"wrote {TABLES_PATH} (Unicode {unicodedata.unidata_version}): {sizes}")
