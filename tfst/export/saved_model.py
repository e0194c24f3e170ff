"""The SavedModel export: raw strings in, sentence embeddings (or cross-encoder scores) out, in
one TensorFlow graph.

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

A cross-encoder's SavedModel (``export_cross_encoder``) has:
    ``serving_default``: ``queries``, ``documents`` (1-D tf.string, one pair per row) →
        ``{"scores": ..., "logits": [batch, labels]}``; ``scores`` is what ``predict`` returns
        by default: the model's activation of the logits, ``[batch]`` for one label (else
        ``[batch, labels]``). Prompts are not applied.
    ``from_token_ids``: ``input_ids``, ``attention_mask`` and, when the tokenizer gives the model
        ``token_type_ids`` (BERT: 0 for the query, 1 for the document), ``token_type_ids``
        (int64 ``[batch, seq]``) → same outputs
    ``from_token_ids_int32``: the same with int32 inputs
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import tensorflow as tf

from tfst.text.models.wordpiece import WORDPIECE_OPS


class ServingState(tf.Module):
    """Holds the signature functions and exactly the state they read: the tokenizer's resources
    and the model's weights as plain ``tf.Variable``s.

    The Keras model itself is not tracked. Saved through it, each Keras variable is written as a
    fresh ``tf.Variable`` that the graph's own variable handles never see, so TensorFlow 1
    session loaders (TF Serving, ``saved_model_cli run``, TF Java) would run the graph on
    variables the checkpoint never restored.
    """

    def __init__(self, model, name: str):
        super().__init__(name=name)
        self._hold_untracked(model)
        self.tokenizer = model.tokenizer
        self.weights = [variable.value for variable in model.weights]

    @tf.__internal__.tracking.no_automatic_dependency_tracking
    def _hold_untracked(self, model):
        self._model = model


class ServingModule(ServingState):
    """A sentence-transformer's signature functions."""

    def __init__(self, model):
        super().__init__(model, name="tfst_sentence_transformer")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def embed_sentences(self, sentences):
        return {"sentence_embedding": self._model(sentences)}

    def embed_token_ids(self, input_ids, attention_mask):
        features = {
            "input_ids": tf.cast(input_ids, tf.int32),
            "attention_mask": tf.cast(attention_mask, tf.int32),
            "token_type_ids": tf.zeros_like(input_ids, tf.int32),
        }
        return {"sentence_embedding": self._model.forward_features(features)["sentence_embedding"]}


class CrossEncoderServingModule(ServingState):
    """A cross-encoder's signature functions."""

    def __init__(self, model):
        super().__init__(model, name="tfst_cross_encoder")

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="queries"),
            tf.TensorSpec([None], tf.string, name="documents"),
        ]
    )
    def score_pairs(self, queries, documents):
        return self._outputs(self._model(queries, documents))

    def score_token_ids(self, input_ids, attention_mask, token_type_ids=None):
        features = {
            "input_ids": tf.cast(input_ids, tf.int32),
            "attention_mask": tf.cast(attention_mask, tf.int32),
            "token_type_ids": tf.cast(
                tf.zeros_like(input_ids) if token_type_ids is None else token_type_ids, tf.int32
            ),
        }
        return self._outputs(self._model.forward_features(features)["scores"])

    def _outputs(self, logits):
        scores = self._model.activation_fn(logits)
        if self._model.num_labels == 1:
            scores = scores[:, 0]
        return {"scores": scores, "logits": logits}


def _token_id_signature(function, names: tuple[str, ...], dtype: tf.DType):
    """``function`` traced on ``[batch, seq]`` integer inputs named ``names``."""
    function = tf.function(
        function,
        input_signature=[tf.TensorSpec([None, None], dtype, name=name) for name in names],
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
    path = prepare_export_folder(path, overwrite)
    module = ServingModule(with_tokenizer_ops(model, tokenizer_ops))
    names = ("input_ids", "attention_mask")
    signatures = {
        "serving_default": module.embed_sentences.get_concrete_function(),
        "from_token_ids": _token_id_signature(module.embed_token_ids, names, tf.int64),
        "from_token_ids_int32": _token_id_signature(module.embed_token_ids, names, tf.int32),
    }
    tf.saved_model.save(module, str(path), signatures=signatures)
    return path


def export_cross_encoder(
    model, path: str | os.PathLike, *, overwrite: bool = False, tokenizer_ops: str | None = None
) -> Path:
    """Write a ``tfst.CrossEncoder`` as a SavedModel at ``path`` (signatures in the module
    docstring); ``tokenizer_ops`` as for ``export_saved_model``."""
    path = prepare_export_folder(path, overwrite)
    module = CrossEncoderServingModule(with_tokenizer_ops(model, tokenizer_ops))
    names = ("input_ids", "attention_mask")
    if model.tokenizer.return_token_type_ids:
        names += ("token_type_ids",)
    signatures = {
        "serving_default": module.score_pairs.get_concrete_function(),
        "from_token_ids": _token_id_signature(module.score_token_ids, names, tf.int64),
        "from_token_ids_int32": _token_id_signature(module.score_token_ids, names, tf.int32),
    }
    tf.saved_model.save(module, str(path), signatures=signatures)
    return path
