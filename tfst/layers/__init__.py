"""The small modules that follow the encoder: pooling, dense projection, normalization."""

from tfst.layers.dense import Dense
from tfst.layers.normalize import Normalize
from tfst.layers.pooling import Pooling

__all__ = ["Dense", "Normalize", "Pooling"]
