"""The reranker: a Keras model that scores (query, document) pairs, as sentence-transformers'
``CrossEncoder`` does.

A cross-encoder reads both texts at once: the tokenizer joins each pair into one sequence
(``[CLS] query [SEP] document [SEP]`` for BERT, with ``longest_first`` truncation to
``max_seq_length``), the encoder runs over it, and the family's ``*ForSequenceClassification``
head turns the first token into logits (``tfst.models.classification_head``). The model is a
plain ``keras.Model``: call it on two 1-D ``tf.string`` tensors and get the logits
``[batch, num_labels]``. ``predict`` and ``rank`` are sentence-transformers 6's API on top: Python
lists in, NumPy out, length-sorted batches with per-batch padding, the model's activation
(sigmoid for one label unless the model's configuration names another), prompts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfst.config import ConfigError
from tfst.modules import Module, Transformer
from tfst.prompts import resolve_prompt
from tfst.text_checks import as_text

logger = logging.getLogger(__name__)


def _softmax_over_labels(logits: tf.Tensor) -> tf.Tensor:
    """torch's ``Softmax()`` (no ``dim``) on ``[batch, labels]``: over the labels."""
    return tf.nn.softmax(logits, axis=-1)


# sentence-transformers saves a cross-encoder's activation as the path of a torch module class
# (``activation_fn`` in config_sentence_transformers.json or in config.json's
# ``sentence_transformers`` block); these are the ones tfst computes, as TensorFlow functions.
ACTIVATION_FUNCTIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "torch.nn.modules.activation.Sigmoid": tf.math.sigmoid,
    "torch.nn.modules.linear.Identity": tf.identity,
    "torch.nn.modules.activation.Tanh": tf.math.tanh,
    "torch.nn.modules.activation.ReLU": tf.nn.relu,
    "torch.nn.modules.activation.Softmax": _softmax_over_labels,
}
SIGMOID = "torch.nn.modules.activation.Sigmoid"
IDENTITY = "torch.nn.modules.linear.Identity"
# torch.nn re-exports its module classes: ``torch.nn.Sigmoid`` names the same class.
_SHORT_NAMES = {f"torch.nn.{path.rsplit('.', 1)[1]}": path for path in ACTIVATION_FUNCTIONS}


def activation_function_path(name: str, where: str) -> str | None:
    """The ``ACTIVATION_FUNCTIONS`` key of a saved activation path, or None for a path outside
    torch, which sentence-transformers does not import without ``trust_remote_code`` either
    (it warns and uses the default; so does tfst). A torch activation tfst does not compute is
    refused: sentence-transformers would run it."""
    path = _SHORT_NAMES.get(name, name)
    if path in ACTIVATION_FUNCTIONS:
        return path
    if name.startswith("torch."):
        raise ConfigError(
            f"{where}: activation_fn {name!r:.120} is not supported; supported are "
            + ", ".join(ACTIVATION_FUNCTIONS)
        )
    logger.warning(
        "%s: activation_fn %r is not a torch activation; using the default activation instead "
        "(as sentence-transformers does without trust_remote_code)",
        where,
        name,
    )
    return None


def activation_path_of(function: Callable) -> str | None:
    """The ``ACTIVATION_FUNCTIONS`` path of one of its functions, None for any other."""
    return next((path for path, f in ACTIVATION_FUNCTIONS.items() if f is function), None)


