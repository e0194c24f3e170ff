"""tfst normalizers give exactly what the same `tokenizers` normalizer gives.

Each normalizer is built by `normalizer_from_json` from a `tokenizer.json` entry, and the
reference is the `tokenizers` normalizer of a whole `tokenizers.Tokenizer` read from the same
entry. tfst runs inside `tf.function` (as a SavedModel would), on whole batches.
"""

from __future__ import annotations

import itertools
import json
import unicodedata

import numpy as np
import pytest
import tensorflow as tf
import tokenizers
from generate_normalization_tables import build_tables, differences_from_unicodedata
from hard_strings import ALL_HARD_STRINGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfst.text.code_points import ADDED_TOKEN_BASE, decode_utf8, encode_utf8
from tfst.text.normalizers import NORMALIZERS, normalizer_from_json
from tfst.text.spec import TokenizerSpecError
from tfst.text.unicode_normalization import (
    HANGUL_LEADING_COUNT,
    HANGUL_LEADING_FIRST,
    HANGUL_SYLLABLE_COUNT,
    HANGUL_SYLLABLE_FIRST,
    HANGUL_TRAILING_BASE,
    HANGUL_TRAILING_COUNT,
    HANGUL_VOWEL_COUNT,
    HANGUL_VOWEL_FIRST,
    UnicodeNormalization,
    load_normalization_tables,
    sparse_mapping,
)

NFD = {"type": "NFD"}
NFKD = {"type": "NFKD"}
NFC = {"type": "NFC"}
NFKC = {"type": "NFKC"}
LOWERCASE = {"type": "Lowercase"}
STRIP_ACCENTS = {"type": "StripAccents"}
STRIP = {"type": "Strip", "strip_left": True, "strip_right": True}
NMT = {"type": "Nmt"}
METASPACE = {"type": "Prepend", "prepend": "▁"}


def _sequence(*normalizers: dict) -> dict:
    return {"type": "Sequence", "normalizers": list(normalizers)}


SPECS = {
    "NFD": NFD,
    "NFKD": NFKD,
    "NFC": NFC,
    "NFKC": NFKC,
    "Lowercase": LOWERCASE,
    "StripAccents": STRIP_ACCENTS,
    "Strip": STRIP,
    "Strip_left": {"type": "Strip", "strip_left": True, "strip_right": False},
    "Strip_right": {"type": "Strip", "strip_left": False, "strip_right": True},
    "Strip_neither": {"type": "Strip", "strip_left": False, "strip_right": False},
    "Prepend": METASPACE,
    "Prepend_several": {"type": "Prepend", "prepend": " é\u0301x"},
    "Prepend_empty": {"type": "Prepend", "prepend": ""},
    "Nmt": NMT,
    "bert_like": _sequence(NFD, LOWERCASE, STRIP_ACCENTS),
    "sentencepiece_like": _sequence(NMT, NFKC, STRIP, METASPACE),
    "nfkc_lowercase": _sequence(NFKC, LOWERCASE),
    "strip_accents_then_nfc": _sequence(NFKD, STRIP_ACCENTS, NFC),
    "empty_sequence": _sequence(),
}
UNICODE_FORMS = ("NFD", "NFKD", "NFC", "NFKC")
SIMPLE_STAGES = ("Lowercase", "StripAccents", "Strip", "Nmt")

# Marks of several combining classes: 1 (overlay), 220 (below), 230 (above), 240 (iota).
MARKS = {"overlay": "\u0334", "below": "\u0323", "acute": "\u0301", "iota": "\u0345"}

