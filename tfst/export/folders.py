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
ONNX_MODEL_FILE = "model.onnx"
ONNX_MODEL_WITH_TOKENIZER_FILE = "model_with_tokenizer.onnx"
_SAVED_MODEL_ENTRIES = {"saved_model.pb", "variables", "assets", "fingerprint.pb"}
_TFLITE_ENTRIES = {TFLITE_MODEL_FILE, TFLITE_TOKENIZER_FOLDER}
# A large ONNX model keeps its weights beside it in ``<name>.data``.
_ONNX_FILES = (ONNX_MODEL_FILE, ONNX_MODEL_WITH_TOKENIZER_FILE)
_ONNX_ENTRIES = {*_ONNX_FILES, *(f"{name}.data" for name in _ONNX_FILES)}


def export_folder(path: str | os.PathLike, overwrite: bool):
    """A context manager giving the folder to write an export into; it becomes ``path`` only
    when the export succeeds (see ``tfst.folder_paths.replacing_folder``).

    A non-empty ``path`` is replaced only with ``overwrite=True`` and only if it holds an
    earlier export (SavedModel, TFLite or ONNX folder), never a folder of other files; a symbolic link
    at ``path`` is refused, so nothing is written through it.
    """
    return replacing_folder(path, overwrite=overwrite, replaceable=_is_earlier_export)


def _is_earlier_export(folder: Path) -> bool:
    """Whether ``folder`` holds only what ``export``, ``export_tflite`` or ``export_onnx``
    write."""
    entries = {entry.name for entry in folder.iterdir()}
    return entries <= _SAVED_MODEL_ENTRIES | _TFLITE_ENTRIES | _ONNX_ENTRIES and bool(
        entries & {"saved_model.pb", TFLITE_MODEL_FILE, *_ONNX_FILES}
    )
