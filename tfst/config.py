"""Every configuration file of a sentence-transformers folder, parsed once into typed objects.

The pipeline *is* ``modules.json``: each entry names a module type and a sub-folder holding that
module's own configuration. Both generations of type names are accepted (sentence-transformers
<= 5 wrote ``sentence_transformers.models.Pooling``; 6 moved the classes, e.g. to
``sentence_transformers.sentence_transformer.modules.pooling.Pooling``). A folder without
``modules.json`` is read as sentence-transformers reads it: a Transformer followed by mean pooling.
Layers never see JSON; they get the plain values collected here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfst.folder_paths import path_inside
from tfst.text.tokenizer_folder import (
    TokenizerSettings,
    read_tokenizer_settings,
    with_lowercase_first,
)
from tfst.text_checks import utf8_problem

SUPPORTED_MODEL_TYPES = ("bert", "distilbert")
HIDDEN_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
_REQUIRED = object()
# EncoderConfig field → (config.json key, default) for each family's own naming.
ENCODER_CONFIG_KEYS = {
    "bert": {
        "vocab_size": ("vocab_size", _REQUIRED),
        "hidden_size": ("hidden_size", _REQUIRED),
        "num_layers": ("num_hidden_layers", _REQUIRED),
        "num_heads": ("num_attention_heads", _REQUIRED),
        "intermediate_size": ("intermediate_size", _REQUIRED),
        "hidden_act": ("hidden_act", "gelu"),
        "layer_norm_eps": ("layer_norm_eps", 1e-12),
        "max_position_embeddings": ("max_position_embeddings", _REQUIRED),
        "type_vocab_size": ("type_vocab_size", 2),
    },
    "distilbert": {
        "vocab_size": ("vocab_size", _REQUIRED),
        "hidden_size": ("dim", _REQUIRED),
        "num_layers": ("n_layers", _REQUIRED),
        "num_heads": ("n_heads", _REQUIRED),
        "intermediate_size": ("hidden_dim", _REQUIRED),
        "hidden_act": ("activation", "gelu"),
        # DistilBERT's LayerNorm epsilon is fixed in transformers, not configurable.
        "layer_norm_eps": (None, 1e-12),
        "max_position_embeddings": ("max_position_embeddings", _REQUIRED),
        "type_vocab_size": (None, 0),
    },
}
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
# Legacy boolean keys, in the order sentence-transformers concatenates their outputs.
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
_MODULE_KINDS = ("Transformer", "Pooling", "Dense", "Normalize")
# Class paths torch writes for Dense activations (any generation), mapped to our names.
DENSE_ACTIVATIONS = {
    "Identity": "linear",
    "Tanh": "tanh",
    "ReLU": "relu",
    "GELU": "gelu",
    "Sigmoid": "sigmoid",
}


class ConfigError(ValueError):
    """A configuration file is missing a value, holds an unsupported one, or is not valid JSON."""


@dataclass(frozen=True)
class EncoderConfig:
    """Shape and numerics of a BERT-family encoder, from the Hugging Face ``config.json``."""

    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    hidden_act: str
    layer_norm_eps: float
    max_position_embeddings: int
    type_vocab_size: int


@dataclass(frozen=True)
class TransformerModuleConfig:
    folder: Path
    encoder: EncoderConfig
    tokenizer: TokenizerSettings
    max_seq_length: int


@dataclass(frozen=True)
class PoolingModuleConfig:
    embedding_dimension: int
    modes: tuple[str, ...]
    include_prompt: bool = True


@dataclass(frozen=True)
class DenseModuleConfig:
    folder: Path
    in_features: int
    out_features: int
    bias: bool
    activation: str


@dataclass(frozen=True)
class NormalizeModuleConfig:
    pass


ModuleConfig = (
    TransformerModuleConfig | PoolingModuleConfig | DenseModuleConfig | NormalizeModuleConfig
)


@dataclass(frozen=True)
class ModelConfig:
    """A whole sentence-transformers model: its folder and its module pipeline, in order."""

    folder: Path
    modules: tuple[ModuleConfig, ...]
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity_fn_name: str | None = None
    truncate_dim: int | None = None

    @property
    def transformer(self) -> TransformerModuleConfig:
        return next(m for m in self.modules if isinstance(m, TransformerModuleConfig))


def _load_json(path: Path, expected: type) -> Any:
    if not path_inside(path.parent, path.name).is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        with open(path, encoding="utf-8") as file:
            value = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid JSON: {error}") from error
    except RecursionError:
        raise ConfigError(f"{path} is not valid JSON: nested too deeply") from None
    if not isinstance(value, expected):
        raise ConfigError(
            f"{path}: expected a JSON {'object' if expected is dict else 'array'}, "
            f"got {type(value).__name__}"
        )
    return value


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object; a missing, malformed or non-object file raises an error naming it."""
    return _load_json(path, dict)


