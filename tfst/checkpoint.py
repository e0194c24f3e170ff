"""Tensors from ``model.safetensors`` / ``pytorch_model.bin``: no torch, no pickle code run.

Both formats are read strictly: every header, offset, size and stride is checked before bytes are
trusted, and a bad file raises :class:`CheckpointError` naming the file and the problem.

``pytorch_model.bin`` is the zip archive ``torch.save`` writes: ``<archive>/data.pkl`` (a pickle of
the state dict) plus one raw ``<archive>/data/<key>`` entry per storage. The pickle is first scanned
for the few opcodes and globals a state dict needs, then unpickled with a restricted unpickler whose
globals are this module's stand-ins, never torch, so loading a checkpoint cannot execute code.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pathlib
import pickle
import pickletools
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

import ml_dtypes  # registers bfloat16 with numpy, which safetensors' numpy reader needs
import numpy as np
import safetensors

from tfst.folder_paths import path_inside
from tfst.messages import capped_listing

WEIGHTS_FILE_NAMES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
"""Weight files in the order transformers (and so sentence-transformers) prefers them."""

_FLOAT_DTYPES = frozenset(
    np.dtype(dtype) for dtype in (np.float16, ml_dtypes.bfloat16, np.float32, np.float64)
)
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


class CheckpointError(ValueError):
    """A checkpoint is corrupt, unsafe or not a state dict; the message names file and problem."""


class TensorHeader(NamedTuple):
    """A tensor as a checkpoint's header describes it, before any of its data is read."""

    dtype: np.dtype
    """The dtype stored in the file (``load_checkpoint_tensors`` gives floats as float32)."""
    shape: tuple[int, ...]


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
        return _read_sharded(path, _read_single_file_header)
    return _read_single_file_header(path)


def _existing_file(path: str | os.PathLike) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    return path


def _load_single_file(path: pathlib.Path) -> dict[str, np.ndarray]:
    if path.suffix == ".safetensors":
        return _load_safetensors(path)
    return _load_torch_zip(path)


def _read_single_file_header(path: pathlib.Path) -> dict[str, TensorHeader]:
    if path.suffix == ".safetensors":
        return _read_safetensors_header(path)
    return _read_torch_zip_header(path)


def _output_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float32) if dtype in _FLOAT_DTYPES else dtype


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


def _read_sharded(
    index_path: pathlib.Path, read_shard: Callable[[pathlib.Path], dict[str, _Entry]]
) -> dict[str, _Entry]:
    """``read_shard`` of every shard of an index, each checked to hold exactly its tensors."""
    names_by_shard: dict[str, set[str]] = {}
    for name, shard in read_sharded_index(index_path).items():
        names_by_shard.setdefault(shard, set()).add(name)
    entries: dict[str, _Entry] = {}
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
        entries.update(shard_entries)
    return entries


# --- safetensors -------------------------------------------------------------------------------


