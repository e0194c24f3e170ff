"""tfst.checkpoint against torch / safetensors.torch as references, plus corrupt and hostile files.

torch writes the reference files here; tfst.checkpoint itself must never import it.
"""

from __future__ import annotations

import collections
import contextlib
import copyreg
import dataclasses
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import safetensors.torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfst import torch_zip
from tfst.checkpoint import (
    WEIGHTS_FILE_NAMES,
    CheckpointError,
    ShardedTensors,
    checkpoint_tensors,
    find_weights_file,
    load_checkpoint_tensors,
    read_checkpoint_header,
    read_sharded_index,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _expected(tensor: torch.Tensor) -> np.ndarray:
    """What load_checkpoint_tensors promises for a tensor: float32 if floating, else as is."""
    tensor = tensor.detach()
    return tensor.float().numpy() if tensor.is_floating_point() else tensor.numpy()


def _assert_same_tensors(loaded: dict[str, np.ndarray], reference: dict[str, torch.Tensor]):
    assert loaded.keys() == reference.keys()
    for name, tensor in reference.items():
        expected = _expected(tensor)
        assert loaded[name].dtype == expected.dtype, name
        np.testing.assert_array_equal(loaded[name], expected, err_msg=name)


# --- files torch and safetensors write ---------------------------------------------------------


@pytest.fixture(scope="session")
def dtype_tensors() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(3, 5, generator=generator)
    return {
        "float32": values,
        "float16": values.half(),
        "bfloat16": values.bfloat16(),
        "float64": values.double() / 3,
        "position_ids": torch.arange(7).unsqueeze(0),
        "int32": torch.arange(-3, 3, dtype=torch.int32),
        "int8": torch.arange(-3, 3, dtype=torch.int8),
        "uint8": torch.arange(6, dtype=torch.uint8),
        "bool": values > 0,
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
    }


@pytest.fixture(scope="session")
def view_tensors() -> dict[str, torch.Tensor]:
    """Views torch.save keeps as (storage, offset, size, stride), most sharing one storage."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    return {
        "base": base,
        "transposed": base.t(),
        "sliced_with_offset": base[1:3, 2:5],
        "row": base[2],
        "column": base[:, 3],
        "every_other": base[::2, ::3],
        "expanded": torch.arange(3.0).expand(4, 3),
        "parameter": torch.nn.Parameter(torch.ones(2, 2)),
    }


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def dtypes_safetensors(files, dtype_tensors) -> Path:
    path = files / "dtypes.safetensors"
    safetensors.torch.save_file(dtype_tensors, path)
    return path


@pytest.fixture(scope="session")
def dtypes_bin(files, dtype_tensors) -> Path:
    path = files / "dtypes.bin"
    torch.save(dtype_tensors, path)
    return path


@pytest.fixture(scope="session")
def views_bin(files, view_tensors) -> Path:
    path = files / "views.bin"
    torch.save(view_tensors, path)
    return path


@pytest.fixture(scope="session")
def tiny_bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=24,
    )
    return BertModel(config).eval()


@pytest.fixture(scope="session")
def bert_safetensors_folder(files, tiny_bert) -> Path:
    folder = files / "bert_safetensors"
    tiny_bert.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def bert_bin_folder(files, tiny_bert) -> Path:
    """A pytorch_model.bin as transformers < 5 wrote it: torch.save of the state dict.

    transformers 5 ignores save_pretrained(safe_serialization=False), so it is written directly;
    the state dict keeps transformers' ``_metadata`` attribute, which the pickle restores by BUILD.
    """
    folder = files / "bert_bin"
    folder.mkdir()
    state_dict = tiny_bert.state_dict()
    assert hasattr(state_dict, "_metadata")
    torch.save(state_dict, folder / "pytorch_model.bin")
    return folder


# --- hand-made torch zip archives --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Storage:
    """Pickles, through _StatePickler, as torch's persistent id of a storage."""

    storage_type: type
    key: str
    numel: int


@dataclasses.dataclass(frozen=True)
class _View:
    """Pickles as torch._utils._rebuild_tensor_v2 of a storage, as torch.save writes a tensor."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def __reduce__(self):
        hooks = collections.OrderedDict()
        args = (self.storage, self.offset, self.size, self.stride, False, hooks)
        return torch._utils._rebuild_tensor_v2, args


class _StatePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def _state_pickle(obj, protocol: int = 2) -> bytes:
    buffer = io.BytesIO()
    _StatePickler(buffer, protocol=protocol).dump(obj)
    return buffer.getvalue()


def _write_torch_zip(
    path: Path,
    data_pkl: bytes,
    storages: dict[str, bytes] | None = None,
    byteorder: bytes | None = b"little",
) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        if byteorder is not None:
            archive.writestr("archive/byteorder", byteorder)
        for key, data in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", data)
    return path


def _rewrite_zip(source: Path, target: Path, replace: dict[str, bytes | None], **options) -> Path:
    """A copy of a zip archive with entries replaced (bytes) or dropped (None)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", **options) as new:
        for name in old.namelist():
            data = replace.get(name, old.read(name))
            if data is not None:
                new.writestr(name, data)
    return target


def _entry(path: Path, suffix: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return next(name for name in archive.namelist() if name.endswith(suffix))


FLOATS = _Storage(torch.FloatStorage, "0", 4)
FOUR_FLOATS = np.arange(4, dtype="<f4").tobytes()


# --- safetensors -------------------------------------------------------------------------------


def test_safetensors_match_safetensors_torch(dtypes_safetensors):
    reference = safetensors.torch.load_file(dtypes_safetensors)
    _assert_same_tensors(load_checkpoint_tensors(dtypes_safetensors), reference)


def test_safetensors_bfloat16_becomes_float32_exactly(dtypes_safetensors, dtype_tensors):
    loaded = load_checkpoint_tensors(dtypes_safetensors)["bfloat16"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, dtype_tensors["bfloat16"].float().numpy())


def test_safetensors_int64_position_ids_keep_their_dtype(dtypes_safetensors):
    position_ids = load_checkpoint_tensors(dtypes_safetensors)["position_ids"]
    assert position_ids.dtype == np.int64
    np.testing.assert_array_equal(position_ids, [np.arange(7)])


def test_real_minilm_safetensors_match_safetensors_torch(minilm_folder):
    path = minilm_folder / "model.safetensors"
    _assert_same_tensors(load_checkpoint_tensors(path), safetensors.torch.load_file(path))


def _safetensors_parts(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    header_size = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + header_size]), data[8 + header_size :]


def _write_safetensors(path: Path, header: dict | bytes, body: bytes) -> Path:
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes + body)
    return path


