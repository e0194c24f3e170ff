"""Writing a model folder's files: JSON, text and safetensors.

Each file is written beside its target and renamed over it (``tfst.folder_paths.replace_file``):
a link at the target is replaced, never written through, and a failed write leaves the old file.
Parent folders are created when missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from tfst.folder_paths import replace_file


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented UTF-8 JSON at ``path``."""
    write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8 with ``\\n`` line ends at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, lambda temporary: temporary.write_text(text, "utf-8", newline="\n"))


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Tensors as a ``.safetensors`` file with the metadata transformers expects."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(
        path, lambda temporary: save_file(tensors, str(temporary), metadata={"format": "pt"})
    )
