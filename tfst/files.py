"""Writing a model folder's files: JSON, text and safetensors, creating parent folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented UTF-8 JSON at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        json.dump(value, file, indent=2, ensure_ascii=False)
        file.write("\n")


def write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8 with ``\\n`` line ends at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Tensors as a ``.safetensors`` file with the metadata transformers expects."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"format": "pt"})