@pytest.fixture(scope="session")
def small_safetensors(files) -> Path:
    path = files / "small.safetensors"
    tensors = {"weight": torch.arange(6.0).reshape(2, 3), "ids": torch.arange(4)}
    safetensors.torch.save_file(tensors, path)
    return path


def test_safetensors_tensors_are_read_when_looked_up_and_not_kept(small_safetensors, tmp_path):
    path = tmp_path / "lazy.safetensors"
    path.write_bytes(small_safetensors.read_bytes())
    tensors = checkpoint_tensors(path)
    assert tensors.shapes == {"weight": (2, 3), "ids": (4,)}
    weight = tensors["weight"]
    np.testing.assert_array_equal(weight, np.arange(6.0).reshape(2, 3))
    weight[0, 0] = 99.0
    assert tensors["weight"][0, 0] == 0.0  # read afresh from the file
    # Shrunk after it was opened: the read of the last tensor fails naming file and tensor.
    header, _ = _safetensors_parts(path)
    last = max(
        (name for name in header if name != "__metadata__"),
        key=lambda name: header[name]["data_offsets"][1],
    )
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(CheckpointError, match=f"{path}: tensor '{last}' ends past the end"):
        tensors[last]


def test_missing_file_raises_file_not_found_naming_it(tmp_path):
    path = tmp_path / "model.safetensors"
    with pytest.raises(FileNotFoundError, match=str(path)):
        load_checkpoint_tensors(path)


def test_truncated_safetensors_raises(small_safetensors, tmp_path):
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(small_safetensors.read_bytes()[:-5])
    with pytest.raises(CheckpointError, match=f"{path}: invalid safetensors file.*not fully"):
        load_checkpoint_tensors(path)


def test_safetensors_with_trailing_bytes_raises(small_safetensors, tmp_path):
    path = tmp_path / "trailing.safetensors"
    path.write_bytes(small_safetensors.read_bytes() + b"junk")
    with pytest.raises(CheckpointError, match=f"{path}: invalid safetensors file"):
        load_checkpoint_tensors(path)


def test_bit_flip_in_header_length_raises(small_safetensors, tmp_path):
    data = bytearray(small_safetensors.read_bytes())
    data[5] ^= 0x10
    path = tmp_path / "flipped_length.safetensors"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{path}: invalid safetensors file.*header"):
        load_checkpoint_tensors(path)


def test_bit_flip_in_header_json_raises(small_safetensors, tmp_path):
    data = bytearray(small_safetensors.read_bytes())
    data[data.index(b'"dtype"')] ^= 0x01
    path = tmp_path / "flipped_json.safetensors"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{path}: invalid safetensors file.*JSON"):
        load_checkpoint_tensors(path)


def test_header_lying_about_offsets_raises(small_safetensors, tmp_path):
    header, body = _safetensors_parts(small_safetensors)
    header["weight"]["data_offsets"], header["ids"]["data_offsets"] = [0, 24], [0, 32]
    path = _write_safetensors(tmp_path / "offsets.safetensors", header, body)
    with pytest.raises(CheckpointError, match=f"{path}: invalid safetensors file.*offset"):
        load_checkpoint_tensors(path)


def test_header_lying_about_dtype_raises(small_safetensors, tmp_path):
    header, body = _safetensors_parts(small_safetensors)
    header["weight"]["dtype"] = "F16"
    path = _write_safetensors(tmp_path / "dtype.safetensors", header, body)
    with pytest.raises(CheckpointError, match=f"{path}: invalid safetensors file"):
        load_checkpoint_tensors(path)


def test_header_lying_about_shape_raises(small_safetensors, tmp_path):
    header, body = _safetensors_parts(small_safetensors)
    header["weight"]["shape"] = [3, 3]
    path = _write_safetensors(tmp_path / "shape.safetensors", header, body)
    with pytest.raises(CheckpointError, match=f"{path}: invalid safetensors file"):
        load_checkpoint_tensors(path)


def test_header_naming_a_tensor_twice_raises(small_safetensors, tmp_path):
    header, body = _safetensors_parts(small_safetensors)
    entries = {name: json.dumps(info) for name, info in header.items()}
    twice = ",".join(f'"{name}": {info}' for name, info in entries.items())
    twice += f',"weight": {entries["weight"]}'
    path = _write_safetensors(tmp_path / "twice.safetensors", ("{" + twice + "}").encode(), body)
    with pytest.raises(CheckpointError, match=rf"{path}: header names \['weight'\] more than once"):
        load_checkpoint_tensors(path)


def test_unsupported_safetensors_dtype_raises(tmp_path):
    path = tmp_path / "float8.safetensors"
    safetensors.torch.save_file({"weight": torch.zeros(4).to(torch.float8_e4m3fn)}, path)
    with pytest.raises(CheckpointError, match=f"{path}: tensor 'weight' has dtype F8_E4M3"):
        load_checkpoint_tensors(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3))
