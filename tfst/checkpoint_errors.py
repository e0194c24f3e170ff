"""What every checkpoint reader shares: the error it raises and the header it describes a tensor
with (``tfst.checkpoint`` for safetensors and sharded checkpoints, ``tfst.torch_zip`` for
``pytorch_model.bin``)."""

from __future__ import annotations

from typing import NamedTuple

import ml_dtypes
import numpy as np

FLOAT_DTYPES = frozenset(
    np.dtype(dtype) for dtype in (np.float16, ml_dtypes.bfloat16, np.float32, np.float64)
)


class CheckpointError(ValueError):
    """A checkpoint is corrupt, unsafe or not a state dict; the message names file and problem."""


class TensorHeader(NamedTuple):
    """A tensor as a checkpoint's header describes it, before any of its data is read."""

    dtype: np.dtype
    """The dtype stored in the file (``load_checkpoint_tensors`` gives floats as float32)."""
    shape: tuple[int, ...]


def output_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a tensor is returned as: floats as float32, other dtypes as stored."""
    return np.dtype(np.float32) if dtype in FLOAT_DTYPES else dtype
