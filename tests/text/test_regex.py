"""The Oniguruma → RE2 translation against Oniguruma itself (through `tokenizers`).

Every comparison runs the same pattern on the same texts in `tokenizers` (a Split pre-tokenizer,
isolated and removed, gives the non-empty pieces of `find_matches` and which are matches) and
in tfst's `PatternMatcher`, and demands identical pieces.
"""

from __future__ import annotations

import functools
import itertools
import re

import numpy as np
import pytest
import tensorflow as tf
from generate_character_classes import build_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pattern_cases import GPT2, LLAMA3, hard_texts, reference_pieces, texts, tfst_pieces
from tokenizers import Regex, pre_tokenizers

from tfst.text.character_classes import GENERAL_CATEGORIES, load_character_classes
from tfst.text.code_points import ADDED_TOKEN_BASE, decode_utf8, texts_as_words
from tfst.text.regex import (
    SPLIT_BEHAVIORS,
    PatternMatcher,
    pattern_from_json,
    split_on_matches,
    translate_pattern,
)
from tfst.text.regex_sets import CATEGORY_LONG_NAMES, PROPERTY_CATEGORIES
from tfst.text.spec import TokenizerSpecError

REAL_WORLD_PATTERNS = {
    "gpt2": GPT2,
    "llama3": LLAMA3,
    "qwen2": (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
        r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    ),
    "gpt4o": (
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    ),
    "tekken": (
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
        r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
        r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    ),
    "deepseek_digits": r"\p{N}{1,3}",
    "deepseek_cjk": "[一-龥\u3040-ゟ゠-ヿ]+",
    "deepseek_words": (
        r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
        r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    ),
    "bloom": r" ?[^(\s|[.,!?…。，、।۔،])]+",
    "whitespace": r"\w+|[^\w\s]+",
    "xlm_r_spaces": " {2,}",
    "punctuation": r"\p{P}",
    "ascii_digits": "[0-9]",
}

# Patterns that exercise one piece of syntax each (all valid Oniguruma).
SYNTAX_PATTERNS = [
    r"\x41|\x{1F600}|\u00e9|\t|\n|\r|\f|\v|\a|\e",
    r"[a-c]+|[^a-c\s]+",
    r"[a-z&&[^aeiou]]+",
    r"[\p{L}&&\p{Lu}]",
    r"[]a]+|[a-]|[-b]",
    r"\.\*\+\?\(\)\[\]\{\}\|\\\^\$\-\#\&\~\ \'",
    r"a{,2}|b{2}|s{1,3}|k{2,}",
    r"a{2|a{}|a{,}|{|}|]",
    r"a{2,3}?|b+?|s*?k|a??b",
    r"(?:ab|a)c|(a)(b)|(?<name>x)y",
    r"(?#a comment)a|b(?#another)",
    r".+|(?m:.)",
    r"(?m).",
    r"\Aa+|s\z|\A\z",
    r"\s+(?!\S)",
    r"\d+(?=[a-z])|\d+(?!\d)",
    r"a(?!b)(?!s)|b(?=s)(?!s)",
    r"(?:\s(?!\S))+",
    r"\s{2,4}(?!\S)|\s{1,3}?(?=\S)",
    r"[\s\d]+|[\S&&\D]+",
    r"\h+|\H+",
    r"\w+|\W+",
    r"\p{^L}+|\P{^L}+",
    r"[^\P{N}]+",
    r"a|",
    r"(|a)b",
    r"x*",
    r"(?:)",
    r"",
    r"(?:a|b|)s",
]

CASE_INSENSITIVE_PATTERNS = [
    r"(?i)s",
    r"(?i)k+",
    r"(?i)[a-z]+",
    r"(?i)[^a-z]",
    r"(?i)[\p{Nl}]",
    r"(?i)[^\p{Nl}\p{So}]",
    r"(?i)\p{Lu}",
    r"(?i)[\W]",
    r"(?i)\w",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)",
    r"(?i)ǅ|å|ω|σ|ϴ|ι",
    r"a(?i)b|c",
    r"(?i)a(?-i)b|(?i:c)d",
    r"(?i)[ſk]",
    r"(?i)\x{212A}",
]

