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


# The parts of a pipeline transformers' backend tokenizer and tfst's folder resolution both hold.
PIPELINE_KEYS = (
    "normalizer",
    "pre_tokenizer",
    "model",
    "post_processor",
    "decoder",
    "added_tokens",
)


def transformers_pipeline(folder: Path) -> dict:
    """The pipeline transformers builds for ``folder``: its backend tokenizer's JSON."""
    import transformers

    hf = transformers.AutoTokenizer.from_pretrained(str(folder))
    return json.loads(hf.backend_tokenizer.to_str())


def assert_same_pipeline_as_transformers(folder: Path, default_class: str) -> None:
    """tfst's resolution of ``folder`` is, part for part, the pipeline transformers builds."""
    ours = read_tokenizer_settings(Path(folder), default_class).tokenizer_json
    theirs = transformers_pipeline(folder)
    for key in PIPELINE_KEYS:
        assert ours.get(key) == theirs.get(key), key


def assert_same_ids_as_transformers(
    folder: Path, default_class: str, texts: list[str], max_length: int = 64
) -> None:
    """tfst's layer for ``folder`` gives transformers' ids for ``texts``, as sentence-transformers
    calls the tokenizer (padding, truncation to ``max_length``)."""
    import numpy as np
    import transformers

    hf = transformers.AutoTokenizer.from_pretrained(str(folder))
    expected = hf(
        texts, padding=True, truncation="longest_first", max_length=max_length, return_tensors="np"
    )
    actual = layer_from_folder(folder, max_length=max_length, default_class=default_class)(texts)
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(actual[name].numpy(), expected[name], err_msg=name)
