"""Strict filling of Keras variables from checkpoint tensors, through declarative weight tables.

Each layer that holds weights declares, next to itself, a :class:`WeightTable`: checkpoint name →
the variable it fills (an attribute path from the layer, e.g. ``blocks.3.query.kernel``), that
variable's shape, and how the tensor is laid out (as is, or torch's ``[out, in]`` Linear layout).
The table exists before the layer is built, so a checkpoint's header can be compared with it
before a single variable is allocated: a config that disagrees with its weights costs nothing.
Loading refuses anything loose: a variable left unfilled, a tensor neither used nor deliberately
skipped, or a shape that does not fit; every check runs before the first assignment. Saving runs
the same table backwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfst.messages import capped_listing


class WeightMismatchError(ValueError):
    """Checkpoint tensors and model variables do not correspond one to one."""


def as_is(tensor: np.ndarray) -> np.ndarray:
    return tensor


def linear_kernel(tensor: np.ndarray) -> np.ndarray:
    """torch Linear stores ``[out, in]``; Keras Dense kernels are ``[in, out]`` (and back)."""
    return tensor.T


@dataclass(frozen=True)
class WeightTarget:
    """One variable: its attribute path from the owning layer, its shape, and the transform
    from the checkpoint's layout to ours (each transform here is its own inverse)."""

    path: str
    shape: tuple[int, ...]
    transform: Callable[[np.ndarray], np.ndarray] = as_is

    @property
    def checkpoint_shape(self) -> tuple[int, ...]:
        return self.shape[::-1] if self.transform is linear_kernel else self.shape


def resolve(layer, path: str):
    """The object at ``path`` (dotted attributes, integers index lists) from ``layer``."""
    value = layer
    for part in path.split("."):
        value = value[int(part)] if part.isdigit() else getattr(value, part)
    return value


def _canonical_name(name: str) -> str:
    """Old TF-converted BERT checkpoints call LayerNorm parameters gamma/beta, as transformers knows."""
    if name.endswith(".gamma"):
        return name[: -len(".gamma")] + ".weight"
    if name.endswith(".beta"):
        return name[: -len(".beta")] + ".bias"
    return name


@dataclass(frozen=True)
class WeightTable:
    """Checkpoint name → :class:`WeightTarget` for one layer.

    ``prefixes`` are optional leading parts of checkpoint names (``bert.``) that are stripped,
    since sentence-transformers saves without them but transformers' task models save with them.
    ``skipped`` are regular expressions for tensors the layer deliberately does not use.
    """

    targets: Mapping[str, WeightTarget]
    prefixes: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    _skips: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_skips", tuple(re.compile(p) for p in self.skipped))

    def _local_name(self, checkpoint_name: str) -> str:
        name = _canonical_name(checkpoint_name)
        for prefix in self.prefixes:
            if name.startswith(prefix):
                return name[len(prefix) :]
        return name

    def match(self, shapes: Mapping[str, tuple[int, ...]], source: Path | str) -> dict[str, str]:
        """Our name → checkpoint name for every target, after checking names and shapes.

        ``shapes`` maps each checkpoint tensor's name to its shape (a header is enough).
        Raises :class:`WeightMismatchError` naming ``source`` and every problem found.
        """
        found: dict[str, str] = {}
        unexpected = []
        for original_name in shapes:
            name = self._local_name(original_name)
            if name in self.targets:
                found[name] = original_name
            elif not any(skip.fullmatch(name) for skip in self._skips):
                unexpected.append(original_name)
        problems = []
        missing = set(self.targets) - set(found)
        if missing:
            problems.append(f"missing tensors: {capped_listing(sorted(missing))}")
        if unexpected:
            problems.append(f"unexpected tensors: {capped_listing(sorted(unexpected))}")
        wrong = [
            f"tensor {original} has shape {tuple(shapes[original])}, expected "
            f"{self.targets[name].checkpoint_shape}"
            for name, original in found.items()
            if tuple(shapes[original]) != self.targets[name].checkpoint_shape
        ]
        if wrong:
            problems.append(capped_listing(wrong, separator="; "))
        if problems:
            raise WeightMismatchError(f"{source}: " + "; ".join(problems))
        return found

    def assign(
        self,
        layer,
        tensors: Mapping[str, np.ndarray],
        source: Path | str,
        shapes: Mapping[str, tuple[int, ...]] | None = None,
    ) -> None:
        """Fill ``layer`` (built) from ``tensors``; the name and shape checks run before the
        first assignment.

        ``shapes`` (name → shape) lets ``tensors`` read lazily
        (``tfst.checkpoint.checkpoint_tensors``): each tensor is then read, assigned and dropped
        in turn, and a read that fails (the file changed since its header was checked) stops
        the load midway. Without it the shapes come from the arrays.
        """
        if shapes is None:
            shapes = {name: np.shape(tensor) for name, tensor in tensors.items()}
        found = self.match(shapes, source)
        for name, original in found.items():
            target = self.targets[name]
            variable = resolve(layer, target.path)
            value = target.transform(np.asarray(tensors[original]))
            # At most one copy here (a transposed kernel); TensorFlow takes its own on assignment.
            variable.assign(np.ascontiguousarray(value).astype(variable.dtype, copy=False))

    def export(self, layer) -> dict[str, np.ndarray]:
        """Checkpoint name → float32 tensor in the checkpoint's layout (for saving)."""
        tensors = {}
        for name, target in self.targets.items():
            value = np.asarray(resolve(layer, target.path).numpy(), dtype=np.float32)
            tensors[name] = np.ascontiguousarray(target.transform(value))
        return tensors
