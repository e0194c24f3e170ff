"""The splitting pre-tokenizers and the Replace normalizer against `tokenizers`.

Each stage is built from the same tokenizer.json entry on both sides (tfst's
``pre_tokenizer_from_json`` / ``normalizer_from_json``, and ``tokenizers.Tokenizer.from_str``) and
must give the same words (or normalized text) for the hard-string corpus, pattern-specific hard
cases and hypothesis texts, and leave added-token placeholders alone.
"""

from __future__ import annotations

import functools
import json

import pytest
import tensorflow as tf
import tokenizers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pattern_cases import GPT2, LLAMA3, hard_texts, texts

from tfst.text.code_points import ADDED_TOKEN_BASE, decode_utf8, texts_as_words
from tfst.text.normalizers import normalizer_from_json
from tfst.text.pre_tokenizers import byte_level_alphabet, pre_tokenizer_from_json
from tfst.text.regex import SPLIT_BEHAVIORS
from tfst.text.spec import TokenizerSpecError

EDGE_PATTERN = r"\s+(?!\S)|\p{P}+|x*"  # look-ahead, runs, and empty matches everywhere


def _split(pattern: str, behavior: str, invert: bool = False, literal: bool = False) -> dict:
    kind = "String" if literal else "Regex"
    return {"type": "Split", "pattern": {kind: pattern}, "behavior": behavior, "invert": invert}


def _byte_level(add_prefix_space: bool, use_regex: bool) -> dict:
    return {
        "type": "ByteLevel",
        "add_prefix_space": add_prefix_space,
        "trim_offsets": True,
        "use_regex": use_regex,
    }


PRE_TOKENIZERS = {
    **{
        f"split-{behavior}-{'inverted' if invert else 'plain'}": _split(
            EDGE_PATTERN, behavior, invert
        )
        for behavior in SPLIT_BEHAVIORS
        for invert in (False, True)
    },
    **{
        f"split-string-{behavior}": _split(" ", behavior, literal=True)
        for behavior in SPLIT_BEHAVIORS
    },
    "split-string-multi": _split("ab", "Isolated", literal=True),
    "split-string-empty": _split("", "Isolated", literal=True),
    "split-gpt2": _split(GPT2, "Isolated"),
    "split-llama3": _split(LLAMA3, "Isolated"),
    "split-whitespace-removed": _split(r"\s+", "Removed"),
    "split-case-insensitive": _split(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)", "MergedWithNext"),
    **{
        f"punctuation-{behavior}": {"type": "Punctuation", "behavior": behavior}
        for behavior in SPLIT_BEHAVIORS
    },
    "punctuation-default": {"type": "Punctuation"},
    "digits-individual": {"type": "Digits", "individual_digits": True},
    "digits-runs": {"type": "Digits", "individual_digits": False},
    "whitespace": {"type": "Whitespace"},
    "whitespace-split": {"type": "WhitespaceSplit"},
    **{
        f"char-delimiter-{name}": {"type": "CharDelimiterSplit", "delimiter": delimiter}
        for name, delimiter in [("space", " "), ("a", "a"), ("cjk", "中"), ("emoji", "😀")]
    },
    **{
        f"byte-level-{'prefix' if prefix else 'noprefix'}-{'regex' if regex else 'noregex'}": (
            _byte_level(prefix, regex)
        )
        for prefix in (False, True)
        for regex in (False, True)
    },
    "sequence-llama3": {
        "type": "Sequence",
        "pretokenizers": [_split(LLAMA3, "Isolated"), _byte_level(False, False)],
    },
    "sequence-bert-like": {
        "type": "Sequence",
        "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Punctuation"}],
    },
    "sequence-digits-after-whitespace": {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Whitespace"},
            {"type": "Digits", "individual_digits": True},
            _byte_level(True, True),
        ],
    },
}

