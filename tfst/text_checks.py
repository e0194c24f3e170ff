"""Text TensorFlow can hold: a ``str`` with a UTF-8 form, or a file of valid UTF-8.

Python strings may hold lone surrogates (U+D800 to U+DFFF), e.g. from a JSON ``"\\ud800"``
escape or ``errors="surrogateescape"`` decoding. They have no UTF-8 form, so TensorFlow cannot
turn them into a ``tf.string``, and fails with an error that names no input. Callers check
first, and name the input themselves.
"""

from __future__ import annotations

import os
from pathlib import Path


def utf8_problem(text: str) -> str | None:
    """Why ``text`` has no UTF-8 form (``"a lone surrogate U+D800 at character 3"``), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"a lone surrogate U+{ord(text[error.start]):04X} at character {error.start}"
    return None


def read_utf8_file(path: str | os.PathLike) -> str:
    """A file's text; invalid UTF-8 raises ``ValueError`` naming the file, byte offset and line."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path} is not valid UTF-8: {error.reason} at byte {error.start:,} (line {line:,}), "
            f"byte {data[error.start : error.start + 1].hex()}"
        ) from None
