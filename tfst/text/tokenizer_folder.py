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
entry of ``TOKENIZER_CLASSES``; a family that needs another class adds its builder there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tfst.text.added_tokens import AddedToken
from tfst.text.bpe_files import read_merges_file, read_vocab_file
from tfst.text.models.bpe import parse_merge_line
from tfst.text.models.wordpiece import vocabulary_from_json
from tfst.text.sentencepiece_model import CONTROL, USER_DEFINED, read_sentencepiece_model
from tfst.text.spec import TokenizerSpecError, serde_json_float

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
DEFAULT_INPUT_NAMES = ("input_ids", "attention_mask")


@dataclass(frozen=True)
class TokenizerClass:
    """What one transformers tokenizer class contributes: its pipeline from the files, the
    special tokens its constructor defaults to, and the inputs it hands the model.

    ``build``'s pipeline may hold ``added_tokens``: the extra special tokens the class's files
    bring (AddedToken fields without ``id``), added as transformers adds them.
    """

    build: Callable[[TokenizerFiles], dict[str, Any]]
    special_tokens: dict[str, str]
    model_input_names: tuple[str, ...] = DEFAULT_INPUT_NAMES
    # Flags of special tokens the constructor adds (e.g. MPNet's <mask> takes the space before it).
    special_token_flags: dict[str, dict[str, bool]] = field(default_factory=dict)


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


@dataclass(frozen=True)
class TokenizerFiles:
    """The raw tokenizer files of a folder, parsed but not yet resolved."""

    folder: Path
    config: dict[str, Any]  # tokenizer_config.json merged over special_tokens_map.json
    tokenizer_json: dict[str, Any] | None

    def path(self, name: str) -> Path:
        return self.folder / name

    def special_token(self, key: str, default: str | None) -> str | None:
        """The content of a named special token (string or AddedToken dict) or ``default``."""
        value = self.config.get(key, default)
        if isinstance(value, dict):
            value = value.get("content")
        if value is not None and not isinstance(value, str):
            raise TokenizerSpecError(
                f"{self.path('tokenizer_config.json')}: {key} must be a string, got {value!r:.100}"
            )
        return value

    def flag(self, key: str, default: bool | None) -> bool | None:
        """A boolean setting of tokenizer_config.json, type-checked (``"false"`` is refused)."""
        value = self.config.get(key, default)
        if value is not None and not isinstance(value, bool):
            raise TokenizerSpecError(
                f"{self.path('tokenizer_config.json')}: {key} must be true, false or null, "
                f"got {value!r:.100}"
            )
        return value


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
        raise TokenizerSpecError(f"{where}: model_max_length must be a positive integer")
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
        source=str(files.path("tokenizer.json")),
        **sides,
    )


# --- transformers' tokenizer classes --------------------------------------------------------


def _vocab_txt(files: TokenizerFiles) -> dict[str, int]:
    """``vocab.txt`` as transformers' ``load_vocab`` reads it (one token per line)."""
    path = files.path("vocab.txt")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (and no tokenizer.json with a vocab)")
    try:
        tokens = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise TokenizerSpecError(f"{path} is not a UTF-8 vocabulary file: {error}") from None
    if tokens and tokens[-1] == "":
        tokens.pop()
    vocab: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token in vocab:
            raise TokenizerSpecError(
                f"{path}: token {token!r} is on lines {vocab[token] + 1} and {index + 1}"
            )
        vocab[token] = index
    return vocab


def _wordpiece_vocab(files: TokenizerFiles) -> dict[str, int]:
    if files.tokenizer_json is not None:
        vocab = (files.tokenizer_json.get("model") or {}).get("vocab")
        if not isinstance(vocab, dict):
            raise TokenizerSpecError(
                f"{files.path('tokenizer.json')}: model.vocab must be a token → id object"
            )
        return vocab
    return _vocab_txt(files)