# (pattern, a fragment of the error): Oniguruma accepts each, tfst refuses it.
REFUSED = [
    (r"(?<=a)b", "look-behind"),
    (r"(?<!a)b", "look-behind"),
    (r"(?!a)b", "look-ahead"),
    (r"a(?!bc)", "look-ahead"),
    (r"(?:a|b)(?!c)", "look-ahead"),
    (r"a*(?!b)", "look-ahead"),
    (r"(?>a+)", "group '(?>'"),
    (r"a++", "possessive"),
    (r"a?+", "possessive"),
    (r"(a)\1", "escape '\\1'"),
    (r"^a", "anchor"),
    (r"a$", "anchor"),
    (r"a\b", "escape '\\b'"),
    (r"a\Z", "escape '\\Z'"),
    (r"\Ga", "escape '\\G'"),
    (r"\R", "escape '\\R'"),
    (r"\X", "escape '\\X'"),
    (r"\K", "escape '\\K'"),
    (r"\pL", "braced property"),
    (r"\p{Han}", "property 'Han'"),
    (r"\p{Alpha}", "property 'Alpha'"),
    (r"[[:alpha:]]", "POSIX"),
    (r"(?x)a b", "option 'x'"),
    (r"(?W)\w", "option 'W'"),
    (r"(?:a?)*", "empty string"),
    (r"(?:a*)+", "empty string"),
    (r"(|a)*", "empty string"),
    (r"a**", "quantifier on a quantifier"),
    (r"a{2}{3}", "quantifier on a quantifier"),
    (r"a{2}?", "'{n}?'"),
    (r"a{1001}", "above 1000"),
    (r"(?i)ß", "multi-character case folding"),
    (r"(?i)ss", "multi-character case folding"),
    (r"(?i)(?:s)t", "multi-character case folding"),
    (r"(?i)s+", "multi-character case folding"),
    (r"(?i)[a-zß]", "multi-character case folding"),
    (r"(?i)[a[b]]", "nested or intersected"),
    (r"(?i)[\p{Lu}]", "multi-character case folding"),
    (r"[a-c-e]", "after a range"),
    (r"\0101", "escape '\\0'"),
    (r"\cA", "escape '\\c'"),
    (r"a(?!b)a(?!c)a(?!d)a(?!e)", "more than 3 different look-ahead classes"),
]


@functools.cache
def matcher(pattern: str) -> PatternMatcher:
    return PatternMatcher(translate_pattern(pattern, "test"), "test")


def assert_same_pieces(pattern: str, batch: list[str]) -> None:
    got = tfst_pieces(matcher(pattern), batch)
    for text, pieces in zip(batch, got, strict=True):
        assert pieces == reference_pieces(pattern, text), (pattern, text)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return hard_texts()


@pytest.mark.parametrize("name", sorted(REAL_WORLD_PATTERNS))
def test_real_world_pattern_matches_oniguruma_on_hard_texts(name, corpus):
    assert_same_pieces(REAL_WORLD_PATTERNS[name], corpus)


