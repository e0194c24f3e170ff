"""The SavedModel export: raw strings in, sentence embeddings out, in one TensorFlow graph.

The tokenizer, encoder, pooling, dense and normalize layers all live in the SavedModel's graph,
so serving needs only TensorFlow: nothing to keep aligned on the client side. With the default
core-ops tokenizer every op in the graph is a core TensorFlow op, so TF Serving, TF Java and other
runtimes without custom ops load it as it is; ``tokenizer_ops="tensorflow_text"`` writes
tensorflow-text's WordPiece op instead (same ids), which needs tensorflow-text where it is served.

SavedModel signatures:
    ``serving_default``: ``sentences`` (1-D tf.string) → ``{"sentence_embedding": [batch, dim]}``
    ``from_token_ids``: ``input_ids``, ``attention_mask`` (int64 ``[batch, seq]``, as the
        Hugging Face tokenizers and TF Serving's JSON API send them) → same output
    ``from_token_ids_int32``: the same with int32 inputs

"""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

from tfst.export.folders import export_folder
from tfst.text.models.wordpiece import WORDPIECE_OPS
from tfst.token_ids import checked_token_id_features


class ServingModule(tf.Module):
    """Holds the signature functions and exactly the state they read: the tokenizer's resources
    and the model's weights as plain ``tf.Variable``s.

    The Keras model itself is not tracked. Saved through it, each Keras variable is written as a
    fresh ``tf.Variable`` that the graph's own variable handles never see, so TensorFlow 1
    session loaders (TF Serving, ``saved_model_cli run``, TF Java) would run the graph on
    variables the checkpoint never restored.
    """

    def __init__(self, model):
        super().__init__(name="tfst_sentence_transformer")
        self._hold_untracked(model)
        self.tokenizer = model.tokenizer
        self.weights = [variable.value for variable in model.weights]

    @tf.__internal__.tracking.no_automatic_dependency_tracking
    def _hold_untracked(self, model):
        self._model = model

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def embed_sentences(self, sentences):
        return {"sentence_embedding": self._model(sentences)}

    def embed_token_ids(self, input_ids, attention_mask):
        # Checked before the cast, so that an int64 id past the int32 range cannot wrap around.
        checked = checked_token_id_features(
            {"input_ids": input_ids, "attention_mask": attention_mask}, self._model.encoder
        )
        features = {
            "input_ids": tf.cast(checked["input_ids"], tf.int32),
            "attention_mask": tf.cast(checked["attention_mask"], tf.int32),
            "token_type_ids": tf.zeros_like(input_ids, tf.int32),
        }
        embeddings = self._model.run_modules(features)["sentence_embedding"]
        return {"sentence_embedding": embeddings}


def _token_id_signature(module: ServingModule, dtype: tf.DType):
    function = tf.function(
        module.embed_token_ids,
        input_signature=[
            tf.TensorSpec([None, None], dtype, name="input_ids"),
            tf.TensorSpec([None, None], dtype, name="attention_mask"),
        ],
    )
    return function.get_concrete_function()


def with_tokenizer_ops(model, tokenizer_ops: str | None):
    """``model`` itself, or one sharing its encoder and modules whose tokenizer uses those ops.

    ``None`` keeps the model's tokenizer; ``"core"`` and ``"tensorflow_text"`` give the same ids.
    """
    if tokenizer_ops is None or model.tokenizer.ops == tokenizer_ops:
        return model
    if tokenizer_ops not in WORDPIECE_OPS:
        raise ValueError(f"tokenizer_ops must be one of {WORDPIECE_OPS}, got {tokenizer_ops!r}")
    config = {**model.tokenizer.get_config(), "ops": tokenizer_ops}
    tokenizer = type(model.tokenizer).from_config(config)
    first = model.pipeline_modules[0].with_tokenizer(tokenizer)
    return model.replace(modules=[first, *model.pipeline_modules[1:]])


def export_saved_model(
    model, path: str | os.PathLike, *, overwrite: bool = False, tokenizer_ops: str | None = None
) -> Path:
    """Write ``model`` as a SavedModel at ``path`` (see the module docstring for signatures).

    ``tokenizer_ops`` (``"core"`` or ``"tensorflow_text"``, same ids) overrides the model's
    tokenizer ops for the export; ``None`` keeps them.
    """
    with export_folder(path, overwrite) as staging:
        module = ServingModule(with_tokenizer_ops(model, tokenizer_ops))
        signatures = {
            "serving_default": module.embed_sentences.get_concrete_function(),
            "from_token_ids": _token_id_signature(module, tf.int64),
            "from_token_ids_int32": _token_id_signature(module, tf.int32),
        }
        tf.saved_model.save(module, str(staging), signatures=signatures)
    return Path(path)
