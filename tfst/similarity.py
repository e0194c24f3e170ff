"""Similarity functions, defined as sentence-transformers defines them.

``cosine`` and ``dot`` are similarities; ``euclidean`` and ``manhattan`` are *negative*
distances, so for all four a higher score means more similar. Each function takes two
``[n, dim]`` (or ``[dim]``) arrays or tensors and returns an ``[n, m]`` ``tf.Tensor`` (float32);
the ``pairwise_`` forms compare row ``i`` with row ``i`` and return ``[n]``. The two distances
are summed in float64, so they are exact to float32 rounding (torch's float32 ``cdist`` is not:
it scores a vector against itself about -6e-4 instead of 0).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from tfst.modules.normalize import l2_normalize

SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")
# Rows of `a` per step of the manhattan loop, so [rows, m, dim] float64 stays at 256 MB at most.
_MANHATTAN_ELEMENTS_PER_STEP = 2**25


def _as_matrix(embeddings, dtype=tf.float32) -> tf.Tensor:
    """Any array-like of embeddings → ``[n, dim]`` of ``dtype`` (a single vector becomes one row)."""
    tensor = tf.cast(tf.convert_to_tensor(embeddings), dtype)
    return tensor[tf.newaxis, :] if tensor.shape.rank == 1 else tensor


def cos_sim(a, b) -> tf.Tensor:
    """``[i, j]`` = cosine of the angle between ``a[i]`` and ``b[j]``."""
    return tf.matmul(l2_normalize(_as_matrix(a)), l2_normalize(_as_matrix(b)), transpose_b=True)


def dot_score(a, b) -> tf.Tensor:
    """``[i, j]`` = ``a[i] · b[j]``."""
    return tf.matmul(_as_matrix(a), _as_matrix(b), transpose_b=True)


def euclidean_sim(a, b) -> tf.Tensor:
    """``[i, j]`` = ``-||a[i] - b[j]||``, as ``|a|² - 2 a·b + |b|²`` in float64."""
    a, b = _as_matrix(a, tf.float64), _as_matrix(b, tf.float64)
    squared = (
        tf.reduce_sum(a * a, axis=1)[:, tf.newaxis]
        - 2.0 * tf.matmul(a, b, transpose_b=True)
        + tf.reduce_sum(b * b, axis=1)[tf.newaxis, :]
    )
    return tf.cast(-tf.sqrt(tf.maximum(squared, 0.0)), tf.float32)


def manhattan_sim(a, b) -> tf.Tensor:
    """``[i, j]`` = ``-sum(|a[i] - b[j]|)``, computed a block of rows at a time."""
    a, b = _as_matrix(a, tf.float64), _as_matrix(b, tf.float64)
    rows = max(1, _MANHATTAN_ELEMENTS_PER_STEP // max(1, int(b.shape[0]) * int(b.shape[1])))
    blocks = [
        -tf.reduce_sum(tf.abs(a[start : start + rows, tf.newaxis, :] - b[tf.newaxis]), axis=-1)
        for start in range(0, int(a.shape[0]), rows)
    ]
    distances = tf.concat(blocks, axis=0) if blocks else tf.zeros([0, b.shape[0]], tf.float64)
    return tf.cast(distances, tf.float32)


def pairwise_cos_sim(a, b) -> tf.Tensor:
    return pairwise_dot_score(l2_normalize(_as_matrix(a)), l2_normalize(_as_matrix(b)))


def pairwise_dot_score(a, b) -> tf.Tensor:
    return tf.reduce_sum(_as_matrix(a) * _as_matrix(b), axis=-1)


def pairwise_euclidean_sim(a, b) -> tf.Tensor:
    difference = _as_matrix(a, tf.float64) - _as_matrix(b, tf.float64)
    return tf.cast(-tf.norm(difference, axis=-1), tf.float32)


def pairwise_manhattan_sim(a, b) -> tf.Tensor:
    difference = _as_matrix(a, tf.float64) - _as_matrix(b, tf.float64)
    return tf.cast(-tf.reduce_sum(tf.abs(difference), axis=-1), tf.float32)


_FUNCTIONS = {
    "cosine": (cos_sim, pairwise_cos_sim),
    "dot": (dot_score, pairwise_dot_score),
    "euclidean": (euclidean_sim, pairwise_euclidean_sim),
    "manhattan": (manhattan_sim, pairwise_manhattan_sim),
}


def check_similarity_fn_name(name: str) -> str:
    if name not in _FUNCTIONS:
        raise ValueError(f"similarity_fn_name must be one of {SIMILARITY_FUNCTIONS}, got {name!r}")
    return name


def similarity_function(name: str) -> Callable:
    """The ``[n, m]`` similarity matrix function called ``name``."""
    return _FUNCTIONS[check_similarity_fn_name(name)][0]


def pairwise_similarity_function(name: str) -> Callable:
    """The row-by-row ``[n]`` similarity function called ``name``."""
    return _FUNCTIONS[check_similarity_fn_name(name)][1]
