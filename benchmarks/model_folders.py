"""The model a benchmark times: its folder (a hub id is downloaded once) and its max_seq_length."""

from __future__ import annotations

import json
from pathlib import Path


def resolve_model_folder(model: str) -> Path:
    """A local folder as it is; a hub id through the Hugging Face cache."""
    if Path(model).is_dir():
        return Path(model)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(model))


def max_seq_length_of(folder: Path) -> int:
    """sentence-transformers' order: ``sentence_bert_config.json``, else the tokenizer's
    ``model_max_length`` (where sentence-transformers 6 saves it), else 512."""
    for name, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
    ):
        path = folder / name
        value = json.loads(path.read_text()).get(key) if path.is_file() else None
        if isinstance(value, int) and value <= 100_000:
            return value
    return 512
