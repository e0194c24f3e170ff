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

A cross-encoder's SavedModel (``export_cross_encoder``) has:
    ``serving_default``: ``queries``, ``documents`` (1-D tf.string, one pair per row) →
        ``{"scores": ..., "logits": [batch, labels]}``; ``scores`` is what ``predict`` returns
        by default: the model's activation of the logits, ``[batch]`` for one label (else
        ``[batch, labels]``). Prompts are not applied.
    ``from_token_ids``: ``input_ids``, ``attention_mask`` and, when the tokenizer gives the model
        ``token_type_ids`` (BERT: 0 for the query, 1 for the document), ``token_type_ids``
        (int64 ``[batch, seq]``) → same outputs
    ``from_token_ids_int32``: the same with int32 inputs

Token ids from the caller are checked in the graph first (``tfst.token_ids``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import tensorflow as tf

from tfst.export.folders import export_folder
from tfst.text.models.wordpiece import WORDPIECE_OPS
from tfst.token_ids import checked_token_id_features

_IDS = ("input_ids", "attention_mask")


class ServingState(tf.Module):
    """Holds the signature functions and exactly the state they read: the text layers'
    resources and the model's weights as plain ``tf.Variable``s.

    The Keras model itself is not tracked. Saved through it, each Keras variable is written as a
    fresh ``tf.Variable`` that the graph's own variable handles never see, so TensorFlow 1
    session loaders (TF Serving, ``saved_model_cli run``, TF Java) would run the graph on
    variables the checkpoint never restored.
    """

    def __init__(self, model, name: str):
        super().__init__(name=name)
        self._hold_untracked(model)
        self.text_layers = model.pipeline_modules[0].text_layers()
        self.weights = [variable.value for variable in model.weights]

    @tf.__internal__.tracking.no_automatic_dependency_tracking
    def _hold_untracked(self, model):
        self._model = model

    def _checked(self, features: dict) -> dict:
        """``features`` checked against the first module's encoder (when it has one), then
        cast to int32: the check comes first, so an int64 id past int32 cannot wrap around."""
        encoder = getattr(self._model.pipeline_modules[0], "encoder", None)
        if encoder is not None:
            features = checked_token_id_features(features, encoder)
        return {name: tf.cast(value, tf.int32) for name, value in features.items()}


class ServingModule(ServingState):
    """A sentence-transformer's signature functions."""

    def __init__(self, model):
        super().__init__(model, name="tfst_sentence_transformer")

    def embed_sentences(self, sentences):
        return {"sentence_embedding": self._model(sentences)}

    def embed_token_ids(self, input_ids, attention_mask):
        features = self._checked({"input_ids": input_ids, "attention_mask": attention_mask})
        features["token_type_ids"] = tf.zeros_like(features["input_ids"])
        embeddings = self._model.run_modules(features)["sentence_embedding"]
        return {"sentence_embedding": embeddings}

    def task_signature(self, task: str, prompt: str):
        """``encode(sentences, task=task, prompt=prompt)``'s graph as a signature function."""
        embed = self._model.embedding_function(task)
        prompt_length = self._model.prompt_length(prompt, task)

        def embed_for_task(sentences):
            outputs = embed(sentences, tf.constant(prompt), tf.constant(prompt_length))
            return {"sentence_embedding": outputs["sentence_embedding"]}

        function = tf.function(
            embed_for_task,
            input_signature=[tf.TensorSpec([None], tf.string, name="sentences")],
            autograph=False,
        )
        return function.get_concrete_function()


def _sentences_signature(module: ServingModule):
    function = tf.function(
        module.embed_sentences,
        input_signature=[tf.TensorSpec([None], tf.string, name="sentences")],
        autograph=False,
    )
    return function.get_concrete_function()


class CrossEncoderServingModule(ServingState):
    """A cross-encoder's signature functions."""

    def __init__(self, model):
        super().__init__(model, name="tfst_cross_encoder")

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="queries"),
            tf.TensorSpec([None], tf.string, name="documents"),
        ],
        autograph=False,
    )
    def score_pairs(self, queries, documents):
        return self._outputs(self._model(queries, documents))

    def score_token_ids(self, input_ids, attention_mask, token_type_ids=None):
        features = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            features["token_type_ids"] = token_type_ids
        features = self._checked(features)
        features.setdefault("token_type_ids", tf.zeros_like(features["input_ids"]))
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
        autograph=False,
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
                "from_token_ids": _token_id_signature(module.embed_token_ids, _IDS, tf.int64),
                "from_token_ids_int32": _token_id_signature(module.embed_token_ids, _IDS, tf.int32),
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


def export_cross_encoder(
    model, path: str | os.PathLike, *, overwrite: bool = False, tokenizer_ops: str | None = None
) -> Path:
    """Write a ``tfst.CrossEncoder`` as a SavedModel at ``path`` (signatures in the module
    docstring); ``tokenizer_ops`` as for ``export_saved_model``."""
    with export_folder(path, overwrite) as staging:
        module = CrossEncoderServingModule(with_tokenizer_ops(model, tokenizer_ops))
        names = _IDS + (("token_type_ids",) if model.tokenizer.return_token_type_ids else ())
        signatures = {
            "serving_default": module.score_pairs.get_concrete_function(),
            "from_token_ids": _token_id_signature(module.score_token_ids, names, tf.int64),
            "from_token_ids_int32": _token_id_signature(module.score_token_ids, names, tf.int32),
        }
        tf.saved_model.save(module, str(staging), signatures=signatures)
    return Path(path)
