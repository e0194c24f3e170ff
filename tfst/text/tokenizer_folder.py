"""A model folder's tokenizer files → the ``tokenizer.json`` pipeline sentence-transformers runs.

sentence-transformers tokenizes with transformers' ``AutoTokenizer``, and transformers 5 does not
always run ``tokenizer.json`` as written: for a tokenizer class with its own constructor
(``BertTokenizer``, ``XLMRobertaTokenizer``, ...) it keeps the vocabulary (and merges) of
``tokenizer.json`` but rebuilds the normalizer, pre-tokenizer, model options and post-processor
from ``tokenizer_config.json`` and the class's defaults, then adds the special tokens the config
names. Generic classes (``PreTrainedTokenizerFast``, ``TokenizersBackend``) run ``tokenizer.json``
as it is. This module reproduces that resolution, so tfst gets sentence-transformers' token ids
whatever the files say (``tests/text/test_tokenizer_folder.py`` checks it against transformers'
own ``backend_tokenizer`` on many folder shapes). Folders without ``tokenizer.json`` (older BERT
folders: ``vocab.txt`` + ``tokenizer_config.json``) build the same pipeline from those files.

A class tfst cannot reproduce is refused, naming it and the supported ones. Each class is one
entry of ``tfst.text.tokenizer_classes.TOKENIZER_CLASSES``; a family that needs another class
adds its builder there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tfst.folder_paths import path_inside
from tfst.text.added_tokens import AddedToken
from tfst.text.models.wordpiece import vocabulary_from_json
from tfst.text.spec import TokenizerSpecError, serde_json_float
from tfst.text.tokenizer_classes import TOKENIZER_CLASSES, TokenizerClass, TokenizerFiles

# transformers' model_max_length when a tokenizer config gives none.
UNBOUNDED_LENGTH = int(1e30)
# tokenizer_config.json / special_tokens_map.json keys of the named special tokens, in the order
# transformers adds missing ones.
SPECIAL_TOKEN_KEYS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)
# Classes that run tokenizer.json as written.
GENERIC_CLASSES = ("PreTrainedTokenizerFast", "TokenizersBackend")
# transformers' default model_input_names: the model gets no token_type_ids, so it uses zeros.


@dataclass(frozen=True)
class TokenizerSettings:
    """Everything the ``Tokenizer`` layer is built from, read once from a folder."""

    tokenizer_json: dict[str, Any]
    pad_token_id: int
    model_max_length: int
    special_tokens: dict[str, str]  # named special tokens: "cls_token" → "[CLS]", ...
    return_token_type_ids: bool = False
    truncation_side: str = "right"
    padding_side: str = "right"
    split_special_tokens: bool = False
    source: str = "tokenizer.json"

    def layer_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``tfst.text.tokenizer.Tokenizer`` (without ``max_length``)."""
        return {
            "tokenizer_json": self.tokenizer_json,
            "pad_token_id": self.pad_token_id,
            "special_tokens": self.special_tokens,
            "return_token_type_ids": self.return_token_type_ids,
            "truncation_side": self.truncation_side,
            "padding_side": self.padding_side,
            "split_special_tokens": self.split_special_tokens,
            "source": self.source,
        }


def read_tokenizer_settings(folder: Path, default_class: str | None) -> TokenizerSettings:
    """The tokenizer sentence-transformers would build from ``folder``.

    ``default_class`` is the tokenizer class transformers' ``AutoTokenizer`` picks for the
    model's ``model_type`` when the tokenizer config names none.
    """
    config = _read_config(folder)
    class_name = _class_name(folder, config, default_class)
    # A generic class runs tokenizer.json in `tokenizers`, which reads numbers its own way; a
    # class that rebuilds its pipeline gets the numbers Python's json reads (Unigram scores).
    files = _read_files(folder, config, tokenizers_numbers=class_name in GENERIC_CLASSES)
    if class_name in GENERIC_CLASSES:
        if files.tokenizer_json is None:
            raise FileNotFoundError(
                f"{files.path('tokenizer.json')} not found (tokenizer_class {class_name} reads it)"
            )
        pipeline = dict(files.tokenizer_json)
        tokenizer_class = TokenizerClass(build=dict, special_tokens={})
    elif class_name in TOKENIZER_CLASSES:
        tokenizer_class = TOKENIZER_CLASSES[class_name]
        pipeline = tokenizer_class.build(files)
    else:
        raise TokenizerSpecError(
            f"{files.path('tokenizer_config.json')}: tokenizer class {class_name!r} is not "
            "supported; supported are "
            + ", ".join(sorted(set(TOKENIZER_CLASSES) | set(GENERIC_CLASSES)))
        )
    pipeline["added_tokens"] = [
        token.to_json() for token in _added_tokens(files, pipeline, tokenizer_class, class_name)
    ]
    return _settings(files, pipeline, tokenizer_class)


