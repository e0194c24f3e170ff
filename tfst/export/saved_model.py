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

A model whose first module is a Router (one pipeline per task) has no token-id signatures, since
each route has its own tokenizer; it has one strings signature per route instead:
    ``serving_default``: the default route, as ``encode(sentences)`` (if the Router has one)
    ``query``: ``encode_query(sentences)``, its route and its prompt
    ``document``: ``encode_document(sentences)``, its route and its prompt
    one more per route no other signature reaches, named by the route: ``encode(sentences,
        task=route)``

"""

from __future__ import annotations

import contextlib
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
        self.text_layers = model.pipeline_modules[0].text_layers()
        self.weights = [variable.value for variable in model.weights]

    @tf.__internal__.tracking.no_automatic_dependency_tracking
    def _hold_untracked(self, model):
        self._model = model

    def embed_sentences(self, sentences):
        return {"sentence_embedding": self._model(sentences)}

    def embed_token_ids(self, input_ids, attention_mask):
        encoder = getattr(self._model.pipeline_modules[0], "encoder", None)
        if encoder is not None:
            # Checked before the cast, so that an int64 id past the int32 range cannot wrap.
            checked = checked_token_id_features(
                {"input_ids": input_ids, "attention_mask": attention_mask}, encoder
            )
            input_ids, attention_mask = checked["input_ids"], checked["attention_mask"]
        features = {
            "input_ids": tf.cast(input_ids, tf.int32),
            "attention_mask": tf.cast(attention_mask, tf.int32),
            "token_type_ids": tf.zeros_like(input_ids, tf.int32),
        }
        embeddings = self._model.run_modules(features)["sentence_embedding"]
        return {"sentence_embedding": embeddings}

    def task_signature(self, task: str, prompt: str):
        """``encode(sentences, task=task, prompt=prompt)``'s graph as a signature function."""
        embed = self._model.embedding_function(task)

        def embed_for_task(sentences):
            return {
                "sentence_embedding": embed(sentences, tf.constant(prompt))["sentence_embedding"]
            }

        function = tf.function(
            embed_for_task, input_signature=[tf.TensorSpec([None], tf.string, name="sentences")]
        )
        return function.get_concrete_function()


def _sentences_signature(module: ServingModule):
    function = tf.function(
        module.embed_sentences,
        input_signature=[tf.TensorSpec([None], tf.string, name="sentences")],
    )
    return function.get_concrete_function()


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
    if tokenizer_ops is not None and tokenizer_ops not in WORDPIECE_OPS:
        raise ValueError(f"tokenizer_ops must be one of {WORDPIECE_OPS}, got {tokenizer_ops!r}")
    # Text layers other than the tokenizer.json pipeline have core ops only.
    if tokenizer_ops is None or getattr(model.tokenizer, "ops", "core") == tokenizer_ops:
        return model
    input_module = model.pipeline_modules[0]
    if not hasattr(input_module, "with_tokenizer"):
        raise ValueError(
            f"tokenizer_ops={tokenizer_ops!r} needs a model whose first module runs a "
            f"tokenizer.json pipeline; this one's is a {type(input_module).__name__}"
        )
    config = {**model.tokenizer.get_config(), "ops": tokenizer_ops}
    tokenizer = type(model.tokenizer).from_config(config)
    first = input_module.with_tokenizer(tokenizer)
    return model.replace(modules=[first, *model.pipeline_modules[1:]])


def export_saved_model(
    model, path: str | os.PathLike, *, overwrite: bool = False, tokenizer_ops: str | None = None
) -> Path:
    """Write ``model`` as a SavedModel at ``path`` (see the module docstring for signatures).

    ``tokenizer_ops`` (``"core"`` or ``"tensorflow_text"``, same ids) overrides the model's
    tokenizer ops for the export; ``None`` keeps them.
    """
    with export_folder(path, overwrite) as staging:
        model = with_tokenizer_ops(model, tokenizer_ops)
        module = ServingModule(model)
        if model.pipeline_modules[0].tasks():
            signatures = _route_signatures(model, module)
        else:
            signatures = {
                "serving_default": _sentences_signature(module),
                "from_token_ids": _token_id_signature(module, tf.int64),
                "from_token_ids_int32": _token_id_signature(module, tf.int32),
            }
        tf.saved_model.save(module, str(staging), signatures=signatures)
    return Path(path)


def _route_signatures(model, module: ServingModule) -> dict:
    """One strings signature per route of the model's Router (see the module docstring)."""
    signatures, reached = {}, []
    with contextlib.suppress(ValueError):  # no default route: encode() without a task fails too
        reached.append(model.modules_for_task(None))
        signatures["serving_default"] = _sentences_signature(module)
    standard = {"query": model.query_arguments(), "document": model.document_arguments()}
    for task in model.pipeline_modules[0].tasks():
        modules = model.modules_for_task(task)
        if task not in standard and modules in reached:
            continue
        reached.append(modules)
        arguments = standard.get(task, {"prompt": "", "prompt_name": None})
        prompt = model.resolve_prompt(arguments["prompt"], arguments["prompt_name"]) or ""
        signatures[task] = module.task_signature(task, prompt)
    return signatures
