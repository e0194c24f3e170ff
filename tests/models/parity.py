"""One parity harness for every encoder family: load a tfst encoder from a folder through the
registry, and compare its hidden states with transformers' AutoModel on the same features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfst.checkpoint import find_weights_file, load_checkpoint_tensors
from tfst.models.registry import family_for


def load_encoder(folder: Path, precision: str = "float32"):
    """The encoder of a Hugging Face model folder, filled from its checkpoint."""
    path = Path(folder) / "config.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    family = family_for(raw.get("model_type"), path)
    encoder = family.build_encoder(family.read_config(raw, path), precision)
    table = encoder.weight_table()
    encoder.build()
    weights = find_weights_file(folder)
    table.assign(encoder, load_checkpoint_tensors(weights), source=weights)
    return encoder


def random_features(
    seed: int = 0,
    batch: int = 3,
    length: int = 12,
    vocab_size: int = 30000,
    pad_id: int = 0,
    lengths: tuple[int, ...] | None = None,
    token_types: bool = True,
) -> dict[str, np.ndarray]:
    """Random ids (never ``pad_id``) with right padding: row i keeps ``lengths[i]`` tokens."""
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(5, vocab_size, size=(batch, length))
    input_ids[input_ids == pad_id] = pad_id + 1
    lengths = lengths or tuple([length, 7, 3, 10, 1][i % 5] for i in range(batch))
    attention_mask = (np.arange(length)[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)
    input_ids[attention_mask == 0] = pad_id
    features = {"input_ids": input_ids, "attention_mask": attention_mask}
    if token_types:
        token_type_ids = np.zeros_like(input_ids)
        token_type_ids[0, length // 2 :] = 1
        features["token_type_ids"] = token_type_ids
    return features


def largest_difference_from_transformers(folder: Path, run_encoder, features: dict) -> float:
    """Max abs difference, over real tokens, between ``run_encoder(tf features)`` and
    transformers' ``AutoModel`` from ``folder`` on the same features."""
    import torch
    from transformers import AutoModel

    with torch.no_grad():
        reference = AutoModel.from_pretrained(str(folder)).eval()
        expected = reference(**{name: torch.tensor(value) for name, value in features.items()})
        expected = expected.last_hidden_state.numpy()
    actual = run_encoder(
        {name: tf.constant(value, tf.int32) for name, value in features.items()}
    ).numpy()
    real = features["attention_mask"].astype(bool)
    return float(np.abs(actual[real] - expected[real]).max())
