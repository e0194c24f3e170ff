"""Where an export is written: a temporary sibling of the target, swapped in only when complete.

A failed export leaves an earlier one intact, and an existing non-empty folder is replaced only
when asked (``overwrite=True``) and only if it holds nothing but an earlier export, so a home
folder or a model's own source folder is never wiped by a mistyped path.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfst.folder_paths import replacing_folder

TFLITE_MODEL_FILE = "model.tflite"
TFLITE_TOKENIZER_FOLDER = "tokenizer"
_SAVED_MODEL_ENTRIES = {"saved_model.pb", "variables", "assets", "fingerprint.pb"}
_TFLITE_ENTRIES = {TFLITE_MODEL_FILE, TFLITE_TOKENIZER_FOLDER}


def export_folder(path: str | os.PathLike, overwrite: bool):
    """A context manager giving the folder to write an export into; it becomes ``path`` only
    when the export succeeds (see ``tfst.folder_paths.replacing_folder``).

    A non-empty ``path`` is replaced only with ``overwrite=True`` and only if it holds an
    earlier export (SavedModel or TFLite folder), never a folder of other files; a symbolic link
    at ``path`` is refused, so nothing is written through it.
    """
    return replacing_folder(path, overwrite=overwrite, replaceable=_is_earlier_export)


def _is_earlier_export(folder: Path) -> bool:
    """Whether ``folder`` holds only what ``export`` or ``export_tflite`` write."""
    entries = {entry.name for entry in folder.iterdir()}
    return entries <= _SAVED_MODEL_ENTRIES | _TFLITE_ENTRIES and bool(
        entries & {"saved_model.pb", TFLITE_MODEL_FILE}
    )
