"""``tfst.load``: a hub id or folder → a ready ``SentenceTransformer`` with checkpoint weights.

The flow is the one the package layout shows: name → files (hub) → ``modules.json`` → each
module from its folder (``tfst.modules``: configuration → layers → weights). Every module's
weights are checked and assigned before the model is returned, so a model is either loaded whole
or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfst.config import ConfigError, read_model_settings, read_modules_json
from tfst.folder_paths import path_inside
from tfst.hub import resolve_model_folder
from tfst.models.transformer_block import check_precision
from tfst.modules import LoadOptions, Module, Pooling, Router, Transformer, module_class
from tfst.sentence_model import SentenceTransformer
from tfst.similarity import SIMILARITY_FUNCTIONS


def read_modules(folder: Path, options: LoadOptions) -> list[Module]:
    """The modules ``modules.json`` lists, each built from its folder; a folder without
    ``modules.json`` is a plain Hugging Face model, read as sentence-transformers reads it:
    a Transformer followed by mean pooling."""
    modules_path = folder / "modules.json"
    if not modules_path.is_file():
        transformer = Transformer.from_folder(folder, options)
        return [transformer, Pooling(transformer.output_dimension(), ("mean",), name="pooling")]
    modules = []
    for position, entry in enumerate(read_modules_json(modules_path)):
        where = f"{modules_path} (module {entry.name!r})"
        cls = module_class(entry.type, where)
        if cls.is_input != (position == 0):
            raise ConfigError(
                f"{where}: a {cls.__name__} module can only come "
                + ("first" if cls.is_input else "after the module that takes text")
            )
        module_folder = path_inside(folder, entry.path, named_by=where)
        if cls.has_folder and not module_folder.is_dir():
            raise FileNotFoundError(f"{module_folder} not found ({where})")
        modules.append(cls.from_folder(module_folder, options))
    _check_widths(modules, modules_path)
    return modules


def _check_widths(modules: list[Module], modules_path: Path) -> None:
    """Each module must take the width the one before it gives, or layers fail on first use;
    behind a Router, along each of its routes."""
    first, *rest = modules
    if isinstance(first, Router):
        for route in first.routes.values():
            _check_chain_widths([*route, *rest], modules_path)
    else:
        _check_chain_widths(modules, modules_path)


def _check_chain_widths(modules: list[Module], modules_path: Path) -> None:
    width = None
    for module in modules:
        expected = module.expected_input_dimension()
        if expected is not None and width is not None and expected != width:
            raise ConfigError(
                f"{modules_path}: the {module.describe()} module expects width {expected}, but "
                f"the module before it gives {width}"
            )
        width = module.output_dimension(width)


def load(
    name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    prompts: dict[str, str] | None = None,
    default_prompt_name: str | None = None,
    similarity_fn_name: str | None = None,
    truncate_dim: int | None = None,
    encoder_precision: str = "float32",
) -> SentenceTransformer:
    """Load a sentence-transformers model from a local folder or a Hugging Face Hub id.

    Hub ids use the Hugging Face cache; ``revision``, ``cache_dir``, ``token`` and
    ``local_files_only`` mean what they mean in huggingface_hub, and HF_HUB_OFFLINE=1 is honoured.
    ``prompts``, ``default_prompt_name``, ``similarity_fn_name`` and ``truncate_dim`` override
    the values in ``config_sentence_transformers.json``, as in sentence-transformers (given
    prompts replace saved ones of the same name; the others are kept).
    ``encoder_precision="bfloat16"`` is the opt-in faster encoder (bfloat16 projections, see
    ``tfst.models.transformer_block.PRECISIONS``); the
    default ``float32`` matches sentence-transformers.

    Example:
        >>> model = tfst.load("sentence-transformers/all-MiniLM-L6-v2")
        >>> model.encode(["A sentence", "Another one"]).shape
        (2, 384)
    """
    check_precision(encoder_precision)
    folder = resolve_model_folder(
        name_or_path,
        revision=revision,
        cache_dir=cache_dir,
        token=token,
        local_files_only=local_files_only,
    )
    modules = read_modules(folder, LoadOptions(encoder_precision=encoder_precision))
    settings = read_model_settings(folder)
    # Like sentence-transformers, a saved similarity it does not support (e.g. a multi-vector
    # "maxsim") is ignored rather than refused.
    saved_similarity = settings.similarity_fn_name
    if saved_similarity not in SIMILARITY_FUNCTIONS:
        saved_similarity = None
    merged_prompts = dict(prompts or {})
    for prompt_name, prompt_text in settings.prompts.items():
        if merged_prompts.get(prompt_name) is None:
            merged_prompts[prompt_name] = prompt_text
    return SentenceTransformer(
        modules,
        prompts=merged_prompts,
        default_prompt_name=(
            settings.default_prompt_name if default_prompt_name is None else default_prompt_name
        ),
        similarity_fn_name=similarity_fn_name or saved_similarity,
        truncate_dim=settings.truncate_dim if truncate_dim is None else truncate_dim,
        name="sentence_transformer",
    )