def test_safetensors_with_random_byte_flips_load_or_raise_checkpoint_error(
    small_safetensors, files, flips
):
    data = bytearray(small_safetensors.read_bytes())
    for position, mask in flips:
        data[position % len(data)] ^= mask
    path = files / "fuzzed.safetensors"
    path.write_bytes(bytes(data))
    with contextlib.suppress(CheckpointError):
        load_checkpoint_tensors(path)


# --- torch zip checkpoints ---------------------------------------------------------------------


def test_bin_dtypes_match_torch_load(dtypes_bin):
    reference = torch.load(dtypes_bin, weights_only=True)
    _assert_same_tensors(load_checkpoint_tensors(dtypes_bin), reference)


def test_bin_views_and_shared_storages_match_torch_load(views_bin):
    reference = torch.load(views_bin, weights_only=True)
    _assert_same_tensors(load_checkpoint_tensors(views_bin), reference)


@pytest.fixture
def storage_reads(monkeypatch) -> collections.Counter:
    """How often each torch zip storage (by key) is read from its file during the test."""
    reads = collections.Counter()
    read_storage = torch_zip._read_storage
    monkeypatch.setattr(
        torch_zip,
        "_read_storage",
        lambda path, archive, checked, storage: (
            reads.update([storage.key]) or read_storage(path, archive, checked, storage)
        ),
    )
    return reads


def test_bin_tensors_are_read_when_looked_up_and_not_kept(dtypes_bin, storage_reads):
    path = dtypes_bin
    tensors = checkpoint_tensors(path)
    assert isinstance(tensors, torch_zip.TorchZipTensors)
    assert not storage_reads  # nothing but data.pkl read yet
    reference = torch.load(path, weights_only=True)
    assert tensors.shapes == {name: tuple(tensor.shape) for name, tensor in reference.items()}
    assert not storage_reads
    name = next(
        name
        for name, tensor in reference.items()
        if tensor.dtype == torch.float32 and tensor.numel()
    )
    first = tensors[name]
    first.reshape(-1)[0] += 1
    assert tensors[name].reshape(-1)[0] == first.reshape(-1)[0] - 1  # read afresh
    assert storage_reads.total() == 2


def test_bin_rewritten_after_opening_fails_its_crc(tmp_path):
    """Rewritten in place with other values of the same shapes: the bytes read no longer match
    the CRC of the directory read when the mapping was made (tensors larger than the file
    reader's buffer, which would serve the old bytes)."""
    path = tmp_path / "pytorch_model.bin"
    original = {"a": torch.zeros(100_000), "b": torch.zeros(100_000)}
    torch.save(original, path)
    tensors = checkpoint_tensors(path)
    np.testing.assert_array_equal(tensors["a"], np.zeros(100_000, np.float32))
    torch.save({key: tensor + 1 for key, tensor in original.items()}, path)
    with pytest.raises(CheckpointError, match=rf"{path}: corrupt zip archive: Bad CRC-32"):
        tensors["b"]


def test_bin_archive_directory_is_read_once(views_bin, monkeypatch):
    """Reopening the archive per lookup would reread its whole directory each time: a
    checkpoint of many small tensors would load in time quadratic in their number."""
    opened = []
    zip_file = zipfile.ZipFile
    monkeypatch.setattr(
        torch_zip.zipfile, "ZipFile", lambda *args: opened.append(args) or zip_file(*args)
    )
    tensors = checkpoint_tensors(views_bin)
    assert len({name: tensors[name] for name in tensors}) == 8
    assert len(opened) == 1


def test_bin_storage_shared_by_views_is_read_once(views_bin, storage_reads):
    tensors = checkpoint_tensors(views_bin)
    reference = torch.load(views_bin, weights_only=True)
    for _ in range(2):
        _assert_same_tensors({name: tensors[name] for name in tensors}, reference)
    # base and its five views share one storage; "expanded" and "parameter" have one each,
    # read on every lookup.
    assert sorted(storage_reads.values()) == [1, 2, 2]


@pytest.mark.parametrize("checkpoint", ["views_bin", "dtypes_safetensors"])
def test_arrays_come_out_c_contiguous_writable_and_unshared(request, checkpoint):
    loaded = list(load_checkpoint_tensors(request.getfixturevalue(checkpoint)).values())
    assert all(array.flags.c_contiguous and array.flags.writeable for array in loaded)
    for index, array in enumerate(loaded):
        assert not any(np.shares_memory(array, other) for other in loaded[index + 1 :])


@pytest.mark.parametrize("protocol", [4, 5])
def test_bin_saved_with_newer_pickle_protocol_matches_the_tensors(
    tmp_path, dtype_tensors, view_tensors, protocol
):
    """Protocols 4 and 5 import through STACK_GLOBAL, with module names fetched from the memo."""
    path = tmp_path / "pytorch_model.bin"
    torch.save({**dtype_tensors, **view_tensors}, path, pickle_protocol=protocol)
    _assert_same_tensors(load_checkpoint_tensors(path), {**dtype_tensors, **view_tensors})