def read_modules_json(path: Path) -> list[dict[str, Any]]:
    """The entries of ``modules.json``, sorted by ``idx``; each must have a string ``type``."""
    entries = _load_json(path, list)
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise ConfigError(f"{path}: entry {position} must be an object with a string type")
        if not isinstance(entry.get("path", ""), str):
            raise ConfigError(f"{path}: entry {position} has a path that is not a string")
    return sorted(entries, key=lambda entry: entry.get("idx", 0))


def _integer(path: Path, key: str, value: Any, minimum: int = 1) -> int:
    """A whole number from JSON (``128`` or ``128.0``) that is at least ``minimum``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{path}: {key} must be an integer >= {minimum}, got {value!r:.100}")
    return value


def _boolean(path: Path, key: str, value: Any) -> bool:
    """A JSON true or false; ``"false"`` and ``0`` are refused rather than read as ``bool()``."""
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: {key} must be true or false, got {value!r:.100}")
    return value


def _read_optional_json(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}


def module_kind(type_name: str) -> str:
    """Map a ``modules.json`` type of any sentence-transformers generation to our module kind."""
    class_name = type_name.rsplit(".", 1)[-1]
    if type_name.startswith("sentence_transformers.") and class_name in _MODULE_KINDS:
        return class_name
    raise ConfigError(
        f"modules.json: module type {type_name!r:.100} is not supported; supported are the "
        f"sentence-transformers modules {', '.join(_MODULE_KINDS)}"
    )


def read_encoder_config(folder: Path) -> EncoderConfig:
    """Parse ``config.json`` of a BERT or DistilBERT checkpoint."""
    path = folder / "config.json"
    raw = read_json(path)
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ConfigError(
            f"{path}: model_type {model_type!r:.100} is not supported; "
            f"supported are {', '.join(SUPPORTED_MODEL_TYPES)}"
        )

    names = ENCODER_CONFIG_KEYS[model_type]
    values = {}
    for field_name, (key, default) in names.items():
        if key in raw:
            values[field_name] = raw[key]
        elif default is _REQUIRED:
            raise ConfigError(f"{path}: missing {key}")
        else:
            values[field_name] = default
    for field_name, (key, _) in names.items():
        if field_name not in ("hidden_act", "layer_norm_eps"):
            minimum = 0 if key is None else 1  # DistilBERT's fixed 0 token types
            values[field_name] = _integer(path, key, values[field_name], minimum)
    epsilon = values["layer_norm_eps"]
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ConfigError(f"{path}: layer_norm_eps must be a positive number, got {epsilon!r}")
    if values["hidden_size"] % values["num_heads"]:
        raise ConfigError(
            f"{path}: hidden size {values['hidden_size']} is not a multiple of the "
            f"{values['num_heads']} attention heads"
        )
    if values["hidden_act"] not in HIDDEN_ACTIVATIONS:
        raise ConfigError(
            f"{path}: activation {values['hidden_act']!r} is not supported; "
            f"supported are {', '.join(HIDDEN_ACTIVATIONS)}"
        )
    position_type = raw.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ConfigError(
            f"{path}: position_embedding_type {position_type!r} is not supported; "
            "supported is 'absolute'"
        )
    return EncoderConfig(model_type=model_type, **values)


def read_transformer_module(folder: Path) -> TransformerModuleConfig:
    """A Transformer module: encoder + tokenizer, and the max_seq_length sentence-transformers uses.

    max_seq_length comes from ``sentence_bert_config.json`` when set there; otherwise it is the
    tokenizer's model_max_length capped at the encoder's max_position_embeddings.
    """
    encoder = read_encoder_config(folder)
    tokenizer = read_tokenizer_settings(folder, encoder.model_type)
    module_config_path = folder / "sentence_bert_config.json"
    module_config = _read_optional_json(module_config_path)
    task = module_config.get("transformer_task", "feature-extraction")
    if task != "feature-extraction":
        raise ConfigError(
            f"{module_config_path}: transformer_task {task!r} is not supported; "
            "supported is 'feature-extraction'"
        )
    do_lower_case = module_config.get("do_lower_case", False)
    if not isinstance(do_lower_case, bool):
        raise ConfigError(
            f"{module_config_path}: do_lower_case must be true or false, got {do_lower_case!r:.50}"
        )
    if do_lower_case:
        tokenizer = with_lowercase_first(tokenizer)
    max_seq_length = module_config.get("max_seq_length")
    if max_seq_length is None:
        max_seq_length = min(tokenizer.model_max_length, encoder.max_position_embeddings)
    # [CLS] and [SEP] take two positions; beyond the position embeddings a long text would
    # fail deep inside the encoder (sentence-transformers fails there too).
    max_seq_length = _integer(module_config_path, "max_seq_length", max_seq_length, minimum=2)
    if max_seq_length > encoder.max_position_embeddings:
        raise ConfigError(
            f"{module_config_path}: max_seq_length {max_seq_length} exceeds the "
            f"{encoder.max_position_embeddings} max_position_embeddings of {folder / 'config.json'}"
        )
    return TransformerModuleConfig(
        folder=folder,
        encoder=encoder,
        tokenizer=tokenizer,
        max_seq_length=max_seq_length,
    )


def read_pooling_module(folder: Path) -> PoolingModuleConfig:
    """Pooling config in the legacy boolean form or the newer ``pooling_mode`` form."""
    path = folder / "config.json"
    raw = read_json(path)
    dimension = raw.get("embedding_dimension", raw.get("word_embedding_dimension"))
    if dimension is None:
        raise ConfigError(f"{path}: missing embedding_dimension / word_embedding_dimension")
    if "pooling_mode" in raw:
        mode = raw["pooling_mode"]
        modes = (mode,) if isinstance(mode, str) else tuple(mode) if isinstance(mode, list) else ()
        if not modes or not all(isinstance(mode, str) for mode in modes):
            raise ConfigError(
                f"{path}: pooling_mode must be a mode name or a non-empty list of them, "
                f"got {raw['pooling_mode']!r:.100}"
            )
    else:
        modes = tuple(mode for key, mode in _LEGACY_POOLING_KEYS.items() if raw.get(key, False))
        modes = modes or ("mean",)
    for mode in modes:
        if mode not in POOLING_MODES:
            raise ConfigError(
                f"{path}: pooling mode {mode!r} is not supported; "
                f"supported are {', '.join(POOLING_MODES)}"
            )
    return PoolingModuleConfig(
        embedding_dimension=_integer(path, "embedding_dimension", dimension),
        modes=modes,
        include_prompt=_boolean(path, "include_prompt", raw.get("include_prompt", True)),
    )


def read_dense_module(folder: Path) -> DenseModuleConfig:
    """Dense config; the activation is a torch class path such as ``torch.nn.modules.activation.Tanh``."""
    path = folder / "config.json"
    raw = read_json(path)
    input_name = raw.get("module_input_name", "sentence_embedding")
    if input_name != "sentence_embedding":
        raise ConfigError(
            f"{path}: module_input_name {input_name!r} is not supported; "
            "supported is 'sentence_embedding'"
        )
    activation_path = raw.get("activation_function") or "torch.nn.modules.linear.Identity"
    activation = isinstance(activation_path, str) and DENSE_ACTIVATIONS.get(
        activation_path.rsplit(".", 1)[-1]
    )
    if not activation or not activation_path.startswith("torch.nn"):
        raise ConfigError(
            f"{path}: activation_function {activation_path!r} is not supported; supported are "
            + ", ".join(f"torch.nn.{name}" for name in DENSE_ACTIVATIONS)
        )
    for key in ("in_features", "out_features"):
        if key not in raw:
            raise ConfigError(f"{path}: missing {key}")
    return DenseModuleConfig(
        folder=folder,
        in_features=_integer(path, "in_features", raw["in_features"]),
        out_features=_integer(path, "out_features", raw["out_features"]),
        bias=_boolean(path, "bias", raw.get("bias", True)),
        activation=activation,
    )


def read_model_config(folder: Path) -> ModelConfig:
    """Parse a local sentence-transformers (or plain Hugging Face BERT) folder."""
    folder = Path(folder)
    modules_path = folder / "modules.json"
    if modules_path.is_file():
        modules, config_files = [], []
        for entry in read_modules_json(modules_path):
            kind = module_kind(entry["type"])
            module_folder = path_inside(
                folder,
                entry.get("path", ""),
                named_by=f"{modules_path}, module {entry.get('name')!r:.100}",
            )
            if kind != "Normalize" and not module_folder.is_dir():
                raise FileNotFoundError(
                    f"{module_folder} not found (module {entry.get('name')!r} of {modules_path})"
                )
            modules.append(_read_module(kind, module_folder))
            config_files.append(module_folder / "config.json")
    else:
        transformer = read_transformer_module(folder)
        pooling = PoolingModuleConfig(
            embedding_dimension=transformer.encoder.hidden_size, modes=("mean",)
        )
        modules = [transformer, pooling]
        config_files = [folder / "config.json", modules_path]

    if sum(isinstance(m, TransformerModuleConfig) for m in modules) != 1 or not isinstance(
        modules[0], TransformerModuleConfig
    ):
        raise ConfigError(f"{modules_path}: the first and only Transformer module must come first")

    _check_dimensions(modules, config_files)
    return ModelConfig(folder=folder, modules=tuple(modules), **_read_model_settings(folder))


def _check_dimensions(modules: list[ModuleConfig], config_files: list[Path]) -> None:
    """Each module must take the width the one before it gives, or layers fail on first use."""
    width = modules[0].encoder.hidden_size
    for module, path in zip(modules[1:], config_files[1:], strict=True):
        if isinstance(module, PoolingModuleConfig):
            if module.embedding_dimension != width:
                raise ConfigError(
                    f"{path}: embedding_dimension is {module.embedding_dimension}, expected "
                    f"the encoder's hidden size {width}"
                )
            width *= len(module.modes)
        elif isinstance(module, DenseModuleConfig):
            if module.in_features != width:
                raise ConfigError(
                    f"{path}: in_features is {module.in_features}, expected {width} "
                    "(the width of the module before it)"
                )
            width = module.out_features


def _read_model_settings(folder: Path) -> dict[str, Any]:
    """Prompts and defaults from ``config_sentence_transformers.json``, type-checked."""
    path = folder / "config_sentence_transformers.json"
    raw = _read_optional_json(path)
    prompts = raw.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(
        isinstance(name, str) and isinstance(text, (str, type(None)))
        for name, text in prompts.items()
    ):
        raise ConfigError(f"{path}: prompts must map prompt names to texts, got {prompts!r:.200}")
    for name, text in prompts.items():
        if text is not None and (problem := utf8_problem(text)):
            raise ConfigError(f"{path}: prompt {name!r:.100} holds {problem}, not text")
    for key in ("default_prompt_name", "similarity_fn_name"):
        if not isinstance(raw.get(key), (str, type(None))):
            raise ConfigError(f"{path}: {key} must be a string, got {raw[key]!r:.100}")
    truncate_dim = raw.get("truncate_dim")
    if truncate_dim is not None:
        truncate_dim = _integer(path, "truncate_dim", truncate_dim)
    return {
        "prompts": dict(prompts),
        "default_prompt_name": raw.get("default_prompt_name"),
        "similarity_fn_name": raw.get("similarity_fn_name"),
        "truncate_dim": truncate_dim,
    }


def _read_module(kind: str, folder: Path) -> ModuleConfig:
    if kind == "Transformer":
        return read_transformer_module(folder)
    if kind == "Pooling":
        return read_pooling_module(folder)
    if kind == "Dense":
        return read_dense_module(folder)
    return NormalizeModuleConfig()
