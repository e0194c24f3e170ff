"""Added tokens, post-processors, truncation and padding of tfst.text.Tokenizer against the
`tokenizers` library running the same tokenizer.json (ids, type ids and masks exact)."""

from __future__ import annotations

import copy
import functools
import json

import numpy as np
import pytest
import tensorflow as tf
import tokenizers
from hard_strings import ALL_HARD_STRINGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_builders import MINILM_FOLDER

from tfst.text import Tokenizer
from tfst.text.code_points import ADDED_TOKEN_BASE

BASE = json.loads((MINILM_FOLDER / "tokenizer.json").read_text(encoding="utf-8"))
BASE["truncation"] = BASE["padding"] = None


def reference(pipeline, max_length, side="right", padding_side="right"):
    tokenizer = tokenizers.Tokenizer.from_str(json.dumps(pipeline))
    tokenizer.enable_truncation(max_length, strategy="longest_first", direction=side)
    tokenizer.enable_padding(pad_id=0, direction=padding_side)
    return tokenizer


def assert_same(
    pipeline, texts, pairs=None, max_length=512, side="right", padding_side="right", layer=None
):
    """tfst's ids, masks and token types equal `tokenizers`' on the same pipeline; ``layer``
    (built from ``pipeline``) is reused with its ``max_length`` set, saving a trace per call."""
    if layer is None:
        layer = Tokenizer(
            pipeline,
            pad_token_id=0,
            max_length=max_length,
            truncation_side=side,
            padding_side=padding_side,
        )
    layer.max_length = max_length
    hf = reference(pipeline, max_length, side, padding_side)
    inputs = texts if pairs is None else list(zip(texts, pairs, strict=True))
    encodings = hf.encode_batch(inputs)
    ours = layer(texts) if pairs is None else layer(texts, pairs)
    expected = {
        "input_ids": [e.ids for e in encodings],
        "attention_mask": [e.attention_mask for e in encodings],
        "token_type_ids": [e.type_ids for e in encodings],
    }
    for name, rows in expected.items():
        actual = ours[name].numpy().tolist()
        for row, (mine, theirs) in enumerate(zip(actual, rows, strict=True)):
            assert mine == theirs, f"{name} differ for {inputs[row]!r:.200}:\n{mine}\n{theirs}"


def with_added(*tokens, **changes):
    pipeline = copy.deepcopy(BASE)
    pipeline.update(changes)
    next_id = len(pipeline["model"]["vocab"])
    for content, flags in tokens:
        token_id = pipeline["model"]["vocab"].get(content)
        if token_id is None:
            token_id, next_id = next_id, next_id + 1
        pipeline["added_tokens"].append(
            {
                "id": token_id,
                "content": content,
                "single_word": flags.get("single_word", False),
                "lstrip": flags.get("lstrip", False),
                "rstrip": flags.get("rstrip", False),
                "normalized": flags.get("normalized", False),
                "special": flags.get("special", False),
            }
        )
    return pipeline


ADDED_TEXTS = [
    "token",
    " token ",
    "a token b",
    "atoken",
    "tokenb",
    "a  token  b",
    "token token",
    "tokentoken",
    "x\ttoken\u3000y",
    "TOKEN Token",
    "[MASK]token[MASK]",
    "ééétoken_",
    "_token",
    "token\u200d",
    "  token",
    "token  ",
    "then athens the then",
    "",
    "   ",
]


@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"single_word": True},
        {"lstrip": True},
        {"rstrip": True},
        {"lstrip": True, "rstrip": True},
        {"lstrip": True, "rstrip": True, "single_word": True},
        {"normalized": True},
        {"normalized": True, "single_word": True, "lstrip": True},
        {"special": True},
    ],
    ids=lambda flags: "-".join(sorted(flags)) or "plain",
)
def test_added_token_flags_match_tokenizers(flags):
    pipeline = with_added(("token", flags))
    assert_same(pipeline, ADDED_TEXTS + [text.upper() for text in ADDED_TEXTS])


def test_normalized_tokens_match_after_normalization_and_raw_ones_before():
    pipeline = with_added(("Straße", {"normalized": True}), ("<Raw>", {"normalized": False}))
    texts = ["STRASSE straße Straße", "<Raw> <raw> <RAW>", "a<Raw>b", "straßen"]
    assert_same(pipeline, texts)


def test_overlapping_tokens_match_leftmost_longest():
    pipeline = with_added(
        *[
            (word, {"normalized": normalized})
            for word in ("the", "then", "hen")
            for normalized in (False,)
        ]
    )
    assert_same(pipeline, ["then", "athens", "hthenhen", "thethen", "The THEN then.", "tthhen"])


def test_mixed_flags_on_hard_strings():
    pipeline = with_added(
        ("[X]", {"lstrip": True, "special": True}),
        ("中", {"single_word": True, "normalized": True}),
        ("é", {"rstrip": True, "normalized": False}),
        ("the", {"single_word": True, "normalized": True, "lstrip": True, "rstrip": True}),
    )
    assert_same(pipeline, ALL_HARD_STRINGS + ["a [X] b", "中文 中 文", "é é", "the the"])


