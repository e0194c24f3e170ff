"""Text TensorFlow can hold: a ``str`` with a UTF-8 form, or a file of valid UTF-8.

Python strings may hold lone surrogates (U+D800 to U+DFFF), e.g. from a JSON ``"\\ud800"``
escape or ``errors="surrogateescape"`` decoding. They have no UTF-8 form, so TensorFlow cannot
turn them into a ``tf.string``, and fails with an error that names no input. Callers check
first, and name the input themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf


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


def as_string_list(sentences) -> list[str]:
    """A batch of texts as a list of str, or a TypeError/ValueError naming the bad item.

    Any iterable of str works (1-D arrays and tensors included); bytes items are decoded as
    UTF-8. Refused here rather than deep inside TensorFlow: non-text items, invalid UTF-8, and
    lone surrogates (which TensorFlow cannot turn into UTF-8).
    """
    if isinstance(sentences, tf.Tensor):
        sentences = sentences.numpy()
    if isinstance(sentences, np.ndarray) and sentences.ndim != 1:
        raise TypeError(f"sentences must be a 1-D array, got shape {sentences.shape}")
    if isinstance(sentences, (str, bytes)):
        raise TypeError(
            f"expected a batch of texts, got one {type(sentences).__name__}; wrap it in a list"
        )
    if isinstance(sentences, (dict, set, frozenset)) or not hasattr(sentences, "__iter__"):
        raise TypeError(
            "sentences must be a str, or a list, tuple, generator or 1-D array of str, "
            f"got {type(sentences).__name__}"
        )
    return [as_text(text, f"sentences[{position}]") for position, text in enumerate(sentences)]


def as_text(text, where: str) -> str:
    """One text as a str: bytes are decoded as UTF-8; anything else, invalid UTF-8 and lone
    surrogates (which TensorFlow cannot turn into UTF-8) are refused naming ``where``."""
    if isinstance(text, bytes):
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(
                f"{where} is not valid UTF-8 ({error.reason} at byte {error.start}); decode it "
                "yourself, e.g. with errors='replace'"
            ) from None
    if not isinstance(text, str):
        raise TypeError(f"{where} is a {type(text).__name__}, expected str: {text!r:.80}")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"{where} has no UTF-8 form ({error.reason} at character {error.start})"
            ) from None
    return text
