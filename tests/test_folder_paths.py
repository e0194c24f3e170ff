"""``tfst.folder_paths`` and ``tfst.messages`` on their own: what is read, what is written."""

from __future__ import annotations

import os

import pytest

from tfst.folder_paths import OutsideFolderError, path_inside, real_folder, replace_file
from tfst.messages import capped_listing


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "model" / "sub").mkdir(parents=True)
    (tmp_path / "model" / "sub" / "file.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("outside")
    return tmp_path / "model"


@pytest.mark.parametrize("relative", ["", "sub", "sub/file.txt", "missing.json", "sub/./file.txt"])
def test_paths_inside_the_folder_are_returned_joined(folder, relative):
    assert path_inside(folder, relative) == folder / relative


@pytest.mark.parametrize("relative", ["..", "../secret.txt", "sub/../../secret.txt", "/etc/passwd"])
def test_absolute_and_parent_paths_are_refused_whether_or_not_they_exist(folder, relative):
    with pytest.raises(OutsideFolderError, match="only relative paths without '..' are read"):
        path_inside(folder, relative, named_by="modules.json")


def test_a_link_whose_target_is_outside_is_refused_even_through_a_linked_folder(folder):
    (folder / "escape").symlink_to(folder.parent, target_is_directory=True)
    with pytest.raises(OutsideFolderError, match=r"escape/secret\.txt leads to .*secret\.txt"):
        path_inside(folder, "escape/secret.txt")


def test_a_dangling_link_out_of_the_folder_is_refused(folder):
    (folder / "gone.json").symlink_to(folder.parent / "nowhere.json")
    with pytest.raises(OutsideFolderError, match="outside the model folder"):
        path_inside(folder, "gone.json")


def test_a_dangling_link_inside_is_returned_for_the_caller_to_call_missing(folder):
    (folder / "gone.json").symlink_to(folder / "nowhere.json")
    assert not path_inside(folder, "gone.json").exists()


def test_a_linked_model_folder_is_itself_the_root(folder, tmp_path):
    (tmp_path / "alias").symlink_to(folder, target_is_directory=True)
    assert path_inside(tmp_path / "alias", "sub/file.txt").read_text() == "inside"


def test_replace_file_replaces_a_symbolic_link_and_keeps_its_target(folder):
    (folder / "out.txt").symlink_to(folder.parent / "secret.txt")
    replace_file(folder / "out.txt", lambda temporary: temporary.write_text("new"))
    assert (folder / "out.txt").read_text() == "new" and not (folder / "out.txt").is_symlink()
    assert (folder.parent / "secret.txt").read_text() == "outside"


def test_replace_file_that_fails_leaves_the_old_file_and_no_temporary(folder):
    def fail(temporary):
        temporary.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_file(folder / "sub" / "file.txt", fail)
    assert (folder / "sub" / "file.txt").read_text() == "inside"
    assert os.listdir(folder / "sub") == ["file.txt"]


def test_real_folder_replaces_a_link_to_a_folder(folder, tmp_path):
    (folder / "linked").symlink_to(tmp_path, target_is_directory=True)
    real_folder(folder / "linked")
    assert (folder / "linked").is_dir() and not (folder / "linked").is_symlink()
    assert (tmp_path / "secret.txt").read_text() == "outside"


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], ""),
        (["a", "b"], "a, b"),
        ([f"t{i}" for i in range(10)], "t0, t1, t2, t3, t4, t5, t6, t7, t8, t9"),
        (
            [f"t{i}" for i in range(300_000)],
            "t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 … and 299,990 more",
        ),
        (["x" * 1000], "x" * 199 + "…"),
    ],
    ids=["none", "few", "exactly_the_limit", "many", "one_long"],
)
def test_capped_listing_names_a_few_and_counts_the_rest(items, expected):
    assert capped_listing(items) == expected