def test_big_endian_storages_are_byteswapped(tmp_path):
    values = np.array([1.5, -2.25, 3.0, 1e-3])
    longs = _Storage(torch.LongStorage, "1", 4)
    halves = _Storage(torch.BFloat16Storage, "2", 4)
    state = {
        "float": _View(FLOATS, 0, (4,), (1,)),
        "long": _View(longs, 0, (2, 2), (2, 1)),
        "bfloat16": _View(halves, 0, (4,), (1,)),
    }
    storages = {
        "0": values.astype(">f4").tobytes(),
        "1": np.array([1, -2, 3, 2**40]).astype(">i8").tobytes(),
        "2": values.astype(ml_dtypes.bfloat16).byteswap().tobytes(),
    }
    path = _write_torch_zip(tmp_path / "big.bin", _state_pickle(state), storages, b"big")
    loaded = load_checkpoint_tensors(path)
    np.testing.assert_array_equal(loaded["float"], values.astype(np.float32))
    np.testing.assert_array_equal(loaded["long"], [[1, -2], [3, 2**40]])
    np.testing.assert_array_equal(loaded["bfloat16"], values.astype(ml_dtypes.bfloat16))


def test_bin_without_byteorder_entry_is_read_as_little_endian(tmp_path):
    data_pkl = _state_pickle({"w": _View(FLOATS, 0, (4,), (1,))})
    path = _write_torch_zip(tmp_path / "old.bin", data_pkl, {"0": FOUR_FLOATS}, byteorder=None)
    np.testing.assert_array_equal(load_checkpoint_tensors(path)["w"], [0, 1, 2, 3])


def test_unknown_byteorder_raises(tmp_path):
    data_pkl = _state_pickle({"w": _View(FLOATS, 0, (4,), (1,))})
    path = _write_torch_zip(tmp_path / "odd.bin", data_pkl, {"0": FOUR_FLOATS}, b"middle")
    with pytest.raises(CheckpointError, match=f"{path}: archive/byteorder is 'middle'"):
        load_checkpoint_tensors(path)


def test_missing_storage_entry_raises(views_bin, tmp_path):
    path = _rewrite_zip(views_bin, tmp_path / "missing.bin", {_entry(views_bin, "/data/0"): None})
    with pytest.raises(CheckpointError, match=f"{path}: storage .*/data/0 named in data.pkl is"):
        load_checkpoint_tensors(path)


def test_storage_entry_shorter_than_data_pkl_says_raises(views_bin, tmp_path):
    entry = _entry(views_bin, "/data/0")
    with zipfile.ZipFile(views_bin) as archive:
        short = archive.read(entry)[:-4]
    path = _rewrite_zip(views_bin, tmp_path / "short.bin", {entry: short})
    with pytest.raises(CheckpointError, match=f"{path}: storage .*/data/0 holds 92 bytes"):
        load_checkpoint_tensors(path)


def test_view_reaching_past_its_storage_raises(tmp_path):
    data_pkl = _state_pickle({"w": _View(FLOATS, 2, (3,), (1,))})
    path = _write_torch_zip(tmp_path / "past.bin", data_pkl, {"0": FOUR_FLOATS})
    with pytest.raises(CheckpointError, match=f"{path}: tensor 'w' .* reaches element 4"):
        load_checkpoint_tensors(path)


def test_view_with_large_stride_past_its_storage_raises(tmp_path):
    data_pkl = _state_pickle({"w": _View(FLOATS, 0, (2, 2), (3, 1))})
    path = _write_torch_zip(tmp_path / "stride.bin", data_pkl, {"0": FOUR_FLOATS})
    with pytest.raises(CheckpointError, match=f"{path}: tensor 'w' .* reaches element 4"):
        load_checkpoint_tensors(path)


def test_negative_storage_offset_raises(tmp_path):
    data_pkl = _state_pickle({"w": _View(FLOATS, -1, (2,), (1,))})
    path = _write_torch_zip(tmp_path / "negative.bin", data_pkl, {"0": FOUR_FLOATS})
    with pytest.raises(CheckpointError, match=f"{path}: malformed data.pkl: invalid tensor view"):
        load_checkpoint_tensors(path)


def test_bit_flip_in_a_storage_is_caught_by_the_zip_checksum(views_bin, tmp_path):
    data = bytearray(views_bin.read_bytes())
    data[data.index(np.arange(8, 12, dtype="<f4").tobytes())] ^= 0x01
    path = tmp_path / "flipped.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{path}: corrupt zip archive: Bad CRC-32"):
        load_checkpoint_tensors(path)


def test_truncated_bin_raises(views_bin, tmp_path):
    path = tmp_path / "truncated.bin"
    path.write_bytes(views_bin.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=f"{path}: truncated or corrupt zip archive"):
        load_checkpoint_tensors(path)


def test_legacy_torch_format_is_refused_with_conversion_advice(tmp_path, view_tensors):
    path = tmp_path / "legacy.bin"
    torch.save(view_tensors, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=f"{path} is not a zip.*safetensors.torch.save_file"):
        load_checkpoint_tensors(path)