@pytest.mark.parametrize("name", sorted(REAL_WORLD_PATTERNS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(texts, min_size=1, max_size=16))
def test_real_world_pattern_matches_oniguruma_on_random_texts(name, batch):
    assert_same_pieces(REAL_WORLD_PATTERNS[name], batch)


@pytest.mark.parametrize("name", ["gpt2", "llama3", "gpt4o"])
def test_whitespace_lookahead_matches_oniguruma_on_every_short_text(name):
    """`\\s+(?!\\S)` emulation: every text of up to five characters over an alphabet of
    spaces, line breaks and the classes that follow them."""
    alphabet = [" ", "\t", "\n", "\u3000", "a", "1", "!"]
    batch = [
        "".join(chars) for size in range(1, 6) for chars in itertools.product(alphabet, repeat=size)
    ]
    assert_same_pieces(REAL_WORLD_PATTERNS[name], batch)


@pytest.mark.parametrize("pattern", SYNTAX_PATTERNS)
def test_syntax_matches_oniguruma(pattern, corpus):
    batch = corpus[::7] + [
        "aabbss kk abc aeiou xyz AB 12 34 ab{2 a{} a{,} {}] .*+?()[]{}|\\^$-#&~ '",
        "aaa abab abb ac bs bss k kk kkk sss a1 b2 zz",
        "a\u00e9\U0001f600\t\n\r\x0c\x0b\x07\x1b",
    ]
    assert_same_pieces(pattern, batch)


@pytest.mark.parametrize("pattern", CASE_INSENSITIVE_PATTERNS)
def test_case_insensitive_matches_oniguruma(pattern, corpus):
    tables = load_character_classes()
    folding = "".join(map(chr, tables["case_fold_code_points"].tolist()))
    batch = [folding[start : start + 64] for start in range(0, len(folding), 64)]
    batch += corpus[::5] + ["'s 'S 'ſ 'T 'RE 'rE 'Ve 'M 'LL 'lL 'D AbC abc ABC aB Ab cd Cd CD"]
    assert_same_pieces(pattern, batch)


def _property_spellings() -> list[str]:
    names = list(GENERAL_CATEGORIES) + ["L", "LC", "M", "N", "P", "S", "Z", "C"]
    names += list(CATEGORY_LONG_NAMES)
    names += ["letter", "UPPERCASE LETTER", "uppercase-letter", "Decimal_number", "lu", "p"]
    return names


def test_every_supported_property_name_is_probed():
    keys = {
        name.replace(" ", "").replace("_", "").replace("-", "").lower()
        for name in _property_spellings()
    }
    assert keys == set(PROPERTY_CATEGORIES)


@pytest.mark.parametrize("name", _property_spellings())
def test_property_matches_oniguruma(name):
    """\\p{name} and \\P{name} on a sample holding code points of every general category."""
    category = load_character_classes()["general_category"]
    rng = np.random.default_rng(0)
    sample = []
    for index, leaf in enumerate(GENERAL_CATEGORIES):
        if leaf == "Cs":
            continue
        members = np.flatnonzero(category == index)
        chosen = np.concatenate([members[:3], members[-3:], rng.choice(members, 12)])
        sample.extend(sorted(set(chosen.tolist())))
    text = "".join(map(chr, sample))
    batch = [text[start : start + 50] for start in range(0, len(text), 50)]
    assert_same_pieces(rf"\p{{{name}}}+", batch)
    assert_same_pieces(rf"\P{{{name}}}", batch)


@pytest.mark.parametrize(("pattern", "construct"), REFUSED)
def test_construct_refused_with_a_clear_error(pattern, construct):
    pre_tokenizers.Split(Regex(pattern), "isolated")  # valid Oniguruma
    with pytest.raises(TokenizerSpecError) as error:
        translate_pattern(pattern, "folder/tokenizer.json, pre_tokenizer")
    message = str(error.value)
    assert message.startswith("folder/tokenizer.json, pre_tokenizer: pattern ")
    assert repr(pattern) in message
    assert construct in message


def test_pattern_too_large_for_re2_refused():
    pattern = "(?:a{1000}){1000}"
    pre_tokenizers.Split(Regex(pattern), "isolated")  # valid Oniguruma
    expected = f"where: pattern {pattern!r} cannot be matched with RE2"
    with pytest.raises(TokenizerSpecError, match="^" + re.escape(expected)):
        pattern_from_json({"Regex": pattern}, "where")


@pytest.mark.parametrize(
    "spec",
    [{"Regex": 1}, {"Foo": "x"}, {"String": "a", "Regex": "b"}, "x", {}],
    ids=["not a string", "unknown kind", "two kinds", "not an object", "empty"],
)
def test_malformed_pattern_spec_refused(spec):
    with pytest.raises(TokenizerSpecError, match=r"^tokenizer.json, normalizer.pattern: "):
        pattern_from_json(spec, "tokenizer.json, normalizer.pattern")


def test_string_pattern_is_literal(corpus):
    for literal in ["a.b", "(?i)", "\\s", "[x]", " ", "▁", "", "中文", "a+"]:
        got = tfst_pieces(
            pattern_from_json({"String": literal}, "test"), corpus[:40] + [literal * 3]
        )
        for text, pieces in zip(corpus[:40] + [literal * 3], got, strict=True):
            assert pieces == reference_pieces(literal, text, literal=True), (literal, text)


def test_placeholders_are_never_matched():
    words = tf.ragged.constant([[ADDED_TOKEN_BASE], [ADDED_TOKEN_BASE + 5], [0x61]], tf.int32)
    for pattern in [".", r"\P{L}", "[^a]", r"(?m).+", "x*", r"\S+(?!\s)"]:
        for lengths in matcher(pattern).find_matches(words).to_list()[:2]:
            assert sum(lengths[0::2]) == 1 and sum(lengths[1::2]) == 0, (pattern, lengths)


def test_lookahead_emulation_is_in_the_symbols():
    """\\s+(?!\\S) is RE2 without look-around: a run, then one whitespace symbol whose next
    code point is not a non-space."""
    re2 = translate_pattern(r"\s+(?!\S)", "test").re2
    assert "(?!" not in re2 and "(?=" not in re2
    assert re2.startswith("(?:[") and re2.endswith("]")


# Pieces hypothesis builds patterns from. Single characters can carry a look-ahead.
SINGLE_CHARACTERS = [
    "a", "b", "s", "k", " ", "'", r"\n", r"\.", r"\s", r"\S", r"\w", r"\W", r"\d", r"\D",
    r"\p{L}", r"\p{Lu}", r"\P{L}", r"\p{N}", r"\p{P}", "[ab]", r"[^a\s]", "[a-k]",
    r"[\p{L}\d]", ".", r"\x{17F}", r"[\r\n]", "(?i:s)", "(?i:[a-c])",
]  # fmt: skip
QUANTIFIERS = ["?", "*", "+", "{2}", "{1,3}", "{2,}", "??", "*?", "+?", "{1,3}?"]


def _patterns():
    with_lookahead = st.tuples(
        st.sampled_from(SINGLE_CHARACTERS),
        st.sampled_from(["", "+", "{1,3}", "+?", "{2,}"]),
        st.sampled_from(["(?!", "(?="]),
        st.sampled_from(SINGLE_CHARACTERS),
    ).map(lambda parts: f"{parts[0]}{parts[1]}{parts[2]}{parts[3]})")
    leaves = st.sampled_from(SINGLE_CHARACTERS) | with_lookahead | st.sampled_from([r"\A", r"\z"])

    def extend(children):
        return st.one_of(
            st.tuples(children, children).map("".join),
            st.tuples(children, children).map(lambda pair: f"(?:{pair[0]}|{pair[1]})"),
            children.map(lambda child: f"({child})"),
            children.map(lambda child: f"(?i:{child})"),
            st.tuples(children, st.sampled_from(QUANTIFIERS)).map(
                lambda pair: f"(?:{pair[0]}){pair[1]}"
            ),
        )

    return st.recursive(leaves, extend, max_leaves=8)


FUZZ_TEXT = st.text(st.sampled_from("abAB sSſkKK\u212a\t\n\r'’1٣_.,中é\u3000ß"), max_size=14)


def _fuzz(pattern: str, batch: list[str], behavior: str, invert: bool) -> None:
    """The pieces, and the words of a Split with ``behavior`` (which empty matches and
    ``invert`` affect), for a pattern tokenizers loads and tfst accepts."""
    try:
        Regex(pattern)
    except Exception:  # tokenizers raises a bare Exception for what Oniguruma rejects
        return
    try:
        translated = translate_pattern(pattern, "test")
    except TokenizerSpecError:
        return  # refusing is always allowed; what is accepted must match
    matcher = PatternMatcher(translated, "test")
    for text, pieces in zip(batch, tfst_pieces(matcher, batch), strict=True):
        assert pieces == reference_pieces(pattern, text), (pattern, text)
    words = split_on_matches(
        texts_as_words(decode_utf8(tf.constant(batch))), matcher, behavior, invert
    ).to_list()
    splitter = pre_tokenizers.Split(Regex(pattern), _PYTHON_BEHAVIORS[behavior], invert=invert)
    for text, text_words in zip(batch, words, strict=True):
        expected = [word for word, _ in splitter.pre_tokenize_str(text)]
        assert ["".join(map(chr, word)) for word in text_words] == expected, (pattern, text)


_PYTHON_BEHAVIORS = {
    "Removed": "removed",
    "Isolated": "isolated",
    "MergedWithPrevious": "merged_with_previous",
    "MergedWithNext": "merged_with_next",
    "Contiguous": "contiguous",
}
_FUZZ_ARGUMENTS = {
    "pattern": _patterns(),
    "batch": st.lists(FUZZ_TEXT, min_size=1, max_size=12),
    "behavior": st.sampled_from(SPLIT_BEHAVIORS),
    "invert": st.booleans(),
}


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**_FUZZ_ARGUMENTS)
def test_random_patterns_match_oniguruma(pattern, batch, behavior, invert):
    _fuzz(pattern, batch, behavior, invert)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**_FUZZ_ARGUMENTS)
def test_random_patterns_match_oniguruma_long(pattern, batch, behavior, invert):
    _fuzz(pattern, batch, behavior, invert)


def test_character_classes_match_the_installed_tokenizers():
    """Drift check: the checked-in tables are what tests/generate_character_classes.py probes."""
    stored = load_character_classes()
    probed = build_tables()
    assert sorted(stored) == sorted(probed)
    for name in probed:
        np.testing.assert_array_equal(stored[name], probed[name], err_msg=name)