def _read_config(folder: Path) -> dict[str, Any]:
    config: dict[str, Any] = {}
    special_map = folder / "special_tokens_map.json"
    if special_map.is_file():
        config.update(_read_json_object(special_map))
    tokenizer_config = folder / "tokenizer_config.json"
    if tokenizer_config.is_file():
        config.update(_read_json_object(tokenizer_config))
    return config


def _read_files(folder: Path, config: dict[str, Any], tokenizers_numbers: bool) -> TokenizerFiles:
    tokenizer_json = folder / "tokenizer.json"
    return TokenizerFiles(
        folder=folder,
        config=config,
        tokenizer_json=(
            _read_json_object(tokenizer_json, tokenizers_numbers)
            if tokenizer_json.is_file()
            else None
        ),
    )


def _read_json_object(path: Path, tokenizers_numbers: bool = False) -> dict[str, Any]:
    """A JSON object; with ``tokenizers_numbers``, numbers with a fraction or exponent are read
    as `tokenizers` reads them (``serde_json_float``: Unigram scores it would run)."""
    path_inside(path.parent, path.name)
    try:
        with open(path, encoding="utf-8") as file:
            value = json.load(file, parse_float=serde_json_float if tokenizers_numbers else None)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise TokenizerSpecError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise TokenizerSpecError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _class_name(folder: Path, config: dict[str, Any], default_class: str | None) -> str:
    name = config.get("tokenizer_class")
    if name is None:
        if default_class is None:
            if (folder / "tokenizer.json").is_file():
                return "TokenizersBackend"
            raise TokenizerSpecError(
                f"{folder}: no tokenizer.json and no tokenizer_class in "
                "tokenizer_config.json, and the model has no default tokenizer class"
            )
        return default_class
    if not isinstance(name, str):
        raise TokenizerSpecError(
            f"{folder / 'tokenizer_config.json'}: tokenizer_class must be a string"
        )
    return name if name in GENERIC_CLASSES else name.removesuffix("Fast")


