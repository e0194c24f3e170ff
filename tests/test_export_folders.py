"""``export`` / ``export_tflite`` targets: built beside the target and swapped in only when
complete, so a failed export leaves an earlier one intact; ``overwrite=True`` replaces only an
earlier export, never a folder of other files."""

from __future__ import annotations

import shutil

import pytest
import tensorflow as tf
from model_builders import build_sentence_folder

import tfst
from tfst.export import saved_model, tflite


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return build_sentence_folder(tmp_path_factory.mktemp("export_folders") / "model")


@pytest.fixture(scope="module")
def tiny_model(tiny_folder):
    return tfst.load(tiny_folder)


@pytest.fixture(scope="module")
def earlier_export(tiny_model, tmp_path_factory):
    return tiny_model.export(tmp_path_factory.mktemp("earlier") / "export")


@pytest.fixture
def target(earlier_export, tmp_path):
    """A copy of an earlier export, marked so that a replacement is visible."""
    target = shutil.copytree(earlier_export, tmp_path / "served")
    (target / "fingerprint.pb").write_bytes(b"earlier")
    return target


def _contents(folder):
    return {
        path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()
    }


def test_overwrite_replaces_an_earlier_export_and_leaves_nothing_beside_it(tiny_model, target):
    tiny_model.export(target, overwrite=True)
    assert (target / "fingerprint.pb").read_bytes() != b"earlier"
    assert sorted(path.name for path in target.parent.iterdir()) == ["served"]
    embeddings = tf.saved_model.load(str(target)).signatures["serving_default"](
        tf.constant(["served again"])
    )["sentence_embedding"]
    assert embeddings.shape == (1, 32)


def test_an_export_that_fails_early_leaves_the_earlier_export_intact(tiny_model, target):
    before = _contents(target)
    with pytest.raises(ValueError, match="tokenizer_ops must be one of"):
        tiny_model.export(target, overwrite=True, tokenizer_ops="fast")
    assert _contents(target) == before
    assert sorted(path.name for path in target.parent.iterdir()) == ["served"]


def test_an_export_that_fails_while_writing_leaves_the_earlier_export_intact(
    tiny_model, target, monkeypatch
):
    before = _contents(target)

    def save_half_then_fail(module, path, signatures):
        with open(f"{path}/saved_model.pb", "wb") as file:
            file.write(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(saved_model.tf.saved_model, "save", save_half_then_fail)
    with pytest.raises(OSError, match="No space left on device"):
        tiny_model.export(target, overwrite=True)
    assert _contents(target) == before
    assert sorted(path.name for path in target.parent.iterdir()) == ["served"]


@pytest.mark.parametrize("writer", ["export", "export_tflite"])
def test_overwrite_refuses_the_model_s_own_source_folder(tiny_model, tiny_folder, tmp_path, writer):
    source = shutil.copytree(tiny_folder, tmp_path / "source")
    before = _contents(source)
    with pytest.raises(FileExistsError, match=rf"{source} is not an earlier export \(it holds "):
        getattr(tiny_model, writer)(source, overwrite=True)
    assert _contents(source) == before


def test_overwrite_refuses_a_folder_of_other_files_listing_a_few(tiny_model, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for index in range(30):
        (home / f"notes_{index:02d}.txt").write_text("mine")
    with pytest.raises(
        FileExistsError,
        match=r"not an earlier export \(it holds notes_00\.txt, .* … and 20 more\)",
    ):
        tiny_model.export(home, overwrite=True)
    assert len(list(home.iterdir())) == 30


def test_a_file_among_an_export_s_entries_makes_it_not_an_earlier_export(tiny_model, target):
    (target / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not an earlier export"):
        tiny_model.export(target, overwrite=True)
    assert (target / "keep.txt").read_text() == "user data"


def test_tflite_export_replaces_an_earlier_export_and_keeps_it_on_failure(
    tiny_model, target, monkeypatch
):
    before = _contents(target)

    def fail_converting(model, quantize):
        raise RuntimeError("the converter failed")

    monkeypatch.setattr(tflite, "_token_ids_to_tflite", fail_converting)
    with pytest.raises(RuntimeError, match="the converter failed"):
        tiny_model.export_tflite(target, overwrite=True)
    assert _contents(target) == before
    monkeypatch.undo()
    tiny_model.export_tflite(target, overwrite=True)
    assert sorted(path.name for path in target.iterdir()) == ["model.tflite", "tokenizer"]
    assert sorted(path.name for path in target.parent.iterdir()) == ["served"]


def test_an_existing_empty_folder_is_filled_in_place_and_emptied_if_the_export_fails(
    tiny_model, tmp_path
):
    """A folder made beforehand (a mount point, say) is kept: the same folder, not a new one."""
    folder = tmp_path / "mounted"
    folder.mkdir()
    inode = folder.stat().st_ino
    with pytest.raises(ValueError, match="tokenizer_ops must be one of"):
        tiny_model.export(folder, tokenizer_ops="fast")
    assert folder.stat().st_ino == inode and list(folder.iterdir()) == []
    tiny_model.export(folder)
    assert folder.stat().st_ino == inode and (folder / "saved_model.pb").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mounted"]