def test_compressed_archive_entries_are_refused(views_bin, tmp_path):
    path = _rewrite_zip(views_bin, tmp_path / "deflated.bin", {}, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(CheckpointError, match=f"{path}: entries .* are compressed or encrypted"):
        load_checkpoint_tensors(path)


def test_archive_without_data_pkl_raises(views_bin, tmp_path):
    path = _rewrite_zip(
        views_bin, tmp_path / "no_pickle.bin", {_entry(views_bin, "data.pkl"): None}
    )
    with pytest.raises(CheckpointError, match=f"{path}: views/data.pkl is missing"):
        load_checkpoint_tensors(path)


def test_data_pkl_holding_a_tuple_is_refused(tmp_path):
    data_pkl = _state_pickle((_View(FLOATS, 0, (4,), (1,)),))
    path = _write_torch_zip(tmp_path / "tuple.bin", data_pkl, {"0": FOUR_FLOATS})
    with pytest.raises(CheckpointError, match=f"{path}: data.pkl holds a tuple, expected a dict"):
        load_checkpoint_tensors(path)


def test_data_pkl_nesting_a_state_dict_is_refused(tmp_path):
    data_pkl = _state_pickle({"state_dict": {"w": _View(FLOATS, 0, (4,), (1,))}})
    path = _write_torch_zip(tmp_path / "nested.bin", data_pkl, {"0": FOUR_FLOATS})
    with pytest.raises(CheckpointError, match=f"{path}: .*'state_dict' is a dict, not a tensor"):
        load_checkpoint_tensors(path)


def test_persistent_id_without_a_storage_type_is_refused(tmp_path):
    data_pkl = _state_pickle({"w": _View(_Storage("FloatStorage", "0", 4), 0, (4,), (1,))})
    path = _write_torch_zip(tmp_path / "untyped.bin", data_pkl, {"0": FOUR_FLOATS})
    with pytest.raises(CheckpointError, match=f"{path}: data.pkl has a malformed storage id"):
        load_checkpoint_tensors(path)


@pytest.fixture(scope="session")
def small_data_pkl() -> bytes:
    halves = _Storage(torch.HalfStorage, "1", 2)
    return _state_pickle({"w": _View(FLOATS, 1, (2, 1), (1, 2)), "h": _View(halves, 0, (2,), (1,))})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3),
    cut=st.integers(0, 10_000),
)
def test_data_pkl_with_random_byte_flips_loads_or_raises_checkpoint_error(
    small_data_pkl, files, flips, cut
):
    data = bytearray(small_data_pkl)
    for position, mask in flips:
        data[position % len(data)] ^= mask
    del data[len(data) - cut % 8 :]
    storages = {"0": FOUR_FLOATS, "1": np.ones(2, "<f2").tobytes()}
    path = _write_torch_zip(files / "fuzzed.bin", bytes(data), storages)
    with contextlib.suppress(CheckpointError):
        load_checkpoint_tensors(path)


