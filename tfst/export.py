"""A TensorFlow SavedModel that takes raw strings and returns sentence embeddings.

The tokenizer, encoder, pooling, dense and normalize layers all live in the graph, so serving
needs only TensorFlow and tensorflow-text: nothing to keep aligned on the client side.

Signatures:
    ``serving_default``: ``sentences`` (1-D tf.string) → ``{"sentence_embedding": [batch, dim]}``
    ``from_token_ids``: ``input_ids``, ``attention_mask`` (int64 ``[batch, seq]``, as the
        Hugging Face tokenizers and TF Serving's JSON API send them) → same output
    ``from_token_ids_int32``: the same with int32 inputs
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import tensorflow as tf


class _ServingModule(tf.Module):
    """Holds the model (and so its variables and tokenizer resources) and the signature functions."""

    def __init__(self, model):
        super().__init__(name="tfst_sentence_transformer")
        self.model = model

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def embed_sentences(self, sentences):
        return {"sentence_embedding": self.model(sentences)}

    def embed_token_ids(self, input_ids, attention_mask):
        features = {
            "input_ids": tf.cast(input_ids, tf.int32),
            "attention_mask": tf.cast(attention_mask, tf.int32),
            "token_type_ids": tf.zeros_like(input_ids, tf.int32),
        }
        return {"sentence_embedding": self.model.forward_features(features)["sentence_embedding"]}


def _token_id_signature(module: _ServingModule, dtype: tf.DType):
    function = tf.function(
        module.embed_token_ids,
        input_signature=[
            tf.TensorSpec([None, None], dtype, name="input_ids"),
            tf.TensorSpec([None, None], dtype, name="attention_mask"),
        ],
    )
    return function.get_concrete_function()


def prepare_export_folder(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse to clobber a non-empty folder unless asked; never follow a symlink out of ``path``."""
    path = Path(path)
    if path.is_symlink():
        raise FileExistsError(f"{path} is a symbolic link; export into a real folder")
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{path} is not empty; pass overwrite=True to replace its contents"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_saved_model(model, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``model`` as a SavedModel at ``path`` (see the module docstring for signatures)."""
    path = prepare_export_folder(path, overwrite)
    module = _ServingModule(model)
    signatures = {
        "serving_default": module.embed_sentences.get_concrete_function(),
        "from_token_ids": _token_id_signature(module, tf.int64),
        "from_token_ids_int32": _token_id_signature(module, tf.int32),
    }
    tf.saved_model.save(module, str(path), signatures=signatures)
    return path
