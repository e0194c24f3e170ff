"""A Hugging Face Hub id or a local folder → a local folder holding the model's files.

Hub ids go through ``huggingface_hub`` so its cache, revisions, tokens and offline mode all
behave as they do for sentence-transformers. Only what tfst reads is fetched: configuration,
tokenizer files and one weights file per module (safetensors preferred), never ONNX/OpenVINO
exports or duplicate weight formats.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from huggingface_hub import hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tfst.checkpoint import read_sharded_index
from tfst.config import read_modules_json
from tfst.folder_paths import path_inside
from tfst.modules import module_class

_CONFIG_FILES = [
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    # Module configurations (WordEmbeddings and its tokenizer, LSTM, CNN, Router).
    "wordembedding_config.json",
    "whitespacetokenizer_config.json",
    "lstm_config.json",
    "cnn_config.json",
    "router_config.json",
]
# Per folder, in the order sentence-transformers/transformers prefer them.
_WEIGHT_FILES = [
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
]
_TRUTHY = {"1", "on", "yes", "true"}


class ModelNotFoundError(FileNotFoundError):
    """The name is neither a local folder nor a model the Hub (or its cache) can provide."""


def _offline() -> bool:
    """Read at call time, so a process can switch offline mode after importing huggingface_hub."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUTHY


def _default_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(hf_home) / "hub"


def resolve_model_folder(
    name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> Path:
    """Return a local folder with everything tfst needs to load ``name_or_path``.

    A path to an existing folder is returned as is. Anything else is a Hub repo id, resolved
    through the Hugging Face cache (``cache_dir``, else HF_HUB_CACHE / HF_HOME) and downloaded
    when allowed; ``local_files_only=True`` or HF_HUB_OFFLINE=1 restrict it to the cache.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    repo_id = str(name_or_path)
    if path.is_absolute() or repo_id.startswith((".", "~")) or repo_id.count("/") > 1:
        raise ModelNotFoundError(f"{repo_id} is not an existing folder (nor a hub id)")
    local_files_only = local_files_only or _offline()
    download_options = dict(
        revision=revision,
        cache_dir=str(cache_dir) if cache_dir is not None else str(_default_cache_dir()),
        token=token,
        local_files_only=local_files_only,
    )
    try:
        snapshot = Path(
            snapshot_download(
                repo_id,
                allow_patterns=_CONFIG_FILES + [f"*/{name}" for name in _CONFIG_FILES],
                **download_options,
            )
        )
        for module_folder in _folders_with_weights(snapshot):
            _download_weights(repo_id, module_folder, download_options)
    except (LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise ModelNotFoundError(
            _explain_missing(repo_id, error, local_files_only, download_options["cache_dir"])
        ) from error
    return snapshot


def _folders_with_weights(snapshot: Path) -> list[str]:
    """Sub-folders (relative, "" for the root) whose module loads a weights file."""
    modules_file = snapshot / "modules.json"
    if not modules_file.is_file():
        return [""]
    folders = []
    for entry in read_modules_json(modules_file):
        path_inside(snapshot, entry.path, named_by=f"{modules_file}, module {entry.name!r:.100}")
        module = module_class(entry.type, str(modules_file))
        for folder in module.weight_folders(snapshot / entry.path):
            path = posixpath.normpath(posixpath.join(entry.path, folder))
            folders.append("" if path == "." else path)
    return folders


def _download_weights(repo_id: str, subfolder: str, download_options: dict) -> None:
    """Fetch the first weights file that exists for one module folder (and its shards)."""
    for filename in _WEIGHT_FILES:
        try:
            path = hf_hub_download(
                repo_id, filename, subfolder=subfolder or None, **download_options
            )
        except EntryNotFoundError:
            continue
        if filename.endswith(".index.json"):
            for shard in sorted(set(read_sharded_index(path).values())):
                hf_hub_download(repo_id, shard, subfolder=subfolder or None, **download_options)
        return
    location = f"{repo_id}/{subfolder}" if subfolder else repo_id
    missing = f"no weights file ({', '.join(_WEIGHT_FILES)}) for {location}"
    if download_options["local_files_only"]:
        raise ModelNotFoundError(
            f"{missing} in the Hugging Face cache at {download_options['cache_dir']} (only its "
            f"configuration is there), and {_offline_advice(repo_id)}"
        )
    raise ModelNotFoundError(f"{missing} on the Hugging Face Hub")


def _explain_missing(repo_id: str, error: Exception, local_files_only: bool, cache_dir: str) -> str:
    if isinstance(error, RevisionNotFoundError):
        return f"{repo_id!r}: revision not found on the Hugging Face Hub ({error})"
    if isinstance(error, RepositoryNotFoundError):
        return (
            f"{repo_id!r} is not a local folder and not a model on the Hugging Face Hub "
            "(private repos need token=...)"
        )
    if local_files_only:
        return (
            f"{repo_id!r} is not a local folder and is not (completely) in the Hugging Face "
            f"cache at {cache_dir}, and {_offline_advice(repo_id)} ({error})"
        )
    return f"{repo_id!r} could not be downloaded: {error}"


def _offline_advice(repo_id: str) -> str:
    return (
        "downloads are off (HF_HUB_OFFLINE=1 or local_files_only=True). Download it once with "
        f"network access (`hf download {repo_id}`), point HF_HUB_CACHE/cache_dir at a cache "
        "that has it, or pass the model's local folder."
    )
