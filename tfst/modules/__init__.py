"""sentence-transformers modules, one class each; ``MODULES`` is the only list of them.

``module_class`` maps a ``modules.json`` type of any sentence-transformers generation
(``sentence_transformers.models.Pooling``, ``sentence_transformers.sentence_transformer.modules.
pooling.Pooling``, ...) to its class by the class name after the last dot.
"""

from __future__ import annotations

from tfst.config import ConfigError
from tfst.modules.base import PACKAGE, LoadOptions, Module
from tfst.modules.bow import BoW
from tfst.modules.cnn import CNN
from tfst.modules.dense import Dense
from tfst.modules.dropout import Dropout
from tfst.modules.layer_norm import LayerNorm
from tfst.modules.lstm import LSTM
from tfst.modules.normalize import Normalize
from tfst.modules.pooling import Pooling
from tfst.modules.router import Router
from tfst.modules.static_embedding import StaticEmbedding
from tfst.modules.transformer import Transformer
from tfst.modules.word_embeddings import WordEmbeddings
from tfst.modules.word_weights import WordWeights

MODULES: tuple[type[Module], ...] = (
    Transformer,
    StaticEmbedding,
    WordEmbeddings,
    BoW,
    Router,
    WordWeights,
    LSTM,
    CNN,
    Pooling,
    Dense,
    LayerNorm,
    Dropout,
    Normalize,
)
_BY_NAME = {name: module for module in MODULES for name in module.type_names}

__all__ = [
    "CNN",
    "LSTM",
    "MODULES",
    "BoW",
    "Dense",
    "Dropout",
    "LayerNorm",
    "LoadOptions",
    "Module",
    "Normalize",
    "Pooling",
    "Router",
    "StaticEmbedding",
    "Transformer",
    "WordEmbeddings",
    "WordWeights",
]


def module_class(type_name: str, where: str) -> type[Module]:
    """The module class of a ``modules.json`` type; a ConfigError naming ``where`` otherwise."""
    class_name = type_name.rsplit(".", 1)[-1]
    if type_name.startswith(f"{PACKAGE}.") and class_name in _BY_NAME:
        return _BY_NAME[class_name]
    raise ConfigError(
        f"{where}: module type {type_name!r:.120} is not supported; supported are the "
        f"sentence-transformers modules {', '.join(sorted(_BY_NAME))}"
    )
