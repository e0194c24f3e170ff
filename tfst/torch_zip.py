"""``pytorch_model.bin`` without torch, and without running any pickle code.

It is the zip archive ``torch.save`` writes: ``<archive>/data.pkl`` (a pickle of the state dict)
plus one raw ``<archive>/data/<key>`` entry per storage. The pickle is first scanned for the few
opcodes and globals a state dict needs, then unpickled with a restricted unpickler whose globals
are this module's stand-ins, never torch, so loading a checkpoint cannot execute code. Every
view's offset, size and stride is checked against its storage before bytes are trusted.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import pathlib
import pickle
import pickletools
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import ml_dtypes  # registers bfloat16 with numpy, which safetensors' numpy reader needs
import numpy as np

from tfst.checkpoint_errors import CheckpointError, TensorHeader, output_dtype
from tfst.messages import capped_listing

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


class TorchZipTensors(Mapping[str, np.ndarray]):
    """The tensors of a ``torch.save`` zip archive, each read from the file when it is looked
    up and not kept, as ``tfst.checkpoint.SafetensorsTensors`` reads safetensors: a model's load
    then holds one storage beside its variables instead of the whole checkpoint.

    Everything but the storages is read and checked when this is made (layout, data.pkl,
    every view, the total size). The archive then stays open while the mapping lives: its
    directory, read and checked once, decides what each lookup reads (a stored entry of the
    size data.pkl gives), so a file changed afterwards costs no more memory than the checked
    one, and its bytes fail the directory's CRC with a :class:`CheckpointError`. Reopening it
    per lookup would reread the whole directory each time, quadratic in the entries. A storage
    that several views share (tied weights, a flat buffer) is read once and kept while this
    mapping lives, so a checkpoint of views into one big storage is not read once per view.
    """

    def __init__(self, path: pathlib.Path):
        self.path = path
        _reject_non_zip(path)
        with _zip_errors(path):
            self._archive = zipfile.ZipFile(path)
        try:
            with _zip_errors(path):
                self._checked = _check_torch_zip(path, self._archive)
        except BaseException:
            self._archive.close()
            raise
        views = Counter(view.storage for view in self._checked.state_dict.values())
        self._shared = {storage for storage, count in views.items() if count > 1}
        self._kept: dict[_StorageRef, np.ndarray] = {}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(view.size) for name, view in self._checked.state_dict.items()}

    def __getitem__(self, name: str) -> np.ndarray:
        view = self._checked.state_dict[name]
        storage = self._kept.get(view.storage)
        if storage is None:
            with _zip_errors(self.path):
                storage = _read_storage(self.path, self._archive, self._checked, view.storage)
            if view.storage in self._shared:
                self._kept[view.storage] = storage
        return _materialize(self.path, name, view, storage)

    def __contains__(self, name: object) -> bool:
        return name in self._checked.state_dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._checked.state_dict)

    def __len__(self) -> int:
        return len(self._checked.state_dict)


def read_torch_zip_header(path: pathlib.Path) -> dict[str, TensorHeader]:
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
    with _zip_errors(path), zipfile.ZipFile(path) as archive:
        yield archive


@contextlib.contextmanager
def _zip_errors(path: pathlib.Path) -> Iterator[None]:
    """Zip-level failures (a corrupt directory, an entry that fails its CRC) raised as
    :class:`CheckpointError` naming the file."""
    try:
        yield
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
    materialized = elements * output_dtype(view.storage.dtype).itemsize
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
        math.prod(view.size) * output_dtype(view.storage.dtype).itemsize
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
    dtype = output_dtype(storage.dtype)
    if 0 in view.size:
        return np.empty(view.size, dtype=dtype)
    itemsize = storage.dtype.itemsize
    try:
        strided = np.ndarray(
            view.size,
            dtype=storage.dtype,
            buffer=storage,
            offset=view.offset * itemsize,
            strides=tuple(stride * itemsize for stride in view.stride),
        )
        return strided.astype(dtype, order="C")
    except (ValueError, MemoryError) as error:
        raise CheckpointError(
            f"{path}: tensor {name!r:.200} of size {view.size!s:.200}: {error}"
        ) from error