def test_loading_a_bin_never_imports_torch(views_bin):
    program = (
        "import sys\n"
        "from tfst.checkpoint import load_checkpoint_tensors\n"
        f"tensors = load_checkpoint_tensors({str(views_bin)!r})\n"
        "assert len(tensors) == 8, tensors\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'torch'))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- real transformers checkpoints -------------------------------------------------------------


def test_bert_safetensors_match_the_model(bert_safetensors_folder, tiny_bert):
    path = find_weights_file(bert_safetensors_folder)
    assert path.name == "model.safetensors"
    _assert_same_tensors(load_checkpoint_tensors(path), tiny_bert.state_dict())


def test_bert_bin_with_metadata_matches_the_model(bert_bin_folder, tiny_bert):
    path = find_weights_file(bert_bin_folder)
    assert path.name == "pytorch_model.bin"
    _assert_same_tensors(load_checkpoint_tensors(path), tiny_bert.state_dict())


# --- finding weights, sharded checkpoints ------------------------------------------------------


def test_find_weights_file_prefers_safetensors_over_bin(tmp_path):
    for name in WEIGHTS_FILE_NAMES:
        (tmp_path / name).touch()
    assert find_weights_file(tmp_path) == tmp_path / "model.safetensors"


@pytest.mark.parametrize("name", WEIGHTS_FILE_NAMES[1:])
def test_find_weights_file_follows_transformers_order(tmp_path, name):
    for later in WEIGHTS_FILE_NAMES[WEIGHTS_FILE_NAMES.index(name) :]:
        (tmp_path / later).touch()
    assert find_weights_file(tmp_path) == tmp_path / name


def test_find_weights_file_without_weights_names_folder_and_files(tmp_path):
    (tmp_path / "config.json").touch()
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*model.safetensors.*pytorch_model"):
        find_weights_file(tmp_path)


def _write_sharded(folder: Path, tensors: dict[str, torch.Tensor], suffix: str) -> Path:
    """Two shards and their index, as transformers names them."""
    names = sorted(tensors)
    shards = {
        f"model-00001-of-00002{suffix}": names[: len(names) // 2],
        f"model-00002-of-00002{suffix}": names[len(names) // 2 :],
    }
    weight_map = {}
    for shard, shard_names in shards.items():
        shard_tensors = {name: tensors[name].contiguous() for name in shard_names}
        if suffix == ".safetensors":
            safetensors.torch.save_file(shard_tensors, folder / shard)
        else:
            torch.save(shard_tensors, folder / shard)
        weight_map.update(dict.fromkeys(shard_names, shard))
    index = folder / f"model{suffix}.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return index


@pytest.mark.parametrize("suffix", [".safetensors", ".bin"])
def test_sharded_checkpoint_loads_every_shard(tmp_path, dtype_tensors, suffix):
    index = _write_sharded(tmp_path, dtype_tensors, suffix)
    _assert_same_tensors(load_checkpoint_tensors(index), dtype_tensors)


def test_sharded_safetensors_are_read_when_looked_up_and_not_kept(tmp_path, dtype_tensors):
    index = _write_sharded(tmp_path, dtype_tensors, ".safetensors")
    tensors = checkpoint_tensors(index)
    assert isinstance(tensors, ShardedTensors)
    assert sorted(tensors) == sorted(dtype_tensors)
    assert tensors.shapes == {name: tuple(tensor.shape) for name, tensor in dtype_tensors.items()}
    name = next(
        name for name in tensors if tensors[name].dtype == np.float32 and tensors[name].size
    )
    first = tensors[name]
    first.reshape(-1)[0] += 1
    assert tensors[name].reshape(-1)[0] == first.reshape(-1)[0] - 1  # read afresh from its shard
    assert "no such tensor" not in tensors


def test_sharded_checkpoint_with_missing_shard_names_it(tmp_path, dtype_tensors):
    index = _write_sharded(tmp_path, dtype_tensors, ".safetensors")
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match=f"{index}: shard model-00002-of-00002.safetensors"):
        load_checkpoint_tensors(index)


def test_sharded_checkpoint_disagreeing_with_weight_map_raises(tmp_path, dtype_tensors):
    index = _write_sharded(tmp_path, dtype_tensors, ".safetensors")
    content = json.loads(index.read_text())
    content["weight_map"]["ghost"] = "model-00001-of-00002.safetensors"
    index.write_text(json.dumps(content))
    with pytest.raises(CheckpointError, match=r"does not match weight_map: missing \['ghost'\]"):
        load_checkpoint_tensors(index)


def test_sharded_checkpoint_refuses_shards_outside_its_folder(tmp_path, dtype_tensors):
    index = _write_sharded(tmp_path, dtype_tensors, ".safetensors")
    content = json.loads(index.read_text())
    content["weight_map"] = dict.fromkeys(content["weight_map"], "../model.safetensors")
    index.write_text(json.dumps(content))
    with pytest.raises(CheckpointError, match="'../model.safetensors' is not a weights file name"):
        load_checkpoint_tensors(index)


# --- hostile pickles ---------------------------------------------------------------------------


class _Call:
    """Pickles as a call of ``function(*args)`` through ``__reduce__``: most pickle exploits."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


class _CallViaReduceEx(_Call):
    def __reduce_ex__(self, protocol):
        return self.function, self.args


def _touch(sentinel: Path) -> str:
    return f"touch {sentinel}"


HOSTILE_PICKLES = {
    "os_system_text_global": (
        lambda s: f"cos\nsystem\n(S'{_touch(s)}'\ntR.".encode(),
        "os.system",
    ),
    "posix_system_reduce": (
        lambda s: pickle.dumps(_Call(os.system, _touch(s)), protocol=2),
        "posix.system",
    ),
    "eval": (
        lambda s: pickle.dumps(_Call(eval, f"__import__('os').system({_touch(s)!r})"), protocol=2),
        "__builtin__.eval",
    ),
    "exec_stack_global": (
        lambda s: pickle.dumps(_Call(exec, f"import os; os.system({_touch(s)!r})"), protocol=4),
        "builtins.exec",
    ),
    "subprocess_popen": (
        lambda s: pickle.dumps(_Call(subprocess.Popen, ["touch", str(s)]), protocol=4),
        "subprocess.Popen",
    ),
    "builtins_getattr_chain": (
        lambda s: (
            "cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR"
            f"(S'{_touch(s)}'\ntR."
        ).encode(),
        "builtins.getattr",
    ),
    "reduce_ex_stack_global": (
        lambda s: pickle.dumps(_CallViaReduceEx(os.system, _touch(s)), protocol=4),
        "posix.system",
    ),
    "importlib_import_module": (
        lambda s: b"cimportlib\nimport_module\n(S'os'\ntR.",
        "importlib.import_module",
    ),
    "nested_pickle_loads": (
        lambda s: pickle.dumps(
            _Call(pickle.loads, pickle.dumps(_Call(os.system, _touch(s)))), protocol=2
        ),
        "pickle.loads",
    ),
    "handmade_stack_global": (
        lambda s: (
            b"\x80\x04\x8c\x02os\x8c\x06system\x93"
            + pickle.dumps(_touch(s), protocol=2)[2:-1]
            + b"\x85R."
        ),
        "os.system",
    ),
    "inst_opcode": (
        lambda s: f"(S'{_touch(s)}'\nios\nsystem\n.".encode(),
        "os.system",
    ),
    "obj_opcode": (
        lambda s: f"(cos\nsystem\nS'{_touch(s)}'\no.".encode(),
        "os.system",
    ),
    "hidden_among_tensors": (
        lambda s: _state_pickle(
            {"w": _View(FLOATS, 0, (4,), (1,)), "x": _Call(os.system, _touch(s))}
        ),
        "posix.system",
    ),
    "torch_function_not_in_allowlist": (
        lambda s: pickle.dumps(_Call(torch.load, str(s)), protocol=2),
        "torch.serialization.load",
    ),
}


@pytest.mark.parametrize("payload", HOSTILE_PICKLES)
def test_hostile_pickle_is_refused_naming_the_global_without_running_it(tmp_path, payload):
    build, forbidden = HOSTILE_PICKLES[payload]
    sentinel = tmp_path / "SENTINEL"
    path = _write_torch_zip(tmp_path / "pytorch_model.bin", build(sentinel), {"0": FOUR_FLOATS})
    with pytest.raises(CheckpointError) as refusal:
        load_checkpoint_tensors(path)
    assert str(refusal.value).startswith(
        f"{path}: data.pkl refers to the forbidden global {forbidden};"
    )
    assert not sentinel.exists()


def test_stack_global_whose_names_are_not_plainly_pushed_is_refused(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    names = b"\x8c\x02os\x8c\x06system\x8c\x01x0"  # "os", "system", "x", POP
    call = pickle.dumps(_touch(sentinel), protocol=2)[2:-1] + b"\x85R."
    path = _write_torch_zip(tmp_path / "pytorch_model.bin", b"\x80\x04" + names + b"\x93" + call)
    with pytest.raises(CheckpointError, match=f"{path}: .* STACK_GLOBAL without plain names"):
        load_checkpoint_tensors(path)
    assert not sentinel.exists()


def test_ext_opcode_is_refused_even_with_a_primed_extension_cache(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    copyreg.add_extension("os", "system", 0xF0)
    try:
        pickle.loads(b"\x80\x02\x82\xf0.")  # the cache now maps code 0xF0 to os.system
        data_pkl = b"\x80\x02\x82\xf0(" + pickle.dumps(_touch(sentinel), protocol=2)[2:-1] + b"tR."
        path = _write_torch_zip(tmp_path / "pytorch_model.bin", data_pkl)
        with pytest.raises(CheckpointError, match=f"{path}: data.pkl uses the pickle opcode EXT1"):
            load_checkpoint_tensors(path)
    finally:
        copyreg.remove_extension("os", "system", 0xF0)
        copyreg.clear_extension_cache()
    assert not sentinel.exists()


def test_newobj_on_an_allowed_class_is_refused(tmp_path):
    data_pkl = b"\x80\x02ccollections\nOrderedDict\n)\x81."
    path = _write_torch_zip(tmp_path / "pytorch_model.bin", data_pkl)
    with pytest.raises(CheckpointError, match=f"{path}: data.pkl uses the pickle opcode NEWOBJ"):
        load_checkpoint_tensors(path)


def test_calling_a_storage_type_is_refused(tmp_path):
    data_pkl = b"\x80\x02ctorch\nFloatStorage\nK\x04\x85R."
    path = _write_torch_zip(tmp_path / "pytorch_model.bin", data_pkl)
    with pytest.raises(CheckpointError, match=f"{path}: malformed data.pkl:.*not callable"):
        load_checkpoint_tensors(path)


def test_build_cannot_rewrite_a_checked_tensor_view(tmp_path):
    view = _state_pickle(_View(FLOATS, 0, (4,), (1,)))[2:-1]
    rewrite = b"}X\x06\x00\x00\x00offsetJ\x00\xca\x9a\x3bs"  # {"offset": 10**9}
    data_pkl = b"\x80\x02}X\x01\x00\x00\x00w" + view + rewrite + b"b" + b"s."
    path = _write_torch_zip(tmp_path / "pytorch_model.bin", data_pkl, {"0": FOUR_FLOATS})
    with pytest.raises(CheckpointError, match=f"{path}: malformed data.pkl"):
        load_checkpoint_tensors(path)


def test_pickle_inside_a_storage_entry_is_read_as_bytes_never_unpickled(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    payload = pickle.dumps(_Call(os.system, _touch(sentinel)))
    storage = _Storage(torch.ByteStorage, "0", len(payload))
    data_pkl = _state_pickle({"w": _View(storage, 0, (len(payload),), (1,))})
    path = _write_torch_zip(tmp_path / "pytorch_model.bin", data_pkl, {"0": payload})
    loaded = load_checkpoint_tensors(path)["w"]
    np.testing.assert_array_equal(loaded, np.frombuffer(payload, np.uint8))
    assert not sentinel.exists()


# --- sizes checked before memory is taken ------------------------------------------------------


def _peak_allocation(function) -> int:
    """Peak bytes allocated (NumPy reports its buffers to tracemalloc) while ``function`` runs."""
    tracemalloc.start()
    try:
        with contextlib.suppress(CheckpointError):
            function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_stride_zero_view_bigger_than_its_storage_is_refused_before_materializing(tmp_path):
    """538 bytes on disk that would copy into 1 GiB: a (16384, 16384) view of one float."""
    one_float = _Storage(torch.FloatStorage, "0", 1)
    data_pkl = _state_pickle({"w": _View(one_float, 0, (16384, 16384), (0, 0))})
    path = _write_torch_zip(tmp_path / "bomb.bin", data_pkl, {"0": FOUR_FLOATS[:4]})
    assert path.stat().st_size < 1000
    with pytest.raises(
        CheckpointError,
        match=rf"{path}: tensor 'w' of size \(16384, 16384\) .* 268,435,456 elements but its "
        r"storage 0 only 1: it repeats storage elements, and copying it would take 1\.0 GiB",
    ):
        load_checkpoint_tensors(path)
    assert _peak_allocation(lambda: load_checkpoint_tensors(path)) < 1 << 20


def test_overlapping_strides_count_as_repeating_elements(tmp_path):
    """Not only stride 0: rows that start one element apart reuse almost all of a storage."""
    storage = _Storage(torch.FloatStorage, "0", 1 << 15)
    data_pkl = _state_pickle({"w": _View(storage, 0, (1 << 14, 1 << 14), (1, 1))})
    path = _write_torch_zip(tmp_path / "overlap.bin", data_pkl, {"0": bytes(4 << 15)})
    with pytest.raises(CheckpointError, match=r"tensor 'w' .* it repeats storage elements"):
        load_checkpoint_tensors(path)


def test_views_that_together_need_more_than_the_machine_has_are_refused(tmp_path, monkeypatch):
    """Many views of one real storage: each fits, together they cannot."""
    storage = _Storage(torch.FloatStorage, "0", 1000)
    views = {f"copy_{index}": _View(storage, 0, (1000,), (1,)) for index in range(10)}
    path = _write_torch_zip(tmp_path / "copies.bin", _state_pickle(views), {"0": bytes(4000)})
    assert len(load_checkpoint_tensors(path)) == 10
    monkeypatch.setattr(torch_zip, "physical_memory_bytes", lambda: 39_999)
    with pytest.raises(
        CheckpointError, match=rf"{path}: its 10 tensors would take 0\.0 GiB, more than this"
    ):
        load_checkpoint_tensors(path)
    with pytest.raises(CheckpointError, match="more than this machine's"):
        read_checkpoint_header(path)


def _overstate_entry_size(path: Path, entry_suffix: str, extra: int) -> Path:
    """The archive with its zip directory claiming ``extra`` more bytes for one stored entry."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(entry_suffix))
    name = info.filename.encode()
    record = data.index(b"PK\x01\x02")  # the central directory's first record
    while data[record + 46 : record + 46 + len(name)] != name:
        record = data.index(b"PK\x01\x02", record + 4)
    for offset in (20, 24):  # compressed and uncompressed size
        size = struct.unpack_from("<I", data, record + offset)[0]
        struct.pack_into("<I", data, record + offset, size + extra)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("entry", "extra"),
    [("data.pkl", 8), ("data.pkl", 10_000_000), ("/data/0", 10_000_000)],
    ids=["pickle_into_the_next_entry", "pickle_past_the_end", "storage_past_the_end"],
)
def test_zip_directory_overstating_an_entry_names_the_file(views_bin, tmp_path, entry, extra):
    path = tmp_path / "overstated.bin"
    path.write_bytes(views_bin.read_bytes())
    _overstate_entry_size(path, entry, extra)
    with pytest.raises(CheckpointError, match=f"{path}: corrupt zip archive"):
        load_checkpoint_tensors(path)


def test_sharded_index_nested_too_deeply_is_named(tmp_path):
    index = tmp_path / "model.safetensors.index.json"
    index.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match=f"{index}: not a valid JSON index: nested too deep"):
        load_checkpoint_tensors(index)