def _template(first: list[str], pair: list[str], ids: dict[str, int]) -> dict[str, Any]:
    """A TemplateProcessing spec from token lists where "$A"/"$B" are the sequences."""

    def pieces(names: list[str], pair_template: bool) -> list[dict]:
        result, type_id = [], 0
        for name in names:
            if name.startswith("$"):
                type_id = 1 if name == "$B" and pair_template else type_id
                result.append({"Sequence": {"id": name[1:], "type_id": type_id}})
            else:
                result.append({"SpecialToken": {"id": name, "type_id": type_id}})
        return result

    return {
        "type": "TemplateProcessing",
        "single": pieces(first, False),
        "pair": pieces(pair, True),
        "special_tokens": {
            name: {"id": name, "ids": [ids[name]], "tokens": [name]}
            for name in dict.fromkeys(first + pair)
            if not name.startswith("$")
        },
    }


def _token_id(files: TokenizerFiles, vocab: dict[str, int], token: str) -> int:
    if token not in vocab:
        raise TokenizerSpecError(
            f"{files.folder}: special token {token!r} is not in the vocabulary"
        )
    return vocab[token]


def _bert_pipeline(files: TokenizerFiles, defaults: dict[str, str] | None = None) -> dict[str, Any]:
    """transformers 5's ``BertTokenizer``: its constructor's pipeline, options from the config."""
    defaults = defaults or BERT_SPECIAL_TOKENS
    vocab = _wordpiece_vocab(files)
    unk, cls, sep = (
        files.special_token(key, defaults[key]) for key in ("unk_token", "cls_token", "sep_token")
    )
    lowercase = files.flag("do_lower_case", True)
    ids = {token: _token_id(files, vocab, token) for token in (cls, sep)}
    return {
        "version": "1.0",
        "normalizer": {
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": files.flag("tokenize_chinese_chars", True),
            "strip_accents": files.flag("strip_accents", None),
            "lowercase": lowercase,
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {
            "type": "WordPiece",
            "unk_token": unk,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": vocab,
        },
        "post_processor": _template([cls, "$A", sep], [cls, "$A", sep, "$B", sep], ids),
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    }


BERT_SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}


def _mpnet_pipeline(files: TokenizerFiles) -> dict[str, Any]:
    """transformers 5's ``MPNetTokenizer``: BERT's pipeline with RoBERTa's special tokens."""
    pipeline = _bert_pipeline(files, MPNET_SPECIAL_TOKENS)
    vocab = pipeline["model"]["vocab"]
    cls, sep = (
        files.special_token(key, MPNET_SPECIAL_TOKENS[key]) for key in ("cls_token", "sep_token")
    )
    pipeline["post_processor"] = {
        "type": "RobertaProcessing",
        "sep": [sep, _token_id(files, vocab, sep)],
        "cls": [cls, _token_id(files, vocab, cls)],
        "trim_offsets": True,
        "add_prefix_space": False,
    }
    return pipeline


MPNET_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "[UNK]",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


def _flag_value(files: TokenizerFiles, key: str, default: bool) -> bool:
    """A boolean constructor option from the config that must not be null."""
    value = files.flag(key, default)
    if value is None:
        raise TokenizerSpecError(
            f"{files.path('tokenizer_config.json')}: {key} must be true or false"
        )
    return value


def _unigram_vocab(files: TokenizerFiles) -> list[list]:
    """The ``[piece, score]`` list of tokenizer.json's Unigram model, scores as Python's json
    reads them (transformers hands the class that vocabulary, not what `tokenizers` would read)."""
    vocab = (files.tokenizer_json.get("model") or {}).get("vocab")
    try:
        vocab = [[piece, score] for piece, score in vocab]
        if not {type(piece) for piece, _ in vocab} <= {str} or not {
            type(score) for _, score in vocab
        } <= {int, float}:
            raise TypeError
    except (TypeError, ValueError):
        raise TokenizerSpecError(
            f"{files.path('tokenizer.json')}: model.vocab must be a Unigram vocabulary, a list "
            "of [piece, score] (XLMRobertaTokenizer builds a Unigram model from it)"
        ) from None
    return vocab


