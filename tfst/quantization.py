"""Embedding quantization with sentence-transformers' ``quantize_embeddings`` semantics.

``int8``/``uint8`` cut each dimension's ``[min, max]`` range into 255 equal steps; the range
comes from ``ranges``, else from ``calibration_embeddings``, else from the embeddings themselves
(which is what ``encode(precision=...)`` does, so the buckets depend on the whole call's input).
``binary``/``ubinary`` keep one sign bit per dimension, packed eight to a byte.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def quantization_ranges(
    embeddings: np.ndarray, precision: str, calibration_embeddings: np.ndarray | None = None
) -> np.ndarray:
    """Per-dimension ``[min; max]`` (shape ``[2, dim]``) of the calibration set or the embeddings."""
    if calibration_embeddings is None:
        if embeddings.ndim == 1 or embeddings.shape[0] == 1:
            raise ValueError(
                f"cannot compute {precision} quantization ranges from a single embedding; pass "
                "ranges or calibration_embeddings computed from a representative set"
            )
        if embeddings.shape[0] < 100:
            logger.warning(
                "computing %s quantization buckets from only %d embeddings; ranges or "
                "calibration_embeddings from a larger set give more stable buckets",
                precision,
                embeddings.shape[0],
            )
        calibration_embeddings = embeddings
    calibration_embeddings = np.asarray(calibration_embeddings)
    return np.stack([calibration_embeddings.min(axis=0), calibration_embeddings.max(axis=0)])


def quantize_embeddings(
    embeddings: np.ndarray | Sequence[np.ndarray],
    precision: str,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray | list[np.ndarray]:
    """Quantize float embeddings to ``precision`` (one of ``PRECISIONS``).

    ``embeddings`` is a ``[n, dim]`` (or ``[dim]``) array, or a list of ``[tokens, dim]`` arrays
    (token embeddings), which share one set of ranges computed over all their rows.

    Example:
        >>> quantize_embeddings(np.array([[0.5, -0.2], [-0.1, 0.3]]), "ubinary").tolist()
        [[128], [64]]
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if isinstance(embeddings, (list, tuple)):
        if not embeddings:
            return []
        matrices = [np.asarray(matrix) for matrix in embeddings]
        if matrices[0].ndim == 2:
            if precision.endswith("int8") and ranges is None:
                calibration = (
                    np.concatenate(matrices)
                    if calibration_embeddings is None
                    else np.asarray(calibration_embeddings)
                )
                if len(calibration):
                    ranges = quantization_ranges(calibration, precision, calibration_embeddings)
            return [
                quantize_embeddings(matrix, precision, ranges, calibration_embeddings)
                for matrix in matrices
            ]
        embeddings = np.stack(matrices)
    embeddings = np.asarray(embeddings)
    if embeddings.dtype.kind not in "f":
        raise TypeError(f"embeddings to quantize must be floats, got {embeddings.dtype}")

    if precision == "float32":
        return embeddings.astype(np.float32)
    dtype = np.int8 if precision in ("int8", "binary") else np.uint8
    if embeddings.ndim == 2 and embeddings.shape[0] == 0:
        width = embeddings.shape[1]
        return np.zeros((0, width if precision.endswith("int8") else (width + 7) // 8), dtype)
    if precision.endswith("binary"):
        packed = np.packbits(embeddings > 0, axis=-1)
        # int8 "binary" is the packed byte shifted into the signed range: 0..255 -> -128..127.
        return packed if precision == "ubinary" else (packed.astype(np.int16) - 128).astype(np.int8)

    if ranges is None:
        ranges = quantization_ranges(embeddings, precision, calibration_embeddings)
    ranges = np.asarray(ranges).astype(np.float32, copy=False)
    starts = ranges[0]
    steps = (ranges[1] - starts) / 255
    steps = np.where(steps == 0, 1, steps)
    buckets = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
    if precision == "uint8":
        return buckets.astype(np.uint8)
    return (buckets - 128).astype(np.int8)
