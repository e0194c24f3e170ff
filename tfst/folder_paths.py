"""Paths in model and output folders: nothing read outside a model folder, nothing written
through a link.

Reading: every file tfst opens from a model folder (configuration, tokenizer files, weights,
shards, module folders) is found with :func:`path_inside`, which refuses

- a relative path that is absolute or has a ``..`` part (``modules.json``'s
  ``"path": "../other_model"``);
- a path whose symbolic links lead outside the folder. The one exception is the Hugging Face
  cache, whose snapshot files are links to ``<repo>/blobs/<hash>``: inside a folder under
  ``<repo>/snapshots/``, links into ``<repo>/blobs/`` are followed;
- anything that is neither a regular file nor a folder (devices, FIFOs, sockets), which can block
  or never end.

Writing: :func:`replace_file` writes a temporary sibling and renames it over the target, so a
link at the target (symbolic or hard) is replaced, never written through; :func:`real_folder`
replaces a symbolic link to a folder with a folder; :func:`replacing_folder` builds a whole
folder beside its target and swaps it in only once it is complete.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath

from tfst.messages import capped_listing


class OutsideFolderError(ValueError):
    """A path named by a model folder leads outside it, or to something that is not a file."""


def path_inside(
    folder: str | os.PathLike, relative: str | os.PathLike, *, named_by: str | None = None
) -> Path:
    """``folder / relative``, after checking that reading it reads inside ``folder``.

    Raises :class:`OutsideFolderError` (naming ``named_by``, the file or entry that gave the
    path, when given) for an absolute path, a ``..`` part, a link leading outside ``folder``
    (see the module docstring for the Hugging Face cache) or a device, FIFO or socket. A path
    that does not exist is returned unchecked, so that callers say "not found" themselves.
    """
    folder = Path(folder)
    source = f"{named_by}: " if named_by else ""
    if PurePath(relative).is_absolute() or ".." in PurePath(relative).parts:
        raise OutsideFolderError(
            f"{source}path {str(relative)!r:.200} is not inside the model folder {folder}; "
            "only relative paths without '..' are read"
        )
    path = folder / relative
    if not os.path.lexists(path):
        return path
    target, root = path.resolve(), folder.resolve()
    if not (target.is_relative_to(root) or _is_cache_blob(target, root)):
        raise OutsideFolderError(
            f"{source}{path} leads to {target}, outside the model folder {folder}; tfst reads "
            "only files inside a model folder, so copy the file into it instead of linking"
        )
    with contextlib.suppress(FileNotFoundError):  # a dangling link inside: "not found" later
        mode = target.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise OutsideFolderError(
                f"{source}{path} is a device, FIFO or socket, not a regular file or folder"
            )
    return path


def _is_cache_blob(target: Path, root: Path) -> bool:
    """Whether ``target`` is a blob of the Hugging Face cache repo whose snapshot holds ``root``
    (``<repo>/snapshots/<revision>/...`` → ``<repo>/blobs/<hash>``)."""
    for ancestor in (root, *root.parents):
        if ancestor.parent.name == "snapshots":
            return target.parent == ancestor.parent.parent / "blobs"
    return False


def _sibling_name(path: Path, purpose: str) -> Path:
    """An unused hidden name beside ``path``, so renames stay on one file system."""
    return path.parent / f".{path.name}.tfst-{purpose}-{secrets.token_hex(6)}"


def replace_file(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Write the file ``path`` by calling ``write`` on a new temporary sibling, then renaming it
    over ``path``: whatever ``path`` was (a link to a file elsewhere, a hard link), only the
    folder entry is replaced, and a failed write leaves the old file as it was."""
    path = Path(path)
    temporary = _sibling_name(path, "write")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def real_folder(path: str | os.PathLike) -> Path:
    """``path`` as a real folder (created if needed); a symbolic link there is removed first,
    never followed, so the folder it pointed to is left untouched."""
    path = Path(path)
    if path.is_symlink():
        path.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def replacing_folder(
    path: str | os.PathLike, *, overwrite: bool, replaceable: Callable[[Path], bool]
) -> Iterator[Path]:
    """Yield the folder to write into: a new temporary sibling of ``path`` that becomes ``path``
    when the block succeeds, or ``path`` itself when it is an existing empty folder.

    A non-empty folder at ``path`` is replaced only with ``overwrite=True`` and only if
    ``replaceable(path)`` says it holds what this writer made before (an earlier export); a
    symbolic link or a file at ``path`` is refused. If the block fails, the temporary folder is
    removed and ``path`` is left as it was. An existing empty folder is filled in place (it may
    be a mount point or have its own owner and permissions), and emptied again on failure.
    """
    path = Path(path)
    if path.is_symlink():
        raise FileExistsError(f"{path} is a symbolic link; export into a real folder")
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder")
    if path.is_dir() and not any(path.iterdir()):
        try:
            yield path
        except BaseException:
            for entry in path.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            raise
        return
    if path.is_dir():
        if not overwrite:
            raise FileExistsError(
                f"{path} is not empty; pass overwrite=True to replace an earlier export there"
            )
        if not replaceable(path):
            entries = sorted(entry.name for entry in path.iterdir())
            raise FileExistsError(
                f"{path} is not an earlier export (it holds {capped_listing(entries)}); "
                "overwrite=True replaces only a folder export wrote, so choose a new or empty "
                "folder"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling_name(path, "new")
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_in(staging, path)


def _swap_in(staging: Path, path: Path) -> None:
    """Rename ``staging`` to ``path``, moving what was at ``path`` aside first and deleting it
    only once the new folder is in place."""
    if not path.exists():
        staging.rename(path)
        return
    previous = _sibling_name(path, "old")
    path.rename(previous)
    try:
        staging.rename(path)
    except BaseException:
        previous.rename(path)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(previous)
