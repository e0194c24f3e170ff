"""Tensors from ``model.safetensors`` / ``pytorch_model.bin``: no torch, no pickle code run.

Both formats are read strictly: every header, offset, size and stride is checked before bytes are
trusted, and a bad file raises :class:`CheckpointError` naming the file and the problem.

``pytorch_model.bin`` is read by ``tfst.torch_zip`` without torch and without running pickle code;
this module finds the weights file, follows sharded indexes and reads safetensors.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import ml_dtypes  # registers bfloat16 with numpy, which safetensors' numpy reader needs
import numpy as np
import safetensors

from tfst.checkpoint_errors import CheckpointError, TensorHeader, output_dtype
from tfst.folder_paths import path_inside
from tfst.messages import capped_listing
from tfst.torch_zip import TorchZipTensors, read_torch_zip_header

WEIGHTS_FILE_NAMES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
"""Weight files in the order transformers (and so sentence-transformers) prefers them."""


_SAFETENSORS_DTYPES = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "I16": np.dtype(np.int16),
    "U16": np.dtype(np.uint16),
    "I32": np.dtype(np.int32),
    "U32": np.dtype(np.uint32),
    "I64": np.dtype(np.int64),
    "U64": np.dtype(np.uint64),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F32": np.dtype(np.float32),
    "F64": np.dtype(np.float64),
}
"""safetensors dtype names tfst reads, and the NumPy dtype each is stored as."""
_Entry = TypeVar("_Entry")  # what is read per tensor: an array, or its header


def find_weights_file(folder: str | os.PathLike) -> pathlib.Path:
    """The weights file of a model folder, chosen as transformers chooses it.

    A sharded checkpoint is returned as its ``*.index.json``, which :func:`load_checkpoint_tensors`
    reads. Raises ``FileNotFoundError`` when the folder holds none of ``WEIGHTS_FILE_NAMES``, and
    ``tfst.folder_paths.OutsideFolderError`` for one that links outside the folder.
    """
    folder = pathlib.Path(folder)
    for name in WEIGHTS_FILE_NAMES:
        if path_inside(folder, name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"no weights file in {folder}: looked for {', '.join(WEIGHTS_FILE_NAMES)}"
    )


def load_checkpoint_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a checkpoint file, by its name in the file.

    Reads ``*.safetensors``, a torch zip checkpoint (``pytorch_model.bin``) or a sharded
    checkpoint's ``*.index.json``. Floating tensors come back as float32 (bfloat16 exactly);
    integer and bool tensors keep their dtype. Arrays are C-contiguous, writable, and share no
    memory with one another. Every size is checked before memory is taken for it (see
    :func:`read_checkpoint_header`).
    """
    return dict(checkpoint_tensors(path))


def checkpoint_tensors(
    path: str | os.PathLike,
) -> SafetensorsTensors | TorchZipTensors | ShardedTensors:
    """:func:`load_checkpoint_tensors`, read lazily: a safetensors file gives a
    :class:`SafetensorsTensors` and a torch zip a ``tfst.torch_zip.TorchZipTensors``, which
    read each tensor when it is looked up, so a model's load holds one tensor beside its
    variables; a sharded checkpoint gives its shards' mappings behind one
    :class:`ShardedTensors`. Headers are read and checked when this returns, and each mapping's
    ``shapes`` gives every tensor's shape without reading tensor data."""
    path = _existing_file(path)
    if path.name.endswith(".json"):
        return _read_sharded(path, _load_single_file)
    return _load_single_file(path)


def read_checkpoint_header(path: str | os.PathLike) -> dict[str, TensorHeader]:
    """Name → (dtype, shape) of every tensor of a checkpoint, without reading tensor data.

    Reads what :func:`load_checkpoint_tensors` reads (safetensors, torch zip, sharded index) and
    runs the same checks on it, except those of the data bytes themselves: a safetensors header
    is validated by the safetensors package; a torch zip's ``data.pkl`` is scanned and
    unpickled with the same stand-ins, and each view is checked against the size of its
    storage entry. Cheap: the safetensors file is memory-mapped, not read, and no storage of a
    torch zip is read.
    """
    path = _existing_file(path)
    if path.name.endswith(".json"):
        return dict(_read_sharded(path, _read_single_file_header))
    return _read_single_file_header(path)