def _load_safetensors(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Tensors of a safetensors file; the package validates header, dtypes, shapes and offsets."""
    try:
        with safetensors.safe_open(path, framework="numpy") as reader:
            tensors = {}
            for name in _safetensors_entries(path):
                array = reader.get_tensor(name)
                tensors[name] = array.astype(_output_dtype(array.dtype), copy=False)
            return tensors
    except safetensors.SafetensorError as error:
        raise CheckpointError(f"{path}: invalid safetensors file: {error}") from error


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


# --- torch zip checkpoints ---------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": np.dtype(ml_dtypes.bfloat16),
    "DoubleStorage": np.dtype(np.float64),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}

# What torch.save emits for a dict of tensors, at pickle protocols 2 to 5. Left out on purpose:
# INST, OBJ, NEWOBJ(_EX) (build objects), EXT1/2/4 (globals that may bypass find_class),
# PERSID (text ids), bytes, lists, sets and every protocol-0/1 text opcode.
# fmt: off
_ALLOWED_OPCODES = frozenset({
    "PROTO", "FRAME", "STOP", "MARK",
    "EMPTY_DICT", "SETITEM", "SETITEMS", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
    "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "BININT", "BININT1", "BININT2", "LONG1", "NEWTRUE", "NEWFALSE", "NONE",
    "BINPUT", "LONG_BINPUT", "MEMOIZE", "BINGET", "LONG_BINGET",
    "GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "BINPERSID",
})
# fmt: on


class _StorageType(NamedTuple):
    """Stands in for ``torch.FloatStorage`` and kin: only a dtype, not callable."""

    dtype: np.dtype


class _StorageRef(NamedTuple):
    """A storage named by data.pkl, read from ``data/<key>`` only when a tensor needs it."""

    key: str
    dtype: np.dtype
    numel: int


class _TensorView(NamedTuple):
    """A tensor as data.pkl describes it: a strided view, in elements, of a storage.

    A NamedTuple, so a pickle BUILD opcode cannot rewrite it after the stand-ins checked it.
    """

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class _StateDict(dict):
    """Stands in for ``collections.OrderedDict``.

    transformers' state dicts carry a ``_metadata`` attribute (module versions), restored by a
    pickle BUILD opcode; tensors do not need it, so it is dropped.
    """

    def __setstate__(self, state: object) -> None:
        """Ignores the pickled instance attributes (``_metadata``)."""


def _is_index(value: object) -> bool:
    return type(value) is int and value >= 0


def _rebuild_tensor_v2(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    requires_grad: object,
    backward_hooks: object,
    metadata: object = None,
) -> _TensorView:
    """Stands in for ``torch._utils._rebuild_tensor_v2``: checks and records the view."""
    if not isinstance(storage, _StorageRef):
        raise ValueError(f"tensor storage is a {type(storage).__name__}, not a storage")
    if not (
        _is_index(storage_offset)
        and type(size) is tuple
        and type(stride) is tuple
        and len(size) == len(stride)
        and all(map(_is_index, size + stride))
    ):
        raise ValueError(
            f"invalid tensor view: offset {storage_offset!r:.40}, size {size!r:.100}, "
            f"stride {stride!r:.100}"
        )
    if type(requires_grad) is not bool or not isinstance(backward_hooks, dict) or backward_hooks:
        raise ValueError("tensor has backward hooks or a non-bool requires_grad")
    if metadata:
        raise ValueError(
            f"tensor metadata {metadata!r:.100} (e.g. a negative or conjugate bit) is unsupported"
        )
    return _TensorView(storage, storage_offset, size, stride)


def _rebuild_parameter(data: object, requires_grad: object, backward_hooks: object) -> _TensorView:
    """Stands in for ``torch._utils._rebuild_parameter``: a parameter is its tensor."""
    if not isinstance(data, _TensorView):
        raise ValueError(f"parameter data is a {type(data).__name__}, not a tensor")
    if type(requires_grad) is not bool or not isinstance(backward_hooks, dict) or backward_hooks:
        raise ValueError("parameter has backward hooks or a non-bool requires_grad")
    return data


_ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): _StateDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


def _forbidden_global(path: pathlib.Path, module: str, name: str) -> CheckpointError:
    return CheckpointError(
        f"{path}: data.pkl refers to the forbidden global {module}.{name}; a state dict needs "
        "only collections.OrderedDict, torch storage types and torch._utils._rebuild_tensor_v2 "
        "/ _rebuild_parameter, so the file is refused before anything in it runs"
    )


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles data.pkl with this module's stand-ins as the only reachable globals."""

    def __init__(self, data: bytes, path: pathlib.Path):
        super().__init__(io.BytesIO(data))
        self._path = path

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise _forbidden_global(self._path, module, name) from None

    def persistent_load(self, pid: object) -> _StorageRef:
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage"):
            raise CheckpointError(
                f"{self._path}: data.pkl has an unknown persistent id {pid!r:.100}"
            )
        _, storage_type, key, location, numel = pid
        if not (
            isinstance(storage_type, _StorageType)
            and type(key) is str
            and type(location) is str
            and _is_index(numel)
        ):
            raise CheckpointError(f"{self._path}: data.pkl has a malformed storage id {pid!r:.100}")
        return _StorageRef(key, storage_type.dtype, numel)


def _check_pickle_opcodes(path: pathlib.Path, data: bytes) -> None:
    """Refuses, before anything is unpickled, any global or opcode a state dict never uses."""
    try:
        opcodes = [(opcode.name, argument) for opcode, argument, _ in pickletools.genops(data)]
    except ValueError as error:
        raise CheckpointError(f"{path}: data.pkl is not a valid pickle: {error}") from error
    for module, name in _referenced_globals(path, opcodes):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise _forbidden_global(path, module, name)
    for opcode, _ in opcodes:
        if opcode not in _ALLOWED_OPCODES:
            raise CheckpointError(
                f"{path}: data.pkl uses the pickle opcode {opcode}, which a state dict never needs"
            )


def _referenced_globals(
    path: pathlib.Path, opcodes: list[tuple[str, Any]]
) -> list[tuple[str, str]]:
    """Every (module, name) the pickle imports, STACK_GLOBAL's too, found without running it.

    STACK_GLOBAL takes its names from the stack, where picklers put two strings just before it
    (either literal or fetched from the memo); anything else there is refused.
    """
    found = []
    pushed: list[object] = []  # what each opcode left on the stack, if it was a string
    memo: dict[int, object] = {}
    for opcode, argument in opcodes:
        if opcode in ("GLOBAL", "INST"):
            module, _, name = argument.partition(" ")
            found.append((module, name))
        elif opcode == "STACK_GLOBAL":
            module, name = pushed[-2:] if len(pushed) >= 2 else (None, None)
            if not (isinstance(module, str) and isinstance(name, str)):
                raise CheckpointError(f"{path}: data.pkl has a STACK_GLOBAL without plain names")
            found.append((module, name))
        if opcode in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
            memo[len(memo) if opcode == "MEMOIZE" else argument] = pushed[-1] if pushed else None
        elif opcode in ("GET", "BINGET", "LONG_BINGET"):
            pushed.append(memo.get(argument))
        elif opcode != "FRAME":
            is_string = "UNICODE" in opcode or "STRING" in opcode
            pushed.append(argument if is_string else None)
    return found


def _unpickle_state_dict(path: pathlib.Path, data: bytes) -> dict[str, _TensorView]:
    _check_pickle_opcodes(path, data)
    try:
        state_dict = _StateDictUnpickler(data, path).load()
    except CheckpointError:
        raise
    except Exception as error:  # only stand-ins run, so any failure means a malformed data.pkl
        raise CheckpointError(f"{path}: malformed data.pkl: {error}") from error
    if not isinstance(state_dict, dict):
        raise CheckpointError(
            f"{path}: data.pkl holds a {type(state_dict).__name__}, expected a dict of tensors"
        )
    for name, tensor in state_dict.items():
        if type(name) is not str:
            raise CheckpointError(f"{path}: data.pkl has a {type(name).__name__} key, not a name")
        if not isinstance(tensor, _TensorView):
            raise CheckpointError(
                f"{path}: data.pkl entry {name!r:.100} is a {type(tensor).__name__}, not a tensor"
            )
    return state_dict


# A view may hold more elements than its storage (a stride-0 `expand`, which torch.save keeps as
# a view) only up to this size: tfst copies every view, and a 538-byte file could otherwise ask
# for gigabytes. Real state dicts keep such views to small buffers (position ids).
MAX_REPEATING_VIEW_BYTES = 1 << 20


class _TorchZip(NamedTuple):
    """A torch zip archive whose layout, data.pkl and views have been checked."""

    prefix: str
    byteorder: str
    state_dict: dict[str, _TensorView]


def _load_torch_zip(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Tensors of a ``torch.save`` zip archive; each storage is read once, kept while views need it."""
    with _open_torch_zip(path) as archive:
        checked = _check_torch_zip(path, archive)
        views_left = Counter(view.storage for view in checked.state_dict.values())
        storages: dict[_StorageRef, np.ndarray] = {}
        tensors = {}
        for name, view in checked.state_dict.items():
            if view.storage not in storages:
                storages[view.storage] = _read_storage(path, archive, checked, view.storage)
            tensors[name] = _materialize(path, name, view, storages[view.storage])
            views_left[view.storage] -= 1
            if not views_left[view.storage]:
                del storages[view.storage]
        return tensors


def _read_torch_zip_header(path: pathlib.Path) -> dict[str, TensorHeader]:
    with _open_torch_zip(path) as archive:
        state_dict = _check_torch_zip(path, archive).state_dict
        return {
            name: TensorHeader(view.storage.dtype, view.size) for name, view in state_dict.items()
        }


@contextlib.contextmanager
def _open_torch_zip(path: pathlib.Path) -> Iterator[zipfile.ZipFile]:
    """The archive, with zip-level failures (a corrupt directory or entry) raised as
    :class:`CheckpointError` naming the file; entries are read with :func:`_read_entry`."""
    _reject_non_zip(path)
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except zipfile.BadZipFile as error:
        raise CheckpointError(f"{path}: corrupt zip archive: {error}") from error


def _check_torch_zip(path: pathlib.Path, archive: zipfile.ZipFile) -> _TorchZip:
    """Layout, data.pkl, storage entry sizes and every view, checked before any storage is read."""
    prefix, byteorder = _check_archive_layout(path, archive)
    state_dict = _unpickle_state_dict(path, _read_entry(path, archive, f"{prefix}/data.pkl"))
    for storage in dict.fromkeys(view.storage for view in state_dict.values()):
        _check_storage_entry(path, archive, f"{prefix}/data/{storage.key}", storage)
    for name, view in state_dict.items():
        _check_view(path, name, view)
    _check_total_size(path, state_dict)
    return _TorchZip(prefix, byteorder, state_dict)


def _reject_non_zip(path: pathlib.Path) -> None:
    """Names the likely cause when a torch checkpoint is not a zip: truncation or the old format."""
    if zipfile.is_zipfile(path):
        return
    with open(path, "rb") as file:
        if file.read(4) == b"PK\x03\x04":
            raise CheckpointError(
                f"{path}: truncated or corrupt zip archive (no central directory)"
            )
    raise CheckpointError(
        f"{path} is not a zip archive, so not a checkpoint in the zip format torch.save has "
        "written since torch 1.6. The legacy torch format is not read; convert it once where "
        "torch is installed: `sd = torch.load(path, weights_only=True); "
        "safetensors.torch.save_file({k: v.clone().contiguous() for k, v in sd.items()}, "
        "'model.safetensors')`"
    )


def _check_archive_layout(path: pathlib.Path, archive: zipfile.ZipFile) -> tuple[str, str]:
    """The archive's folder name and byte order, after checking entries are laid out as torch's."""
    names = archive.namelist()
    prefixes = {name.partition("/")[0] for name in names}
    if len(prefixes) != 1 or len(set(names)) != len(names):
        raise CheckpointError(
            f"{path}: expected one top-level folder of unique entries, found folders "
            f"[{capped_listing(map(repr, sorted(prefixes)))}] in {len(names):,} entries"
        )
    packed = [
        info.filename for info in archive.infolist() if info.compress_type or info.flag_bits & 1
    ]
    if packed:
        raise CheckpointError(
            f"{path}: entries [{capped_listing(map(repr, packed))}] are compressed or encrypted; "
            "torch.save stores every entry as is"
        )
    file_size = path.stat().st_size
    overstated = [
        info.filename
        for info in archive.infolist()
        if info.header_offset + info.file_size > file_size
    ]
    if overstated:
        raise CheckpointError(
            f"{path}: corrupt zip archive: the zip directory gives entries "
            f"[{capped_listing(map(repr, overstated))}] more bytes than the file's {file_size:,}"
        )
    prefix = prefixes.pop()
    if f"{prefix}/data.pkl" not in names:
        raise CheckpointError(f"{path}: {prefix}/data.pkl is missing")
    if f"{prefix}/byteorder" not in names:
        return prefix, "little"  # as torch.load assumes
    byteorder = _read_entry(path, archive, f"{prefix}/byteorder").decode("ascii", "replace")
    if byteorder not in ("little", "big"):
        raise CheckpointError(f"{path}: {prefix}/byteorder is {byteorder!r:.20}, not little or big")
    return prefix, byteorder


def _read_entry(path: pathlib.Path, archive: zipfile.ZipFile, entry: str) -> bytes:
    """One archive entry's bytes; an entry the file does not hold in full names the entry."""
    try:
        return archive.read(entry)
    except EOFError as error:
        raise CheckpointError(
            f"{path}: corrupt zip archive: entry {entry} ends past the end of the file ({error})"
        ) from error


def _check_storage_entry(
    path: pathlib.Path, archive: zipfile.ZipFile, entry: str, storage: _StorageRef
) -> None:
    """The storage's entry exists and holds exactly the bytes data.pkl says it has."""
    try:
        size = archive.getinfo(entry).file_size
    except KeyError:
        raise CheckpointError(f"{path}: storage {entry} named in data.pkl is missing") from None
    expected = storage.numel * storage.dtype.itemsize
    if size != expected:
        raise CheckpointError(
            f"{path}: storage {entry} holds {size} bytes; data.pkl says {storage.numel} "
            f"{storage.dtype} elements ({expected} bytes)"
        )


def _check_view(path: pathlib.Path, name: str, view: _TensorView) -> None:
    """A view stays inside its storage and repeats storage elements only up to a small size."""
    if 0 in view.size:
        return
    last = view.offset + sum(
        (size - 1) * stride for size, stride in zip(view.size, view.stride, strict=True)
    )
    if last >= view.storage.numel:
        raise CheckpointError(
            f"{path}: tensor {name!r:.200} (offset {view.offset}, size {view.size!s:.200}, "
            f"stride {view.stride!s:.200}) reaches element {last} of storage {view.storage.key}, which has "
            f"{view.storage.numel} elements"
        )
    elements = math.prod(view.size)
    materialized = elements * _output_dtype(view.storage.dtype).itemsize
    if elements > view.storage.numel and materialized > MAX_REPEATING_VIEW_BYTES:
        raise CheckpointError(
            f"{path}: tensor {name!r:.200} of size {view.size!s:.200} (stride "
            f"{view.stride!s:.200}) has "
            f"{elements:,} elements but its storage {view.storage.key} only {view.storage.numel:,}:"
            f" it repeats storage elements, and copying it would take {_gibibytes(materialized)};"
            f" views that repeat elements are read only up to {MAX_REPEATING_VIEW_BYTES:,} bytes "
            "(save the tensor with .contiguous() if it is real)"
        )


def _check_total_size(path: pathlib.Path, state_dict: dict[str, _TensorView]) -> None:
    """Refuses, before any is copied, tensors that together need more memory than the machine
    has (many views may share one storage, and each is copied)."""
    total = sum(
        math.prod(view.size) * _output_dtype(view.storage.dtype).itemsize
        for view in state_dict.values()
    )
    memory = physical_memory_bytes()
    if memory is not None and total > memory:
        raise CheckpointError(
            f"{path}: its {len(state_dict):,} tensors would take {_gibibytes(total)}, more than "
            f"this machine's {_gibibytes(memory)} of memory"
        )


def physical_memory_bytes() -> int | None:
    """The machine's physical memory, or None where the OS does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _gibibytes(size: int) -> str:
    return f"{size / 2**30:,.1f} GiB"


def _read_storage(
    path: pathlib.Path, archive: zipfile.ZipFile, checked: _TorchZip, storage: _StorageRef
) -> np.ndarray:
    """One storage as a 1-D native-byte-order array (its size was checked against data.pkl)."""
    data = _read_entry(path, archive, f"{checked.prefix}/data/{storage.key}")
    array = np.frombuffer(data, dtype=storage.dtype)
    return array if checked.byteorder == sys.byteorder else array.byteswap()


def _materialize(
    path: pathlib.Path, name: str, view: _TensorView, storage: np.ndarray
) -> np.ndarray:
    """A C-contiguous copy of one view (already checked by :func:`_check_view`)."""
    output_dtype = _output_dtype(storage.dtype)
    if 0 in view.size:
        return np.empty(view.size, dtype=output_dtype)
    itemsize = storage.dtype.itemsize
    try:
        strided = np.ndarray(
            view.size,
            dtype=storage.dtype,
            buffer=storage,
            offset=view.offset * itemsize,
            strides=tuple(stride * itemsize for stride in view.stride),
        )
        return strided.astype(output_dtype, order="C")
    except (ValueError, MemoryError) as error:
        raise CheckpointError(
            f"{path}: tensor {name!r:.200} of size {view.size!s:.200}: {error}"
        ) from error
