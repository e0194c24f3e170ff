"""Unigram model (and the whole SentencePiece pipeline) vs `tokenizers` on the same tokenizer.json."""

from __future__ import annotations

import functools
import json
import random
import time
from fractions import Fraction

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from sentencepiece_models import (
    ADDED_TOKENS,
    TRAINING_TEXT,
    Pipeline,
    hard_multilingual_strings,
    ragged_code_points,
    read_spec,
    tokenizer_json,
    train_model,
)
from tokenizers import Tokenizer

from tfst.text.code_points import decode_utf8, texts_as_words
from tfst.text.models import model_from_json
from tfst.text.models.unigram import Unigram
from tfst.text.spec import TokenizerSpecError, serde_json_float

# (normalization rule, vocabulary size, byte fallback, XLM-R id layout)
MODELS = [
    ("nmt_nfkc", 600, False, True),
    ("nfkc_cf", 1000, True, False),
    ("nmt_nfkc", 8000, True, True),
    ("nfkc_cf", 8000, False, False),
]


def _model_name(model: tuple) -> str:
    rule, size, byte_fallback, xlmr = model
    return f"{rule}-{size}{'-bytes' if byte_fallback else ''}{'-xlmr' if xlmr else ''}"


@functools.cache
def pipeline(model: tuple) -> Pipeline:
    rule, size, byte_fallback, xlmr = model
    return Pipeline(tokenizer_json(train_model(rule, size, byte_fallback), xlmr_layout=xlmr))


@pytest.mark.parametrize("model", MODELS, ids=_model_name)
def test_pipeline_matches_tokenizers_on_hard_strings(model):
    """~950 strings in every script, NFD, fullwidth, controls, added tokens, a 10,000-character
    CJK paragraph: ids equal to ``Tokenizer.encode(text, add_special_tokens=False).ids``."""
    texts = hard_multilingual_strings()
    assert len(texts) >= 500
    ours = pipeline(model).encode(texts)
    theirs = pipeline(model).reference_encode(texts)
    wrong = [
        text[:60]
        for text, mine, reference in zip(texts, ours, theirs, strict=True)
        if mine != reference
    ]
    assert not wrong, f"{len(wrong)} texts differ: {wrong[:5]}"


TEXT_ALPHABET = "".join(sorted(set(TRAINING_TEXT))) + "\u0301\u200b\u200d\x01\x00\t\u3000▁<>"
# Text from the training alphabet, with added tokens here and there.
MULTILINGUAL_TEXT = st.lists(
    st.one_of(st.text(alphabet=TEXT_ALPHABET, max_size=12), st.sampled_from(ADDED_TOKENS)),
    max_size=5,
).map("".join)


@pytest.mark.parametrize("model", MODELS, ids=_model_name)
@settings(max_examples=50, deadline=None)
@given(texts=st.lists(MULTILINGUAL_TEXT, min_size=1, max_size=16))
def test_pipeline_matches_tokenizers_on_generated_text(model, texts):
    assert pipeline(model).encode(texts) == pipeline(model).reference_encode(texts)


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=20), min_size=1, max_size=16))
def test_pipeline_matches_tokenizers_on_any_unicode(texts):
    texts = [text.encode("utf-8", "replace").decode() for text in texts]
    model = pipeline(MODELS[1])
    assert model.encode(texts) == model.reference_encode(texts)


def _model_only_json(vocab: list, unk_id: int = 0, byte_fallback: bool = False) -> str:
    """A tokenizer.json whose whole text is one word for the model."""
    return json.dumps(
        {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [],
            "normalizer": None,
            "pre_tokenizer": None,
            "post_processor": None,
            "decoder": None,
            "model": {
                "type": "Unigram",
                "unk_id": unk_id,
                "vocab": vocab,
                "byte_fallback": byte_fallback,
            },
        }
    )


class ModelOnly:
    """The Unigram model alone, in a tf.function, beside `tokenizers` on the same JSON."""

    def __init__(self, vocab: list, unk_id: int = 0, byte_fallback: bool = False):
        text = _model_only_json(vocab, unk_id, byte_fallback)
        self.reference = Tokenizer.from_str(text)
        self.model = model_from_json(read_spec(text)["model"], "model")
        self._tokenize = tf.function(
            self.model.tokenize,
            input_signature=[
                tf.RaggedTensorSpec([None, None], tf.int32, row_splits_dtype=tf.int64)
            ],
        )

    def ours(self, words: list[str]) -> list[list[int]]:
        return self._tokenize(
            ragged_code_points([list(map(ord, word)) for word in words])
        ).to_list()

    def theirs(self, words: list[str]) -> list[list[int]]:
        return [self.reference.encode(word, add_special_tokens=False).ids for word in words]