def _added_tokens(
    files: TokenizerFiles, pipeline: dict, tokenizer_class: TokenizerClass, class_name: str
) -> list[AddedToken]:
    """The added tokens transformers ends up with, ids as `tokenizers` assigns them."""
    where = files.path("tokenizer_config.json")
    declared: list[AddedToken] = []
    decoder = files.config.get("added_tokens_decoder")
    if class_name in GENERIC_CLASSES or decoder is None:
        for index, entry in enumerate(
            files.tokenizer_json.get("added_tokens") or [] if files.tokenizer_json else []
        ):
            declared.append(
                AddedToken.from_json(
                    entry, f"{files.path('tokenizer.json')}, added_tokens[{index}]"
                )
            )
    else:
        if not isinstance(decoder, dict):
            raise TokenizerSpecError(f"{where}: added_tokens_decoder must be an object")
        for key in sorted(decoder, key=lambda key: int(key) if str(key).isdigit() else -1):
            if not str(key).isdigit():
                raise TokenizerSpecError(f"{where}: added_tokens_decoder key {key!r} is not an id")
            entry = decoder[key]
            if not isinstance(entry, dict):
                raise TokenizerSpecError(f"{where}: added_tokens_decoder[{key}] must be an object")
            declared.append(
                AddedToken.from_json(
                    {**entry, "id": int(key)}, f"{where}, added_tokens_decoder[{key}]"
                )
            )
    contents = {token.content for token in declared}
    for key in SPECIAL_TOKEN_KEYS:
        content = files.special_token(key, tokenizer_class.special_tokens.get(key))
        if content is not None and content not in contents:
            flags = {
                "normalized": False,
                **tokenizer_class.special_token_flags.get(key, {}),
                **_token_flags(files.config.get(key), where, key),
            }
            declared.append(AddedToken(id=-1, content=content, special=True, **flags))
            contents.add(content)
    # A class's pipeline holds, as its added_tokens, the extra special tokens its files bring.
    class_tokens = [] if class_name in GENERIC_CLASSES else pipeline.get("added_tokens") or []
    for token in _extra_special_tokens(files, class_tokens):
        if token.content not in contents:
            declared.append(token)
            contents.add(token.content)
    vocabulary = {token: index for index, token in enumerate(_model_vocabulary(pipeline))}
    next_id = len(vocabulary)
    tokens = []
    for token in declared:
        token_id = vocabulary.get(token.content)
        if token_id is None:
            token_id, next_id = next_id, next_id + 1
        tokens.append(AddedToken(**{**token.__dict__, "id": token_id}))
    # `tokenizers` lists them by id (the order does not change which tokens match).
    return sorted(tokens, key=lambda token: token.id)


def _token_flags(value: Any, where: Path, key: str) -> dict[str, bool]:
    """The flags of a special token written as an AddedToken object (``{"content": "<mask>",
    "lstrip": true, ...}``); none for a plain string."""
    if not isinstance(value, dict):
        return {}
    flags = {}
    for name in ("single_word", "lstrip", "rstrip", "normalized"):
        flag = value.get(name, False)
        if not isinstance(flag, bool):
            raise TokenizerSpecError(f"{where}: {key}.{name} must be true or false")
        flags[name] = flag
    return flags


def _extra_special_tokens(
    files: TokenizerFiles, class_tokens: list[dict[str, Any]]
) -> list[AddedToken]:
    """transformers' extra special tokens: the config's ``extra_special_tokens`` (or the older
    ``additional_special_tokens``) when it names them, otherwise those the class found in its
    files (``class_tokens``, AddedToken objects: a SentencePiece model's control and
    user-defined pieces), as ``PreTrainedTokenizerBase.from_pretrained`` picks them."""
    config, where = files.config, files.path("tokenizer_config.json")
    if config.get("extra_special_tokens"):
        key = "extra_special_tokens"
    elif "additional_special_tokens" in config:
        key = "additional_special_tokens"
    elif "extra_special_tokens" in config:
        key = "extra_special_tokens"
    else:
        return [AddedToken(id=-1, **token) for token in class_tokens]
    entries = config[key] or []
    if not isinstance(entries, list):
        raise TokenizerSpecError(f"{where}: {key} must be a list of tokens")
    tokens = []
    for index, entry in enumerate(entries):
        content = entry.get("content") if isinstance(entry, dict) else entry
        if not isinstance(content, str) or not content:
            raise TokenizerSpecError(f"{where}: {key}[{index}] must be a token")
        flags = {"normalized": False, **_token_flags(entry, where, f"{key}[{index}]")}
        tokens.append(AddedToken(id=-1, content=content, special=True, **flags))
    return tokens


def _model_vocabulary(pipeline: dict) -> list[str]:
    model = pipeline.get("model") or {}
    vocab = model.get("vocab")
    if isinstance(vocab, list):  # Unigram: [[piece, score], ...]
        return [entry[0] for entry in vocab]
    return vocabulary_from_json(vocab, "tokenizer.json, model")