@keras.saving.register_keras_serializable(package="tfst")
class CrossEncoder(keras.Model):
    """A sentence-transformers cross-encoder in Keras: (query, document) strings in, scores out.

    Args:
        modules: the model's modules; one ``Transformer`` whose ``transformer_task`` is
            ``sequence-classification`` (it has a classification head), as sentence-transformers
            6 saves a cross-encoder.
        activation_fn: what ``predict`` applies to the logits: a function of a float32 tensor
            (e.g. ``tf.math.sigmoid``), or a path of ``ACTIVATION_FUNCTIONS``
            (``"torch.nn.modules.activation.Sigmoid"``). None: sigmoid for one label, identity
            for more, as sentence-transformers.
        prompts: prompt name → text prepended to the query by ``predict(prompt_name=...)``.
        default_prompt_name: the prompt ``predict`` and ``rank`` use when given none.

    Build one with ``tfst.load_cross_encoder(...)``. Calling the model on two 1-D string tensors
    ``model(queries, documents)`` (or on the pair ``model((queries, documents))``, as Keras' ``fit``
    does) gives the logits ``[batch, num_labels]`` (no activation, no prompt). ``predict``
    replaces Keras' own: it is sentence-transformers'.

    Example:
        >>> model = tfst.load_cross_encoder("cross-encoder/ms-marco-MiniLM-L6-v2")
        >>> model.predict([("How many people live in Berlin?", "Berlin has 3.5 million people.")])
        >>> model.rank("How many people live in Berlin?", documents, top_k=3)
    """

    def __init__(
        self,
        modules: Sequence[Module],
        *,
        activation_fn: Callable | str | None = None,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Accept Python lists of strings in `__call__`, and a second positional input.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        modules = list(modules)
        if len(modules) != 1 or not isinstance(modules[0], Transformer) or modules[0].head is None:
            raise ValueError(
                "a CrossEncoder takes one Transformer module with a classification head "
                "(transformer_task 'sequence-classification'), got "
                + ", ".join(module.describe() for module in modules)
            )
        self.pipeline_modules = modules
        self.prompts = {name: text or "" for name, text in (prompts or {}).items()}
        if default_prompt_name is not None and default_prompt_name not in self.prompts:
            raise ValueError(
                f"default_prompt_name {default_prompt_name!r} is not one of the prompts "
                f"{list(self.prompts)}"
            )
        self.default_prompt_name = default_prompt_name
        if isinstance(activation_fn, str):
            path = _SHORT_NAMES.get(activation_fn, activation_fn)
            if path not in ACTIVATION_FUNCTIONS:
                raise ValueError(
                    f"activation_fn {activation_fn!r} is not one of {list(ACTIVATION_FUNCTIONS)}"
                )
            activation_fn = ACTIVATION_FUNCTIONS[path]
        if activation_fn is None:
            activation_fn = ACTIVATION_FUNCTIONS[SIGMOID if self.num_labels == 1 else IDENTITY]
        self.activation_fn = activation_fn
        self._score_pairs = self._trace_score_pairs()

    def __getitem__(self, index: int) -> Module:
        return self.pipeline_modules[index]

    def __len__(self) -> int:
        return len(self.pipeline_modules)

    @property
    def tokenizer(self):
        """The tokenizer (``tfst.text.Tokenizer``); it tokenizes pairs with ``longest_first``."""
        return self.pipeline_modules[0].tokenizer

    @property
    def encoder(self):
        """The encoder layer."""
        return self.pipeline_modules[0].encoder

    @property
    def head(self):
        """The classification head (``tfst.models.classification_head.ClassificationHead``)."""
        return self.pipeline_modules[0].head

    @property
    def num_labels(self) -> int:
        """Logits per pair: 1 for a reranker's relevance score."""
        return self.head.num_labels

    @property
    def max_seq_length(self) -> int:
        """Longest token sequence of a pair (special tokens included); longer pairs are
        truncated, the longer text first."""
        return self.pipeline_modules[0].max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.pipeline_modules[0].max_seq_length = value

    def replace(self, **changes) -> CrossEncoder:
        """A model like this one with some constructor arguments changed, sharing every module
        it keeps; this model is unchanged."""
        arguments = dict(
            modules=self.pipeline_modules,
            activation_fn=self.activation_fn,
            prompts=self.prompts,
            default_prompt_name=self.default_prompt_name,
            name=self.name,
        )
        arguments.update(changes)
        return type(self)(arguments.pop("modules"), **arguments)

    def build(self, input_shape=None):
        for module in self.pipeline_modules:
            if not module.built:
                module.build(None)
        self.built = True

    # --- the graph ----------------------------------------------------------------------------

    def forward_features(self, features: dict, training=None) -> dict:
        """Run the modules on tokenized pairs; the features they produce include ``scores``,
        the logits ``[batch, num_labels]``. ``training`` reaches the modules as Keras passes
        it; None follows the enclosing Keras call."""
        for module in self.pipeline_modules:
            features = module(features, training=training)
        return features

    def call(self, queries, documents=None, training=None):
        # Keras' fit, evaluate and functional models pass the inputs as one (queries, documents).
        if documents is None:
            queries, documents = queries
        if tf.executing_eagerly() and not training:
            queries = tf.convert_to_tensor(queries, tf.string)
            documents = tf.convert_to_tensor(documents, tf.string)
            if queries.shape.rank == 1 and documents.shape.rank == 1:
                # One traced graph (the one ``predict`` runs, inference only) instead of
                # hundreds of small ops dispatched one by one; gradients flow through it as
                # through the ops. Training calls run op by op.
                return self._score_pairs(queries, documents, tf.constant(""))
        features = self.pipeline_modules[0].tokenize(queries, documents)
        return self.forward_features(features, training=training)["scores"]

    def _trace_score_pairs(self):
        """The graph ``predict`` runs per batch: prompt + queries, documents → logits."""

        def score_pairs(queries, documents, prompt):
            features = self.pipeline_modules[0].tokenize(prompt + queries, documents)
            # training=False: traced once, this graph must not take the training flag of
            # whatever Keras call happened to trace it.
            return self.forward_features(features, training=False)["scores"]

        return tf.function(
            score_pairs,
            input_signature=[
                tf.TensorSpec([None], tf.string, name="queries"),
                tf.TensorSpec([None], tf.string, name="documents"),
                tf.TensorSpec([], tf.string, name="prompt"),
            ],
            autograph=False,
        )

    @property
    def _default_save_signature(self):
        # TensorFlow's SavedModel writer asks every Keras model for this; Keras' own guess feeds
        # float32 inputs, which a string model cannot take.
        return tf.function(
            lambda queries, documents: {"scores": self(queries, documents)},
            input_signature=[
                tf.TensorSpec([None], tf.string, name="queries"),
                tf.TensorSpec([None], tf.string, name="documents"),
            ],
            autograph=False,
        )

    def compute_output_spec(self, queries, documents=None):
        if documents is None:
            queries, documents = queries
        return keras.KerasTensor((queries.shape[0], self.num_labels), dtype="float32")

    # --- sentence-transformers API --------------------------------------------------------------

    def predict(
        self,
        inputs,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable | None = None,
        apply_softmax: bool = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
    ):
        """Score pairs the way ``sentence_transformers.CrossEncoder.predict`` does.

        ``inputs`` is one pair ``(query, document)`` or a list of them (lists, tuples, or a
        ``[n, 2]`` string array). Each pair's score is ``activation_fn`` of its logits (the
        model's activation unless given), squeezed to a scalar for one label; one pair gives a
        scalar (or ``[num_labels]``), a list ``[n]`` (or ``[n, num_labels]``) float32, in input
        order. Pairs are sorted by length so each batch pads little.

        Args:
            prompt_name: key of ``self.prompts`` whose text is prepended to every query.
            prompt: a prompt text; wins over ``prompt_name``. With neither, the prompt named
                ``default_prompt_name`` applies, if any.
            activation_fn: a function of the ``[batch, num_labels]`` logits (``tf.Tensor``).
            apply_softmax: with more than one label, softmax over the labels after the
                activation.
            convert_to_numpy: False gives a list of one ``tf.Tensor`` per pair.
            convert_to_tensor: one ``tf.Tensor``; wins over ``convert_to_numpy``.

        No pairs give an empty result (``(0,)`` float32; sentence-transformers gives float64).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        prompt = resolve_prompt(self.prompts, self.default_prompt_name, prompt, prompt_name)
        activation_fn = self.activation_fn if activation_fn is None else activation_fn
        queries, documents, single = _as_pairs(inputs)
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)

        # The same (unstable) sort as sentence-transformers, so batches and their padding match.
        order = np.argsort(
            [
                -(len(query) + len(document))
                for query, document in zip(queries, documents, strict=True)
            ]
        )
        prompt_tensor = tf.constant(prompt or "", tf.string)
        results: list = [None] * len(queries)
        for start in tqdm(
            range(0, len(queries), batch_size), desc="Batches", disable=not show_progress_bar
        ):
            indices = order[start : start + batch_size]
            logits = self._score_pairs(
                tf.constant([queries[i] for i in indices], tf.string),
                tf.constant([documents[i] for i in indices], tf.string),
                prompt_tensor,
            )
            scores = tf.convert_to_tensor(activation_fn(logits), tf.float32)
            if self.num_labels == 1:
                scores = scores[:, 0]
            elif apply_softmax:
                scores = tf.nn.softmax(scores, axis=1)
            for index, score in zip(indices, scores.numpy(), strict=True):
                results[index] = score

        stacked = np.stack(results) if results else np.zeros((0,), np.float32)
        if convert_to_tensor:
            scores = tf.constant(stacked)
        elif convert_to_numpy:
            scores = stacked
        else:
            scores = [tf.constant(score) for score in stacked]
        return scores[0] if single else scores

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: int | None = None,
        return_documents: bool = False,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable | None = None,
    ) -> list[dict[str, Any]]:
        """Documents ordered by their score for ``query``, as sentence-transformers' ``rank``:
        a list of ``{"corpus_id": index, "score": float}`` (plus ``"text"`` with
        ``return_documents``), highest score first (ties keep document order), ``top_k`` of
        them if given. Only for one-label models."""
        if self.num_labels != 1:
            raise ValueError(
                f"rank() needs a model with one label (a relevance score); this one has "
                f"{self.num_labels}: use predict() on the pairs instead"
            )
        if isinstance(documents, (str, bytes)):
            raise TypeError("documents must be a list of texts, got one text; wrap it in a list")
        documents = list(documents)
        scores = self.predict(
            [[query, document] for document in documents],
            prompt_name=prompt_name,
            prompt=prompt,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            activation_fn=activation_fn,
        )
        results = []
        for index, score in enumerate(scores.tolist()):
            result = {"corpus_id": index, "score": score}
            if return_documents:
                result["text"] = documents[index]
            results.append(result)
        return sorted(results, key=lambda result: result["score"], reverse=True)[:top_k]

    def save_pretrained(self, path) -> None:
        """Write a sentence-transformers 6 cross-encoder folder at ``path``: ``modules.json``,
        the Transformer (``config.json`` naming the ``*ForSequenceClassification`` class, weights
        under transformers' names, tokenizer files, ``sentence_bert_config.json``) and
        ``config_sentence_transformers.json`` with the activation and prompts.
        sentence-transformers' ``CrossEncoder`` and ``tfst.load_cross_encoder`` both load it."""
        from tfst import __version__
        from tfst.saving import save_modules

        model_config = {
            "model_type": "CrossEncoder",
            "__version__": {"tfst": __version__},
            "activation_fn": self._activation_path(),
            "prompts": dict(self.prompts),
            "default_prompt_name": self.default_prompt_name,
        }
        save_modules(self.pipeline_modules, path, model_config)

    def export(self, path, *, overwrite: bool = False, tokenizer_ops: str | None = None):
        """Write a SavedModel: (queries, documents) strings in, scores out; see
        ``tfst.export.saved_model`` for its signatures. ``tokenizer_ops`` as for
        ``SentenceTransformer.export``."""
        from tfst.export import export_cross_encoder

        return export_cross_encoder(self, path, overwrite=overwrite, tokenizer_ops=tokenizer_ops)

    def _activation_path(self) -> str:
        path = activation_path_of(self.activation_fn)
        if path is None:
            raise ValueError(
                f"activation_fn {self.activation_fn!r} cannot be saved: sentence-transformers "
                f"reads one of {list(ACTIVATION_FUNCTIONS)} (tfst.cross_encoder.ACTIVATION_FUNCTIONS)"
            )
        return path

    # --- Keras serialization ------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            modules=[keras.saving.serialize_keras_object(m) for m in self.pipeline_modules],
            activation_fn=self._activation_path(),
            prompts=dict(self.prompts),
            default_prompt_name=self.default_prompt_name,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        modules = [keras.saving.deserialize_keras_object(m) for m in config.pop("modules")]
        return cls(modules, **config)


def _as_pairs(inputs) -> tuple[list[str], list[str], bool]:
    """Queries, documents, and whether ``inputs`` was one pair (as sentence-transformers tells:
    a list or tuple whose first item is not itself a list or tuple, or a 1-D string array)."""
    if isinstance(inputs, tf.Tensor):
        inputs = inputs.numpy()
    if isinstance(inputs, np.ndarray):
        if inputs.size == 0:
            return [], [], False
        single = inputs.ndim < 2
        pairs = [inputs.tolist()] if single else inputs.tolist()
    elif isinstance(inputs, (list, tuple)):
        single = bool(inputs) and not isinstance(inputs[0], (list, tuple, np.ndarray))
        pairs = [inputs] if single else list(inputs)
    else:
        raise TypeError(
            "inputs must be a (query, document) pair or a list of them, "
            f"got {type(inputs).__name__}"
        )
    queries, documents = [], []
    for position, pair in enumerate(pairs):
        where = "inputs" if single else f"inputs[{position}]"
        if isinstance(pair, np.ndarray):
            pair = pair.tolist()
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(
                f"{where} must be a (query, document) pair of texts, got {pair!r:.120}"
            )
        queries.append(as_text(pair[0], f"{where}[0]"))
        documents.append(as_text(pair[1], f"{where}[1]"))
    return queries, documents, single
