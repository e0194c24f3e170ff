"""Metaspace pre-tokenizer vs `tokenizers.pre_tokenizers.Metaspace`, alone and after added tokens."""

from __future__ import annotations

import functools
import json

import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from sentencepiece_models import hard_multilingual_strings, ragged_code_points
from tokenizers import Tokenizer, pre_tokenizers

from tfst.text.code_points import ADDED_TOKEN_BASE, decode_utf8, texts_as_words
from tfst.text.pre_tokenizers import Metaspace, pre_tokenizer_from_json
from tfst.text.spec import TokenizerSpecError

CONFIGURATIONS = [
    {"replacement": "▁", "prepend_scheme": "always", "split": True},
    {"replacement": "▁", "prepend_scheme": "first", "split": True},
    {"replacement": "▁", "prepend_scheme": "never", "split": True},
    {"replacement": "▁", "prepend_scheme": "always", "split": False},
    {"replacement": "▁", "prepend_scheme": "first", "split": False},
    {"replacement": "_", "prepend_scheme": "always", "split": True},
    {"replacement": " ", "prepend_scheme": "always", "split": True},
]
ALPHABET = "ab ▁_\t\n\u3000\u00a0é😀"
ADDED = ["<s>", "</s>"]


def _name(configuration: dict) -> str:
    return "-".join(str(value) for value in configuration.values())


@functools.cache
def compiled(items: tuple):
    """Metaspace from one configuration, in a tf.function over ``[texts, (code points)]``."""
    pre_tokenizer = Metaspace(**dict(items))

    @tf.function(
        input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, row_splits_dtype=tf.int64)]
    )
    def pre_tokenize(texts):
        return pre_tokenizer.pre_tokenize(texts_as_words(texts))

    return pre_tokenize


def ours(configuration: dict, texts: list[list[int]]) -> list[list[str]]:
    """Each text's words; a placeholder word reads as its added token."""
    words = compiled(tuple(configuration.items()))(ragged_code_points(texts)).to_list()
    return [
        [
            "".join(
                ADDED[cp - ADDED_TOKEN_BASE] if cp >= ADDED_TOKEN_BASE else chr(cp) for cp in word
            )
            for word in text
        ]
        for text in words
    ]


@pytest.mark.parametrize("configuration", CONFIGURATIONS[:4], ids=_name)
def test_metaspace_matches_tokenizers_on_hard_strings(configuration):
    reference = pre_tokenizers.Metaspace(**configuration)
    texts = hard_multilingual_strings()
    expected = [[word for word, _ in reference.pre_tokenize_str(text)] for text in texts]
    assert ours(configuration, [list(map(ord, text)) for text in texts]) == expected


@pytest.mark.parametrize("configuration", CONFIGURATIONS, ids=_name)
@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(alphabet=ALPHABET, max_size=16), min_size=1, max_size=24))
def test_metaspace_matches_tokenizers_on_generated_text(configuration, texts):
    reference = pre_tokenizers.Metaspace(**configuration)
    expected = [[word for word, _ in reference.pre_tokenize_str(text)] for text in texts]
    assert ours(configuration, [list(map(ord, text)) for text in texts]) == expected


@functools.cache
def reference_tokenizer(items: tuple) -> Tokenizer:
    """A tokenizer with added tokens, this Metaspace and a one-piece-per-character model, so
    its tokens grouped by word id spell the pre-tokenized words (added tokens included)."""
    configuration = dict(items)
    characters = sorted(set(ALPHABET) | {configuration["replacement"]})
    vocab = [["<unk>", 0.0]] + [[token, 0.0] for token in ADDED] + [[ch, -1.0] for ch in characters]
    added = [
        {
            "id": 1 + index,
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for index, token in enumerate(ADDED)
    ]
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", **configuration},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "Unigram", "unk_id": 0, "vocab": vocab, "byte_fallback": False},
    }
    return Tokenizer.from_str(json.dumps(spec))


def reference_words(configuration: dict, pieces: list[str | int]) -> list[str]:
    text = "".join(ADDED[piece] if isinstance(piece, int) else piece for piece in pieces)
    encoding = reference_tokenizer(tuple(configuration.items())).encode(
        text, add_special_tokens=False
    )
    words: dict[int, str] = {}
    for token, word in zip(encoding.tokens, encoding.word_ids, strict=True):
        words[word] = words.get(word, "") + token
    return list(words.values())


