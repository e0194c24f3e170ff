"""WordEmbeddings and the modules after it (WordWeights, LSTM, CNN, Pooling, Dense, LayerNorm,
Dropout, Normalize), and BoW, against sentence-transformers on models it built and saved."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from module_builders import assert_same_embeddings, build_word_pipeline, reference
from saved_model_checks import serve_in_fresh_process

import tfst
from tfst.config import ConfigError
from tfst.modules import Dropout, WordEmbeddings
from tfst.weights import WeightMismatchError


@pytest.fixture(scope="session")
def word_pair(word_folder):
    return tfst.load(word_folder), reference(word_folder)


@pytest.fixture(scope="session")
def bow_pair(bow_folder):
    return tfst.load(bow_folder), reference(bow_folder)


@pytest.fixture(scope="session")
def lstm_cnn_folder(embeddings_file, tmp_path_factory):
    """WordEmbeddings → WordWeights → LSTM → CNN → Pooling: the export and option tests' model."""
    folder = tmp_path_factory.mktemp("lstm_cnn") / "model"
    return build_word_pipeline(folder, embeddings_file, "weights_lstm_cnn")


@pytest.fixture(scope="session")
def lstm_cnn_pair(lstm_cnn_folder):
    return tfst.load(lstm_cnn_folder), reference(lstm_cnn_folder)


def test_embeddings_match_sentence_transformers(word_pair, texts):
    model, expected = word_pair
    assert len(texts) >= 200
    assert_same_embeddings(model.encode(texts), expected.encode(texts))


def test_bag_of_words_matches_sentence_transformers(bow_pair, texts):
    model, expected = bow_pair
    assert_same_embeddings(model.encode(texts), expected.encode(texts))


def test_token_ids_and_masks_match_sentence_transformers(word_pair, texts):
    model, expected = word_pair
    for batch in (texts[:64], texts[-40:], ["", " "], ["one"]):
        features = expected.preprocess(batch)
        actual = model.tokenize(batch)
        for name in ("input_ids", "attention_mask"):
            np.testing.assert_array_equal(actual[name].numpy(), features[name].numpy())


def test_token_embeddings_match_sentence_transformers(lstm_cnn_pair, texts):
    model, expected = lstm_cnn_pair
    sample = texts[:60] + ["", "the", "xyzzy unknown words only"]
    actual = model.encode(sample, output_value="token_embeddings")
    reference_values = expected.encode(sample, output_value="token_embeddings")
    for row, (mine, theirs) in enumerate(zip(actual, reference_values, strict=True)):
        assert mine.shape == tuple(theirs.shape), row
        assert_same_embeddings(mine, theirs.numpy())


def test_encode_options_match_sentence_transformers(lstm_cnn_pair, texts):
    model, expected = lstm_cnn_pair
    finite = np.isfinite(expected.encode(texts[:150])).all(axis=1)
    sample = [text for text, keep in zip(texts[:150], finite, strict=True) if keep]
    for options in (
        {"normalize_embeddings": True},
        {"truncate_dim": 3},
        {"prompt": "the query: "},
        {"precision": "ubinary"},
    ):
        assert_same_embeddings(model.encode(sample, **options), expected.encode(sample, **options))
    int8 = model.encode(sample, precision="int8").astype(int)
    assert np.abs(int8 - expected.encode(sample, precision="int8")).max() <= 1


def test_max_seq_length_can_be_changed_like_sentence_transformers(lstm_cnn_folder, texts):
    model, expected = tfst.load(lstm_cnn_folder), reference(lstm_cnn_folder)
    assert model.max_seq_length == expected.max_seq_length == 1000000
    model.max_seq_length = expected.max_seq_length = 4
    assert_same_embeddings(model.encode(texts[:80]), expected.encode(texts[:80]))


def test_save_pretrained_round_trips_through_sentence_transformers(word_pair, tmp_path, texts):
    model, expected = word_pair
    model.save_pretrained(tmp_path / "saved")
    sample = texts[:80] + texts[-3:]
    reference_values = expected.encode(sample)
    assert_same_embeddings(reference(tmp_path / "saved").encode(sample), reference_values)
    assert_same_embeddings(tfst.load(tmp_path / "saved").encode(sample), reference_values)


def test_bag_of_words_save_pretrained_round_trips(bow_pair, tmp_path, texts):
    model, expected = bow_pair
    model.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "0_BoW" / "config.json").is_file()
    assert_same_embeddings(reference(tmp_path / "saved").encode(texts), expected.encode(texts))


def test_saved_model_serves_with_core_ops_in_a_fresh_process(lstm_cnn_pair, tmp_path, texts):
    model, expected = lstm_cnn_pair
    export = model.export(tmp_path / "export")
    sample = texts[:64] + texts[-4:]
    report = serve_in_fresh_process(export, sample, tmp_path)
    assert report["unregistered"] == [] and not report["tfst_imported"]
    assert "LookupTableFindV2" in report["ops"]
    assert_same_embeddings(report["embeddings"]["serving_default"], expected.encode(sample))


def test_bag_of_words_export_serves_the_same_embeddings(bow_pair, tmp_path, texts):
    model, expected = bow_pair
    served = tf.saved_model.load(str(model.export(tmp_path / "export")))
    sample = texts[:64]
    actual = served.signatures["serving_default"](sentences=tf.constant(sample))
    assert_same_embeddings(actual["sentence_embedding"].numpy(), expected.encode(sample))


