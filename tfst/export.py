"""Serving artifacts: a SavedModel that takes raw strings and returns sentence embeddings, and a
TensorFlow Lite model with its tokenizer beside it.

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

TensorFlow Lite (``export_tflite``) takes token ids, not strings: turning a string tensor into
numbers (``UnicodeDecode``, ``Substr``, ``StaticRegexReplace``, ...) has no TFLite builtin, and
the select-TF-ops (Flex) delegate those ops would need ships with neither TensorFlow's
``tf.lite.Interpreter`` nor ``ai-edge-litert``. So the folder holds ``model.tflite`` (ids in,
builtin ops only) and ``tokenizer/``, a core-ops SavedModel that makes the ids from strings.
"""

from __future__ import annotations

import os
from pathlib import Path

import flatbuffers
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as tflite_schema

from tfst.folder_paths import replacing_folder
from tfst.text.models.wordpiece import WORDPIECE_OPS
from tfst.text.tokenizer import Tokenizer
from tfst.token_ids import checked_token_id_features

TFLITE_MODEL_FILE = "model.tflite"
TFLITE_TOKENIZER_FOLDER = "tokenizer"


class _ServingModule(tf.Module):
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
        embeddings = self._model._forward_valid_features(features)["sentence_embedding"]
        return {"sentence_embedding": embeddings}


def _token_id_signature(module: _ServingModule, dtype: tf.DType):
    function = tf.function(
        module.embed_token_ids,
        input_signature=[
            tf.TensorSpec([None, None], dtype, name="input_ids"),
            tf.TensorSpec([None, None], dtype, name="attention_mask"),
        ],
    )
    return function.get_concrete_function()


def export_folder(path: str | os.PathLike, overwrite: bool):
    """A context manager giving a temporary sibling of ``path`` to write an export into; it
    becomes ``path`` only when the export succeeds (see ``tfst.folder_paths.replacing_folder``).

    A non-empty ``path`` is replaced only with ``overwrite=True`` and only if it holds an
    earlier export (SavedModel or TFLite folder), never a folder of other files; a symbolic link
    at ``path`` is refused, so nothing is written through it.
    """
    return replacing_folder(path, overwrite=overwrite, replaceable=_is_earlier_export)


def _is_earlier_export(folder: Path) -> bool:
    """Whether ``folder`` holds only what ``export`` or ``export_tflite`` write."""
    entries = {entry.name for entry in folder.iterdir()}
    saved_model = {"saved_model.pb", "variables", "assets", "fingerprint.pb"}
    tflite = {TFLITE_MODEL_FILE, TFLITE_TOKENIZER_FOLDER}
    return entries <= saved_model | tflite and bool(entries & {"saved_model.pb", TFLITE_MODEL_FILE})


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
    return type(model)(tokenizer, model.encoder, model.pipeline_modules, name=model.name)


def export_saved_model(
    model, path: str | os.PathLike, *, overwrite: bool = False, tokenizer_ops: str | None = None
) -> Path:
    """Write ``model`` as a SavedModel at ``path`` (see the module docstring for signatures).

    ``tokenizer_ops`` (``"core"`` or ``"tensorflow_text"``, same ids) overrides the model's
    tokenizer ops for the export; ``None`` keeps them.
    """
    with export_folder(path, overwrite) as staging:
        module = _ServingModule(with_tokenizer_ops(model, tokenizer_ops))
        signatures = {
            "serving_default": module.embed_sentences.get_concrete_function(),
            "from_token_ids": _token_id_signature(module, tf.int64),
            "from_token_ids_int32": _token_id_signature(module, tf.int32),
        }
        tf.saved_model.save(module, str(staging), signatures=signatures)
    return Path(path)


class _TokenizerModule(tf.Module):
    """The tokenizer alone: strings → ``input_ids``, ``attention_mask``, ``token_type_ids``."""

    def __init__(self, tokenizer: Tokenizer):
        super().__init__(name="tfst_tokenizer")
        self.tokenizer = tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def tokenize(self, sentences):
        return self.tokenizer(sentences)


def export_tflite(model, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``model.tflite`` (token ids → embedding) and ``tokenizer/`` (core-ops SavedModel).

    ``model.tflite`` uses TFLite builtin ops only; its one signature, ``serving_default``, takes
    ``input_ids`` and ``attention_mask`` as int32 ``[1, seq]`` (one text per call, any length,
    no padding needed) and returns ``sentence_embedding`` ``[1, dim]``. The batch is fixed at one
    because the encoder's ``[:, None, None, :]`` mask slices have no builtin form for two
    dynamic dimensions. ``tokenizer/``'s ``serving_default`` turns strings into the ids.
    """
    with export_folder(path, overwrite) as staging:
        core_model = with_tokenizer_ops(model, "core")
        tokenizer = _TokenizerModule(core_model.tokenizer)
        tf.saved_model.save(
            tokenizer,
            str(staging / TFLITE_TOKENIZER_FOLDER),
            signatures=tokenizer.tokenize.get_concrete_function(),
        )
        (staging / TFLITE_MODEL_FILE).write_bytes(_token_ids_to_tflite(core_model))
    return Path(path)


def _token_ids_to_tflite(model) -> bytes:
    """The ids → embedding graph as a TFLite flatbuffer of builtin ops, with weights inside."""
    module = _ServingModule(model)
    function = tf.function(
        module.embed_token_ids,
        input_signature=[
            tf.TensorSpec([1, None], tf.int32, name="input_ids"),
            tf.TensorSpec([1, None], tf.int32, name="attention_mask"),
        ],
    ).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    # Through a SavedModel the converter keeps Keras 3 weights as uninitialized resource
    # variables; the frozen-graph path folds them into constants.
    converter.experimental_lower_to_saved_model = False
    return _add_signature(converter.convert(), outputs=["sentence_embedding"])


def _add_signature(flatbuffer: bytes, outputs: list[str]) -> bytes:
    """Name the inputs (by tensor name) and outputs (in order) in a ``serving_default``
    signature, which the frozen-graph conversion path does not write."""
    model = tflite_schema.ModelT.InitFromObj(tflite_schema.Model.GetRootAsModel(flatbuffer, 0))
    subgraph = model.subgraphs[0]

    def tensor_map(name: str, index: int):
        entry = tflite_schema.TensorMapT()
        entry.name, entry.tensorIndex = name, index
        return entry

    signature = tflite_schema.SignatureDefT()
    signature.signatureKey = "serving_default"
    signature.subgraphIndex = 0
    signature.inputs = [
        tensor_map(subgraph.tensors[index].name.decode(), index) for index in subgraph.inputs
    ]
    signature.outputs = [
        tensor_map(name, index) for name, index in zip(outputs, subgraph.outputs, strict=True)
    ]
    model.signatureDefs = [signature]
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
