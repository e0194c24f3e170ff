"""Building tfst tokenizer layers for tests: from a folder (as tfst.load does) or from a Hugging
Face tokenizer object (the same tokenizer.json pipeline that object runs)."""

from __future__ import annotations

import json
from pathlib import Path

from tfst.text import Tokenizer
from tfst.text.tokenizer_folder import read_tokenizer_settings


def layer_from_folder(
    folder: Path, ops: str = "core", max_length: int = 512, default_class: str = "BertTokenizer"
) -> Tokenizer:
    """The tokenizer tfst.load builds for ``folder`` (``default_class``: the family's)."""
    settings = read_tokenizer_settings(Path(folder), default_class)
    return Tokenizer(**settings.layer_arguments(), max_length=max_length, ops=ops)


def layer_from_hf(hf, ops: str = "core", max_length: int = 512) -> Tokenizer:
    """A tfst tokenizer running exactly the pipeline of a transformers fast tokenizer."""
    return Tokenizer(
        json.loads(hf.backend_tokenizer.to_str()),
        pad_token_id=hf.pad_token_id,
        max_length=max_length,
        ops=ops,
    )