def _settings(
    files: TokenizerFiles, pipeline: dict, tokenizer_class: TokenizerClass
) -> TokenizerSettings:
    where = files.path("tokenizer_config.json")
    defaults = tokenizer_class.special_tokens
    pad_token = files.special_token("pad_token", defaults.get("pad_token"))
    ids = {token["content"]: token["id"] for token in pipeline["added_tokens"]}
    vocabulary = {token: index for index, token in enumerate(_model_vocabulary(pipeline))}
    pad_token_id = ids.get(pad_token, vocabulary.get(pad_token)) if pad_token else None
    if pad_token_id is None:
        raise TokenizerSpecError(
            f"{where}: the tokenizer has no pad token in its vocabulary (pad_token "
            f"{pad_token!r}); sentence-transformers pads batches with it"
        )
    max_length = files.config.get("model_max_length", UNBOUNDED_LENGTH)
    if isinstance(max_length, float) and max_length.is_integer():
        max_length = int(max_length)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise TokenizerSpecError(
            f"{where}: model_max_length must be a positive integer, got {max_length!r:.100}"
        )
    sides = {}
    for key in ("truncation_side", "padding_side"):
        sides[key] = files.config.get(key, "right")
        if sides[key] not in ("right", "left"):
            raise TokenizerSpecError(f"{where}: {key} must be 'right' or 'left'")
    special_tokens = {
        key: content
        for key in SPECIAL_TOKEN_KEYS
        if (content := files.special_token(key, defaults.get(key))) is not None
    }
    input_names = files.config.get("model_input_names", tokenizer_class.model_input_names)
    if not isinstance(input_names, (list, tuple)) or not all(
        isinstance(name, str) for name in input_names
    ):
        raise TokenizerSpecError(f"{where}: model_input_names must be a list of names")
    return TokenizerSettings(
        tokenizer_json=pipeline,
        pad_token_id=pad_token_id,
        model_max_length=max_length,
        special_tokens=special_tokens,
        return_token_type_ids="token_type_ids" in input_names,
        split_special_tokens=bool(files.flag("split_special_tokens", False)),
        source=str(files.vocabulary_path),
        **sides,
    )


def with_lowercase_first(settings: TokenizerSettings) -> TokenizerSettings:
    """sentence-transformers' ``do_lower_case``: a ``Lowercase`` normalizer goes first unless the
    normalizer is one already or a ``Sequence`` holding one (a lowercasing BertNormalizer does
    not count)."""
    normalizer = settings.tokenizer_json.get("normalizer")
    types = [normalizer.get("type")] if isinstance(normalizer, dict) else []
    if types == ["Sequence"]:
        types = [
            item.get("type") for item in normalizer.get("normalizers", []) if isinstance(item, dict)
        ]
        rest = list(normalizer.get("normalizers", []))
    else:
        rest = [normalizer] if normalizer is not None else []
    if "Lowercase" in types:
        return settings
    pipeline = {
        **settings.tokenizer_json,
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Lowercase"}, *rest]},
    }
    return replace(settings, tokenizer_json=pipeline)


def tokenizer_files(tokenizer, model_max_length: int) -> dict[str, Any]:
    """The files that save ``tokenizer`` (a ``tfst.text.Tokenizer``) in a model folder.

    ``tokenizer.json`` is the pipeline the layer runs, and ``tokenizer_config.json`` names the
    generic ``PreTrainedTokenizerFast`` class, so transformers (4 and 5) and sentence-transformers
    run that JSON as it is, with the same named special tokens and sides. A WordPiece model also
    gets ``vocab.txt``, which older loaders read. JSON contents are dicts, text files strings.
    """
    pipeline = dict(tokenizer.tokenizer_json)
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model_max_length,
        "truncation_side": tokenizer.truncation_side,
        "padding_side": tokenizer.padding_side,
        "model_input_names": [
            "input_ids",
            *(["token_type_ids"] if tokenizer.return_token_type_ids else []),
            "attention_mask",
        ],
        **tokenizer.special_tokens,
    }
    if tokenizer.split_special_tokens:
        config["split_special_tokens"] = True
    files = {
        "tokenizer.json": pipeline,
        "tokenizer_config.json": config,
        "special_tokens_map.json": dict(tokenizer.special_tokens),
    }
    if pipeline["model"].get("type") == "WordPiece":
        files["vocab.txt"] = "".join(f"{token}\n" for token in tokenizer.model.vocabulary())
    return files