REPLACES = {
    "xlm-r-spaces": {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
    "metaspace": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
    "empty-matches": {"type": "Replace", "pattern": {"Regex": "x*"}, "content": "<>"},
    "delete": {"type": "Replace", "pattern": {"String": "a"}, "content": ""},
    "whitespace-runs": {"type": "Replace", "pattern": {"Regex": r"\s+(?!\S)"}, "content": "_"},
    "longer-content": {"type": "Replace", "pattern": {"Regex": r"\p{P}"}, "content": "《😀》"},
    "sequence": {
        "type": "Sequence",
        "normalizers": [
            {"type": "Replace", "pattern": {"String": "``"}, "content": '"'},
            {"type": "Replace", "pattern": {"Regex": r"(?i)a+"}, "content": "A"},
        ],
    },
}


def _reference_tokenizer(normalizer: dict | None, pre_tokenizer: dict | None):
    return tokenizers.Tokenizer.from_str(
        json.dumps(
            {
                "version": "1.0",
                "truncation": None,
                "padding": None,
                "added_tokens": [],
                "normalizer": normalizer,
                "pre_tokenizer": pre_tokenizer,
                "post_processor": None,
                "decoder": None,
                "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"},
            }
        )
    )


@functools.cache
def _pre_tokenizer(name: str):
    spec = PRE_TOKENIZERS[name]
    return pre_tokenizer_from_json(spec, name), _reference_tokenizer(None, spec).pre_tokenizer


@functools.cache
def _normalizer(name: str):
    spec = REPLACES[name]
    return normalizer_from_json(spec, name), _reference_tokenizer(spec, None).normalizer


def _to_strings(code_points: list[int]) -> str:
    return "".join(
        chr(cp) if cp < ADDED_TOKEN_BASE else f"<added {cp - ADDED_TOKEN_BASE}>"
        for cp in code_points
    )


def tfst_words(pre_tokenizer, batch: list[str]) -> list[list[str]]:
    words = texts_as_words(decode_utf8(tf.constant(batch, dtype=tf.string)))
    return [
        [_to_strings(word) for word in text] for text in pre_tokenizer.pre_tokenize(words).to_list()
    ]


def assert_same_words(name: str, batch: list[str]) -> None:
    ours, reference = _pre_tokenizer(name)
    for text, words in zip(batch, tfst_words(ours, batch), strict=True):
        assert words == [word for word, _ in reference.pre_tokenize_str(text)], (name, text)


def assert_same_normalization(name: str, batch: list[str]) -> None:
    ours, reference = _normalizer(name)
    normalized = ours.normalize(decode_utf8(tf.constant(batch, dtype=tf.string))).to_list()
    for text, code_points in zip(batch, normalized, strict=True):
        assert _to_strings(code_points) == reference.normalize_str(text), (name, text)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return hard_texts()


@pytest.mark.parametrize("name", sorted(PRE_TOKENIZERS))
def test_pre_tokenizer_matches_tokenizers_on_hard_texts(name, corpus):
    assert_same_words(name, corpus)


