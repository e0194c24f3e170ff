"""Python's str.split/lower/strip in TensorFlow, and sentence-transformers' WhitespaceTokenizer
built on them, against Python and sentence-transformers themselves."""

from __future__ import annotations

import string
import unicodedata

import numpy as np
import pytest
import tensorflow as tf
from generate_python_text_tables import build_tables
from hard_strings import ALL_HARD_STRINGS
from hypothesis import given, settings
from hypothesis import strategies as st

from tfst.text.code_points import decode_utf8, encode_utf8
from tfst.text.python_text import PythonText, load_python_text_tables
from tfst.text.whitespace_tokenizer import WhitespaceTokenizer

SIGMA_CASES = [
    "Σ",
    "ΑΣ",
    "ΑΣ ",
    "ΑΣΑ",
    "ΑΣ.",
    "ΑΣ'Α",
    "Α'Σ",
    "1Σ",
    "ΟΔΥΣΣΕΥΣ",
    "ΑΣ\u0301",  # a combining mark after Σ is case-ignorable
    "ΑΣ\u0301Α",
    "Α\u0345Σ",  # U+0345 is both cased and case-ignorable: skipped
    "ΣΑΣ ΣΣ Σ.Σ",
    "aΣ",
    "ǅΣ",  # titlecase letter before
    "ΑΣ\u00ad",  # soft hyphen: case-ignorable
    "ΑΣ\u200dΑ",
    "ΑΣ:Α",  # colon: MidLetter, case-ignorable
    "İSTANBUL İ",
    "ẞ ß ﬃ Ǆ ǅ ǆ",
]
PUNCTUATION_CASES = ["", "!!", "(a)", "..a.b..", "'quoted'", "«a»", "a,", "—a—", "\\x/", "@@home"]
# Texts from every direction: hard Unicode, sigma contexts, punctuation, whitespace of all kinds.
TEXTS = (
    ALL_HARD_STRINGS
    + SIGMA_CASES
    + PUNCTUATION_CASES
    + [
        "\x1c\x1d\x1e\x1f split\u2028here\u2029and\x85here\u3000too",
        "Mixed CASE Words, with PUNCTUATION!",
    ]
)
ENGLISH_LIKE_STOP_WORDS = ["the", "a", "is", "!", "of", "ΑΣ", ""]
text_strategy = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("ΣΑσς \t\n.,!'()" + "\u0301\u0345\u00ad\u200d\x1c\u3000")),
    ),
    max_size=40,
)


@pytest.fixture(scope="session")
def python_text():
    return PythonText()


@pytest.fixture(scope="session")
def python_functions(python_text):
    signature = [tf.TensorSpec([None], tf.string)]

    def apply(operation):
        return tf.function(
            lambda strings: encode_utf8(operation(decode_utf8(strings))), input_signature=signature
        )

    def split(strings):
        words = python_text.split(decode_utf8(strings))
        return words.with_values(encode_utf8(words.values))

    return {
        "lower": apply(python_text.lower),
        "strip": apply(python_text.strip_punctuation),
        "split": tf.function(split, input_signature=signature),
    }


def _strings(tensor) -> list:
    return [value.decode("utf-8") for value in tensor.numpy()]


@pytest.mark.skipif(
    str(load_python_text_tables()["unicode_version"]) != unicodedata.unidata_version,
    reason="the tables are of another Python's Unicode version",
)
def test_tables_match_the_running_python():
    stored = load_python_text_tables()
    probed = build_tables()
    assert set(probed) == set(stored)
    for name in sorted(probed):
        np.testing.assert_array_equal(stored[name], probed[name], err_msg=name)


def test_lower_is_str_lower_with_final_sigma(python_functions):
    assert _strings(python_functions["lower"](TEXTS)) == [text.lower() for text in TEXTS]


def test_lower_of_every_code_point_alone_is_str_lower(python_functions):
    chars = [chr(code) for code in range(0x110000) if not 0xD800 <= code < 0xE000]
    lowered = []
    for start in range(0, len(chars), 200000):
        lowered += _strings(python_functions["lower"](chars[start : start + 200000]))
    assert lowered == [char.lower() for char in chars]