OWN_HARD_STRINGS = [
    # Vietnamese stacked marks, precomposed, NFD, and with the marks in the other order.
    "Tiếng Việt có dấu: ệ ậ ặ ở ữ ỡ ự",
    unicodedata.normalize("NFD", "Tiếng Việt có dấu: ệ ậ ặ ở ữ ỡ ự"),
    "e\u0302\u0323 e\u0323\u0302 a\u0306\u0323 a\u0323\u0306 o\u031b\u0303 o\u0303\u031b",
    # Greek with tonos and oxia (U+1F71 is a singleton to U+03AC), breathings and iota.
    "ά έ ή ί ό ύ ώ ΐ ΰ \u1f71 \u1f73 \u03b1\u0301 \u0390",
    "ᾅ \u03b1\u0345\u0314\u0301 \u03b1\u0314\u0345\u0301 \u03b1\u0301\u0314\u0345 ᾯ ῷ",
    "\u1f00\u0300\u0345 \u1f02\u0345 \u03c9\u0313\u0342\u0345",
    # Devanagari nukta forms are composition exclusions; Bengali, Oriya, Tamil, Kannada,
    # Malayalam and Sinhala vowel signs compose as starters.
    "क़ ख़ \u0915\u093c \u0958 \u0929 \u0928\u093c \u0931 \u0933\u093c",
    "\u09c7\u09be \u09c7\u09d7 \u0b47\u0b3e \u0b47\u0b56 \u0b47\u0b57 \u0b47\u0b3c\u0b3e",
    "\u0bc6\u0bbe \u0bc6\u0bbe\u0bbe \u0bbe\u0bbe\u0bbe \u0b92\u0bd7 \u0bc6\u0bd7 \u0bc7\u0bbe",
    "\u0cbf\u0cd5 \u0cc6\u0cc2\u0cd5 \u0cc6\u0cd5\u0cc2 \u0cca\u0cd5 \u0cc6\u0cd6",
    "\u0d46\u0d3e \u0d47\u0d3e \u0d46\u0d57 \u0dd9\u0dcf\u0dca \u0dd9\u0dca\u0dcf \u0dd9\u0ddf",
    "\u1025\u102e \u1b05\u1b35 \U00011347\U0001133e \U00011347\U00011357",
    "\U000114b9\U000114ba \U000114b9\U000114b0 \U000114b9\U000114bd \U000115b8\U000115af",
    "\U00011131\U00011127 \U00011132\U00011127 \U000110a5\U000110ba \U00011935\U00011930",
    # Arabic shadda with vowels (classes 33 and 30 reorder), Hebrew points.
    "\u0628\u0651\u064e \u0628\u064e\u0651 \u0628\u0651\u0650\u064b \u0644\u0653\u0627",
    "\u05e9\u05bc\u05c1 \u05e9\u05c1\u05bc \ufb2c \ufb4b",
    # Hangul: syllables, conjoining jamo, L+V+T, LV+T, LVT+T, marks in the way, old jamo.
    "\u1100\u1161\u11a8 \uac00\u11a8 \uac01\u11a8 \u1100\u1161\u0300\u11a8 \u1100\u0300\u1161",
    "\u1113\u1161 \u1100\u1176 \u1100\u1161\u11a7 \uac00\u11a7 \uac00\u11c3 \u1161\u11a8 \u11a8",
    "\u1112\u1161\u11ab\u1100\u1173\u11af \ud55c\uad6d\uc5b4 \u3131\u314f",
    # Singletons, composition exclusions, non-starter decompositions.
    "\u212b \u2126 \u212a \u0340 \u0341 \u0343 \u0344 \u0374 \u037e \u0387 \u0f73 \u0f75 \u0f81",
    "\u2adc \u2add\u0338 \U0001d15e \U0001d160 \U0001d1bb \u1e9b\u0323 \u1e9b\u0323\u0301",
    # Blocking: the same class twice, a lower class first, an overlay in the way.
    "a\u0301\u0301 a\u0300\u0301 a\u0306\u0301 a\u0335\u0301 a\u0316\u0301 a\u0301\u0316",
    "\u0301\u0323a \u0323 \u0301 e\u0301\u0302 A\u030a\u0301 \u00c5\u0301 \u212b\u0301",
    "a\u0305\u0301 \u304b\u309a\u3099 e\u1161\u0301 a\u0bbe\u0301 \u0bc6\u0b3c\u0bbe",
    # Compatibility forms: fullwidth, halfwidth kana with sound marks, ligatures, squares.
    "ｶﾞ ﾊﾟ ｶ\uff9e \u30ab\u3099 \u30cf\u309a \u3099\u30ab ㍿ ﷺ ǲ ﬅ ㎏ ① ½ ⁵ ₂ ㊤ 🄐",
    "\u00a8\u0301 \u1fed \u1fee \u0385 \u03d3 \u03d4 \u1e9b \u017f\u0307",
    # Lowercase: expansions, titlecase, Unicode 16 letters, Cherokee, Georgian, Deseret.
    "İ İstanbul ẞ Σ ΟΔΟΣ ǅ Ⅻ Ⓐ 𐐀 ᾼ ᾈ Ꭰꮰ Ა \u1c89 \u1c90 \ua7cb \U00010d50",
    # Whitespace as Rust sees it (U+001C..U+001F are Python spaces only, U+180E neither).
    "\x1c\x1d\x1e\x1f x \x1c",
    "\u0085 \u00a0 \u1680 \u180e \u200b \u2028 \u2029 \u202f \u205f \u3000 x \u3000\u0085",
    " \t\n\r\x0b\x0c",
    "\u3000lead\u3000 and trail\u00a0",
    # Every control and the Nmt replacements.
    "".join(map(chr, range(0x00, 0x21))) + "".join(map(chr, range(0x7F, 0xA1))),
    "\u1680\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u2581\ufeff\ufffd",
    # Combining marks newer than the crate's Unicode 9.0 tables (starters for it).
    "a\u1df6\u0301 a\u0301\u1df6 \u0d3b\u0d3c a\u0898\u0301 \u0c3c",
    # Long runs: many marks on one starter, marks alone, jamo pairs, decomposable letters.
    "a" + "\u0323\u0301" * 300,
    "a" + "\u0301" * 300 + "\u0323",
    "\u0301" * 1000,
    "\u1100\u1161" * 500,
    "ᾅ" * 500,
    "é" * 2000 + " x " * 100,
    "",
    " ",
]
CORPUS = ALL_HARD_STRINGS + OWN_HARD_STRINGS