@pytest.mark.parametrize(
    "weight_map", [["model-00001-of-00002.safetensors"], "shards", {"w": 3}, None]
)
def test_sharded_index_whose_weight_map_is_not_names_to_files_is_named(tmp_path, weight_map):
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": weight_map}))
    with pytest.raises(
        CheckpointError, match=f'{index}: expected a JSON object whose "weight_map"'
    ):
        read_sharded_index(index)


def test_shard_mismatch_lists_a_few_names_and_counts_the_rest(tmp_path, dtype_tensors):
    index = _write_sharded(tmp_path, dtype_tensors, ".safetensors")
    content = json.loads(index.read_text())
    content["weight_map"].update(
        {f"ghost_{i:06d}": "model-00001-of-00002.safetensors" for i in range(100_000)}
    )
    index.write_text(json.dumps(content))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint_tensors(index)
    assert "'ghost_000009' … and 99,990 more" in str(error.value)
    assert len(str(error.value)) < 2000


def test_safetensors_header_naming_many_tensors_twice_is_a_short_error(small_safetensors, tmp_path):
    header, body = _safetensors_parts(small_safetensors)
    empty = '{"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}'
    entries = [f'"{name}": {json.dumps(info)}' for name, info in header.items()]
    entries += [f'"e{i}": {empty}, "e{i}": {empty}' for i in range(50_000)]
    path = _write_safetensors(
        tmp_path / "twice.safetensors", ("{" + ",".join(entries) + "}").encode(), body
    )
    with pytest.raises(CheckpointError, match=r"header names \['e0', 'e1', .* and 49,990 more\]"):
        load_checkpoint_tensors(path)