def _code_points(pieces: list[str | int]) -> list[int]:
    return [
        code_point
        for piece in pieces
        for code_point in (
            [ADDED_TOKEN_BASE + piece] if isinstance(piece, int) else list(map(ord, piece))
        )
    ]


@pytest.mark.parametrize("configuration", CONFIGURATIONS[:5], ids=_name)
@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(
        st.lists(st.one_of(st.text(alphabet=ALPHABET, min_size=1, max_size=6), st.integers(0, 1))),
        min_size=1,
        max_size=16,
    )
)
def test_added_tokens_stay_words_and_cut_the_text(configuration, texts):
    """Placeholders pass unchanged, are never prefixed, and the text after one is not the first
    word of its text ("first" prefixes only a text that does not start with an added token)."""
    expected = [reference_words(configuration, pieces) for pieces in texts]
    assert ours(configuration, [_code_points(pieces) for pieces in texts]) == expected


def test_first_scheme_prefixes_only_the_start_of_the_text():
    configuration = {"replacement": "▁", "prepend_scheme": "first", "split": False}
    texts = [["ab", 0, "ab"], [0, "ab"], ["a b", 1, " b"]]
    assert ours(configuration, [_code_points(pieces) for pieces in texts]) == [
        ["▁ab", "<s>", "ab"],
        ["<s>", "ab"],
        ["▁a▁b", "</s>", "▁b"],
    ]


def test_metaspace_traces_on_raw_strings():
    """Inside a tf.function over raw strings, as a serving signature runs it."""
    pre_tokenizer = Metaspace()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def words(strings):
        pieces = pre_tokenizer.pre_tokenize(texts_as_words(decode_utf8(strings)))
        return tf.strings.unicode_encode(pieces.values, "UTF-8"), pieces.row_lengths()

    texts = ["Hey   friend!", "", " ▁x "]
    flat, counts = words(tf.constant(texts))
    reference = pre_tokenizers.Metaspace()
    expected = [word for text in texts for word, _ in reference.pre_tokenize_str(text)]
    assert [word.decode() for word in flat.numpy().tolist()] == expected
    assert counts.numpy().tolist() == [len(reference.pre_tokenize_str(t)) for t in texts]


# Every way tokenizer.json spells Metaspace options, and whether `tokenizers` loads it.
OPTION_SPECS = [
    {"replacement": "▁"},
    {"replacement": "▁", "add_prefix_space": True},
    {"replacement": "▁", "add_prefix_space": True, "prepend_scheme": "first"},
    {"replacement": "▁", "add_prefix_space": False, "prepend_scheme": "never"},
    {"replacement": "▁", "add_prefix_space": None},
    {"replacement": "▁", "split": None},
    {"replacement": "▁", "split": False, "str_rep": "x"},
    {"replacement": "▁", "add_prefix_space": False},
    {"replacement": "▁", "add_prefix_space": False, "prepend_scheme": "always"},
    {"replacement": "ab"},
    {"replacement": ""},
    {},
    {"replacement": "▁", "prepend_scheme": None},
    {"replacement": "▁", "prepend_scheme": "First"},
    {"replacement": "▁", "split": "yes"},
    {"replacement": "▁", "add_prefix_space": 1},
]


@pytest.mark.parametrize("options", OPTION_SPECS, ids=lambda options: json.dumps(options))
def test_options_are_read_as_tokenizers_reads_them(options):
    spec = {"type": "Metaspace", **options}
    try:
        reference = Tokenizer.from_str(
            json.dumps(
                {
                    "version": "1.0",
                    "truncation": None,
                    "padding": None,
                    "added_tokens": [],
                    "normalizer": None,
                    "pre_tokenizer": spec,
                    "post_processor": None,
                    "decoder": None,
                    "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]]},
                }
            )
        ).pre_tokenizer
    except Exception:
        with pytest.raises(TokenizerSpecError, match="pre_tokenizer"):
            pre_tokenizer_from_json(spec, "tokenizer.json, pre_tokenizer")
        return
    ours_stage = pre_tokenizer_from_json(spec, "tokenizer.json, pre_tokenizer")
    texts = [" a  b ", "▁x", "a▁ b"]
    words = ours_stage.pre_tokenize(
        texts_as_words(ragged_code_points([list(map(ord, t)) for t in texts]))
    ).to_list()
    assert [["".join(map(chr, word)) for word in text] for text in words] == [
        [word for word, _ in reference.pre_tokenize_str(text)] for text in texts
    ]
