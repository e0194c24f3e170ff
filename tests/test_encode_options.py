"""Every ``encode`` option and ``similarity`` against sentence-transformers on the same model and texts.

Floats must agree to 1e-5; quantized outputs must be identical.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import tensorflow as tf
from model_builders import _write_json, build_sentence_folder
from sentences import parity_corpus

import tfst
from tfst.modules import Pooling
from tfst.quantization import quantize_embeddings

CORPUS = parity_corpus()
TEXTS = CORPUS[:24]
# Enough sentences to calibrate int8 without a warning, none of them long (to keep tests quick).
CALIBRATION_TEXTS = CORPUS[:-3]
PROMPTS = {"query": "query: ", "passage": "passage: ", "instruction": "Represent the title: "}
POOLING_MODES = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]
QUANTIZED = ["int8", "uint8", "binary", "ubinary"]
SIMILARITIES = ["cosine", "dot", "euclidean", "manhattan"]


def _reference(folder, **kwargs):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu", **kwargs)


def _max_diff(actual, expected) -> float:
    return float(np.abs(np.asarray(actual) - np.asarray(expected)).max())


def _assert_same_buckets_off_edges(actual, expected, reference_floats, ranges):
    """int8/uint8 buckets equal, except where the reference float sits on a bucket edge.

    Calibration puts each dimension's maximum exactly on the top edge, and floats that agree
    to ~1e-7 can round either way there (or at any edge they straddle): those may be one apart.
    """
    steps = (ranges[1] - ranges[0]) / 255
    position = (np.asarray(reference_floats) - ranges[0]) / steps
    on_edge = np.abs(position - np.round(position)) < 1e-2
    difference = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert difference.max() <= 1
    assert not (difference.astype(bool) & ~on_edge).any()


@pytest.fixture(scope="session")
def prompted_folder(tmp_path_factory):
    """A tiny random BERT whose config_sentence_transformers.json has prompts and a default."""
    folder = build_sentence_folder(tmp_path_factory.mktemp("prompted"))
    _write_json(
        folder / "config_sentence_transformers.json",
        {"prompts": PROMPTS, "default_prompt_name": "query", "similarity_fn_name": "dot"},
    )
    return folder


@pytest.fixture(scope="session")
def prompted_model(prompted_folder):
    return tfst.load(prompted_folder)


@pytest.fixture(scope="session")
def prompted_reference(prompted_folder):
    return _reference(prompted_folder)


@pytest.fixture(scope="session")
def calibration_floats(minilm_reference):
    return minilm_reference.encode(CALIBRATION_TEXTS)


@pytest.fixture(scope="session")
def prompt_excluding_folder(tmp_path_factory):
    """A tiny random BERT whose pooling leaves prompts out (include_prompt=False)."""
    folder = build_sentence_folder(
        tmp_path_factory.mktemp("exclude_prompt"), pooling_modes=("mean", "cls", "weightedmean")
    )
    config_path = folder / "1_Pooling" / "config.json"
    config = json.loads(config_path.read_text())
    _write_json(config_path, {**config, "include_prompt": False})
    return folder


# --- prompts ----------------------------------------------------------------------------------


def test_prompt_is_prepended_like_sentence_transformers(minilm, minilm_reference):
    expected = minilm_reference.encode(TEXTS, prompt="query: ")
    assert _max_diff(minilm.encode(TEXTS, prompt="query: "), expected) <= 1e-5
    assert _max_diff(minilm.encode(TEXTS), expected) > 1e-3


def test_config_prompts_and_default_prompt_name_are_read(prompted_model, prompted_reference):
    assert prompted_model.prompts == prompted_reference.prompts
    assert prompted_model.default_prompt_name == "query"


def test_default_prompt_applies_when_no_prompt_is_given(prompted_model, prompted_reference):
    expected = prompted_reference.encode(TEXTS)
    assert _max_diff(prompted_model.encode(TEXTS), expected) <= 1e-5
    assert _max_diff(prompted_model.encode(TEXTS, prompt=""), expected) > 1e-3


@pytest.mark.parametrize("prompt_name", ["passage", "instruction"])
def test_prompt_name_selects_a_configured_prompt(prompted_model, prompted_reference, prompt_name):
    expected = prompted_reference.encode(TEXTS, prompt_name=prompt_name)
    assert _max_diff(prompted_model.encode(TEXTS, prompt_name=prompt_name), expected) <= 1e-5


def test_explicit_prompt_wins_over_prompt_name(prompted_model, prompted_reference):
    expected = prompted_reference.encode(TEXTS, prompt="title: ")
    actual = prompted_model.encode(TEXTS, prompt="title: ", prompt_name="passage")
    assert _max_diff(actual, expected) <= 1e-5


def test_encode_query_and_encode_document_use_their_prompts(prompted_model, prompted_reference):
    for method in ("encode_query", "encode_document"):
        expected = getattr(prompted_reference, method)(TEXTS)
        assert _max_diff(getattr(prompted_model, method)(TEXTS), expected) <= 1e-5


def test_unknown_prompt_name_is_refused(prompted_model):
    with pytest.raises(ValueError, match=r"prompt_name 'answer' is not one of the prompts"):
        prompted_model.encode(TEXTS, prompt_name="answer")


@pytest.mark.parametrize(
    ("prompt", "error", "message"),
    [
        (123, TypeError, r"prompt must be a str, got int: 123"),
        (b"query: ", TypeError, r"prompt must be a str, got bytes"),
        (
            "query\ud800: ",
            ValueError,
            r"prompt has no UTF-8 form: it holds a lone surrogate U\+D800",
        ),
    ],
    ids=["number", "bytes", "lone_surrogate"],
)
def test_a_prompt_that_is_not_text_is_refused_naming_it(prompted_model, prompt, error, message):
    with pytest.raises(error, match=message):
        prompted_model.encode(TEXTS, prompt=prompt)


@pytest.mark.parametrize(
    ("prompts", "error", "message"),
    [
        ({"query": 5}, TypeError, r"prompt 'query' must be a str, got int"),
        ({"query": "\udfff"}, ValueError, r"prompt 'query' has no UTF-8 form"),
    ],
    ids=["number", "lone_surrogate"],
)
def test_load_refuses_prompts_that_are_not_text(prompted_folder, prompts, error, message):
    with pytest.raises(error, match=message):
        tfst.load(prompted_folder, prompts=prompts)


def test_load_arguments_override_saved_prompts(prompted_folder):
    arguments = dict(prompts={"query": "search: "}, default_prompt_name="passage")
    model = tfst.load(prompted_folder, **arguments)
    reference = _reference(prompted_folder, **arguments)
    assert model.prompts == reference.prompts
    assert _max_diff(model.encode(TEXTS), reference.encode(TEXTS)) <= 1e-5


@pytest.mark.parametrize(
    "prompt", ["", " ", "query: ", "Represent this sentence for retrieval: ", "long " * 300]
)
def test_prompt_length_is_measured_like_sentence_transformers(minilm, minilm_reference, prompt):
    expected = minilm_reference[0]._get_prompt_length(prompt) if prompt else 0
    assert int(minilm.prompt_length(prompt)) == expected


def test_prompt_length_is_measured_once_per_prompt_and_max_seq_length(prompted_folder, monkeypatch):
    model = tfst.load(prompted_folder)
    transformer = model.pipeline_modules[0]
    prompts = []
    tokenize = transformer.tokenize

    def counting(strings, *rest):
        if strings.shape == (1,):
            prompts.append(strings.numpy()[0].decode())
        return tokenize(strings, *rest)

    monkeypatch.setattr(transformer, "tokenize", counting)
    for _ in range(3):
        model.prompt_length("cached prompt: ")
    assert prompts == ["cached prompt: "]
    model.max_seq_length = 3
    assert model.prompt_length("cached prompt: ") == 2  # truncated: a new length
    assert prompts == ["cached prompt: "] * 2


@pytest.mark.parametrize("left_padding", [False, True], ids=["right_padded", "left_padded"])
@pytest.mark.parametrize("mode", POOLING_MODES)
def test_pooling_without_prompt_matches_sentence_transformers(mode, left_padding):
    import torch
    from sentence_transformers.sentence_transformer.modules import Pooling as ReferencePooling

    rng = np.random.default_rng(3)
    token_embeddings = rng.normal(size=(4, 9, 6)).astype(np.float32)
    mask = np.zeros((4, 9), dtype=np.int64)
    for row, length in enumerate([9, 5, 3, 2]):  # the last two are all prompt
        if left_padding:
            mask[row, 9 - length :] = 1
        else:
            mask[row, :length] = 1
    reference = ReferencePooling(6, pooling_mode=mode, include_prompt=False)
    expected = reference(
        {
            "token_embeddings": torch.tensor(token_embeddings),
            "attention_mask": torch.tensor(mask),
            "prompt_length": 3,
        }
    )["sentence_embedding"].numpy()
    pooling = Pooling(6, [mode], include_prompt=False)
    actual = pooling.pool(
        tf.constant(token_embeddings), tf.constant(mask, tf.int32), prompt_length=3
    )
    np.testing.assert_allclose(actual.numpy(), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("prompt", ["query: ", "a prompt that is longer than most texts here: "])
def test_include_prompt_false_leaves_prompt_tokens_out(prompt_excluding_folder, prompt):
    model = tfst.load(prompt_excluding_folder)
    expected = _reference(prompt_excluding_folder).encode(TEXTS, prompt=prompt)
    assert not model.pipeline_modules[1].include_prompt
    assert _max_diff(model.encode(TEXTS, prompt=prompt), expected) <= 1e-5


def test_set_pooling_include_prompt_takes_effect_on_the_next_encode(prompt_excluding_folder):
    model = tfst.load(prompt_excluding_folder)
    reference = _reference(prompt_excluding_folder)
    model.encode(TEXTS, prompt="query: ")
    model.set_pooling_include_prompt(True)
    reference.set_pooling_include_prompt(True)
    expected = reference.encode(TEXTS, prompt="query: ")
    assert _max_diff(model.encode(TEXTS, prompt="query: "), expected) <= 1e-5


# --- truncate_dim and normalize_embeddings ------------------------------------------------------


@pytest.mark.parametrize("normalize_embeddings", [False, True])
def test_truncate_dim_per_call_cuts_before_normalizing(
    minilm, minilm_reference, normalize_embeddings
):
    options = dict(truncate_dim=100, normalize_embeddings=normalize_embeddings)
    expected = minilm_reference.encode(TEXTS, **options)
    actual = minilm.encode(TEXTS, **options)
    assert actual.shape == (len(TEXTS), 100)
    assert _max_diff(actual, expected) <= 1e-5


def test_truncate_dim_at_load_time(prompted_folder):
    model = tfst.load(prompted_folder, truncate_dim=8)
    reference = _reference(prompted_folder, truncate_dim=8)
    assert model.get_embedding_dimension() == reference.get_embedding_dimension() == 8
    assert _max_diff(model.encode(TEXTS), reference.encode(TEXTS)) <= 1e-5


def test_truncate_dim_is_read_from_the_model_config(tmp_path):
    folder = build_sentence_folder(tmp_path / "model")
    _write_json(folder / "config_sentence_transformers.json", {"truncate_dim": 8})
    model, reference = tfst.load(folder), _reference(folder)
    assert model.truncate_dim == reference.truncate_dim == 8
    assert _max_diff(model.encode(TEXTS), reference.encode(TEXTS)) <= 1e-5


def test_truncate_embeddings_context_restores_the_dimension(minilm):
    with minilm.truncate_embeddings(32):
        assert minilm.encode(TEXTS[:2]).shape == (2, 32)
    assert minilm.encode(TEXTS[:2]).shape == (2, 384)


# --- precision ----------------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["binary", "ubinary"])
def test_binary_embeddings_are_identical(minilm, minilm_reference, precision):
    expected = minilm_reference.encode(TEXTS, precision=precision)
    actual = minilm.encode(TEXTS, precision=precision)
    assert actual.dtype == expected.dtype and actual.shape == (len(TEXTS), 48)
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("precision", ["int8", "uint8"])
def test_scalar_quantized_embeddings_are_identical_off_bucket_edges(
    minilm, minilm_reference, calibration_floats, precision
):
    floats = calibration_floats
    expected = minilm_reference.encode(CALIBRATION_TEXTS, precision=precision)
    actual = minilm.encode(CALIBRATION_TEXTS, precision=precision)
    assert actual.dtype == expected.dtype
    ranges = np.stack([floats.min(axis=0), floats.max(axis=0)])
    _assert_same_buckets_off_edges(actual, expected, floats, ranges)


@pytest.mark.parametrize("precision", QUANTIZED)
def test_quantize_embeddings_matches_sentence_transformers(
    minilm_reference, calibration_floats, precision
):
    from sentence_transformers.quantization import quantize_embeddings as reference_quantize

    embeddings = calibration_floats
    calibration = embeddings[::3]
    for options in ({}, {"calibration_embeddings": calibration}):
        expected = reference_quantize(embeddings, precision=precision, **options)
        np.testing.assert_array_equal(
            quantize_embeddings(embeddings, precision, **options), expected
        )
    tokens = minilm_reference.encode(TEXTS[:5], output_value="token_embeddings")
    expected = reference_quantize(tokens, precision=precision)
    actual = quantize_embeddings([matrix.numpy() for matrix in tokens], precision)
    for matrix, reference in zip(actual, expected, strict=True):
        np.testing.assert_array_equal(matrix, reference)


def test_quantized_token_embeddings_share_one_calibration(minilm, minilm_reference):
    options = dict(output_value="token_embeddings")
    floats = [matrix.numpy() for matrix in minilm_reference.encode(TEXTS[:6], **options)]
    expected = minilm_reference.encode(TEXTS[:6], precision="uint8", **options)
    actual = minilm.encode(TEXTS[:6], precision="uint8", **options)
    every_token = np.concatenate(floats)
    ranges = np.stack([every_token.min(axis=0), every_token.max(axis=0)])
    for matrix, reference, reference_floats in zip(actual, expected, floats, strict=True):
        _assert_same_buckets_off_edges(matrix, reference, reference_floats, ranges)


def test_int8_of_a_single_sentence_is_refused_like_sentence_transformers(minilm, minilm_reference):
    with pytest.raises(ValueError, match="single embedding"):
        minilm_reference.encode("alone", precision="int8")
    with pytest.raises(ValueError, match="single embedding"):
        minilm.encode("alone", precision="int8")


def test_int8_calibration_on_few_sentences_warns(minilm, caplog):
    with caplog.at_level(logging.WARNING, logger="tfst.quantization"):
        minilm.encode(TEXTS[:3], precision="int8")
    assert "only 3 embeddings" in caplog.text


# --- output_value and convert_to_tensor ---------------------------------------------------------


def test_output_value_none_gives_every_feature_per_sentence(minilm, minilm_reference):
    texts = TEXTS[:5]
    expected = minilm_reference.encode(texts, output_value=None, prompt="query: ", batch_size=2)
    actual = minilm.encode(texts, output_value=None, prompt="query: ", batch_size=2)
    for features, reference in zip(actual, expected, strict=True):
        assert features["prompt_length"] == reference["prompt_length"] == 3
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            np.testing.assert_array_equal(features[name], reference[name].numpy())
        real = features["attention_mask"].astype(bool)
        assert features["token_embeddings"].shape == tuple(reference["token_embeddings"].shape)
        expected_tokens = reference["token_embeddings"].numpy()
        assert _max_diff(features["token_embeddings"][real], expected_tokens[real]) <= 1e-5
        # tfst runs only real tokens through the encoder: [PAD] positions (which mean nothing
        # and no pooling reads) are zero rather than sentence-transformers' computed values.
        assert not features["token_embeddings"][~real].any()
        assert _max_diff(features["sentence_embedding"], reference["sentence_embedding"]) <= 1e-5


def test_convert_to_tensor_gives_the_reference_values(minilm, minilm_reference):
    actual = minilm.encode(TEXTS, convert_to_tensor=True, normalize_embeddings=True)
    expected = minilm_reference.encode(TEXTS, convert_to_tensor=True, normalize_embeddings=True)
    assert isinstance(actual, tf.Tensor) and actual.dtype == tf.float32
    assert _max_diff(actual.numpy(), expected.numpy()) <= 1e-5


def test_convert_to_tensor_keeps_the_quantized_dtype(minilm, minilm_reference):
    actual = minilm.encode(TEXTS, convert_to_tensor=True, precision="binary")
    expected = minilm_reference.encode(TEXTS, convert_to_tensor=True, precision="binary")
    assert isinstance(actual, tf.Tensor) and actual.dtype == tf.int8
    np.testing.assert_array_equal(actual.numpy(), expected.numpy())


# --- similarity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIMILARITIES)
def test_similarity_matches_sentence_transformers(minilm, minilm_reference, name):
    """Against the reference run in float64, so its own float32 rounding (up to 6e-4 in
    ``cdist``) is not what is measured; tfst takes float32 embeddings as users pass them."""
    embeddings = minilm_reference.encode(CORPUS[:40])
    queries, exact = embeddings[:7], embeddings.astype(np.float64)
    minilm.similarity_fn_name = minilm_reference.similarity_fn_name = name
    try:
        expected = minilm_reference.similarity(exact[:7], exact).numpy()
        actual = minilm.similarity(queries, embeddings)
        expected_pairs = minilm_reference.similarity_pairwise(exact[:7], exact[7:14]).numpy()
        actual_pairs = minilm.similarity_pairwise(queries, embeddings[7:14])
    finally:
        minilm.similarity_fn_name = minilm_reference.similarity_fn_name = None
    assert actual.shape == expected.shape == (7, 40) and actual.dtype == tf.float32
    assert _max_diff(actual, expected) <= 1e-5
    assert _max_diff(actual_pairs, expected_pairs) <= 1e-5


def test_similarity_of_single_vectors_is_a_one_by_one_matrix(minilm):
    vector = minilm.encode("one")
    np.testing.assert_allclose(minilm.similarity(vector, vector).numpy(), [[1.0]], atol=1e-6)


def test_similarity_fn_name_is_read_from_the_model_config(prompted_model, prompted_reference):
    assert prompted_model.similarity_fn_name == prompted_reference.similarity_fn_name
    embeddings = prompted_reference.encode(TEXTS)
    expected = prompted_reference.similarity(embeddings, embeddings).numpy()
    assert _max_diff(prompted_model.similarity(embeddings, embeddings), expected) <= 1e-5


def test_default_similarity_is_cosine_and_unknown_names_are_refused(minilm):
    assert minilm.similarity_fn_name == "cosine"
    with pytest.raises(ValueError, match="similarity_fn_name must be one of"):
        minilm.similarity_fn_name = "maxsim"