def _reference(spec: dict) -> tokenizers.normalizers.Normalizer:
    """The `tokenizers` normalizer of a whole tokenizer.json holding ``spec``."""
    tokenizer_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": spec,
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"},
    }
    return tokenizers.Tokenizer.from_str(json.dumps(tokenizer_json)).normalizer


class Compiled:
    """A tfst normalizer in ``tf.function``s: on UTF-8 strings, and on code points."""

    def __init__(self, spec: dict):
        self.normalizer = normalizer_from_json(spec, "tokenizer.json, normalizer")
        self._strings = tf.function(
            lambda texts: encode_utf8(self.normalizer.normalize(decode_utf8(texts))),
            input_signature=[tf.TensorSpec([None], tf.string)],
        )
        self._code_points = tf.function(
            self.normalizer.normalize,
            input_signature=[
                tf.RaggedTensorSpec([None, None], tf.int32, row_splits_dtype=tf.int64)
            ],
        )

    def strings(self, texts: list[str]) -> list[str]:
        return [
            text.decode("utf-8") for text in self._strings(tf.constant(texts, tf.string)).numpy()
        ]

    def code_points(self, texts: list[list[int]]) -> list[list[int]]:
        ragged = tf.ragged.constant(texts, dtype=tf.int32, row_splits_dtype=tf.int64)
        return self._code_points(ragged).to_list()


@pytest.fixture(scope="session")
def compiled() -> dict[str, Compiled]:
    """Built on first use (the Unicode forms take about a second each to build their tables)."""

    class OnDemand(dict):
        def __missing__(self, name):
            self[name] = Compiled(SPECS[name])
            return self[name]

        def items(self):
            return [(name, self[name]) for name in SPECS]

    return OnDemand()


@pytest.fixture(scope="session")
def references() -> dict[str, tokenizers.normalizers.Normalizer]:
    return {name: _reference(spec) for name, spec in SPECS.items()}


def _assert_same(names_and_texts, compiled, references) -> None:
    for name, texts in names_and_texts:
        got = compiled[name].strings(texts)
        expected = [references[name].normalize_str(text) for text in texts]
        mismatches = [
            (text, out, ref)
            for text, out, ref in zip(texts, got, expected, strict=True)
            if out != ref
        ]
        assert not mismatches, f"{name}: {len(mismatches)} differ, e.g. {mismatches[:3]!r}"


@pytest.mark.parametrize("name", SPECS)
def test_hard_strings_match_tokenizers(name, compiled, references):
    _assert_same([(name, CORPUS)], compiled, references)


@pytest.mark.parametrize("name", ["NFC", "NFKC", "NFD", "NFKD"])
def test_each_hard_string_alone_matches_tokenizers(name, compiled, references):
    """One text per batch, so the quick check skips the texts the form leaves alone."""
    for text in CORPUS:
        _assert_same([(name, [text])], compiled, references)


@pytest.mark.parametrize("name", UNICODE_FORMS + SIMPLE_STAGES)
def test_every_code_point_alone_matches_tokenizers(name, compiled, references):
    every_code_point = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp < 0xE000]
    _assert_same([(name, every_code_point)], compiled, references)


