"""The opt-in bfloat16 precision: close to sentence-transformers, smaller weights, exportable."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from sentences import parity_corpus

import tfst
from tfst.models.bert import BertEncoder
from tfst.modules import Transformer

CORPUS = parity_corpus()
# bfloat16 keeps 8 significant bits of each matmul input (relative rounding 2^-9), and the
# errors of 6 layers partly cancel in mean pooling: on CORPUS the lowest cosine to
# sentence-transformers measures 0.99992. 0.9995 leaves room for other CPUs' oneDNN kernels
# while still failing on any systematic error (a wrong cast or a float32 path left in bf16).
MIN_COSINE = 0.9995


@pytest.fixture(scope="session")
def minilm_bfloat16(minilm):
    return minilm.with_encoder_precision("bfloat16")


def _cosines(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.sum(left * right, axis=1) / (
        np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    )


def test_bfloat16_embeddings_stay_close_to_sentence_transformers(minilm_bfloat16, minilm_reference):
    expected = minilm_reference.encode(CORPUS)
    actual = minilm_bfloat16.encode(CORPUS)
    assert actual.dtype == np.float32
    assert _cosines(actual, expected).min() >= MIN_COSINE


def test_bfloat16_stores_projection_weights_in_bfloat16_and_the_rest_in_float32(minilm_bfloat16):
    encoder = minilm_bfloat16.encoder
    block = encoder.blocks[0]
    for layer in (block.query, block.key, block.value, block.intermediate, block.output_dense):
        assert layer.kernel.dtype == "bfloat16"
    assert block.attention_norm.gamma.dtype == "float32"
    assert encoder.word_embeddings.embeddings.dtype == "float32"


def test_bfloat16_weights_are_the_float32_weights_rounded(minilm, minilm_bfloat16):
    original = minilm.encoder.blocks[2].intermediate.kernel
    converted = minilm_bfloat16.encoder.blocks[2].intermediate.kernel
    expected = tf.cast(tf.cast(original, tf.bfloat16), tf.float32).numpy()
    np.testing.assert_array_equal(tf.cast(converted, tf.float32).numpy(), expected)


def test_float32_gives_back_the_same_model(minilm):
    assert minilm.with_encoder_precision("float32") is minilm


def test_unknown_precision_is_refused_with_the_choices(minilm):
    with pytest.raises(ValueError, match=r"precision must be one of \('float32', 'bfloat16'\)"):
        minilm.with_encoder_precision("int4")


def test_the_transformer_module_builds_the_encoder_in_the_precision(minilm_folder):
    options = tfst.modules.LoadOptions(encoder_precision="bfloat16")
    encoder = Transformer.from_folder(minilm_folder, options).encoder
    assert encoder.precision == "bfloat16"
    assert all(block.precision == "bfloat16" for block in encoder.blocks)


def test_precision_round_trips_through_get_config():
    encoder = BertEncoder(
        vocab_size=10,
        hidden_size=8,
        num_layers=1,
        num_heads=2,
        intermediate_size=16,
        precision="bfloat16",
    )
    clone = BertEncoder.from_config(encoder.get_config())
    assert clone.precision == "bfloat16"
    assert clone.get_config() == encoder.get_config()


def test_bfloat16_model_exports_and_serves_the_same_embeddings(minilm_bfloat16, tmp_path):
    texts = CORPUS[:20]
    path = minilm_bfloat16.export(tmp_path / "bfloat16")
    # bfloat16 sums depend on where a text sits in the batch: serve the batch in the order
    # encode runs it (longest first, as sentence-transformers sorts), then put rows back.
    order = np.argsort([-len(text) for text in texts])
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    served = serve(tf.constant([texts[i] for i in order]))["sentence_embedding"].numpy()
    in_place = np.empty_like(served)
    in_place[order] = served
    np.testing.assert_allclose(in_place, minilm_bfloat16.encode(texts), atol=1e-6, rtol=0)


def test_load_builds_the_bfloat16_encoder_directly(minilm_folder, minilm_bfloat16):
    loaded = tfst.load(minilm_folder, encoder_precision="bfloat16")
    assert loaded.encoder.precision == "bfloat16"
    for left, right in zip(loaded.weights, minilm_bfloat16.weights, strict=True):
        np.testing.assert_array_equal(
            tf.cast(left, tf.float32).numpy(), tf.cast(right, tf.float32).numpy()
        )


def test_load_refuses_an_unknown_encoder_precision(minilm_folder):
    with pytest.raises(ValueError, match="precision must be one of"):
        tfst.load(minilm_folder, encoder_precision="float16")


def test_converted_model_keeps_prompts_similarity_and_truncation(minilm):
    configured = minilm.replace(
        prompts={"query": "query: "},
        default_prompt_name="query",
        similarity_fn_name="dot",
        truncate_dim=64,
    )
    converted = configured.with_encoder_precision("bfloat16")
    assert converted.prompts == configured.prompts
    assert converted.default_prompt_name == "query"
    assert converted.similarity_fn_name == "dot"
    assert converted.truncate_dim == 64
