"""transformers 5's tokenizer classes as pipelines: what ``BertTokenizer``, ``MPNetTokenizer``,
``XLMRobertaTokenizer``, ``RobertaTokenizer``, ... build from a folder's files.

A class with its own constructor keeps the vocabulary (and merges) of ``tokenizer.json`` but
rebuilds the normalizer, pre-tokenizer, model options and post-processor from
``tokenizer_config.json`` and its defaults; for older folders it reads the vocabulary from the
legacy files (``vocab.txt``, ``sentencepiece.bpe.model``, ``vocab.json`` + ``merges.txt``). Each
class is one entry of ``TOKENIZER_CLASSES``; ``tfst.text.tokenizer_folder`` picks the entry and
resolves special and added tokens around it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfst.folder_paths import path_inside
from tfst.text.bpe_files import read_merges_file, read_vocab_file
from tfst.text.models.bpe_vocab import parse_merge_line
from tfst.text.sentencepiece_model import CONTROL, USER_DEFINED, read_sentencepiece_model
from tfst.text.spec import TokenizerSpecError

# The inputs a class hands the model unless it says otherwise (no token types).
DEFAULT_INPUT_NAMES = ("input_ids", "attention_mask")


@dataclass(frozen=True)
class TokenizerFiles:
    """The raw tokenizer files of a folder, parsed but not yet resolved."""

    folder: Path
    config: dict[str, Any]  # tokenizer_config.json merged over special_tokens_map.json
    tokenizer_json: dict[str, Any] | None

    @property
    def vocabulary_path(self) -> Path:
        """The file the vocabulary comes from: ``tokenizer.json``, else legacy ``vocab.txt``."""
        return self.path("tokenizer.json" if self.tokenizer_json is not None else "vocab.txt")

    def path(self, name: str) -> Path:
        return path_inside(self.folder, name)

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
        raise TokenizerSpecError(f"{files.vocabulary_path}: special token {token!r} is not in it")
    return vocab[token]


def _bert_pipeline(files: TokenizerFiles, defaults: dict[str, str] | None = None) -> dict[str, Any]:
    """transformers 5's ``BertTokenizer``: its constructor's pipeline, options from the config."""
    defaults = defaults or BERT_SPECIAL_TOKENS
    vocab = _wordpiece_vocab(files)
    unk, cls, sep = (
        files.special_token(key, defaults[key]) for key in ("unk_token", "cls_token", "sep_token")
    )
    lowercase = files.flag("do_lower_case", True)
    ids = {token: _token_id(files, vocab, token) for token in (unk, cls, sep)}
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
