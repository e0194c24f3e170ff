"""The Keras model that chains the modules: strings → tokens → encoder → pooling/dense/normalize.

``SentenceTransformer`` is a plain ``keras.Model``: call it on a 1-D ``tf.string`` batch (eagerly,
in a ``tf.function``, on ``keras.Input(shape=(), dtype="string")``) and get sentence embeddings.
``encode`` is the sentence-transformers-style convenience on top: Python lists in, NumPy out,
length-sorted batches with per-batch padding, results in input order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfst.layers.normalize import l2_normalize
from tfst.layers.pooling import Pooling

logger = logging.getLogger(__name__)

_OUTPUT_VALUES = ("sentence_embedding", "token_embeddings")


@keras.saving.register_keras_serializable(package="tfst")
class SentenceTransformer(keras.Model):
    """A sentence-transformers model in Keras: raw strings in, sentence embeddings out.

    Args:
        tokenizer: the string → ``input_ids``/``attention_mask``/``token_type_ids`` layer.
        encoder: the transformer layer returning token embeddings.
        modules: the layers after the encoder, in ``modules.json`` order (Pooling first).

    Build one with ``tfst.load(...)``; the constructor is for Keras deserialization and for
    assembling custom pipelines from tfst layers.
    """

    def __init__(self, tokenizer, encoder, modules: Sequence[keras.layers.Layer], **kwargs):
        super().__init__(**kwargs)
        if not modules or not isinstance(modules[0], Pooling):
            raise ValueError("the first module after the encoder must be a Pooling layer")
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.pipeline_modules = list(modules)
        self._embed_strings = tf.function(
            self._embed_strings_graph,
            input_signature=[tf.TensorSpec([None], tf.string, name="sentences")],
        )

    def build(self, input_shape=None):
        for layer in (self.encoder, *self.pipeline_modules):
            if not layer.built:
                layer.build(None)
        self.built = True

    # --- the graph ----------------------------------------------------------------------------

    def forward_features(self, features: dict) -> dict:
        """Run encoder and modules on tokenized features; returns token and sentence embeddings."""
        token_embeddings = self.encoder(features)
        embeddings = self.pipeline_modules[0](token_embeddings, features["attention_mask"])
        for module in self.pipeline_modules[1:]:
            embeddings = module(embeddings)
        return {
            "token_embeddings": token_embeddings,
            "attention_mask": features["attention_mask"],
            "sentence_embedding": embeddings,
        }

    def call(self, sentences):
        return self.forward_features(self.tokenizer(sentences))["sentence_embedding"]

    def _embed_strings_graph(self, sentences):
        return self.forward_features(self.tokenizer(sentences))

    @property
    def _default_save_signature(self):
        # TensorFlow's SavedModel writer asks every Keras model for this; Keras' own guess feeds
        # float32 inputs, which a string model cannot take.
        return tf.function(
            lambda sentences: {"sentence_embedding": self(sentences)},
            input_signature=[tf.TensorSpec([None], tf.string, name="sentences")],
        )

    def compute_output_spec(self, sentences):
        return keras.KerasTensor(
            (sentences.shape[0], self.get_sentence_embedding_dimension()), dtype="float32"
        )

    # --- sentence-transformers API --------------------------------------------------------------

    @property
    def max_seq_length(self) -> int:
        """Longest token sequence (incl. [CLS]/[SEP]) the model sees; longer input is truncated."""
        return self.tokenizer.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.tokenizer.max_length = value

    def get_sentence_embedding_dimension(self) -> int:
        dimension = self.pipeline_modules[0].output_dimension
        for module in self.pipeline_modules[1:]:
            dimension = getattr(module, "out_features", dimension)
        return dimension

    def tokenize(self, texts: Sequence[str]) -> dict[str, tf.Tensor]:
        """Token ids and masks as the model's tokenizer makes them, padded to the longest text."""
        return self.tokenizer(tf.constant(_as_string_list(texts), dtype=tf.string))

    def encode(
        self,
        sentences: str | Sequence[str],
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        output_value: str = "sentence_embedding",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        normalize_embeddings: bool = False,
    ):
        """Embed sentences the way ``sentence_transformers.SentenceTransformer.encode`` does.

        A single string gives a 1-D array; a list gives ``[len(sentences), dim]`` float32.
        Sentences are sorted by length so each batch pads little, and returned in input order.
        ``output_value="token_embeddings"`` gives one ``[tokens, hidden]`` array per sentence
        (padding removed). ``convert_to_tensor=True`` returns a ``tf.Tensor`` instead of NumPy.
        """
        if output_value not in _OUTPUT_VALUES:
            raise ValueError(f"output_value must be one of {_OUTPUT_VALUES}, got {output_value!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        single = isinstance(sentences, str)
        texts = _as_string_list([sentences] if single else sentences)
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)

        order = np.argsort([-len(text) for text in texts], kind="stable")
        results: list = [None] * len(texts)
        for start in tqdm(
            range(0, len(texts), batch_size), desc="Batches", disable=not show_progress_bar
        ):
            indices = order[start : start + batch_size]
            outputs = self._embed_strings(tf.constant([texts[i] for i in indices], dtype=tf.string))
            if output_value == "sentence_embedding":
                embeddings = outputs["sentence_embedding"]
                if normalize_embeddings:
                    embeddings = l2_normalize(embeddings)
                for index, embedding in zip(indices, embeddings.numpy(), strict=True):
                    results[index] = embedding
            else:
                lengths = tf.reduce_sum(outputs["attention_mask"], axis=1).numpy()
                token_embeddings = outputs["token_embeddings"].numpy()
                for row, index in enumerate(indices):
                    results[index] = token_embeddings[row, : lengths[row]]

        if output_value == "token_embeddings":
            results = [tf.constant(r) for r in results] if convert_to_tensor else results
            return results[0] if single else results
        if results:
            stacked = np.stack(results).astype(np.float32, copy=False)
        else:
            stacked = np.zeros((0, self.get_sentence_embedding_dimension()), np.float32)
        if convert_to_tensor:
            stacked = tf.constant(stacked)
        elif not convert_to_numpy:
            stacked = list(stacked)
        return stacked[0] if single else stacked

    def export(self, path, *, overwrite: bool = False):
        """Write a SavedModel: raw strings in, ``{"sentence_embedding": ...}`` out.

        Replaces ``keras.Model.export``: the artifact keeps the tokenizer in the graph and adds a
        signature for pre-tokenized ids. See ``tfst.export`` for the signatures.
        """
        from tfst.export import export_saved_model

        return export_saved_model(self, path, overwrite=overwrite)

    # --- Keras serialization ------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
            encoder=keras.saving.serialize_keras_object(self.encoder),
            modules=[keras.saving.serialize_keras_object(m) for m in self.pipeline_modules],
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        tokenizer = keras.saving.deserialize_keras_object(config.pop("tokenizer"))
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        modules = [keras.saving.deserialize_keras_object(m) for m in config.pop("modules")]
        return cls(tokenizer, encoder, modules, **config)


def _as_string_list(sentences) -> list[str]:
    """Accept any iterable of str; refuse anything else naming the offending position and type."""
    if isinstance(sentences, (bytes, dict)) or not hasattr(sentences, "__iter__"):
        raise TypeError(
            f"sentences must be a str or an iterable of str, got {type(sentences).__name__}"
        )
    texts = list(sentences)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"sentences[{position}] is a {type(text).__name__}, expected str: {text!r:.80}"
            )
    return texts