def test_keras_file_round_trip_keeps_every_module(lstm_cnn_pair, tmp_path, texts):
    import keras

    model, _ = lstm_cnn_pair
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert [type(module) for module in restored] == [type(module) for module in model]
    assert_same_embeddings(restored.encode(texts[:40]), model.encode(texts[:40]), tolerance=0.0)


def test_pytorch_bin_weights_load(embeddings_file, tmp_path, texts):
    from sentence_transformers import SentenceTransformer

    folder = build_word_pipeline(tmp_path / "model", embeddings_file, "lstm_max")
    expected = SentenceTransformer(str(folder), device="cpu")
    expected.save(str(tmp_path / "bin"), safe_serialization=False)
    assert (tmp_path / "bin" / "1_LSTM" / "pytorch_model.bin").is_file()
    assert_same_embeddings(
        tfst.load(tmp_path / "bin").encode(texts[:80]), expected.encode(texts[:80])
    )


def test_legacy_config_keys_and_type_names_load(lstm_cnn_folder, tmp_path, texts):
    """sentence-transformers < 5 wrote word_embedding_dimension / in_word_embedding_dimension
    and types under sentence_transformers.models; sentence-transformers still reads them."""
    folder = tmp_path / "legacy"
    shutil.copytree(lstm_cnn_folder, folder)
    modules = json.loads((folder / "modules.json").read_text())
    for entry in modules:
        entry["type"] = "sentence_transformers.models." + entry["type"].rsplit(".", 1)[-1]
    (folder / "modules.json").write_text(json.dumps(modules))
    for path, old, new in (
        ("2_LSTM/lstm_config.json", "embedding_dimension", "word_embedding_dimension"),
        ("3_CNN/cnn_config.json", "in_embedding_dimension", "in_word_embedding_dimension"),
    ):
        config = json.loads((folder / path).read_text())
        config[new] = config.pop(old)
        (folder / path).write_text(json.dumps(config))
    sample = texts[:80]
    assert_same_embeddings(tfst.load(folder).encode(sample), reference(folder).encode(sample))


def test_dropout_is_identity_when_embedding_and_drops_when_training():
    dropout = Dropout(0.5)
    features = {"sentence_embedding": tf.ones([4, 64])}
    np.testing.assert_array_equal(dropout(features)["sentence_embedding"], np.ones([4, 64]))
    dropped = dropout(features, training=True)["sentence_embedding"].numpy()
    assert 0 < (dropped == 0).mean() < 1


def test_update_embeddings_is_the_embedding_table_s_trainability(word_pair):
    module = word_pair[0][0]
    assert isinstance(module, WordEmbeddings)
    assert module.embedding.trainable is module.update_embeddings is False


# --- refusals -------------------------------------------------------------------------------------


def _edit_json(path, change):
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


def _copy(folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kernel_sizes": [2, 3]}, "kernel_sizes"),
        ({"stride_sizes": [2, 1]}, "stride_sizes"),
        ({"kernel_sizes": "3"}, "must be a list of integers"),
    ],
)
def test_cnn_shapes_with_another_output_length_are_refused(
    lstm_cnn_folder, tmp_path, change, message
):
    folder = _copy(lstm_cnn_folder, tmp_path)
    _edit_json(folder / "3_CNN" / "cnn_config.json", lambda config: config.update(change))
    with pytest.raises(ConfigError, match=message):
        tfst.load(folder)


@pytest.mark.parametrize(
    ("tokenizer_class", "message"),
    [
        ("sentence_transformers.models.tokenizer.PhraseTokenizer.PhraseTokenizer", "not supported"),
        ("my_package.WhitespaceTokenizer", "not supported"),
    ],
)
def test_other_word_tokenizers_are_refused(lstm_cnn_folder, tmp_path, tokenizer_class, message):
    folder = _copy(lstm_cnn_folder, tmp_path)
    _edit_json(
        folder / "wordembedding_config.json",
        lambda config: config.update(tokenizer_class=tokenizer_class),
    )
    with pytest.raises(ConfigError, match=message):
        tfst.load(folder)


def test_a_vocabulary_longer_than_the_table_is_refused(lstm_cnn_folder, tmp_path):
    folder = _copy(lstm_cnn_folder, tmp_path)
    _edit_json(
        folder / "whitespacetokenizer_config.json",
        lambda config: config.update(vocab=config["vocab"] + [f"extra{i}" for i in range(9)]),
    )
    with pytest.raises(ConfigError, match="have no vector"):
        tfst.load(folder)


def test_lstm_weights_of_another_shape_are_refused(lstm_cnn_folder, tmp_path):
    folder = _copy(lstm_cnn_folder, tmp_path)
    _edit_json(folder / "2_LSTM" / "lstm_config.json", lambda config: config.update(hidden_dim=6))
    with pytest.raises(WeightMismatchError, match="encoder.weight_ih_l0"):
        tfst.load(folder)


def test_a_module_without_the_width_the_previous_one_gives_is_refused(lstm_cnn_folder, tmp_path):
    folder = _copy(lstm_cnn_folder, tmp_path)
    _edit_json(
        folder / "4_Pooling" / "config.json", lambda config: config.update(embedding_dimension=9)
    )
    with pytest.raises(ConfigError, match="expects width 9"):
        tfst.load(folder)