def _composition_stress_strings() -> list[str]:
    """Every code point that decomposes or composes, alone and between marks in both orders,
    and every composition pair with marks of lower, equal and higher class in between (a mark
    of the same class that does not compose blocks the pair), or a starter."""
    tables = load_normalization_tables()
    decomposable = set(sparse_mapping(tables, "nfkd"))
    pairs = {tuple(pair) for pair in tables["composition_pairs"].tolist()}
    keys, values = tables["combining_class_keys"], tables["combining_class_values"]
    classes = dict(zip(keys.tolist(), values.tolist(), strict=True))
    marks_by_class = {}
    for mark, mark_class in sorted(classes.items()):
        marks_by_class.setdefault(mark_class, []).append(mark)
    involved = decomposable | {cp for pair in pairs for cp in pair}
    texts = []
    for cp in sorted(involved):
        ch = chr(cp)
        texts.append(ch)
        for first, second in itertools.permutations(MARKS.values(), 2):
            texts.append(ch + first + second)
        texts.append(ch + ch + "\u0301" + ch)
    for first, second in sorted(pairs):
        a, b = chr(first), chr(second)
        decomposed_a = unicodedata.normalize("NFD", a)
        texts += [a + b, decomposed_a + b, a + b + b, b + a, a + "\u0323" + b, a + "\u0301" + b]
        texts += [a + MARKS["overlay"] + b, a + MARKS["iota"] + b, a + b + MARKS["below"]]
        texts += ["\u0301" + a + b]
        inert_starter = "\u1161" if (first, 0x0BBE) in pairs else "\u0bbe"
        texts += [a + "\u0915" + b, a + inert_starter + b]
        blocking = [
            mark
            for mark in marks_by_class.get(classes.get(second), [])
            if mark != second and (first, mark) not in pairs
        ]
        texts += [a + chr(mark) + b for mark in blocking[:2]]
    return texts


def _hangul_strings() -> list[str]:
    leading = [chr(HANGUL_LEADING_FIRST + i) for i in range(HANGUL_LEADING_COUNT + 1)]
    vowels = [chr(HANGUL_VOWEL_FIRST + i) for i in range(-1, HANGUL_VOWEL_COUNT + 1)]
    trailing = [chr(HANGUL_TRAILING_BASE + i) for i in range(HANGUL_TRAILING_COUNT + 1)]
    texts = [lead + vowel + trail for lead in leading for vowel in vowels for trail in trailing]
    syllables = [chr(HANGUL_SYLLABLE_FIRST + i) for i in range(HANGUL_SYLLABLE_COUNT)]
    texts += [s + t for s in syllables for t in (trailing[1], trailing[-2], vowels[1])]
    texts += [
        lead + vowel + "\u0301" + trail
        for lead, vowel, trail in zip(leading, vowels[1:21], trailing[1:21], strict=True)
    ]
    texts += ["".join(syllables[i : i + 40]) for i in range(0, len(syllables), 40)]
    return texts


@pytest.fixture(scope="session")
def composition_strings() -> list[str]:
    return _composition_stress_strings() + _hangul_strings()


@pytest.mark.parametrize("name", UNICODE_FORMS + ("strip_accents_then_nfc",))
def test_composition_stress_strings_match_tokenizers(
    name, compiled, references, composition_strings
):
    _assert_same([(name, composition_strings)], compiled, references)


def test_fewer_composition_rounds_would_not_do():
    """U+1F82 (alpha, psili, varia, ypogegrammeni) needs all three rounds, and the stress
    strings hold it: a two-round composer gets it wrong."""
    text = "\u03b1\u0313\u0300\u0345"
    assert unicodedata.normalize("NFC", text) == "\u1f82"
    normalization = UnicodeNormalization("NFC")
    assert normalization.max_compositions_per_starter == 3
    normalization.max_compositions_per_starter = 2
    texts = tf.ragged.constant([[ord(ch) for ch in text]], dtype=tf.int32)
    assert normalization(texts).to_list() == [[0x1F02, 0x0345]]


def _with_placeholders(pieces: list[str], added: list[int]) -> list[int]:
    """Pieces joined by placeholders (``added[i]`` placeholders after piece i)."""
    code_points = []
    for piece, count in zip(pieces, added, strict=True):
        code_points += [ord(ch) for ch in piece]
        code_points += [ADDED_TOKEN_BASE + 3 * k for k in range(count)]
    return code_points