_flag_sets = st.fixed_dictionaries(
    {key: st.booleans() for key in ("single_word", "lstrip", "rstrip", "normalized", "special")}
)
_pieces = st.sampled_from(["ab", "a", "b", " ", "  ", "\t", "\u00a0", "é", "x", "_", ".", "AB"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flags=st.lists(_flag_sets, min_size=1, max_size=3),
    texts=st.lists(st.lists(_pieces, max_size=10).map("".join), min_size=1, max_size=4),
)
def test_random_added_tokens_and_texts_match_tokenizers(flags, texts):
    contents = ["ab", "b", "x"][: len(flags)]
    pipeline = with_added(*zip(contents, flags, strict=True))
    assert_same(pipeline, texts)


# --- post-processors, pairs, truncation, padding ---------------------------------------------

PAIR_FIRST = ["what is the capital of france?", "a", "", "word " * 60, "short query"]
PAIR_SECOND = ["paris. " * 40, "", "b", "another " * 70, "tiny"]

POST_PROCESSORS = {
    "template": BASE["post_processor"],
    "bert": {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]},
    "roberta": {
        "type": "RobertaProcessing",
        "sep": ["[SEP]", 102],
        "cls": ["[CLS]", 101],
        "trim_offsets": True,
        "add_prefix_space": False,
    },
    "byte_level": {
        "type": "ByteLevel",
        "add_prefix_space": True,
        "trim_offsets": True,
        "use_regex": True,
    },
    "sequence": {
        "type": "Sequence",
        "processors": [
            {
                "type": "ByteLevel",
                "add_prefix_space": True,
                "trim_offsets": True,
                "use_regex": True,
            },
            {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]},
        ],
    },
    "multi_id_template": {
        "type": "TemplateProcessing",
        "single": [
            {"SpecialToken": {"id": "<two>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
        ],
        "pair": [
            {"Sequence": {"id": "A", "type_id": 2}},
            {"SpecialToken": {"id": "<two>", "type_id": 1}},
            {"Sequence": {"id": "B", "type_id": 3}},
        ],
        "special_tokens": {
            "<two>": {"id": "<two>", "ids": [101, 102], "tokens": ["[CLS]", "[SEP]"]}
        },
    },
    "none": None,
}


@pytest.mark.parametrize("name", sorted(POST_PROCESSORS))
@pytest.mark.parametrize("max_length", [7, 12, 64, 512])
def test_pairs_and_single_texts_through_each_post_processor(name, max_length):
    pipeline = {**BASE, "post_processor": POST_PROCESSORS[name]}
    assert_same(pipeline, PAIR_FIRST, PAIR_SECOND, max_length=max_length)
    assert_same(pipeline, PAIR_FIRST + PAIR_SECOND, max_length=max_length)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_truncation_and_padding_sides(side, padding_side):
    assert_same(BASE, PAIR_FIRST, PAIR_SECOND, max_length=20, side=side, padding_side=padding_side)
    assert_same(BASE, ALL_HARD_STRINGS, max_length=9, side=side, padding_side=padding_side)


@functools.cache
def base_layer() -> Tokenizer:
    """One layer on BASE for the many examples below (each layer costs a trace)."""
    return Tokenizer(BASE, pad_token_id=0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lengths=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=4),
    max_length=st.integers(3, 50),
)
def test_longest_first_truncation_of_random_pair_lengths(lengths, max_length):
    first = [" ".join(["alpha"] * a) for a, _ in lengths]
    second = [" ".join(["beta"] * b) for _, b in lengths]
    assert_same(BASE, first, second, max_length=max_length, layer=base_layer())


def test_pairs_must_have_as_many_texts_as_first_texts():
    layer = Tokenizer(BASE, pad_token_id=0)
    with pytest.raises(Exception, match="differ in number"):
        layer(["a", "b"], ["c"])


def test_empty_batch_of_pairs_gives_zero_by_zero():
    layer = Tokenizer(BASE, pad_token_id=0)
    outputs = layer(np.array([], dtype=object).astype(str).tolist(), [])
    assert outputs["input_ids"].shape == (0, 0)


def test_a_text_past_the_length_limit_is_refused_and_one_at_it_is_tokenized():
    """8 MiB of text per call at most: beyond, a clear error instead of memory running out."""
    import tensorflow as tf

    from tfst.text.tokenizer import MAX_TEXT_BYTES

    layer = base_layer()
    layer.max_length = 16
    at_limit = "alpha " * (MAX_TEXT_BYTES // 6) + "b" * (MAX_TEXT_BYTES % 6)
    assert len(at_limit.encode()) == MAX_TEXT_BYTES
    assert layer([at_limit])["input_ids"].shape == (1, 16)
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than 8388608 UTF-8 bytes"):
        layer(["short", at_limit + "é"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than 8388608 UTF-8 bytes"):
        layer(["short"], [at_limit + "!"])


def test_words_are_the_pre_tokenized_normalized_text_tokenizers_gives_the_model():
    """`Tokenizer.words` (what the model stage receives) equals `tokenizers`' normalizer then
    pre-tokenizer, word by word, on the hard strings; an added token is one placeholder word."""
    hf = tokenizers.Tokenizer.from_str(json.dumps(BASE))
    layer = Tokenizer(BASE, pad_token_id=0)
    texts = [text for text in ALL_HARD_STRINGS if "[" not in text][:150]
    words = layer.words(tf.constant(texts)).to_list()
    for text, ours in zip(texts, words, strict=True):
        normalized = hf.normalizer.normalize_str(text)
        theirs = [word for word, _ in hf.pre_tokenizer.pre_tokenize_str(normalized)]
        assert ["".join(map(chr, word)) for word in ours] == theirs, repr(text)
    (marked,) = layer.words(tf.constant(["a [SEP] b"])).to_list()
    assert marked[0] == [ord("a")] and marked[2] == [ord("b")]
    sep = [token.content for token in layer.added_tokens].index("[SEP]")
    assert len(marked) == 3 and marked[1] == [ADDED_TOKEN_BASE + sep]
