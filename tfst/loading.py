"""``tfst.load`` and ``tfst.load_cross_encoder``: a hub id or folder → a ready
``SentenceTransformer`` or ``CrossEncoder`` with checkpoint weights.

The flow is the one the package layout shows: name → files (hub) → ``modules.json`` → each
module from its folder (``tfst.modules``: configuration → layers → weights). Every module's
weights are checked and assigned before the model is returned, so a model is either loaded whole
or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tfst.config import (
    ConfigError,
    ModelSettings,
    read_json,
    read_model_settings,
    read_modules_json,
    read_optional_json,
)
from tfst.cross_encoder import CrossEncoder, activation_function_path
from tfst.folder_paths import path_inside
from tfst.hub import resolve_model_folder
from tfst.models.transformer_block import check_precision
from tfst.modules import LoadOptions, Module, Pooling, Router, Transformer, module_class
from tfst.modules.transformer import SEQUENCE_CLASSIFICATION
from tfst.sentence_model import SentenceTransformer
from tfst.similarity import SIMILARITY_FUNCTIONS

# config_sentence_transformers.json's model_type of a sentence-transformers cross-encoder.
CROSS_ENCODER_TYPE = "CrossEncoder"


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
    if _saved_as_cross_encoder(folder):
        raise ConfigError(f"{folder} is a cross-encoder: load it with tfst.load_cross_encoder")
    modules = read_modules(folder, LoadOptions(encoder_precision=encoder_precision))
    if getattr(modules[0], "head", None) is not None:  # only a Transformer can carry a head
        raise ConfigError(
            f"{folder} is a cross-encoder (its Transformer's transformer_task is "
            f"{SEQUENCE_CLASSIFICATION}): load it with tfst.load_cross_encoder"
        )
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


def _saved_as_cross_encoder(folder: Path) -> bool:
    """Whether ``folder`` is sentence-transformers' own cross-encoder form (``modules.json``)."""
    settings = read_optional_json(folder / "config_sentence_transformers.json")
    return (folder / "modules.json").is_file() and settings.get("model_type") == CROSS_ENCODER_TYPE


def is_cross_encoder_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a trained cross-encoder: a ``modules.json`` folder saved as a
    ``CrossEncoder``, or a Hugging Face folder (no ``modules.json``: another one is an embedding
    model's) whose ``config.json`` names a ``*ForSequenceClassification`` class."""
    if (folder / "modules.json").is_file():
        return _saved_as_cross_encoder(folder)
    config = read_optional_json(folder / "config.json")
    architectures = config.get("architectures")
    return isinstance(architectures, list) and any(
        isinstance(name, str) and name.endswith("ForSequenceClassification")
        for name in architectures
    )


def load_cross_encoder(
    name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    max_length: int | None = None,
    activation_fn: Callable | str | None = None,
    prompts: dict[str, str] | None = None,
    default_prompt_name: str | None = None,
    encoder_precision: str = "float32",
) -> CrossEncoder:
    """Load a sentence-transformers cross-encoder (reranker) from a local folder or a Hub id.

    Both forms sentence-transformers 6 reads are accepted: its own (``modules.json`` with one
    ``sequence-classification`` Transformer, and ``config_sentence_transformers.json`` with
    ``model_type: CrossEncoder``, the activation and prompts), and the classic one: a
    transformers ``*ForSequenceClassification`` folder (``config.json`` with ``id2label``, and
    the activation in its ``sentence_transformers`` block or, before sentence-transformers 4,
    ``sbert_ce_default_activation_function``). A ``modules.json`` folder of another model type
    is read as sentence-transformers reads it: as the classic form of its root folder.

    ``revision``, ``cache_dir``, ``token``, ``local_files_only`` and ``encoder_precision`` are
    ``tfst.load``'s. ``max_length`` replaces the saved maximum length (the tokenizer's
    ``model_max_length``, capped at the encoder's positions). ``activation_fn`` replaces the
    saved activation (see ``CrossEncoder``); ``prompts`` and ``default_prompt_name`` override
    the saved ones, as in ``tfst.load``.

    Example:
        >>> model = tfst.load_cross_encoder("cross-encoder/ms-marco-MiniLM-L6-v2")
        >>> model.rank("Who wrote Hamlet?", ["Shakespeare wrote it.", "Paris is big."])
        [{'corpus_id': 0, 'score': 0.99...}, {'corpus_id': 1, 'score': 0.0001...}]
    """
    check_precision(encoder_precision)
    folder = resolve_model_folder(
        name_or_path,
        revision=revision,
        cache_dir=cache_dir,
        token=token,
        local_files_only=local_files_only,
    )
    options = LoadOptions(encoder_precision=encoder_precision)
    saved_activation = None
    if _saved_as_cross_encoder(folder):
        modules = read_modules(folder, options)
        if len(modules) != 1 or getattr(modules[0], "head", None) is None:
            raise ConfigError(
                f"{folder / 'modules.json'}: a cross-encoder of tfst is one Transformer module "
                f"with transformer_task {SEQUENCE_CLASSIFICATION!r}, found "
                + " → ".join(module.describe() for module in modules)
            )
        settings = read_model_settings(folder)
        settings_path = folder / "config_sentence_transformers.json"
        saved_activation = _saved_activation(read_json(settings_path), settings_path)
        modules_path = folder / "modules.json"
        transformer_folder = path_inside(
            folder, read_modules_json(modules_path)[0].path, named_by=str(modules_path)
        )
    else:
        modules = [Transformer.from_model_folder(folder, options, task=SEQUENCE_CLASSIFICATION)]
        settings = ModelSettings()
        transformer_folder = folder
    if saved_activation is None:
        saved_activation = _config_json_activation(transformer_folder / "config.json")
    if max_length is not None:
        modules[0].max_seq_length = max_length
    merged_prompts = dict(prompts or {})
    for prompt_name, prompt_text in settings.prompts.items():
        if merged_prompts.get(prompt_name) is None:
            merged_prompts[prompt_name] = prompt_text
    return CrossEncoder(
        modules,
        activation_fn=activation_fn if activation_fn is not None else saved_activation,
        prompts=merged_prompts,
        default_prompt_name=(
            settings.default_prompt_name if default_prompt_name is None else default_prompt_name
        ),
        name="cross_encoder",
    )


def _saved_activation(raw: dict, where: Path | str) -> str | None:
    """The ``ACTIVATION_FUNCTIONS`` path of a saved ``activation_fn``, None if absent or not
    one sentence-transformers would import."""
    name = raw.get("activation_fn")
    if name is None:
        return None
    if not isinstance(name, str):
        raise ConfigError(f"{where}: activation_fn must be a string, got {name!r:.80}")
    return activation_function_path(name, str(where))


def _config_json_activation(config_path: Path) -> str | None:
    """The activation ``config.json`` names, where sentence-transformers 4+ writes it (the
    ``sentence_transformers`` block) or, before that, ``sbert_ce_default_activation_function``."""
    raw = read_json(config_path)
    block = raw.get("sentence_transformers")
    if block is not None and not isinstance(block, dict):
        raise ConfigError(f"{config_path}: sentence_transformers must be an object")
    if block is not None and "activation_fn" in block:
        return _saved_activation(block, f"{config_path} (sentence_transformers)")
    return _saved_activation(
        {"activation_fn": raw.get("sbert_ce_default_activation_function")}, config_path
    )