def _normalized_piece_by_piece(reference, code_points: list[int]) -> list[int]:
    """What `tokenizers` makes of a text with added tokens: each run between them alone."""
    normalized, piece = [], ""
    for code_point in code_points + [ADDED_TOKEN_BASE]:
        if code_point < ADDED_TOKEN_BASE:
            piece += chr(code_point)
            continue
        normalized += [ord(ch) for ch in reference.normalize_str(piece)] + [code_point]
        piece = ""
    return normalized[:-1]


PLACEHOLDER_PIECES = [
    ["  a ", " b\u0301 ", "\u0301c  "],
    ["", "x", ""],
    ["e", "\u0301", "\u1161\u11a8"],
    ["\u1100", "\u1161", "\u11a8"],
    ["\u0b47", "\u0b3e", ""],
    ["İ ", " \t", "\x01\u200b"],
    ["", "", ""],
    ["\u3000", "é", " "],
]


@pytest.mark.parametrize("name", SPECS)
def test_placeholders_cut_texts_into_pieces_normalized_alone(name, compiled, references):
    texts, expected = [], []
    for pieces in PLACEHOLDER_PIECES + [CORPUS[i : i + 3] for i in range(0, 60, 3)]:
        for added in ([1, 1, 0], [2, 1, 1], [0, 3, 2]):
            texts.append(_with_placeholders(pieces, added))
            expected.append(_normalized_piece_by_piece(references[name], texts[-1]))
    assert compiled[name].code_points(texts) == expected


def test_prepend_and_strip_apply_to_each_piece_between_added_tokens():
    """What the placeholder test assumes, seen through a whole `tokenizers.Tokenizer`: the text
    on each side of an added token is normalized alone (tokenizers/src/tokenizer/
    added_vocabulary.rs, extract_and_normalize)."""
    normalizer = _sequence(STRIP, METASPACE)
    pieces = ["▁a  b", "<t>", "▁c", "<t>", "<t>", "▁d"]
    tokenizer_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": 1,
                "content": "<t>",
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
        ],
        "normalizer": normalizer,
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": None,
        "model": {
            "type": "WordLevel",
            "vocab": {"[UNK]": 0, "<t>": 1, "▁a  b": 2, "▁c": 3, "▁d": 4},
            "unk_token": "[UNK]",
        },
    }
    tokenizer = tokenizers.Tokenizer.from_str(json.dumps(tokenizer_json))
    assert tokenizer.encode("  a  b \t<t> c<t><t>  d ").tokens == pieces

    text = _with_placeholders(["  a  b \t", " c", "", "  d "], [1, 2, 0, 0])
    [normalized] = Compiled(normalizer).code_points([text])
    assert normalized == _with_placeholders(["▁a  b", "▁c", "", "▁d"], [1, 2, 0, 0])


def test_empty_texts_and_batches(compiled, references):
    for name, normalizer in compiled.items():
        assert normalizer.strings(["", "", ""]) == ["", "", ""], name
        assert normalizer.strings([]) == [], name
        placeholder = ADDED_TOKEN_BASE + 7
        assert normalizer.code_points([[placeholder], [], [placeholder, placeholder]]) == [
            [placeholder],
            [],
            [placeholder, placeholder],
        ], name


# Code points to draw from: all of Unicode, and, as often, the ones normalization acts on.
_TABLES = load_normalization_tables()
_INTERESTING = sorted(
    set(_TABLES["combining_class_keys"].tolist())
    | set(_TABLES["composition_pairs"].ravel().tolist())
    | set(_TABLES["nfkd_keys"].tolist())
    | set(_TABLES["whitespace"].tolist())
    | set(range(0x1100, 0x1200))
    | set(range(HANGUL_SYLLABLE_FIRST, HANGUL_SYLLABLE_FIRST + 200))
    | set(range(0x00, 0x21))
)
_CHARACTERS = st.one_of(
    st.characters(exclude_categories=("Cs",)),
    st.sampled_from([chr(cp) for cp in _INTERESTING]),
)
_TEXTS = st.lists(st.text(_CHARACTERS, max_size=12), min_size=1, max_size=6)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(texts=_TEXTS)
def test_random_unicode_matches_tokenizers(texts, compiled, references):
    _assert_same([(name, texts) for name in SPECS], compiled, references)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pieces=_TEXTS, added=st.lists(st.integers(0, 2), min_size=6, max_size=6))
