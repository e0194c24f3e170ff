"""StaticEmbedding against sentence-transformers: WordPiece, byte-level BPE and Unigram
tokenizers, model2vec folders, truncation from tokenizer.json, export and save_pretrained."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from module_builders import (
    assert_same_embeddings,
    build_model2vec_folder,
    build_static_embedding,
    long_texts,
    minilm_tokenizer,
    random_table,
    reference,
)
from safetensors.numpy import load_file, save_file
from saved_model_checks import serve_in_fresh_process

import tfst
from tfst.config import ConfigError
from tfst.modules import StaticEmbedding
from tfst.text.spec import TokenizerSpecError
from tfst.weights import WeightMismatchError


@pytest.fixture(scope="session")
def static_pair(static_folder):
    return tfst.load(static_folder), reference(static_folder)


@pytest.fixture(scope="session")
def model2vec_pair(model2vec_folder):
    return tfst.load(model2vec_folder), reference(model2vec_folder)


@pytest.fixture(scope="session")
def quantized_model2vec_pair(tmp_path_factory):
    """A model2vec folder with a token mapping and weights: the export tests' model."""
    folder = tmp_path_factory.mktemp("quantized_model2vec") / "model"
    build_model2vec_folder(folder, quantized_vocabulary=True)
    return tfst.load(folder), reference(folder)


@pytest.fixture(scope="session")
def plain_model2vec_folder(tmp_path_factory):
    """A model2vec folder of one ``embeddings`` table, for the refusal tests to spoil."""
    return build_model2vec_folder(tmp_path_factory.mktemp("plain_model2vec") / "model")


@pytest.fixture(scope="session")
def sample(texts) -> list[str]:
    """Fewer texts, long ones included, for the tests that build or save models."""
    return texts[:100] + long_texts()


def test_embeddings_match_sentence_transformers(static_pair, texts):
    model, expected = static_pair
    assert len(texts) >= 200
    assert_same_embeddings(model.encode(texts), expected.encode(texts))


def test_model2vec_folders_match_sentence_transformers(model2vec_pair, texts):
    model, expected = model2vec_pair
    assert isinstance(model[0], StaticEmbedding)
    assert_same_embeddings(model.encode(texts), expected.encode(texts))


def test_token_ids_are_tokenizer_json_ids_without_special_tokens(static_pair, static_folder, texts):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(static_folder / "tokenizer.json"))
    expected = [
        encoding.ids for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)
    ]
    features = static_pair[0].tokenize(texts)
    lengths = features["attention_mask"].numpy().sum(axis=1)
    rows = zip(features["input_ids"].numpy(), lengths, strict=True)
    actual = [row[:length].tolist() for row, length in rows]
    assert actual == expected


def test_a_text_without_tokens_is_the_zero_vector(static_pair):
    model, expected = static_pair
    empty = model.encode([""])
    np.testing.assert_array_equal(empty, expected.encode([""]))
    np.testing.assert_array_equal(empty, np.zeros_like(empty))


@pytest.mark.parametrize(
    ("max_length", "direction"), [(5, "right"), (7, "left"), (1, "right"), (0, "left")]
)
def test_truncation_set_in_tokenizer_json_applies(tmp_path, sample, max_length, direction):
    tokenizer = minilm_tokenizer()
    tokenizer.enable_truncation(max_length, stride=0, direction=direction)
    folder = build_static_embedding(tmp_path / "model", tokenizer, normalize=False)
    assert json.loads((folder / "tokenizer.json").read_text())["truncation"] is not None
    assert_same_embeddings(tfst.load(folder).encode(sample), reference(folder).encode(sample))


def test_encode_options_match_sentence_transformers(static_pair, texts):
    model, expected = static_pair
    sample = texts[:120]
    for options in (
        {"normalize_embeddings": True},
        {"truncate_dim": 5},
        {"truncate_dim": 7, "normalize_embeddings": True},
        {"prompt": "query: "},
        {"precision": "binary"},
        {"convert_to_tensor": True},
    ):
        actual = np.asarray(model.encode(sample, **options))
        reference_values = expected.encode(sample, **options)
        if options.get("convert_to_tensor"):
            reference_values = reference_values.numpy()
        assert_same_embeddings(actual, reference_values)
    int8 = model.encode(sample, precision="int8").astype(int)
    assert np.abs(int8 - expected.encode(sample, precision="int8")).max() <= 1


def test_token_embeddings_are_refused_as_the_model_has_none(static_pair):
    with pytest.raises(ValueError, match="makes sentence embeddings directly"):
        static_pair[0].encode(["a text"], output_value="token_embeddings")


def test_max_seq_length_is_infinite_and_cannot_be_set(static_pair):
    model, expected = static_pair
    assert model.max_seq_length == expected.max_seq_length == float("inf")
    with pytest.raises(AttributeError, match="truncation comes from tokenizer.json"):
        model.max_seq_length = 16


def test_save_pretrained_round_trips_through_sentence_transformers(static_pair, tmp_path, sample):
    model, expected = static_pair
    model.save_pretrained(tmp_path / "saved")
    modules = json.loads((tmp_path / "saved" / "modules.json").read_text())
    assert modules[0]["path"] == "" and modules[0]["type"] == StaticEmbedding.saved_type
    reference_values = expected.encode(sample)
    assert_same_embeddings(reference(tmp_path / "saved").encode(sample), reference_values)
    assert_same_embeddings(tfst.load(tmp_path / "saved").encode(sample), reference_values)


