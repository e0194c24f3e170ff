"""The Keras model that chains the modules: strings → tokens → encoder → pooling/dense/normalize.

``SentenceTransformer`` is a plain ``keras.Model``: call it on a 1-D ``tf.string`` batch (eagerly,
in a ``tf.function``, on ``keras.Input(shape=(), dtype="string")``) and get sentence embeddings.
``encode`` is the sentence-transformers-style convenience on top: Python lists in, NumPy out,
length-sorted batches with per-batch padding, results in input order, with its prompts,
truncation, normalization and quantization options; ``similarity`` scores the results.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfst.messages import capped_listing
from tfst.models.transformer_block import check_precision
from tfst.modules import Module, Pooling
from tfst.modules.normalize import l2_normalize
from tfst.prompts import check_prompt, resolve_prompt
from tfst.quantization import PRECISIONS, quantize_embeddings
from tfst.similarity import (
    check_similarity_fn_name,
    pairwise_similarity_function,
    similarity_function,
)
from tfst.text_checks import as_string_list
from tfst.token_ids import checked_token_id_features

logger = logging.getLogger(__name__)

_OUTPUT_VALUES = ("sentence_embedding", "token_embeddings", None)
# sentence-transformers gives every model these prompt names (empty unless configured), so that
# encode_query / encode_document never fall back to default_prompt_name.
_STANDARD_PROMPT_NAMES = ("query", "document")


@keras.saving.register_keras_serializable(package="tfst")
class SentenceTransformer(keras.Model):
    """A sentence-transformers model in Keras: raw strings in, sentence embeddings out.

    Args:
        modules: the modules of ``modules.json``, in order (``tfst.modules``); the first takes
            text (a Transformer), the others pass the features dict on (Pooling, Dense, ...).
        prompts: prompt name → text prepended by ``encode(prompt_name=...)``; ``query`` and
            ``document`` are always there (empty unless given), as in sentence-transformers.
        default_prompt_name: the prompt ``encode`` uses when given neither prompt nor name.
        similarity_fn_name: ``cosine`` (when None), ``dot``, ``euclidean`` or ``manhattan``.
        truncate_dim: keep only the first ``truncate_dim`` dimensions in ``encode``.

    Build one with ``tfst.load(...)``; the constructor is for Keras deserialization and for
    assembling custom pipelines from tfst modules. ``model[i]`` is the i-th module, as in
    sentence-transformers; ``model.tokenizer`` and ``model.encoder`` are the first module's.
    """

    def __init__(
        self,
        modules: Sequence[Module],
        *,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        similarity_fn_name: str | None = None,
        truncate_dim: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        modules = list(modules)
        if not modules or not modules[0].is_input:
            raise ValueError("the first module must take text (e.g. a Transformer module)")
        if any(module.is_input for module in modules[1:]):
            raise ValueError("only the first module may take text")
        self.pipeline_modules = modules
        # A config's trainable=False reaches only the layer itself, not the layers its __init__
        # builds (the encoder's embeddings and blocks). Pass it down so a frozen model stays
        # frozen through a .keras round trip; the setter is called directly because Keras skips
        # `layer.trainable = False` on a layer whose flag is already False.
        for layer in self._flatten_layers(include_self=True, recursive=True):
            if not layer.trainable:
                keras.layers.Layer.trainable.fset(layer, False)
        prompts = {name: "" for name in _STANDARD_PROMPT_NAMES} | dict(prompts or {})
        for name, text in prompts.items():
            check_prompt(text, f"prompt {name!r:.100}", optional=True)
        self.prompts = {name: text or "" for name, text in prompts.items()}
        if default_prompt_name is not None and default_prompt_name not in self.prompts:
            raise ValueError(
                f"default_prompt_name {default_prompt_name!r:.100} is not one of the prompts "
                f"[{capped_listing(map(repr, self.prompts))}]"
            )
        self.default_prompt_name = default_prompt_name
        self.similarity_fn_name = similarity_fn_name
        self.truncate_dim = truncate_dim
        # Route → its traced encode graph (see embedding_function), and (prompt, route,
        # max_seq_length) → the prompt's token count (see prompt_length); not Keras state.
        self._embedding_functions = _UntrackedCache()
        self._prompt_lengths = _UntrackedCache()

    def __getitem__(self, index: int) -> Module:
        return self.pipeline_modules[index]

    def __len__(self) -> int:
        return len(self.pipeline_modules)

    @property
    def tokenizer(self):
        """The first module's tokenizer (``tfst.text.Tokenizer``)."""
        return self.pipeline_modules[0].tokenizer

    @property
    def encoder(self):
        """The first module's encoder layer."""
        return self.pipeline_modules[0].encoder

    def replace(self, **changes) -> SentenceTransformer:
        """A model like this one with some constructor arguments changed (``modules``,
        ``prompts``, ...), sharing every module it keeps; this model is unchanged."""
        arguments = dict(
            modules=self.pipeline_modules,
            prompts=self.prompts,
            default_prompt_name=self.default_prompt_name,
            similarity_fn_name=self._similarity_fn_name,
            truncate_dim=self.truncate_dim,
            name=self.name,
        )
        arguments.update(changes)
        return type(self)(arguments.pop("modules"), **arguments)

    def with_encoder_precision(self, precision: str) -> SentenceTransformer:
        """This model with its encoder computing in ``precision`` (``float32`` or ``bfloat16``,
        see ``tfst.models.transformer_block.PRECISIONS``); every other layer is shared."""
        encoder = self.encoder
        if check_precision(precision) == encoder.precision:
            return self
        converted = type(encoder).from_config({**encoder.get_config(), "precision": precision})
        converted.build()
        for target, source in zip(converted.weights, encoder.weights, strict=True):
            target.assign(keras.ops.cast(source, target.dtype))
        first = self.pipeline_modules[0].with_encoder(converted)
        return self.replace(modules=[first, *self.pipeline_modules[1:]])

    def build(self, input_shape=None):
        for module in self.pipeline_modules:
            if not module.built:
                module.build(None)
        self.built = True

    # --- the graph ----------------------------------------------------------------------------

    def modules_for_task(self, task: str | None = None) -> list[Module]:
        """The modules texts of ``task`` go through: the first module's route for the task, then
        the others. Only a Router picks a route by task (a ValueError names the routes when none
        fits, as in sentence-transformers); other models ignore ``task``."""
        first, *rest = self.pipeline_modules
        return [*first.route(task), *rest]

    def forward_features(self, features: dict, prompt_length=None, task: str | None = None) -> dict:
        """Run the modules on tokenized features; returns every feature they produce
        (``token_embeddings``, ``sentence_embedding``, ...).

        ``prompt_length`` (scalar int) is how many leading tokens a prompt took; pooling leaves
        them out when its ``include_prompt`` is False. ``task`` picks a Router's route. Ids and
        masks going into a Transformer are checked first (see ``tfst.token_ids``: a bad value
        raises ``tf.errors.InvalidArgumentError``).
        """
        encoder = getattr(self.pipeline_modules[0], "encoder", None)
        if encoder is not None:
            features = checked_token_id_features(features, encoder)
        return self.run_modules(features, prompt_length, task)

    def run_modules(
        self, features: dict, prompt_length=None, task: str | None = None, training=None
    ) -> dict:
        """``forward_features`` without the checks, for ids tfst's own tokenizer made (or
        that were checked already). ``training`` reaches the modules as Keras passes it (only
        Dropout, and an LSTM's dropout, act on it); None follows the enclosing Keras call."""
        if prompt_length is not None:
            features = {**features, "prompt_length": prompt_length}
        for module in self.modules_for_task(task):
            features = module(features, training=training)
        features.pop("prompt_length", None)
        return features

    def call(self, sentences, training=None):
        if tf.executing_eagerly() and not training:
            sentences = tf.convert_to_tensor(sentences, tf.string)
            if sentences.shape.rank == 1:
                # One traced graph (the one ``encode`` runs, inference only) instead of
                # hundreds of small ops dispatched one by one; gradients flow through it as
                # through the ops. Training calls run op by op, so dropout applies.
                embed = self.embedding_function()
                return embed(sentences, tf.constant(""), tf.constant(0))["sentence_embedding"]
        features = self.pipeline_modules[0].tokenize(sentences)
        return self.run_modules(features, training=training)["sentence_embedding"]

    def prompt_length(self, prompt: str | None, task: str | None = None) -> int:
        """Tokens a prompt takes at the start of a text, 0 for no prompt.

        As sentence-transformers measures it: the prompt tokenized alone (truncation and
        special tokens included), minus one for the trailing special token. Measured outside
        the batch graph, so that graph holds one copy of the tokenizer, and kept per prompt,
        route and ``max_seq_length`` (as sentence-transformers keeps it per prompt).
        """
        input_module = self.modules_for_task(task)[0]
        if not prompt or not input_module.gives_prompt_length:
            return 0
        key = (prompt, id(input_module), self.max_seq_length)
        if key not in self._prompt_lengths:
            features = input_module.tokenize(tf.constant([prompt], tf.string))
            self._prompt_lengths[key] = int(tf.reduce_sum(features["attention_mask"])) - 1
        return self._prompt_lengths[key]

    def embedding_function(self, task: str | None = None):
        """The graph ``encode`` runs per batch for ``task``: ``(sentences, prompt,
        prompt_length)`` → every output it can return (``prompt_length`` too, where the input
        module measures it); ``prompt_length`` is ``self.prompt_length(prompt, task)``.

        One concrete function per route, traced on first use and kept: called directly, it
        skips ``tf.function``'s per-call signature matching (about 0.5 ms, which a short query
        feels). Traced without AutoGraph: the modules are plain TensorFlow ops, and converting
        their code cost seconds of the first call.
        """
        modules = self.modules_for_task(task)
        key = tuple(id(module) for module in modules)
        if key not in self._embedding_functions:
            self._embedding_functions[key] = self._trace_embed_strings(task, modules[0])
        return self._embedding_functions[key]

    def _trace_embed_strings(self, task: str | None, input_module: Module):
        def embed_strings(sentences, prompt, prompt_length):
            # training=False: traced once, this graph must not take the training flag of
            # whatever Keras call happened to trace it.
            features = input_module.tokenize(prompt + sentences)
            if not input_module.gives_prompt_length:
                return self.run_modules(features, task=task, training=False)
            outputs = self.run_modules(
                features, prompt_length=prompt_length, task=task, training=False
            )
            return {**outputs, "prompt_length": prompt_length}

        return tf.function(
            embed_strings,
            input_signature=[
                tf.TensorSpec([None], tf.string, name="sentences"),
                tf.TensorSpec([], tf.string, name="prompt"),
                tf.TensorSpec([], tf.int32, name="prompt_length"),
            ],
            autograph=False,
        ).get_concrete_function()

    def set_pooling_include_prompt(self, include_prompt: bool) -> None:
        """Whether pooling keeps the prompt's tokens (False for INSTRUCTOR-style models)."""
        for module in self.pipeline_modules:
            if isinstance(module, Pooling):
                module.include_prompt = bool(include_prompt)
        self._embedding_functions.clear()

    @property
    def _default_save_signature(self):
        # TensorFlow's SavedModel writer asks every Keras model for this; Keras' own guess feeds
        # float32 inputs, which a string model cannot take.
        return tf.function(
            lambda sentences: {"sentence_embedding": self(sentences)},
            input_signature=[tf.TensorSpec([None], tf.string, name="sentences")],
            autograph=False,
        )

    def compute_output_spec(self, sentences):
        return keras.KerasTensor((sentences.shape[0], self._output_dimension()), dtype="float32")

    # --- sentence-transformers API --------------------------------------------------------------

    @property
    def max_seq_length(self) -> int | None:
        """Longest token sequence (special tokens included) the model sees; longer input is
        truncated. None when the first module has no such limit (e.g. BoW), as in
        sentence-transformers."""
        return getattr(self.pipeline_modules[0], "max_seq_length", None)

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.pipeline_modules[0].max_seq_length = value

    def _output_dimension(self) -> int:
        """Width of the sentence embeddings the modules produce (before any ``truncate_dim``)."""
        dimension = None
        for module in self.pipeline_modules:
            dimension = module.output_dimension(dimension)
        return dimension

    def get_embedding_dimension(self) -> int:
        """Width of ``encode``'s sentence embeddings, ``truncate_dim`` included."""
        dimension = self._output_dimension()
        return dimension if self.truncate_dim is None else min(dimension, self.truncate_dim)

    def get_sentence_embedding_dimension(self) -> int:
        """The name sentence-transformers < 6 used for ``get_embedding_dimension``."""
        return self.get_embedding_dimension()

    @property
    def similarity_fn_name(self) -> str:
        """How ``similarity`` scores: ``cosine`` unless the model or the user says otherwise."""
        return self._similarity_fn_name or "cosine"

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: str | None) -> None:
        self._similarity_fn_name = None if value is None else check_similarity_fn_name(value)

    def similarity(self, embeddings1, embeddings2) -> tf.Tensor:
        """``[n, m]`` scores between every row of ``embeddings1`` and every row of ``embeddings2``.

        Uses ``similarity_fn_name``; euclidean and manhattan give negative distances.
        """
        return similarity_function(self.similarity_fn_name)(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1, embeddings2) -> tf.Tensor:
        """``[n]`` scores between ``embeddings1[i]`` and ``embeddings2[i]``."""
        return pairwise_similarity_function(self.similarity_fn_name)(embeddings1, embeddings2)

    @contextlib.contextmanager
    def truncate_embeddings(self, truncate_dim: int | None) -> Iterator[None]:
        """Within this block, ``encode`` keeps only the first ``truncate_dim`` dimensions."""
        previous, self.truncate_dim = self.truncate_dim, truncate_dim
        try:
            yield
        finally:
            self.truncate_dim = previous

    def tokenize(self, texts: Sequence[str]) -> dict[str, tf.Tensor]:
        """Token ids and masks as the model's tokenizer makes them, padded to the longest text.

        ``texts`` is a batch, accepted and refused as in ``encode``; a bare str is refused
        (sentence-transformers would tokenize each of its characters as a text).
        """
        return self.pipeline_modules[0].tokenize(
            tf.constant(as_string_list(texts), dtype=tf.string)
        )

    def encode(
        self,
        sentences: str | Sequence[str],
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        output_value: str | None = "sentence_embedding",
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        task: str | None = None,
    ):
        """Embed sentences the way ``sentence_transformers.SentenceTransformer.encode`` does.

        A single string gives a 1-D array; a list gives ``[len(sentences), dim]`` float32.
        Sentences are sorted by length so each batch pads little, and returned in input order.

        ``sentences`` is a str, or a list, tuple, generator, 1-D NumPy array or 1-D ``tf.string``
        tensor of them; an empty one gives ``[0, dim]`` (sentence-transformers gives shape
        ``(0,)``). Items may also be ``bytes``, decoded as UTF-8 because that is what
        ``tf.string`` tensors hold; sentence-transformers refuses bytes, and tfst refuses
        invalid UTF-8 (``ValueError``) rather than guess (the exported SavedModel, which cannot
        refuse one item of a batch, reads invalid bytes as U+FFFD, like
        ``bytes.decode("utf-8", "replace")``). None, numbers, nested lists (text pairs), dicts
        and sets are refused with a ``TypeError``; every refusal names the item's position.

        Args:
            prompt_name: key of ``self.prompts`` whose text is prepended to every sentence.
            prompt: a prompt text; wins over ``prompt_name``. With neither, the prompt named
                ``default_prompt_name`` applies, if any.
            output_value: ``"token_embeddings"`` gives one ``[tokens, hidden]`` array per
                sentence (the rows its attention mask marks); ``None`` gives one dict per
                sentence with the token ids, masks, token embeddings (padded to the batch, as
                sentence-transformers does), sentence embedding and, with a prompt,
                ``prompt_length``.
            precision: ``float32``, or ``int8``/``uint8``/``binary``/``ubinary`` as
                ``tfst.quantization.quantize_embeddings`` makes them, calibrated on this call's
                embeddings (so ``int8`` needs more than one sentence).
            convert_to_tensor: a ``tf.Tensor`` instead of NumPy.
            normalize_embeddings: unit-length sentence embeddings (after truncation).
            truncate_dim: keep the first dimensions only; defaults to ``self.truncate_dim``.
            task: which route a Router module sends the sentences through (e.g. ``"query"``);
                chosen as sentence-transformers chooses it. Models without a Router ignore it.
        """
        if output_value not in _OUTPUT_VALUES:
            raise ValueError(f"output_value must be one of {_OUTPUT_VALUES}, got {output_value!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if output_value is None and precision != "float32":
            raise ValueError(
                f"precision={precision!r} needs output_value 'sentence_embedding' or "
                "'token_embeddings'; output_value=None returns whole feature dicts"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        prompt = self.resolve_prompt(prompt, prompt_name)
        truncate_dim = self.truncate_dim if truncate_dim is None else truncate_dim
        embed_strings = self.embedding_function(task)
        if isinstance(sentences, tf.Tensor):
            sentences = sentences.numpy()
        single = isinstance(sentences, (str, bytes))
        texts = as_string_list([sentences] if single else sentences)
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)

        # The same (unstable) sort as sentence-transformers, so batches and their padding match.
        order = np.argsort([-len(text) for text in texts])
        prompt_tensor = tf.constant(prompt or "", tf.string)
        prompt_length = tf.constant(self.prompt_length(prompt, task), tf.int32)
        results: list = [None] * len(texts)
        for start in tqdm(
            range(0, len(texts), batch_size), desc="Batches", disable=not show_progress_bar
        ):
            indices = order[start : start + batch_size]
            batch = tf.constant([texts[i] for i in indices], dtype=tf.string)
            outputs = embed_strings(batch, prompt_tensor, prompt_length)
            if output_value == "token_embeddings" and "token_embeddings" not in outputs:
                raise ValueError(
                    "output_value='token_embeddings' needs a model that makes token embeddings; "
                    f"this one's {type(self.modules_for_task(task)[0]).__name__} module makes "
                    "sentence embeddings directly"
                )
            if truncate_dim is not None:
                outputs["sentence_embedding"] = outputs["sentence_embedding"][:, :truncate_dim]
            if output_value == "sentence_embedding":
                embeddings = outputs["sentence_embedding"]
                if normalize_embeddings:
                    embeddings = l2_normalize(embeddings)
                for index, embedding in zip(indices, embeddings.numpy(), strict=True):
                    results[index] = embedding
            elif output_value == "token_embeddings":
                # The rows of real tokens, as sentence-transformers selects them (by the
                # attention mask, so a text without tokens gets none).
                real = outputs["attention_mask"].numpy() != 0
                token_embeddings = outputs["token_embeddings"].numpy()
                for row, index in enumerate(indices):
                    results[index] = token_embeddings[row][real[row]]
            else:
                prompt_length = outputs.pop("prompt_length", None)
                arrays = {name: value.numpy() for name, value in outputs.items()}
                for row, index in enumerate(indices):
                    results[index] = {name: value[row] for name, value in arrays.items()}
                    if prompt and prompt_length is not None:
                        results[index]["prompt_length"] = int(prompt_length)

        if output_value is None:
            if convert_to_tensor:
                results = [
                    {name: tf.constant(value) for name, value in result.items()}
                    for result in results
                ]
            return results[0] if single else results
        if output_value == "token_embeddings":
            if precision != "float32":
                results = quantize_embeddings(results, precision)
            results = [tf.constant(r) for r in results] if convert_to_tensor else results
            return results[0] if single else results
        if results:
            stacked = np.stack(results).astype(np.float32, copy=False)
            if precision != "float32":
                stacked = quantize_embeddings(stacked, precision)
        else:
            stacked = np.zeros((0, self.get_embedding_dimension()), np.float32)
        if convert_to_tensor:
            stacked = tf.constant(stacked)
        elif not convert_to_numpy:
            stacked = list(stacked)
        return stacked[0] if single else stacked

    def encode_query(self, sentences, prompt_name=None, prompt=None, **kwargs):
        """``encode`` with ``task="query"`` and the ``query`` prompt unless another prompt is
        given."""
        return self.encode(sentences, **self.query_arguments(prompt_name, prompt), **kwargs)

    def encode_document(self, sentences, prompt_name=None, prompt=None, **kwargs):
        """``encode`` with ``task="document"`` and the first of the ``document``, ``passage``,
        ``corpus`` prompts unless another prompt is given."""
        return self.encode(sentences, **self.document_arguments(prompt_name, prompt), **kwargs)

    def query_arguments(self, prompt_name=None, prompt=None) -> dict:
        """The ``encode`` arguments ``encode_query`` passes: task, prompt name and prompt."""
        if prompt_name is None and prompt is None and "query" in self.prompts:
            prompt_name = "query"
        return {"task": "query", "prompt_name": prompt_name, "prompt": prompt}

    def document_arguments(self, prompt_name=None, prompt=None) -> dict:
        """The ``encode`` arguments ``encode_document`` passes: task, prompt name and prompt."""
        if prompt_name is None and prompt is None:
            prompt_name = next(
                (name for name in ("document", "passage", "corpus") if name in self.prompts), None
            )
        return {"task": "document", "prompt_name": prompt_name, "prompt": prompt}

    def resolve_prompt(self, prompt: str | None, prompt_name: str | None) -> str | None:
        """The prompt text ``encode`` prepends: ``prompt``, else the one named ``prompt_name``,
        else the default prompt's; None for none."""
        return resolve_prompt(self.prompts, self.default_prompt_name, prompt, prompt_name)

    def save_pretrained(self, path) -> None:
        """Write a sentence-transformers folder (weights, tokenizer, configs) at ``path``.

        sentence-transformers and ``tfst.load`` both load it; see ``tfst.saving``.
        """
        from tfst.saving import save_pretrained

        save_pretrained(self, path)

    def export(self, path, *, overwrite: bool = False, tokenizer_ops: str | None = None):
        """Write a SavedModel: raw strings in, ``{"sentence_embedding": ...}`` out.

        Replaces ``keras.Model.export``: the artifact keeps the tokenizer in the graph and adds a
        signature for pre-tokenized ids. See ``tfst.export`` for the signatures.
        ``tokenizer_ops`` overrides the tokenizer's ops for the export (same ids): ``"core"``,
        the default tokenizer's, needs no custom op to serve; ``"tensorflow_text"`` needs
        tensorflow-text where it is served; ``None`` keeps the tokenizer's own.
        """
        from tfst.export import export_saved_model

        return export_saved_model(self, path, overwrite=overwrite, tokenizer_ops=tokenizer_ops)

    def export_tflite(self, path, *, overwrite: bool = False, quantize: str | None = None):
        """Write ``model.tflite`` (token ids in, builtin ops only) and ``tokenizer/`` (a
        core-ops SavedModel: strings → ids) into the folder ``path``; ``quantize="int8"``
        stores int8 weights (dynamic range quantization). See ``tfst.export.tflite``."""
        from tfst.export import export_tflite

        return export_tflite(self, path, overwrite=overwrite, quantize=quantize)

    def export_onnx(self, path, *, overwrite: bool = False, with_tokenizer: bool = True):
        """Write ``model.onnx`` (token ids in, standard ONNX operators) and, unless
        ``with_tokenizer=False``, ``model_with_tokenizer.onnx`` (strings in, through
        onnxruntime-extensions' tokenizer operators) into the folder ``path``; see
        ``tfst.export.onnx``. Needs the ``onnx`` extra."""
        from tfst.export.onnx import export_onnx

        return export_onnx(self, path, overwrite=overwrite, with_tokenizer=with_tokenizer)

    # --- Keras serialization ------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            modules=[keras.saving.serialize_keras_object(m) for m in self.pipeline_modules],
            prompts=dict(self.prompts),
            default_prompt_name=self.default_prompt_name,
            similarity_fn_name=self._similarity_fn_name,
            truncate_dim=self.truncate_dim,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        modules = [keras.saving.deserialize_keras_object(m) for m in config.pop("modules")]
        return cls(modules, **config)


class _UntrackedCache:
    """Values by key (traced functions, prompt lengths), kept out of Keras' and TensorFlow's
    attribute tracking (a dict attribute would be tracked, and its functions exported with the
    model)."""

    def __init__(self):
        self._functions = {}

    def __contains__(self, key) -> bool:
        return key in self._functions

    def __getitem__(self, key):
        return self._functions[key]

    def __setitem__(self, key, function) -> None:
        self._functions[key] = function

    def clear(self) -> None:
        self._functions.clear()