def _precompiled_charsmap(files: TokenizerFiles) -> str | None:
    """The ``precompiled_charsmap`` transformers takes from tokenizer.json: that of the first
    ``Precompiled`` normalizer, alone or directly in a ``Sequence``; re-encoded, as `tokenizers`
    writes the bytes it was given."""
    normalizer = files.tokenizer_json.get("normalizer")
    if not normalizer:
        return None
    if isinstance(normalizer, dict) and normalizer.get("type") == "Sequence":
        candidates = normalizer.get("normalizers") or []
    else:
        candidates = normalizer if isinstance(normalizer, list) else [normalizer]
    for candidate in candidates:
        if (
            isinstance(candidate, dict)
            and candidate.get("type") == "Precompiled"
            and "precompiled_charsmap" in candidate
        ):
            encoded = candidate["precompiled_charsmap"]
            if not isinstance(encoded, str):
                raise TokenizerSpecError(
                    f"{files.path('tokenizer.json')}: the Precompiled normalizer's "
                    "precompiled_charsmap must be a base64 string"
                )
            return base64.b64encode(base64.b64decode(encoded)).decode("ascii")
    return None


def _sentencepiece_vocab(
    files: TokenizerFiles, special: dict[str, str]
) -> tuple[list[list], str | None, list[dict[str, Any]]]:
    """transformers 5's conversion of ``sentencepiece.bpe.model`` for XLM-R
    (``SentencePieceExtractor.extract`` + ``XLMRobertaConverter.convert_from_spm``): fairseq's
    ids (``<s> <pad> </s> <unk>``, the model's pieces from its fourth on, ``<mask>`` last), the
    charsmap, and its control (special) and user-defined pieces as extra added tokens."""
    path = files.path("sentencepiece.bpe.model")
    if not path.is_file():
        raise FileNotFoundError(
            f"{files.path('tokenizer.json')} not found, nor {path} (XLMRobertaTokenizer reads one)"
        )
    model = read_sentencepiece_model(path)
    vocab = [[special[key], 0.0] for key in ("bos_token", "pad_token", "eos_token", "unk_token")]
    vocab += [[piece.piece, piece.score] for piece in model.pieces[3:]]
    vocab.append([special["mask_token"], 0.0])
    charsmap = model.precompiled_charsmap
    extra_tokens = [
        {"content": piece.piece, "normalized": False, "special": piece.type == CONTROL}
        for piece in model.pieces
        if piece.type in (CONTROL, USER_DEFINED)
    ]
    return vocab, base64.b64encode(charsmap).decode("ascii") if charsmap else None, extra_tokens


def _xlm_roberta_pipeline(files: TokenizerFiles) -> dict[str, Any]:
    """transformers 5's ``XLMRobertaTokenizer``: whatever tokenizer.json says, a Unigram model
    over its vocabulary (``unk_id`` 3, no byte fallback), the Precompiled normalizer alone (no
    Replace), WhitespaceSplit + Metaspace (``add_prefix_space``: prepend ``always`` or
    ``never``), and ``<s> A </s>`` / ``<s> A </s></s> B </s>`` (all type 0). A folder with only
    ``sentencepiece.bpe.model`` is converted as transformers converts it."""
    special = {}
    for key, default in ROBERTA_SPECIAL_TOKENS.items():
        special[key] = files.special_token(key, default)
        if special[key] is None:
            raise TokenizerSpecError(
                f"{files.path('tokenizer_config.json')}: XLMRobertaTokenizer needs a {key}"
            )
    if files.tokenizer_json is not None:
        vocab, charsmap = _unigram_vocab(files), _precompiled_charsmap(files)
        extra_tokens = []
    else:
        vocab, charsmap, extra_tokens = _sentencepiece_vocab(files, special)
    prepend_scheme = "always" if files.flag("add_prefix_space", True) else "never"
    metaspace = {
        "type": "Metaspace",
        "replacement": "▁",
        "prepend_scheme": prepend_scheme,
        "split": True,
    }
    ids = {piece: index for index, (piece, _) in enumerate(vocab)}
    bos, eos = special["bos_token"], special["eos_token"]
    pieces = {name: {"SpecialToken": {"id": name, "type_id": 0}} for name in (bos, eos)}
    sequence = {name: {"Sequence": {"id": name, "type_id": 0}} for name in ("A", "B")}
    return {
        "version": "1.0",
        "normalizer": (
            None if charsmap is None else {"type": "Precompiled", "precompiled_charsmap": charsmap}
        ),
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace],
        },
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [pieces[bos], sequence["A"], pieces[eos]],
            "pair": [
                pieces[bos],
                sequence["A"],
                pieces[eos],
                pieces[eos],
                sequence["B"],
                pieces[eos],
            ],
            "special_tokens": {
                name: {"id": name, "ids": [_token_id(files, ids, name)], "tokens": [name]}
                for name in (bos, eos)
            },
        },
        "decoder": metaspace,
        "added_tokens": extra_tokens,
    }