@pytest.mark.parametrize("name", sorted(PRE_TOKENIZERS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(texts, min_size=1, max_size=16))
def test_pre_tokenizer_matches_tokenizers_on_random_texts(name, batch):
    assert_same_words(name, batch)


@pytest.mark.parametrize("name", sorted(REPLACES))
def test_replace_matches_tokenizers_on_hard_texts(name, corpus):
    assert_same_normalization(name, corpus)


@pytest.mark.parametrize("name", sorted(REPLACES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(texts, min_size=1, max_size=16))
def test_replace_matches_tokenizers_on_random_texts(name, batch):
    assert_same_normalization(name, batch)


# Texts cut by added tokens: each inner list alternates text pieces and added-token numbers.
WITH_PLACEHOLDERS = [
    ["hello world", 0, "  foo bar ", 1, 2, "x"],
    [0, " leading space", 1],
    ["'s  don't", 0, "\t\n 123", 3, "", 1, "  "],
    [2],
    ["a" * 40 + "   ", 0, "中文 text", 1, "😀 👍🏽"],
]


def _placeholder_batch() -> tuple[tf.RaggedTensor, list[list]]:
    rows = []
    for parts in WITH_PLACEHOLDERS:
        row = []
        for part in parts:
            row += [ADDED_TOKEN_BASE + part] if isinstance(part, int) else [ord(ch) for ch in part]
        rows.append(row)
    return tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1), WITH_PLACEHOLDERS


@pytest.mark.parametrize("name", sorted(PRE_TOKENIZERS))
def test_pre_tokenizer_runs_between_placeholders(name):
    """`tokenizers` pre-tokenizes each piece between added tokens on its own and never touches
    the added tokens: the placeholders stay words of their own, the pieces split as alone."""
    ours, reference = _pre_tokenizer(name)
    texts_tensor, parts_per_text = _placeholder_batch()
    got = ours.pre_tokenize(texts_as_words(texts_tensor)).to_list()
    for parts, words in zip(parts_per_text, got, strict=True):
        expected = []
        for part in parts:
            if isinstance(part, int):
                expected.append(f"<added {part}>")
            else:
                expected += [word for word, _ in reference.pre_tokenize_str(part)]
        assert [_to_strings(word) for word in words] == expected, (name, parts)


@pytest.mark.parametrize("name", sorted(REPLACES))
def test_replace_runs_between_placeholders(name):
    ours, reference = _normalizer(name)
    texts_tensor, parts_per_text = _placeholder_batch()
    got = ours.normalize(texts_tensor).to_list()
    for parts, code_points in zip(parts_per_text, got, strict=True):
        expected = "".join(
            f"<added {part}>" if isinstance(part, int) else reference.normalize_str(part)
            for part in parts
        )
        assert _to_strings(code_points) == expected, (name, parts)


@pytest.mark.parametrize(
    ("normalizer", "pre_tokenizer"),
    [
        (None, _byte_level(True, True)),
        (None, _split(EDGE_PATTERN, "MergedWithNext", invert=True)),
        (REPLACES["xlm-r-spaces"], {"type": "WhitespaceSplit"}),
        (REPLACES["empty-matches"], {"type": "Whitespace"}),
    ],
    ids=["byte-level", "split", "replace-whitespace-split", "replace-empty-matches"],
)
def test_pieces_between_added_tokens_are_what_tokenizers_encodes(normalizer, pre_tokenizer):
    """Checks, through a whole `tokenizers.Tokenizer` with added tokens, the premise of the two
    tests above: its tokens (a WordLevel vocabulary of exactly tfst's words) are tfst's words."""
    added = ["<s>", "</s>", "<mask>"]
    batch = [
        "<s>hello world</s>",
        "<s> leading</s>  two  spaces<mask>x",
        "no added tokens at all",
        "<mask><mask>  <s>a</s>",
        "</s>",
    ]
    rows = []
    for text in batch:
        row = []
        for piece in text.replace("<", "\0<").replace(">", ">\0").split("\0"):
            row += (
                [ADDED_TOKEN_BASE + added.index(piece)] if piece in added else list(map(ord, piece))
            )
        rows.append(row)
    code_points = tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1)
    if normalizer is not None:
        code_points = normalizer_from_json(normalizer, "normalizer").normalize(code_points)
    words = pre_tokenizer_from_json(pre_tokenizer, "pre_tokenizer").pre_tokenize(
        texts_as_words(code_points)
    )
    words_per_text = [
        [
            added[word[0] - ADDED_TOKEN_BASE] if word[0] >= ADDED_TOKEN_BASE else _to_strings(word)
            for word in text
        ]
        for text in words.to_list()
    ]
    vocabulary = {"[UNK]": 0}
    for text in words_per_text:
        for word in text:
            vocabulary.setdefault(word, len(vocabulary))
    spec = json.loads(_reference_tokenizer(normalizer, pre_tokenizer).to_str())
    spec["model"]["vocab"] = vocabulary
    spec["added_tokens"] = [
        {
            "id": vocabulary[token],
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for token in added
        if token in vocabulary
    ]
    reference = tokenizers.Tokenizer.from_str(json.dumps(spec))
    for text, words_of_text in zip(batch, words_per_text, strict=True):
        assert reference.encode(text).tokens == words_of_text, text


def test_byte_level_alphabet_is_gpt2s():
    alphabet = byte_level_alphabet()
    assert len(set(alphabet.tolist())) == 256
    assert {chr(cp) for cp in alphabet.tolist()} == set(
        tokenizers.pre_tokenizers.ByteLevel.alphabet()
    )
    words = tfst_words(
        pre_tokenizer_from_json(_byte_level(False, False), "x"), [bytes(range(128)).decode()]
    )
    assert words == [["".join(chr(cp) for cp in alphabet[:128].tolist())]]


# Every stage of this module in one chain, to trace and save.
TRACED_NORMALIZER = REPLACES["sequence"]
TRACED_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        _split(EDGE_PATTERN, "MergedWithNext", invert=True),
        {"type": "CharDelimiterSplit", "delimiter": "e"},
        {"type": "Whitespace"},
        {"type": "Punctuation", "behavior": "Contiguous"},
        {"type": "WhitespaceSplit"},
        {"type": "Digits", "individual_digits": True},
        _byte_level(True, True),
    ],
}


