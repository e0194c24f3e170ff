"""The StaticEmbedding module: a tokenizer and one embedding table, averaged over the tokens.

A static embedding model (model2vec's ``potion-*``, ``static-retrieval-mrl-en-v1``, ...) is
this module, usually followed by Normalize. sentence-transformers tokenizes with the folder's
``tokenizer.json`` as written, without special tokens, without padding and with the truncation
``tokenizer.json`` configures (none in most), and averages the tokens' rows with an
``nn.EmbeddingBag``: a text without tokens gets the zero vector.

Its folder holds ``tokenizer.json`` and the weights: ``embedding.weight`` as sentence-transformers
saves it, or model2vec's ``embeddings`` (optionally with a token ``mapping`` into its rows and
per-token ``weights``), which sentence-transformers folds into one row per token id.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfst.checkpoint import find_weights_file, load_checkpoint_tensors
from tfst.config import ConfigError, read_json
from tfst.files import write_json, write_safetensors
from tfst.modules.base import PACKAGE, LoadOptions, Module
from tfst.text.spec import TokenizerSpecError, choice, option
from tfst.text.tokenizer import Tokenizer
from tfst.weights import WeightMismatchError, WeightTable, WeightTarget

EMBEDDING_NAME = "embedding.weight"
# model2vec's tensors: rows, the row of each token id, and each token id's weight.
MODEL2VEC_EMBEDDINGS = "embeddings"
MODEL2VEC_MAPPING = "mapping"
MODEL2VEC_WEIGHTS = "weights"
_TRUNCATION_DIRECTIONS = {"Right": "right", "Left": "left"}


@keras.saving.register_keras_serializable(package="tfst")
class StaticEmbedding(Module):
    """Mean of per-token embedding rows, from raw strings.

    Args:
        tokenizer: the ``tfst.text.Tokenizer`` of the folder's ``tokenizer.json``; only its
            ids are used (no special tokens, no padding, as sentence-transformers calls it).
        embedding: a ``keras.layers.Embedding`` whose rows the token ids index.
        truncation: ``(max_length, side)`` from ``tokenizer.json``'s ``truncation``, or None.

    ``tokenize`` gives ``input_ids`` and ``attention_mask`` (padded to the longest text);
    ``call`` adds ``sentence_embedding``: the mean of the real tokens' rows, zeros for none.
    """

    type_names = ("StaticEmbedding",)
    saved_type = f"{PACKAGE}.sentence_transformer.modules.static_embedding.StaticEmbedding"
    folder_name = ""
    has_weights = True
    is_input = True

    def __init__(
        self,
        tokenizer: Tokenizer,
        embedding: keras.layers.Embedding,
        truncation: tuple[int, str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.embedding = embedding
        self.truncation = None if truncation is None else (int(truncation[0]), truncation[1])
        if tokenizer.vocabulary_size() > embedding.input_dim:
            raise ValueError(
                f"the tokenizer has ids up to {tokenizer.vocabulary_size() - 1}, but the "
                f"embedding table has {embedding.input_dim} rows"
            )
        # Eager calls run one traced graph, as the tokenizer's own calls do.
        traced = tf.function(
            self._tokenize, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False
        )
        self._tokenize_eagerly = lambda strings: traced(strings)

    @classmethod
    def from_folder(cls, folder: Path, options: LoadOptions | None = None) -> StaticEmbedding:
        tokenizer_path = folder / "tokenizer.json"
        tokenizer_json = read_json(tokenizer_path)
        truncation = read_truncation(tokenizer_json, str(tokenizer_path))
        tokenizer = Tokenizer(
            tokenizer_json,
            truncation_side=truncation[1] if truncation else "right",
            source=str(tokenizer_path),
            name="tokenizer",
        )
        weights = find_weights_file(folder)
        table = embedding_rows(load_checkpoint_tensors(weights), weights)
        if tokenizer.vocabulary_size() > table.shape[0]:
            raise ConfigError(
                f"{tokenizer_path} has ids up to {tokenizer.vocabulary_size() - 1}, but the "
                f"embedding table in {weights} has {table.shape[0]} rows: those ids have none"
            )
        embedding = keras.layers.Embedding(
            table.shape[0], table.shape[1], embeddings_initializer="zeros", name="embedding"
        )
        module = cls(tokenizer, embedding, truncation, name="static_embedding")
        module.build()
        module.weight_table().assign(module, {EMBEDDING_NAME: table}, source=weights)
        return module

    def save(self, folder: Path) -> None:
        write_safetensors(folder / "model.safetensors", self.weight_table().export(self))
        # sentence-transformers turns padding off and writes the tokenizer as it then is.
        write_json(folder / "tokenizer.json", {**self.tokenizer.tokenizer_json, "padding": None})

    def weight_table(self) -> WeightTable:
        """The one table, under the name sentence-transformers saves it with."""
        shape = (self.embedding.input_dim, self.embedding.output_dim)
        return WeightTable({EMBEDDING_NAME: WeightTarget("embedding.embeddings", shape)})

    @property
    def max_seq_length(self) -> float:
        """Infinite, as sentence-transformers reports it: the module itself never truncates
        (a ``truncation`` in ``tokenizer.json`` does)."""
        return math.inf

    @max_seq_length.setter
    def max_seq_length(self, value) -> None:
        raise AttributeError(
            "StaticEmbedding has no max_seq_length to set (sentence-transformers' has none "
            "either); truncation comes from tokenizer.json"
        )

    def with_tokenizer(self, tokenizer: Tokenizer) -> StaticEmbedding:
        """Another tokenizer (e.g. other ops, same ids) in front of the same table."""
        return StaticEmbedding(tokenizer, self.embedding, self.truncation, name=self.name)

    def text_layers(self) -> list:
        return [self.tokenizer]

    def tokenize(self, strings) -> dict:
        """Strings → ``input_ids`` and ``attention_mask`` ``[batch, longest]`` int32: the ids of
        ``tokenizer.json`` without special tokens, truncated as it says."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if tf.executing_eagerly():
            return self._tokenize_eagerly(strings)
        return self._tokenize(strings)

    def _tokenize(self, strings: tf.Tensor) -> dict:
        if self.truncation is None:
            ids = self.tokenizer.encode_ids(strings)
        else:
            max_length, side = self.truncation
            ids = self.tokenizer.encode_ids(strings, tf.constant(max_length, tf.int64))
            kept = tf.minimum(ids.row_lengths(), max_length)
            starts = ids.row_starts() if side == "right" else ids.row_limits() - kept
            positions = tf.ragged.range(starts, starts + kept).flat_values
            ids = tf.RaggedTensor.from_row_lengths(
                tf.gather(ids.values, positions), kept, validate=False
            )
        lengths = ids.row_lengths()
        input_ids = tf.cast(ids.to_tensor(default_value=0), tf.int32)
        attention_mask = tf.sequence_mask(lengths, tf.shape(input_ids)[1], dtype=tf.int32)
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def build(self, input_shape=None):
        if not self.embedding.built:
            self.embedding.build()
        self.built = True

    def call(self, features):
        mask = tf.cast(features["attention_mask"], tf.bool)
        # Only the real tokens' rows are gathered; each text's sum then divided by its count.
        token_ids = tf.boolean_mask(features["input_ids"], mask)
        text_of_token = tf.where(mask)[:, 0]
        rows = tf.gather(self.embedding.embeddings, token_ids)
        batch = tf.shape(mask, out_type=tf.int64)[0]
        sums = tf.math.unsorted_segment_sum(rows, text_of_token, batch)
        counts = tf.reduce_sum(tf.cast(mask, sums.dtype), axis=1, keepdims=True)
        return {**features, "sentence_embedding": sums / tf.maximum(counts, 1.0)}

    def output_dimension(self, input_dimension=None) -> int:
        return self.embedding.output_dim

    def describe(self) -> str:
        model = self.tokenizer.tokenizer_json["model"].get("type")
        truncation = "" if self.truncation is None else f", truncation={self.truncation[0]}"
        return (
            f"StaticEmbedding(rows={self.embedding.input_dim}, "
            f"dimension={self.embedding.output_dim}; tokenizer={model}{truncation})"
        )

    def compute_output_spec(self, features):
        batch = features["input_ids"].shape[0]
        return {
            **features,
            "sentence_embedding": keras.KerasTensor((batch, self.embedding.output_dim), "float32"),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
            embedding=keras.saving.serialize_keras_object(self.embedding),
            truncation=None if self.truncation is None else list(self.truncation),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        tokenizer = keras.saving.deserialize_keras_object(config.pop("tokenizer"))
        embedding = keras.saving.deserialize_keras_object(config.pop("embedding"))
        return cls(tokenizer, embedding, **config)


def read_truncation(tokenizer_json: dict, where: str) -> tuple[int, str] | None:
    """``tokenizer.json``'s ``truncation`` as ``(max_length, side)``, or None.

    For one text without special tokens, `tokenizers` keeps the first (``Right``) or last
    (``Left``) ``max_length`` ids whatever the strategy (``LongestFirst``, ``OnlyFirst``);
    ``OnlySecond`` fails on every text that needs cutting, and a ``stride`` of ``max_length``
    or more panics, so both are refused. ``stride`` only shapes the overflowing pieces, which
    sentence-transformers drops.
    """
    truncation = option(tokenizer_json, "truncation", (dict, type(None)), where, None)
    if truncation is None:
        return None
    where = f"{where}, truncation"
    max_length = option(truncation, "max_length", int, where)
    stride = option(truncation, "stride", int, where)
    choice(truncation, "strategy", ("LongestFirst", "OnlyFirst"), where)
    direction = choice(truncation, "direction", tuple(_TRUNCATION_DIRECTIONS), where, "Right")
    if max_length < 0 or stride < 0:
        raise TokenizerSpecError(f"{where}: max_length and stride must be >= 0")
    if 0 < max_length <= stride:
        raise TokenizerSpecError(
            f"{where}: stride {stride} must be less than max_length {max_length} "
            "(`tokenizers` panics on any text it has to cut)"
        )
    return max_length, _TRUNCATION_DIRECTIONS[direction]


def embedding_rows(tensors: dict[str, np.ndarray], source: Path) -> np.ndarray:
    """The ``[ids, dimension]`` float32 table of a StaticEmbedding checkpoint.

    Either sentence-transformers' one ``embedding.weight``, or model2vec's ``embeddings``
    (plus optional ``mapping`` and ``weights``), folded as sentence-transformers folds them:
    ``row[id] = embeddings[mapping[id]] * weights[id]``. Anything else is refused.
    """
    names = set(tensors)
    if EMBEDDING_NAME in names:
        expected = {EMBEDDING_NAME}
    else:
        expected = {MODEL2VEC_EMBEDDINGS, MODEL2VEC_MAPPING, MODEL2VEC_WEIGHTS}
        if MODEL2VEC_EMBEDDINGS not in names:
            raise WeightMismatchError(
                f"{source}: missing tensors: {EMBEDDING_NAME} (or model2vec's "
                f"{MODEL2VEC_EMBEDDINGS})"
            )
    if names - expected:
        raise WeightMismatchError(
            f"{source}: unexpected tensors: {', '.join(sorted(names - expected))}"
        )
    rows = tensors.get(EMBEDDING_NAME, tensors.get(MODEL2VEC_EMBEDDINGS))
    if rows.ndim != 2 or rows.dtype != np.float32:
        # Floating checkpoints are read as float32; integer (quantized) tables have no scale
        # sentence-transformers applies, so it cannot average them either.
        raise WeightMismatchError(
            f"{source}: the embedding table must be a 2-D floating tensor, got shape "
            f"{rows.shape} {rows.dtype}"
        )
    mapping = tensors.get(MODEL2VEC_MAPPING)
    if mapping is not None:
        if mapping.ndim != 1 or mapping.dtype.kind not in "iu":
            raise WeightMismatchError(
                f"{source}: {MODEL2VEC_MAPPING} must be a 1-D integer tensor, got shape "
                f"{mapping.shape} {mapping.dtype}"
            )
        if mapping.size and (mapping.min() < 0 or mapping.max() >= rows.shape[0]):
            raise WeightMismatchError(
                f"{source}: {MODEL2VEC_MAPPING} points outside the {rows.shape[0]} rows of "
                f"{MODEL2VEC_EMBEDDINGS}"
            )
        rows = rows[mapping.astype(np.int64)]
    token_weights = tensors.get(MODEL2VEC_WEIGHTS)
    if token_weights is not None:
        if token_weights.shape != (rows.shape[0],) or token_weights.dtype != np.float32:
            raise WeightMismatchError(
                f"{source}: {MODEL2VEC_WEIGHTS} must be a floating vector of one weight per "
                f"token id ({rows.shape[0]}), got shape {token_weights.shape} {token_weights.dtype}"
            )
        rows = rows * token_weights[:, np.newaxis]
    return np.ascontiguousarray(rows, dtype=np.float32)