# Scores whose float64 sums round differently depending on the order they are added in.
TIE_SCORES = [-0.1, -0.2, -0.3, -0.7, -1.0, -1.1, -2.0, -2.2, -3.3]
AB_PIECES = [
    "aa",
    "ab",
    "ba",
    "bb",
    "aab",
    "aba",
    "abb",
    "baa",
    "bab",
    "bba",
    "aaaa",
    "abab",
    "baba",
]


@functools.cache
def tie_model(seed: int) -> ModelOnly:
    """A vocabulary over "a" and "b" with few distinct scores, so that many segmentations tie
    exactly or up to rounding."""
    generator = random.Random(seed)
    pieces = ["a", "b"] + [piece for piece in AB_PIECES if generator.random() < 0.6]
    return ModelOnly([["<unk>", 0.0]] + [[piece, generator.choice(TIE_SCORES)] for piece in pieces])


@pytest.mark.parametrize("seed", range(6))
@settings(max_examples=40, deadline=None)
@given(words=st.lists(st.text(alphabet="ab", min_size=1, max_size=60), min_size=1, max_size=16))
def test_ties_break_as_rust_breaks_them(seed, words):
    """The winner of tied segmentations is the one `tokenizers` picks with its left-to-right
    float64 sums (the first, i.e. longest, piece among equal best candidates)."""
    model = tie_model(seed)
    assert model.ours(words) == model.theirs(words)


@pytest.mark.parametrize("seed", range(6))
def test_pieces_as_words_give_rusts_ids_whether_or_not_they_are_their_own_best_path(seed):
    """Each piece as a word. A piece that is its own best path is found whole, in a table the
    model builds with a Python copy of Rust's dynamic program; the others go through the graph.
    With few distinct scores both kinds occur, and many pieces tie with their parts."""
    generator = random.Random(seed)
    vocab = [["<unk>", 0.0], ["a", -1.0], ["b", -1.0], ["xa", -3.0]]
    vocab += [[piece, generator.choice(TIE_SCORES)] for piece in AB_PIECES]
    model = ModelOnly(vocab)
    words = [piece for piece, _ in vocab]
    theirs = model.theirs(words)
    assert model.ours(words) == theirs
    own = [ids == [index] for index, ids in enumerate(theirs)]
    assert any(own) and not all(own)
    # The model found exactly those pieces whole; a batch of them (and an empty word) skips
    # the dynamic program altogether.
    whole = [word for word, is_own in zip(words, own, strict=True) if is_own]
    assert model.model.whole_words() == {word: words.index(word) for word in whole}
    assert model.ours([*whole, ""]) == model.theirs([*whole, ""])


def test_trained_pieces_as_words_give_rusts_ids():
    """Every piece of a trained 8,000-piece vocabulary, as a word."""
    rule, size, byte_fallback, xlmr = MODELS[2]
    spec = read_spec(tokenizer_json(train_model(rule, size, byte_fallback), xlmr_layout=xlmr))
    model = ModelOnly(spec["model"]["vocab"], spec["model"]["unk_id"], byte_fallback=True)
    words = [piece for piece, _ in spec["model"]["vocab"] if piece]
    assert model.ours(words) == model.theirs(words)


def _exact_arithmetic_ids(word: str, vocab: list) -> list[int]:
    """The best segmentation with exact sums (and Rust's tie rule): what a reassociating
    scan would find if it rounded nothing."""
    ids = {piece: index for index, (piece, _) in enumerate(vocab)}
    best: list = [Fraction(0)] + [None] * len(word)
    previous: list = [None] * (len(word) + 1)
    for end in range(1, len(word) + 1):
        for start in range(end):
            piece = word[start:end]
            if piece in ids and best[start] is not None:
                total = best[start] + Fraction(vocab[ids[piece]][1])
                if best[end] is None or total > best[end]:
                    best[end], previous[end] = total, (start, ids[piece])
    output, end = [], len(word)
    while end:
        end, piece_id = previous[end]
        output.append(piece_id)
    return output[::-1]


def test_ties_made_by_rounding_go_the_rust_way():
    """With pieces a, aa, aaa scored -1.1, -2.2, -3.3 every segmentation of "a" * n sums to the
    same exact score; Rust's left-to-right rounded sums decide, so a reassociating scan (even an
    exact one) would not reproduce it."""
    vocab = [["<unk>", 0.0], ["a", -1.1], ["aa", -2.2], ["aaa", -3.3]]
    model = ModelOnly(vocab)
    words = ["a" * length for length in range(1, 60)]
    theirs = model.theirs(words)
    assert model.ours(words) == theirs
    assert any(
        _exact_arithmetic_ids(word, vocab) != ids for word, ids in zip(words, theirs, strict=True)
    )