def test_stages_trace_and_save(tmp_path, corpus):
    """A serving signature over strings: traced once, saved, reloaded, same words as
    `tokenizers`."""

    class Stages(tf.Module):
        def __init__(self):
            super().__init__()
            self.normalizer = normalizer_from_json(TRACED_NORMALIZER, "normalizer")
            self.pre_tokenizer = pre_tokenizer_from_json(TRACED_PRE_TOKENIZER, "pre_tokenizer")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, strings):
            words = self.pre_tokenizer.pre_tokenize(
                texts_as_words(self.normalizer.normalize(decode_utf8(strings)))
            )
            return words.with_values(tf.strings.unicode_encode(words.values, "UTF-8"))

    tf.saved_model.save(Stages(), str(tmp_path / "stages"))
    loaded = tf.saved_model.load(str(tmp_path / "stages"))
    got = loaded(tf.constant(corpus)).to_list()
    reference = _reference_tokenizer(TRACED_NORMALIZER, TRACED_PRE_TOKENIZER)
    for text, words in zip(corpus, got, strict=True):
        normalized = reference.normalizer.normalize_str(text)
        expected = [word for word, _ in reference.pre_tokenizer.pre_tokenize_str(normalized)]
        assert [word.decode() for word in words] == expected, text


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated"}, "missing 'invert'"),
        (
            {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "isolated", "invert": False},
            "behavior 'isolated' is not supported; supported are 'Removed'",
        ),
        (
            {"type": "Split", "pattern": "a", "behavior": "Isolated", "invert": False},
            "pattern must be an object",
        ),
        (
            {
                "type": "Split",
                "pattern": {"Regex": "(?<=a)b"},
                "behavior": "Isolated",
                "invert": False,
            },
            "pattern '(?<=a)b': look-behind",
        ),
        ({"type": "Digits"}, "missing 'individual_digits'"),
        ({"type": "Punctuation", "behavior": "Merged"}, "behavior 'Merged' is not supported"),
        ({"type": "ByteLevel", "add_prefix_space": True}, "missing 'trim_offsets'"),
        ({"type": "ByteLevel", "trim_offsets": True}, "missing 'add_prefix_space'"),
        ({"type": "ByteLevel", "add_prefix_space": 1, "trim_offsets": True}, "must be a boolean"),
        ({"type": "CharDelimiterSplit", "delimiter": "ab"}, "single character, got 'ab'"),
        ({"type": "CharDelimiterSplit", "delimiter": ""}, "single character, got ''"),
        ({"type": "CharDelimiterSplit"}, "missing 'delimiter'"),
    ],
)
def test_pre_tokenizer_options_refused_with_a_clear_error(spec, fragment):
    with pytest.raises(TokenizerSpecError) as error:
        pre_tokenizer_from_json(spec, "folder/tokenizer.json, pre_tokenizer")
    assert str(error.value).startswith("folder/tokenizer.json, pre_tokenizer")
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"type": "Replace", "pattern": {"Regex": " "}}, "missing 'content'"),
        ({"type": "Replace", "pattern": {"Regex": " "}, "content": 1}, "content must be a string"),
        ({"type": "Replace", "pattern": {"Bad": " "}, "content": ""}, 'expected {"String": ...}'),
        ({"type": "Replace", "pattern": {"Regex": "a$"}, "content": ""}, "anchor '$'"),
    ],
)
def test_replace_options_refused_with_a_clear_error(spec, fragment):
    with pytest.raises(TokenizerSpecError) as error:
        normalizer_from_json(spec, "folder/tokenizer.json, normalizer")
    assert str(error.value).startswith("folder/tokenizer.json, normalizer")
    assert fragment in str(error.value)
