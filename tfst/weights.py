"""Strict filling of Keras variables from checkpoint tensors.

Each model family declares, next to its layer, a table from checkpoint names to the variables
they fill (and how: as is, or transposed from torch's ``[out, in]`` Linear layout). This module
applies such a table and refuses anything loose: a variable left unfilled, a tensor neither used
nor deliberately skipped, or a shape that does not fit. Nothing is half-loaded: every check runs
before the first assignment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfst.messages import capped_listing


class WeightMismatchError(ValueError):
    """Checkpoint tensors and model variables do not correspond one to one."""


def as_is(tensor: np.ndarray) -> np.ndarray:
    return tensor


def linear_kernel(tensor: np.ndarray) -> np.ndarray:
    """torch Linear stores ``[out, in]``; Keras Dense kernels are ``[in, out]``."""
    return tensor.T


@dataclass(frozen=True)
class WeightTarget:
    variable: object  # a keras.Variable
    transform: Callable[[np.ndarray], np.ndarray] = as_is


def _canonical_name(name: str) -> str:
    """Old TF-converted BERT checkpoints call LayerNorm parameters gamma/beta, as transformers knows."""
    if name.endswith(".gamma"):
        return name[: -len(".gamma")] + ".weight"
    if name.endswith(".beta"):
        return name[: -len(".beta")] + ".bias"
    return name


def assign_checkpoint_tensors(
    targets: Mapping[str, WeightTarget],
    tensors: Mapping[str, np.ndarray],
    *,
    source: Path | str,
    prefixes: Iterable[str] = (),
    skip_patterns: Iterable[str] = (),
) -> None:
    """Fill every target variable from ``tensors``; fail loudly on anything unaccounted for.

    ``prefixes`` are optional leading parts of checkpoint names (``bert.``) that are stripped,
    since sentence-transformers saves without them but transformers' task heads save with them.
    ``skip_patterns`` are regular expressions for tensors the model deliberately does not use.
    """
    skips = [re.compile(pattern) for pattern in skip_patterns]
    by_name: dict[str, tuple[str, np.ndarray]] = {}
    unexpected = []
    for original_name, tensor in tensors.items():
        name = _canonical_name(original_name)
        for prefix in prefixes:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        if name in targets:
            by_name[name] = (original_name, tensor)
        elif not any(skip.fullmatch(name) for skip in skips):
            unexpected.append(original_name)

    missing = sorted(set(targets) - set(by_name))
    problems = []
    if missing:
        problems.append(f"missing tensors: {capped_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {capped_listing(sorted(unexpected))}")
    prepared, wrong_shapes = [], []
    for name, target in targets.items():
        if name not in by_name:
            continue
        original_name, tensor = by_name[name]
        value = target.transform(np.asarray(tensor))  # a view: transforms reshape, not copy
        expected = tuple(target.variable.shape)
        if tuple(value.shape) != expected:
            wrong_shapes.append(
                f"tensor {original_name} has shape {tuple(np.shape(tensor))}, "
                f"expected {expected if target.transform is as_is else expected[::-1]}"
            )
        prepared.append((target.variable, value))
    if wrong_shapes:
        problems.append(capped_listing(wrong_shapes, separator="; "))
    if problems:
        raise WeightMismatchError(f"{source}: " + "; ".join(problems))
    for variable, value in prepared:
        # At most one copy here (a transposed kernel); TensorFlow takes its own on assignment.
        variable.assign(np.ascontiguousarray(value).astype(variable.dtype, copy=False))