def _existing_file(path: str | os.PathLike) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    return path


def _load_single_file(path: pathlib.Path) -> Mapping[str, np.ndarray]:
    if path.suffix == ".safetensors":
        return SafetensorsTensors(path)
    return TorchZipTensors(path)


def _read_single_file_header(path: pathlib.Path) -> dict[str, TensorHeader]:
    if path.suffix == ".safetensors":
        return _read_safetensors_header(path)
    return read_torch_zip_header(path)


# --- sharded checkpoints -----------------------------------------------------------------------


def read_sharded_index(index_path: str | os.PathLike) -> dict[str, str]:
    """Tensor name → shard file name, from a sharded checkpoint's ``*.index.json``.

    The index must be a JSON object whose ``weight_map`` maps names to the file names of
    weights files in the index's own folder (no folders, no ``..``); anything else raises
    :class:`CheckpointError` naming the index.
    """
    index_path = pathlib.Path(index_path)
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{index_path}: not a valid JSON index: {error}") from error
    except RecursionError:
        raise CheckpointError(f"{index_path}: not a valid JSON index: nested too deeply") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(
        isinstance(name, str) and isinstance(shard, str) for name, shard in weight_map.items()
    ):
        raise CheckpointError(
            f'{index_path}: expected a JSON object whose "weight_map" maps tensor names to shard '
            f"file names, found {_json_kind(weight_map if isinstance(index, dict) else index)}"
        )
    for shard in set(weight_map.values()):
        if not shard or pathlib.PurePath(shard).name != shard or shard.endswith(".json"):
            raise CheckpointError(
                f"{index_path}: shard {shard!r:.200} is not a weights file name in the index's "
                "folder"
            )
    return weight_map


def _json_kind(value: object) -> str:
    """What a JSON value is, for messages: ``a list``, ``an object with 3 entries``, ..."""
    if isinstance(value, dict):
        return f"an object with {len(value):,} entries, not all of them name → file name"
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}
    return names.get(type(value), "a number")