# The defaults of RobertaTokenizer and XLMRobertaTokenizer alike.
ROBERTA_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


def _bpe_vocab_and_merges(files: TokenizerFiles) -> tuple[dict[str, int], list[list[str]]]:
    """The vocabulary and merges transformers takes for a BPE class: tokenizer.json's model, or
    the legacy ``vocab.json`` + ``merges.txt``."""
    if files.tokenizer_json is not None:
        model = files.tokenizer_json.get("model") or {}
        vocab = model.get("vocab")
        if not isinstance(vocab, dict):
            raise TokenizerSpecError(
                f"{files.path('tokenizer.json')}: model.vocab must be a token → id object "
                "(RobertaTokenizer builds a BPE model from it)"
            )
        merges = []
        for rank, merge in enumerate(model.get("merges") or []):
            where = f"{files.path('tokenizer.json')}, model: merges[{rank}]"
            if isinstance(merge, str):
                merges.append(list(parse_merge_line(merge, where)))
            elif isinstance(merge, list) and len(merge) == 2:
                merges.append(list(merge))
            else:
                raise TokenizerSpecError(f"{where}: a merge must be 'a b' or [a, b]")
        return vocab, merges
    vocab_path, merges_path = files.path("vocab.json"), files.path("merges.txt")
    for path in (vocab_path, merges_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found (and no tokenizer.json): RobertaTokenizer reads vocab.json "
                "and merges.txt"
            )
    merges, _ = read_merges_file(merges_path)
    return read_vocab_file(vocab_path), [list(merge) for merge in merges]


def _roberta_pipeline(files: TokenizerFiles) -> dict[str, Any]:
    """transformers 5's ``RobertaTokenizer``: no normalizer, ByteLevel (``add_prefix_space``)
    and a BPE model with no unknown token, prefix or suffix over the vocabulary and merges, and
    RobertaProcessing (``trim_offsets``, ``add_prefix_space``), whatever tokenizer.json says."""
    vocab, merges = _bpe_vocab_and_merges(files)
    add_prefix_space = _flag_value(files, "add_prefix_space", False)
    trim_offsets = _flag_value(files, "trim_offsets", True)
    cls, sep = (
        files.special_token(key, ROBERTA_SPECIAL_TOKENS[key]) for key in ("cls_token", "sep_token")
    )
    return {
        "version": "1.0",
        "normalizer": None,
        "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": add_prefix_space,
            "trim_offsets": True,
            "use_regex": True,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
        "post_processor": {
            "type": "RobertaProcessing",
            "sep": [sep, _token_id(files, vocab, sep)],
            "cls": [cls, _token_id(files, vocab, cls)],
            "trim_offsets": trim_offsets,
            "add_prefix_space": add_prefix_space,
        },
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": True,
            "trim_offsets": True,
            "use_regex": True,
        },
    }


# Class name (without "Fast") → what it builds.
TOKENIZER_CLASSES: dict[str, TokenizerClass] = {
    "BertTokenizer": TokenizerClass(
        _bert_pipeline, BERT_SPECIAL_TOKENS, ("input_ids", "token_type_ids", "attention_mask")
    ),
    "DistilBertTokenizer": TokenizerClass(_bert_pipeline, BERT_SPECIAL_TOKENS),
    "MPNetTokenizer": TokenizerClass(
        _mpnet_pipeline, MPNET_SPECIAL_TOKENS, special_token_flags={"mask_token": {"lstrip": True}}
    ),
    "RobertaTokenizer": TokenizerClass(_roberta_pipeline, ROBERTA_SPECIAL_TOKENS),
    "XLMRobertaTokenizer": TokenizerClass(_xlm_roberta_pipeline, ROBERTA_SPECIAL_TOKENS),
}


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