# --- headers without data ----------------------------------------------------------------------


def _stored_dtype(tensor: torch.Tensor) -> np.dtype:
    if tensor.dtype == torch.bfloat16:
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(tensor.detach().numpy().dtype)


@pytest.mark.parametrize("checkpoint_file", ["dtypes_safetensors", "dtypes_bin", "views_bin"])
def test_header_gives_every_tensor_s_stored_dtype_and_shape(request, checkpoint_file):
    path = request.getfixturevalue(checkpoint_file)
    reference = torch.load(path, weights_only=True) if path.suffix == ".bin" else None
    if reference is None:
        reference = safetensors.torch.load_file(path)
    expected = {name: (_stored_dtype(t), tuple(t.shape)) for name, t in reference.items()}
    header = read_checkpoint_header(path)
    assert {name: (entry.dtype, entry.shape) for name, entry in header.items()} == expected
    loaded = load_checkpoint_tensors(path)
    assert {name: entry.shape for name, entry in header.items()} == {
        name: array.shape for name, array in loaded.items()
    }


@pytest.mark.parametrize("suffix", [".safetensors", ".bin"])
def test_header_of_a_sharded_checkpoint_covers_every_shard(tmp_path, dtype_tensors, suffix):
    index = _write_sharded(tmp_path, dtype_tensors, suffix)
    header = read_checkpoint_header(index)
    assert {name: entry.shape for name, entry in header.items()} == {
        name: tuple(tensor.shape) for name, tensor in dtype_tensors.items()
    }


def test_header_of_a_bin_reads_no_storage(views_bin, tmp_path):
    """A storage whose bytes fail the zip checksum: loading notices, reading the header does
    not read it at all."""
    data = bytearray(views_bin.read_bytes())
    with zipfile.ZipFile(views_bin) as archive:
        local_header = archive.getinfo(_entry(views_bin, "/data/0")).header_offset
    name_length, extra_length = struct.unpack_from("<HH", data, local_header + 26)
    data[local_header + 30 + name_length + extra_length + 5] ^= 0xFF
    path = tmp_path / "flipped.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="Bad CRC-32"):
        load_checkpoint_tensors(path)
    assert read_checkpoint_header(path).keys() == read_checkpoint_header(views_bin).keys()


def test_header_of_a_large_safetensors_file_reads_no_data(tmp_path):
    path = tmp_path / "large.safetensors"
    safetensors.torch.save_file({"big": torch.zeros(64, 1 << 16)}, path)  # 16 MiB
    assert _peak_allocation(lambda: read_checkpoint_header(path)) < 1 << 20
    assert read_checkpoint_header(path)["big"] == (np.dtype(np.float32), (64, 1 << 16))


def test_header_refuses_what_loading_refuses(tmp_path):
    one_float = _Storage(torch.FloatStorage, "0", 1)
    data_pkl = _state_pickle({"w": _View(one_float, 0, (16384, 16384), (0, 0))})
    path = _write_torch_zip(tmp_path / "bomb.bin", data_pkl, {"0": FOUR_FLOATS[:4]})
    with pytest.raises(CheckpointError, match="repeats storage elements"):
        read_checkpoint_header(path)