def test_unknown_characters_are_fused_and_scored_below_every_piece():
    vocab = [["<unk>", 0.0], ["a", -1.0], ["b", -2.0], ["ab", -5.0], ["x☃", -50.0]]
    model = ModelOnly(vocab)
    words = ["a☃☃b", "☃", "x☃", "xy", "<unk>", "☃<unk>a", "ab☃ab"]
    assert model.ours(words) == model.theirs(words)


def test_literal_control_pieces_match_like_any_piece():
    """`tokenizers` matches every piece, <s> and <unk> included, and fuses a literal <unk> with
    the unknown characters around it."""
    vocab = [["<s>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["<", -3.0], ["s", -3.0], [">", -3.0]]
    model = ModelOnly(vocab, unk_id=2)
    words = ["<s>", "<s></s>", "<unk>", "☃<unk>☃", "<unk><s>", "<<s>>"]
    assert model.ours(words) == model.theirs(words)


def _byte_pieces(missing: set[int] = frozenset()) -> list:
    return [[f"<0x{byte:02X}>", 0.0] for byte in range(256) if byte not in missing]


@pytest.mark.parametrize("missing", [set(), {0xE2, 0x98}], ids=["all-bytes", "missing-bytes"])
def test_byte_fallback_spells_unknown_text_in_byte_pieces(missing):
    """Each fused unknown run becomes its UTF-8 byte pieces, unless one of them is missing."""
    vocab = [["<unk>", 0.0], ["a", -1.0], ["é", -2.0], ["☃x", -3.0]] + _byte_pieces(missing)
    model = ModelOnly(vocab, byte_fallback=True)
    words = ["a☃b", "☃☃", "éá𝄞", "☃x", "<0x41>", "<unk>☃", "\x00"]
    assert model.ours(words) == model.theirs(words)


def test_repeated_and_empty_pieces():
    """A repeated piece means its last id and score; the empty piece never matches (but counts
    for the lowest score, hence the unknown score)."""
    vocab = [["a", -1.0], ["<unk>", 0.0], ["ab", -1.5], ["a", -0.5], ["", -40.0], ["b", -1.0]]
    model = ModelOnly(vocab, unk_id=1)
    words = ["ab", "aab", "ba", "c", "acb"]
    assert model.ours(words) == model.theirs(words)


def test_trie_walks_end_at_word_ends_and_follow_long_pieces():
    """Words lie end to end in one tensor: a walk must not read on into the next word ("ab" then
    "c" is no "abc"), at the end of the batch too; and pieces far longer than usual (a 40- and a
    70-character piece) are still found, whole and inside longer words."""
    long_piece = "ab" * 20
    vocab = [["<unk>", 0.0], ["a", -2.0], ["b", -2.5], ["c", -2.0], ["ab", -1.0], ["abc", -0.5]]
    vocab += [["ca", -0.7], [long_piece, -3.0], ["c" * 70, -4.0], ["bc", -9.0]]
    model = ModelOnly(vocab)
    words = ["ab", "c", "a", "bc", "abc", long_piece, "a" + long_piece + "b", "c" * 71, "ab"]
    assert model.ours(words) == model.theirs(words)
    assert model.ours(["ab", "c"]) == [[4], [3]]
    # Pieces of one character: no walk takes a second step.
    single = ModelOnly([["a", -1.0], ["b", -2.0], ["<unk>", 0.0]], unk_id=2)
    assert single.ours(words) == single.theirs(words)


@functools.cache
def _large_vocab() -> list:
    """250,000 random pieces of 1 to 8 characters from a mixed alphabet, f32-style scores."""
    generator = random.Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyz▁éüßжщλπ" + "".join(chr(0x4E00 + i) for i in range(400))
    pieces = {"<unk>"} | set(alphabet)
    while len(pieces) < 250_000:
        pieces.add("".join(generator.choices(alphabet, k=generator.randint(2, 8))))
    return [[piece, float(np.float32(-generator.uniform(2, 20)))] for piece in sorted(pieces)]


def test_a_250k_piece_vocabulary_builds_in_seconds_and_matches():
    vocab = _large_vocab()
    vocab.sort(key=lambda entry: entry[0] != "<unk>")
    start = time.perf_counter()
    model = ModelOnly(vocab)
    assert time.perf_counter() - start < 60
    generator = random.Random(6)
    alphabet = "abcdefghijklmnopqrstuvwxyz▁éüßжщλπ" + "".join(chr(0x4E00 + i) for i in range(400))
    words = ["".join(generator.choices(alphabet, k=generator.randint(1, 30))) for _ in range(300)]
    words.append("".join(generator.choices(alphabet[-400:], k=10_000)))
    assert model.ours(words) == model.theirs(words)


def test_saved_model_tokenizes_raw_strings_like_tokenizers(tmp_path):
    """The whole Precompiled → Metaspace → Unigram chain in a SavedModel over raw strings."""
    chain = pipeline(MODELS[2])
    module = tf.Module()
    module.normalizer, module.pre_tokenizer, module.model = (
        chain.normalizer,
        chain.pre_tokenizer,
        chain.model,
    )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def ids(strings):
        words = module.pre_tokenizer.pre_tokenize(
            texts_as_words(module.normalizer.normalize(decode_utf8(strings)))
        )
        return words.with_values(module.model.tokenize(words.values)).merge_dims(1, 2)

    module.ids = ids
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    texts = ["Hello wörld ﬁ ｶﾞ 😀", "", "  你好，世界。  ", "☃☃ x"]
    assert loaded.ids(tf.constant(texts)).to_list() == chain.reference_encode(texts)


@pytest.mark.parametrize(
    "model, message",
    [
        ({}, "missing 'vocab'"),
        ({"vocab": {"a": 1}, "unk_id": 0}, "vocab must be a list"),
        ({"vocab": [["a", -1.0, 3]], "unk_id": 0}, r"vocab\[0\] must be \[piece, score\]"),
        ({"vocab": [["a", True]], "unk_id": 0}, r"vocab\[0\] must be \[piece, score\]"),
        ({"vocab": [[1, -1.0]], "unk_id": 0}, r"vocab\[0\] must be \[piece, score\]"),
        ({"vocab": [["a", -1.0]], "unk_id": None}, "unk_id is null"),
        ({"vocab": [["a", -1.0]]}, "unk_id is null"),
        ({"vocab": [["a", -1.0]], "unk_id": 1}, "unk_id 1 is not an id"),
        ({"vocab": [["a", -1.0]], "unk_id": -1}, "unk_id -1 is not an id"),
        ({"vocab": [["a", -1.0]], "unk_id": True}, "unk_id must be an integer"),
        ({"vocab": [], "unk_id": 0}, "vocab is empty"),
        ({"vocab": [["a", float("nan")]], "unk_id": 0}, "finite"),
        ({"vocab": [["a", 1e-300]], "unk_id": 0}, "too close to 0"),
        # Sums near the lowest float64 would tie with the cells of no candidate.
        ({"vocab": [["<unk>", -1.7976931348623157e308], ["a", -1.0]], "unk_id": 0}, "too large"),
        ({"vocab": [["a", -1.0]], "unk_id": 0, "byte_fallback": None}, "byte_fallback must be"),
    ],
)
def test_bad_options_are_refused(model, message):
    with pytest.raises(TokenizerSpecError, match=message) as error:
        model_from_json({"type": "Unigram", **model}, "tokenizer.json, model")
    assert str(error.value).startswith("tokenizer.json, model")


def test_vocabulary_lists_pieces_by_id():
    vocab = [["<unk>", 0.0], ["a", -1.0], ["a", -2.0]]
    assert Unigram(vocab, 0).vocabulary() == ["<unk>", "a", "a"]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(min_value=-1000, max_value=1000, width=32),
            st.floats(min_value=-1000, max_value=1000),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_serde_json_float_reads_scores_as_tokenizers_does(values):
    """Scores parsed back from `tokenizers`' own vocab (written shortest-exact by Rust) equal
    serde_json_float's reading of the same JSON text."""
    text = _model_only_json([["<unk>", 0.0]] + [[f"p{i}", value] for i, value in enumerate(values)])
    rust = json.loads(Tokenizer.from_str(text).to_str())["model"]["vocab"][1:]
    ours = read_spec(text)["model"]["vocab"][1:]
    assert [score for _, score in ours] == [score for _, score in rust]


def test_serde_json_float_differs_from_python_where_serde_rounds_twice():
    """The reason it exists: 17-digit scores that Python and serde_json read differently."""
    assert serde_json_float("-15.159088134765625") != float("-15.159088134765625")
    assert serde_json_float("-10.84492015838623") == float("-10.84492015838623")