def test_random_unicode_with_placeholders_normalizes_pieces_alone(
    pieces, added, compiled, references
):
    text = _with_placeholders(pieces, added[: len(pieces)])
    for name in SPECS:
        expected = _normalized_piece_by_piece(references[name], text)
        assert compiled[name].code_points([text]) == [expected], name


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
@given(texts=_TEXTS)
def test_random_unicode_matches_tokenizers_long_run(texts, compiled, references):
    _assert_same([(name, texts) for name in SPECS], compiled, references)


def test_every_normalizer_type_is_registered():
    expected = {"Sequence", "NFD", "NFKD", "NFC", "NFKC", "Lowercase", "StripAccents", "Strip"}
    assert expected | {"Prepend", "Nmt"} <= set(NORMALIZERS)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "Strip", "strip_left": True}, "missing 'strip_right'"),
        ({"type": "Strip", "strip_left": 1, "strip_right": True}, "strip_left must be a boolean"),
        ({"type": "Prepend"}, "missing 'prepend'"),
        ({"type": "Prepend", "prepend": None}, "prepend must be a string"),
        ({"type": "NFKX"}, "normalizer type 'NFKX' is not supported"),
    ],
)
def test_bad_options_are_refused_naming_the_place(spec, message):
    where = "folder/tokenizer.json, normalizer.normalizers[2]"
    with pytest.raises(TokenizerSpecError, match=message) as error:
        normalizer_from_json(
            _sequence(METASPACE, METASPACE, spec), "folder/tokenizer.json, normalizer"
        )
    assert where in str(error.value)


def test_a_saved_model_normalizes_like_the_original(tmp_path, compiled, references):
    """Every normalizer type traced into one SavedModel (sentencepiece_like, then bert_like)."""
    module = tf.Module()
    module.normalizers = [compiled[name].normalizer for name in ("sentencepiece_like", "bert_like")]

    def normalize(texts):
        code_points = decode_utf8(texts)
        for normalizer in module.normalizers:
            code_points = normalizer.normalize(code_points)
        return encode_utf8(code_points)

    module.normalize = tf.function(normalize, input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path))
    restored = tf.saved_model.load(str(tmp_path))
    texts = CORPUS[:80]
    got = [text.decode("utf-8") for text in restored.normalize(tf.constant(texts)).numpy()]
    first, second = references["sentencepiece_like"], references["bert_like"]
    assert got == [second.normalize_str(first.normalize_str(text)) for text in texts]


def test_tables_match_the_installed_tokenizers():
    stored = load_normalization_tables()
    probed = build_tables()
    assert set(probed) == set(stored)
    for name in sorted(set(probed) - {"tokenizers_version"}):
        np.testing.assert_array_equal(stored[name], probed[name], err_msg=name)


# Where `tokenizers` (Rust crate tables: Unicode 9.0; Rust std: Unicode 16) and Python 3.11's
# unicodedata (Unicode 14.0) disagree, as code point counts.
DIFFERENCES_FROM_UNICODEDATA_14 = {
    "nfd": 1,  # U+11938 (Dives Akuru, Unicode 13) has no decomposition for the crate
    "nfkd": 73,  # compatibility decompositions of Unicode 12.1-14 (U+32FF, U+A7F2, U+10781..)
    "combining_class": 98,  # marks of Unicode 10-14 are starters for the crate
    "composition": 1,  # so U+11935 U+11930 does not compose to U+11938
    "combining_marks": 315,  # StripAccents keeps marks newer than Unicode 9.0
    "lowercase": 55,  # Rust knows Unicode 15-16 case pairs (U+1C89, U+A7CB, U+10D50..)
    "whitespace": 4,  # U+001C..U+001F are str.isspace() but not char::is_whitespace
}


@pytest.mark.skipif(unicodedata.unidata_version != "14.0.0", reason="counts are for Unicode 14")
def test_differences_from_unicodedata_are_the_known_ones():
    differences = differences_from_unicodedata(load_normalization_tables())
    counts = {name: len(code_points) for name, code_points in differences.items()}
    assert counts == DIFFERENCES_FROM_UNICODEDATA_14
    assert differences["nfd"] == differences["composition"] == [0x11938]
