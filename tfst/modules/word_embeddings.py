"""The WordEmbeddings module: GloVe-style word vectors behind a whitespace tokenizer.

Its folder holds ``wordembedding_config.json`` (``tokenizer_class``, ``update_embeddings``,
``max_seq_length``), the tokenizer's ``whitespacetokenizer_config.json`` (``vocab``,
``stop_words``, ``do_lower_case``, see ``tfst.text.whitespace_tokenizer``) and the
``emb_layer.weight`` table. Each text becomes the ids of its vocabulary words (the first
``max_seq_length`` of them), padded with id 0 to the longest text of the batch (at least one
column), and each id its row: ``token_embeddings`` for the LSTM, CNN, WordWeights and Pooling
modules after it.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from tfst.checkpoint import find_weights_file, load_checkpoint_tensors
from tfst.config import ConfigError, Setting, read_json, setting
from tfst.files import write_json, write_safetensors
from tfst.modules.base import PACKAGE, LoadOptions, Module
from tfst.text.whitespace_tokenizer import WhitespaceTokenizer
from tfst.weights import WeightTable, WeightTarget

CONFIG_FILE = "wordembedding_config.json"
TOKENIZER_CONFIG_FILE = "whitespacetokenizer_config.json"
EMBEDDING_NAME = "emb_layer.weight"
TOKENIZER_CLASS = f"{PACKAGE}.sentence_transformer.modules.tokenizer.whitespace.WhitespaceTokenizer"
_UPDATE_EMBEDDINGS = Setting("update_embeddings", bool, False)
# sentence-transformers' default, for configurations written without one.
_MAX_SEQ_LENGTH = Setting("max_seq_length", int, 1000000, minimum=0, maximum=2**31 - 1)


@keras.saving.register_keras_serializable(package="tfst")
class WordEmbeddings(Module):
    """Word ids → their vectors, from raw strings.

    Args:
        tokenizer: the ``WhitespaceTokenizer``; its ``max_length`` is ``max_seq_length``.
        embedding: a ``keras.layers.Embedding`` with one row per vocabulary word (row 0 is the
            padding's).
        update_embeddings: whether training may change the vectors (Keras ``trainable``).
    """

    type_names = ("WordEmbeddings",)
    saved_type = f"{PACKAGE}.sentence_transformer.modules.word_embeddings.WordEmbeddings"
    folder_name = ""
    has_weights = True
    is_input = True

    def __init__(
        self,
        tokenizer: WhitespaceTokenizer,
        embedding: keras.layers.Embedding,
        update_embeddings: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if tokenizer.vocabulary_size() > embedding.input_dim:
            raise ValueError(
                f"the vocabulary has {tokenizer.vocabulary_size()} words but the embedding "
                f"table only {embedding.input_dim} rows"
            )
        self.tokenizer = tokenizer
        self.embedding = embedding
        self.update_embeddings = bool(update_embeddings)
        self.embedding.trainable = self.update_embeddings

    @classmethod
    def from_folder(cls, folder: Path, options: LoadOptions | None = None) -> WordEmbeddings:
        config_path = folder / CONFIG_FILE
        config = read_json(config_path)
        tokenizer_class = setting(config, Setting("tokenizer_class", str), config_path)
        if tokenizer_class.rsplit(".", 1)[-1] != "WhitespaceTokenizer" or not (
            tokenizer_class.startswith(f"{PACKAGE}.")
        ):
            raise ConfigError(
                f"{config_path}: tokenizer_class {tokenizer_class!r:.120} is not supported; "
                "supported is sentence-transformers' WhitespaceTokenizer"
            )
        tokenizer = read_whitespace_tokenizer(folder / TOKENIZER_CONFIG_FILE)
        tokenizer.max_length = setting(config, _MAX_SEQ_LENGTH, config_path)
        weights = find_weights_file(folder)
        tensors = load_checkpoint_tensors(weights)
        table = tensors.get(EMBEDDING_NAME)
        if table is None or table.ndim != 2:
            shape = "missing" if table is None else f"of shape {table.shape}"
            raise ConfigError(f"{weights}: expected a 2-D {EMBEDDING_NAME}, found it {shape}")
        if tokenizer.vocabulary_size() > table.shape[0]:
            raise ConfigError(
                f"{folder / TOKENIZER_CONFIG_FILE} lists {tokenizer.vocabulary_size()} words, "
                f"but {weights} has {table.shape[0]} rows: the last words have no vector"
            )
        embedding = keras.layers.Embedding(
            table.shape[0], table.shape[1], embeddings_initializer="zeros", name="embedding"
        )
        module = cls(
            tokenizer,
            embedding,
            setting(config, _UPDATE_EMBEDDINGS, config_path),
            name="word_embeddings",
        )
        module.build()
        module.weight_table().assign(module, tensors, source=weights)
        return module

    def save(self, folder: Path) -> None:
        write_json(
            folder / CONFIG_FILE,
            {
                "tokenizer_class": TOKENIZER_CLASS,
                "update_embeddings": self.update_embeddings,
                "max_seq_length": self.max_seq_length,
            },
        )
        write_whitespace_tokenizer(self.tokenizer, folder / TOKENIZER_CONFIG_FILE)
        write_safetensors(folder / "model.safetensors", self.weight_table().export(self))

    def weight_table(self) -> WeightTable:
        shape = (self.embedding.input_dim, self.embedding.output_dim)
        return WeightTable({EMBEDDING_NAME: WeightTarget("embedding.embeddings", shape)})

    @property
    def max_seq_length(self) -> int:
        """Most words per text; later ones are cut."""
        return self.tokenizer.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.tokenizer.max_length = value

    def text_layers(self) -> list:
        return [self.tokenizer]

    def tokenize(self, strings) -> dict:
        """Strings → ``input_ids`` and ``attention_mask`` ``[batch, width]`` int32."""
        return self.tokenizer(strings)

    def build(self, input_shape=None):
        if not self.embedding.built:
            self.embedding.build()
        self.built = True

    def call(self, features):
        token_embeddings = tf.gather(self.embedding.embeddings, features["input_ids"])
        return {**features, "token_embeddings": token_embeddings}

    def output_dimension(self, input_dimension=None) -> int:
        return self.embedding.output_dim

    def describe(self) -> str:
        return (
            f"WordEmbeddings(words={self.tokenizer.vocabulary_size()}, "
            f"dimension={self.embedding.output_dim}, max_seq_length={self.max_seq_length})"
        )

    def compute_output_spec(self, features):
        batch_and_length = features["input_ids"].shape
        width = self.embedding.output_dim
        return {
            **features,
            "token_embeddings": keras.KerasTensor((*batch_and_length, width), "float32"),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
            embedding=keras.saving.serialize_keras_object(self.embedding),
            update_embeddings=self.update_embeddings,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        tokenizer = keras.saving.deserialize_keras_object(config.pop("tokenizer"))
        embedding = keras.saving.deserialize_keras_object(config.pop("embedding"))
        return cls(tokenizer, embedding, **config)


def read_whitespace_tokenizer(path: Path) -> WhitespaceTokenizer:
    """A ``whitespacetokenizer_config.json`` (every key required, as sentence-transformers
    always writes them)."""
    config = read_json(path)
    lists = {}
    for key in ("vocab", "stop_words"):
        words = config.get(key)
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise ConfigError(f"{path}: {key} must be a list of strings, got {words!r:.80}")
        lists[key] = words
    do_lower_case = setting(config, Setting("do_lower_case", bool), path)
    return WhitespaceTokenizer(**lists, do_lower_case=do_lower_case, name="tokenizer")


def write_whitespace_tokenizer(tokenizer: WhitespaceTokenizer, path: Path) -> None:
    write_json(
        path,
        {
            "vocab": list(tokenizer.vocab),
            "stop_words": list(tokenizer.stop_words),
            "do_lower_case": tokenizer.do_lower_case,
        },
    )