def test_saved_model_serves_with_core_ops_in_a_fresh_process(
    quantized_model2vec_pair, tmp_path, texts
):
    model, expected = quantized_model2vec_pair
    export = model.export(tmp_path / "export")
    report = serve_in_fresh_process(export, texts, tmp_path)
    assert report["unregistered"] == [] and not report["tfst_imported"]
    assert "LookupTableFindV2" in report["ops"]
    assert_same_embeddings(report["embeddings"]["serving_default"], expected.encode(texts))


def test_token_id_signatures_take_the_tokenizer_ids(quantized_model2vec_pair, tmp_path, texts):
    model, expected = quantized_model2vec_pair
    served = tf.saved_model.load(str(model.export(tmp_path / "export")))
    sample = texts[:64]
    features = model.tokenize(sample)
    outputs = served.signatures["from_token_ids"](
        input_ids=tf.cast(features["input_ids"], tf.int64),
        attention_mask=tf.cast(features["attention_mask"], tf.int64),
    )
    assert_same_embeddings(outputs["sentence_embedding"].numpy(), expected.encode(sample))


def test_tensorflow_text_tokenizer_ops_give_the_same_embeddings(
    quantized_model2vec_pair, tmp_path, texts
):
    model, expected = quantized_model2vec_pair
    export = model.export(tmp_path / "export", tokenizer_ops="tensorflow_text")
    import tensorflow_text  # noqa: F401  (registers the ops the export uses)

    served = tf.saved_model.load(str(export)).signatures["serving_default"]
    sample = texts[:64]
    actual = served(sentences=tf.constant(sample))["sentence_embedding"].numpy()
    assert_same_embeddings(actual, expected.encode(sample))


def test_float16_tables_are_computed_in_float32(tmp_path, sample):
    """sentence-transformers averages a float16 table in float16 and returns float16; tfst
    reads the same values as float32 and averages in float32, so it differs by float16's
    rounding (~1e-3 relative), no more."""
    folder = build_static_embedding(
        tmp_path / "model", minilm_tokenizer(), normalize=False, dtype=np.float16
    )
    expected = reference(folder).encode(sample).astype(np.float32)
    actual = tfst.load(folder).encode(sample)
    assert np.abs(actual - expected).max() <= 2e-3 * max(1.0, np.abs(expected).max())


# --- refusals -------------------------------------------------------------------------------------


def _copy(folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


def _edit_tokenizer(folder, change):
    path = folder / "tokenizer.json"
    tokenizer = json.loads(path.read_text())
    change(tokenizer)
    path.write_text(json.dumps(tokenizer))


@pytest.mark.parametrize(
    ("truncation", "message"),
    [
        ({"max_length": 8, "strategy": "OnlySecond", "stride": 0}, "strategy 'OnlySecond'"),
        ({"max_length": 8, "strategy": "LongestFirst", "stride": 8}, "stride 8 must be less"),
        (
            {"max_length": 8, "strategy": "LongestFirst", "stride": 0, "direction": "Up"},
            "direction",
        ),
        ({"max_length": "8", "strategy": "LongestFirst", "stride": 0}, "max_length must be"),
    ],
)
def test_truncation_tfst_cannot_reproduce_is_refused(
    plain_model2vec_folder, tmp_path, truncation, message
):
    folder = _copy(plain_model2vec_folder, tmp_path)
    _edit_tokenizer(folder, lambda tokenizer: tokenizer.update(truncation=truncation))
    with pytest.raises(TokenizerSpecError, match=message):
        tfst.load(folder)


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        (
            {"embedding.weight": np.zeros((30522, 4), np.float32), "extra": np.zeros(2)},
            "unexpected",
        ),
        ({"other": np.zeros((30522, 4), np.float32)}, "missing tensors"),
        ({"embedding.weight": np.zeros((30522, 4), np.int8)}, "2-D floating"),
        ({"embeddings": np.zeros((9, 4), np.float32), "mapping": np.full(30522, 9)}, "outside"),
        (
            {"embeddings": np.zeros((30522, 4), np.float32), "weights": np.ones(5, np.float32)},
            "one weight per",
        ),
    ],
)
def test_weights_that_do_not_fit_are_refused(plain_model2vec_folder, tmp_path, tensors, message):
    folder = _copy(plain_model2vec_folder, tmp_path)
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(WeightMismatchError, match=message):
        tfst.load(folder)


def test_a_tokenizer_with_ids_beyond_the_table_is_refused(plain_model2vec_folder, tmp_path):
    folder = _copy(plain_model2vec_folder, tmp_path)
    table = load_file(str(folder / "model.safetensors"))["embeddings"]
    save_file({"embeddings": table[:1000]}, str(folder / "model.safetensors"))
    with pytest.raises(ConfigError, match=r"ids up to 30521, but .* has \d+ rows"):
        tfst.load(folder)


def test_random_weights_module_can_be_built_directly():
    """The constructor checks the table covers the tokenizer, as from_folder does."""
    import keras

    from tfst.text.tokenizer import Tokenizer

    tokenizer = Tokenizer(json.loads(minilm_tokenizer().to_str()), name="tokenizer")
    small = keras.layers.Embedding(10, 4)
    with pytest.raises(ValueError, match="embedding table has 10 rows"):
        StaticEmbedding(tokenizer, small)
    module = StaticEmbedding(tokenizer, keras.layers.Embedding(30522, 4))
    module.build()
    module.embedding.embeddings.assign(random_table(30522, 4, 0))
    assert module(module.tokenize(["hello"]))["sentence_embedding"].shape == (1, 4)


def test_tflite_export_is_refused_rather_than_given_transformer_token_ids(static_pair, tmp_path):
    with pytest.raises(ValueError, match="first module is a Transformer"):
        static_pair[0].export_tflite(tmp_path / "tflite")