def test_split_is_str_split(python_functions):
    actual = [_strings(row) for row in python_functions["split"](TEXTS)]
    assert actual == [text.split() for text in TEXTS]


def test_strip_is_str_strip_of_ascii_punctuation(python_functions):
    actual = _strings(python_functions["strip"](TEXTS))
    assert actual == [text.strip(string.punctuation) for text in TEXTS]


@settings(max_examples=200, deadline=None)
@given(st.lists(text_strategy, min_size=1, max_size=8))
def test_random_text_matches_python(python_functions, texts):
    assert _strings(python_functions["lower"](texts)) == [text.lower() for text in texts]
    assert [_strings(row) for row in python_functions["split"](texts)] == [
        text.split() for text in texts
    ]
    assert _strings(python_functions["strip"](texts)) == [
        text.strip(string.punctuation) for text in texts
    ]


# --- the tokenizer ------------------------------------------------------------------------------


def _vocabulary() -> list[str]:
    """Words of TEXTS in their three forms, every other one, plus repeats and the empty word."""
    words = set()
    for text in TEXTS:
        for word in text.split():
            stripped = word.strip(string.punctuation)
            words.update({word, stripped, stripped.lower(), word.lower()})
    vocabulary = sorted(words)[::2]
    return ["PADDING_TOKEN", *vocabulary, "the", vocabulary[5], ""]


@pytest.fixture(scope="session", params=[False, True], ids=["cased", "lowercased"])
def tokenizers(request):
    from sentence_transformers.sentence_transformer.modules.tokenizer import (
        WhitespaceTokenizer as Reference,
    )

    vocabulary = _vocabulary()
    stop_words = ENGLISH_LIKE_STOP_WORDS
    ours = WhitespaceTokenizer(vocabulary, stop_words, do_lower_case=request.param)
    traced = tf.function(ours.token_ids, input_signature=[tf.TensorSpec([None], tf.string)])
    return (
        lambda texts: traced(tf.constant(texts)).to_list(),
        Reference(vocabulary, stop_words=stop_words, do_lower_case=request.param),
    )


def test_ids_match_sentence_transformers(tokenizers):
    ours, theirs = tokenizers
    assert ours(TEXTS) == [theirs.tokenize(text) for text in TEXTS]


@settings(max_examples=200, deadline=None)
@given(st.lists(text_strategy, min_size=1, max_size=8))
def test_random_text_ids_match_sentence_transformers(tokenizers, texts):
    ours, theirs = tokenizers
    assert ours(texts) == [theirs.tokenize(text) for text in texts]


def test_padded_ids_are_at_least_one_column_and_truncate_at_max_length():
    tokenizer = WhitespaceTokenizer(["PAD", "a", "b"], max_length=2)
    features = tokenizer(["a b a b", "", "b"])
    np.testing.assert_array_equal(features["input_ids"], [[1, 2], [0, 0], [2, 0]])
    np.testing.assert_array_equal(features["attention_mask"], [[1, 1], [0, 0], [1, 0]])
    empty = WhitespaceTokenizer(["PAD"])([""])
    assert empty["input_ids"].shape == (1, 1)


def test_repeated_vocabulary_words_take_their_last_index_and_no_stop_words_work():
    tokenizer = WhitespaceTokenizer(["x", "a", "b", "a"], stop_words=[])
    assert tokenizer.token_ids(tf.constant(["a b A"])).to_list() == [[3, 2, 3]]


def test_a_saved_model_tokenizes_like_the_layer(tmp_path):
    tokenizer = WhitespaceTokenizer(_vocabulary(), ENGLISH_LIKE_STOP_WORDS, do_lower_case=True)
    module = tf.Module()
    module.tokenizer = tokenizer
    module.tokenize = tf.function(
        lambda strings: tokenizer(strings), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    tf.saved_model.save(module, str(tmp_path / "tokenizer"))
    restored = tf.saved_model.load(str(tmp_path / "tokenizer"))
    expected = tokenizer(TEXTS)
    actual = restored.tokenize(tf.constant(TEXTS))
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(actual[name], expected[name])