class ShardedTensors(Mapping[str, _Entry]):
    """The entries of a sharded checkpoint: each name looked up in the mapping of its shard, so
    shards read lazily (:class:`SafetensorsTensors`) stay lazy; ``dict.update`` from them would
    read every tensor of the checkpoint at once."""

    def __init__(self, shard_of: dict[str, Mapping[str, _Entry]]):
        self._shard_of = shard_of

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor's shape without reading data, from the ``shapes`` of its shard (a
        :class:`SafetensorsTensors` or ``TorchZipTensors``)."""
        shapes: dict[str, tuple[int, ...]] = {}
        for shard in {id(shard): shard for shard in self._shard_of.values()}.values():
            shapes.update(shard.shapes)
        return shapes

    def __getitem__(self, name: str) -> _Entry:
        return self._shard_of[name][name]

    def __contains__(self, name: object) -> bool:
        return name in self._shard_of

    def __iter__(self) -> Iterator[str]:
        return iter(self._shard_of)

    def __len__(self) -> int:
        return len(self._shard_of)


def _read_sharded(
    index_path: pathlib.Path, read_shard: Callable[[pathlib.Path], Mapping[str, _Entry]]
) -> ShardedTensors:
    """``read_shard`` of every shard of an index, each checked to hold exactly its tensors."""
    names_by_shard: dict[str, set[str]] = {}
    for name, shard in read_sharded_index(index_path).items():
        names_by_shard.setdefault(shard, set()).add(name)
    shard_of: dict[str, Mapping[str, _Entry]] = {}
    for shard, expected in names_by_shard.items():
        shard_path = path_inside(index_path.parent, shard, named_by=f"{index_path}: weight_map")
        if not shard_path.is_file():
            raise CheckpointError(
                f"{index_path}: shard {shard} listed in weight_map is missing from "
                f"{index_path.parent}"
            )
        shard_entries = read_shard(shard_path)
        if shard_entries.keys() != expected:
            missing = sorted(expected - shard_entries.keys())
            unlisted = sorted(shard_entries.keys() - expected)
            raise CheckpointError(
                f"{index_path}: shard {shard} does not match weight_map: missing "
                f"[{capped_listing(map(repr, missing))}], not listed "
                f"[{capped_listing(map(repr, unlisted))}]"
            )
        shard_of.update(dict.fromkeys(shard_entries.keys(), shard_entries))
    return ShardedTensors(shard_of)


# --- safetensors -------------------------------------------------------------------------------


class SafetensorsTensors(Mapping[str, np.ndarray]):
    """The tensors of one safetensors file, each read from the file when it is looked up and
    not kept.

    Loading a model then holds one tensor's data beside the model's variables, instead of the
    whole checkpoint plus a memory map of it (together twice the weights' size, which decided a
    large model's peak memory). ``shapes`` gives every tensor's shape without reading data. The
    safetensors package validates the header (dtypes, shapes, offsets within the file) when
    this is made.
    """

    def __init__(self, path: pathlib.Path):
        self.path = path
        try:
            with safetensors.safe_open(path, framework="numpy"):  # validates before any read
                pass
        except safetensors.SafetensorError as error:
            raise CheckpointError(f"{path}: invalid safetensors file: {error}") from error
        self._entries = _safetensors_entries(path)
        with open(path, "rb") as file:
            self._data_start = 8 + int.from_bytes(file.read(8), "little")

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(entry["shape"]) for name, entry in self._entries.items()}

    def __getitem__(self, name: str) -> np.ndarray:
        entry = self._entries[name]
        begin, end = entry["data_offsets"]
        array = np.empty(entry["shape"], _SAFETENSORS_DTYPES[entry["dtype"]])
        with open(self.path, "rb") as file:
            file.seek(self._data_start + begin)
            read = file.readinto(array.reshape(-1).view(np.uint8))
        if read != end - begin:
            raise CheckpointError(
                f"{self.path}: tensor {name!r:.200} ends past the end of the file (the file "
                "changed after it was opened?)"
            )
        if sys.byteorder == "big":  # safetensors stores little-endian
            array = array.byteswap()
        return array.astype(output_dtype(array.dtype), copy=False)

    def __contains__(self, name: object) -> bool:
        return name in self._entries  # without reading the tensor, as Mapping's default would

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def _read_safetensors_header(path: pathlib.Path) -> dict[str, TensorHeader]:
    try:
        with safetensors.safe_open(path, framework="numpy"):  # validates the header
            return {
                name: TensorHeader(_SAFETENSORS_DTYPES[entry["dtype"]], tuple(entry["shape"]))
                for name, entry in _safetensors_entries(path).items()
            }
    except safetensors.SafetensorError as error:
        raise CheckpointError(f"{path}: invalid safetensors file: {error}") from error


def _safetensors_entries(path: pathlib.Path) -> dict[str, dict[str, Any]]:
    """The tensor entries (dtype, shape, offsets) of a header the safetensors package has
    accepted, in header order, each of a dtype tfst reads.

    Read again here because the package keeps the last of two same-named entries, and such a
    header is ambiguous, so refused; and because its per-name accessors cost ~10 µs a tensor.
    """

    def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        entries = dict(pairs)
        if len(entries) != len(pairs):
            counts = Counter(key for key, _ in pairs)
            duplicates = sorted(key for key, count in counts.items() if count > 1)
            raise CheckpointError(
                f"{path}: header names [{capped_listing(map(repr, duplicates))}] more than once"
            )
        return entries

    with open(path, "rb") as file:
        header_size = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(header_size), object_pairs_hook=unique_pairs)
    header.pop("__metadata__", None)
    for name, entry in header.items():
        if entry["dtype"] not in _SAFETENSORS_DTYPES:
            raise CheckpointError(
                f"{path}: tensor {name!r:.200} has dtype {entry['dtype']}; supported dtypes are "
                f"{', '.join(_SAFETENSORS_DTYPES)}"
            )
    return header
