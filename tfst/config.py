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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# transformers' default when a tokenizer config gives no model_max_length.
_UNBOUNDED_LENGTH = int(1e30)

SUPPORTED_MODEL_TYPES = ("bert", "distilbert")
HIDDEN_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
_REQUIRED = object()
# EncoderConfig field → (config.json key, default) for each family's own naming.
_ENCODER_CONFIG_KEYS = {
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
class TokenizerConfig:
    """What the WordPiece layer needs, from vocab.txt, tokenizer_config.json and tokenizer.json."""

    vocabulary_file: Path
    lowercase: bool
    strip_accents: bool | None
    tokenize_chinese_chars: bool
    special_tokens: tuple[str, ...]
    cls_token: str
    sep_token: str
    pad_token: str
    unk_token: str
    model_max_length: int


@dataclass(frozen=True)
class TransformerModuleConfig:
    folder: Path
    encoder: EncoderConfig
    tokenizer: TokenizerConfig
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


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON file; a missing or malformed file raises an error that names it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid JSON: {error}") from error


def _read_optional_json(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}


def module_kind(type_name: str) -> str:
    """Map a ``modules.json`` type of any sentence-transformers generation to our module kind."""
    class_name = type_name.rsplit(".", 1)[-1]
    if type_name.startswith("sentence_transformers.") and class_name in _MODULE_KINDS:
        return class_name
    raise ConfigError(
        f"modules.json: module type {type_name!r} is not supported; supported are the "
        f"sentence-transformers modules {', '.join(_MODULE_KINDS)}"
    )


def read_encoder_config(folder: Path) -> EncoderConfig:
    """Parse ``config.json`` of a BERT or DistilBERT checkpoint."""
    path = folder / "config.json"
    raw = read_json(path)
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ConfigError(
            f"{path}: model_type {model_type!r} is not supported; "
            f"supported are {', '.join(SUPPORTED_MODEL_TYPES)}"
        )

    names = _ENCODER_CONFIG_KEYS[model_type]
    values = {}
    for field_name, (key, default) in names.items():
        if key in raw:
            values[field_name] = raw[key]
        elif default is _REQUIRED:
            raise ConfigError(f"{path}: missing {key}")
        else:
            values[field_name] = default
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


def _token_content(value: Any) -> str | None:
    """Special tokens are written either as strings or as AddedToken dicts."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def read_tokenizer_config(folder: Path) -> TokenizerConfig:
    """Collect the WordPiece settings the way transformers 5 (sentence-transformers' backend) does.

    Its BERT tokenizer takes lowercasing, accent stripping and CJK handling from
    ``tokenizer_config.json`` (defaults: lowercase, strip accents when lowercasing, split CJK) and
    rebuilds the normalizer from them, ignoring the normalizer written in ``tokenizer.json``; the
    added tokens it matches in raw text come from ``tokenizer.json`` when present.
    """
    vocabulary_file = folder / "vocab.txt"
    if not vocabulary_file.is_file():
        raise FileNotFoundError(f"{vocabulary_file} not found (the WordPiece vocabulary)")
    tokenizer_config = _read_optional_json(folder / "tokenizer_config.json")
    special_map = _read_optional_json(folder / "special_tokens_map.json")

    def token(name: str, default: str) -> str:
        return (
            _token_content(tokenizer_config.get(name))
            or _token_content(special_map.get(name))
            or default
        )

    cls_token, sep_token = token("cls_token", "[CLS]"), token("sep_token", "[SEP]")
    pad_token, unk_token = token("pad_token", "[PAD]"), token("unk_token", "[UNK]")
    special_tokens = [pad_token, unk_token, cls_token, sep_token, token("mask_token", "[MASK]")]
    tokenizer_json_path = folder / "tokenizer.json"
    if tokenizer_json_path.is_file():
        added = read_json(tokenizer_json_path).get("added_tokens", [])
        special_tokens = [entry["content"] for entry in added] or special_tokens

    return TokenizerConfig(
        vocabulary_file=vocabulary_file,
        lowercase=bool(tokenizer_config.get("do_lower_case", True)),
        strip_accents=tokenizer_config.get("strip_accents"),
        tokenize_chinese_chars=bool(tokenizer_config.get("tokenize_chinese_chars", True)),
        special_tokens=tuple(dict.fromkeys(special_tokens)),
        cls_token=cls_token,
        sep_token=sep_token,
        pad_token=pad_token,
        unk_token=unk_token,
        model_max_length=int(tokenizer_config.get("model_max_length", _UNBOUNDED_LENGTH)),
    )


def read_transformer_module(folder: Path) -> TransformerModuleConfig:
    """A Transformer module: encoder + tokenizer, and the max_seq_length sentence-transformers uses.

    max_seq_length comes from ``sentence_bert_config.json`` when set there; otherwise it is the
    tokenizer's model_max_length capped at the encoder's max_position_embeddings.
    """
    encoder = read_encoder_config(folder)
    tokenizer = read_tokenizer_config(folder)
    module_config_path = folder / "sentence_bert_config.json"
    module_config = _read_optional_json(module_config_path)
    task = module_config.get("transformer_task", "feature-extraction")
    if task != "feature-extraction":
        raise ConfigError(
            f"{module_config_path}: transformer_task {task!r} is not supported; "
            "supported is 'feature-extraction'"
        )
    if module_config.get("do_lower_case") and not tokenizer.lowercase:
        # sentence-transformers prepends a plain Lowercase normalizer, which strips no accents.
        tokenizer = replace(
            tokenizer,
            lowercase=True,
            strip_accents=bool(tokenizer.strip_accents),
        )
    max_seq_length = module_config.get("max_seq_length")
    if max_seq_length is None:
        max_seq_length = min(tokenizer.model_max_length, encoder.max_position_embeddings)
    return TransformerModuleConfig(
        folder=folder,
        encoder=encoder,
        tokenizer=tokenizer,
        max_seq_length=int(max_seq_length),
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
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
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
        embedding_dimension=int(dimension),
        modes=modes,
        include_prompt=bool(raw.get("include_prompt", True)),
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
    activation = DENSE_ACTIVATIONS.get(activation_path.rsplit(".", 1)[-1])
    if activation is None or not activation_path.startswith("torch.nn"):
        raise ConfigError(
            f"{path}: activation_function {activation_path!r} is not supported; supported are "
            + ", ".join(f"torch.nn.{name}" for name in DENSE_ACTIVATIONS)
        )
    try:
        return DenseModuleConfig(
            folder=folder,
            in_features=int(raw["in_features"]),
            out_features=int(raw["out_features"]),
            bias=bool(raw.get("bias", True)),
            activation=activation,
        )
    except KeyError as error:
        raise ConfigError(f"{path}: missing {error.args[0]}") from error


def read_model_config(folder: Path) -> ModelConfig:
    """Parse a local sentence-transformers (or plain Hugging Face BERT) folder."""
    folder = Path(folder)
    modules_path = folder / "modules.json"
    if modules_path.is_file():
        with open(modules_path, encoding="utf-8") as file:
            try:
                entries = json.load(file)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{modules_path} is not valid JSON: {error}") from error
        modules = []
        for entry in sorted(entries, key=lambda item: item.get("idx", 0)):
            kind = module_kind(entry.get("type", ""))
            module_folder = folder / entry.get("path", "")
            if kind != "Normalize" and not module_folder.is_dir():
                raise FileNotFoundError(
                    f"{module_folder} not found (module {entry.get('name')!r} of {modules_path})"
                )
            modules.append(_read_module(kind, module_folder))
    else:
        transformer = read_transformer_module(folder)
        pooling = PoolingModuleConfig(
            embedding_dimension=transformer.encoder.hidden_size, modes=("mean",)
        )
        modules = [transformer, pooling]

    if sum(isinstance(m, TransformerModuleConfig) for m in modules) != 1 or not isinstance(
        modules[0], TransformerModuleConfig
    ):
        raise ConfigError(f"{modules_path}: the first and only Transformer module must come first")

    st_config = _read_optional_json(folder / "config_sentence_transformers.json")
    return ModelConfig(
        folder=folder,
        modules=tuple(modules),
        prompts=dict(st_config.get("prompts") or {}),
        default_prompt_name=st_config.get("default_prompt_name"),
        similarity_fn_name=st_config.get("similarity_fn_name"),
        truncate_dim=st_config.get("truncate_dim"),
    )


def _read_module(kind: str, folder: Path) -> ModuleConfig:
    if kind == "Transformer":
        return read_transformer_module(folder)
    if kind == "Pooling":
        return read_pooling_module(folder)
    if kind == "Dense":
        return read_dense_module(folder)
    return NormalizeModuleConfig()
