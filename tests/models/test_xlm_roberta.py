"""The XLM-RoBERTa family, and BERT with the XLM-R tokenizer, end to end against transformers and
sentence-transformers: random-weight models over SentencePiece Unigram tokenizers trained here
(``nmt_nfkc``, with and without byte fallback), converted by transformers 5's
``XLMRobertaTokenizer``, wrapped and saved by sentence-transformers."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from model_builders import build_xlm_roberta_sentence_folder
from parity import largest_difference_from_transformers, load_encoder, random_features
from saved_model_checks import serve_in_fresh_process
from text.sentencepiece_models import hard_multilingual_strings

import tfst
from tfst.config import ConfigError

# Added tokens inside text, the padding token as text (a real token whose id is the padding id,
# which RoBERTa's positions skip), and text far beyond max_seq_length.
OWN_TEXTS = [
    "a <mask> b",
    "<s>x</s>",
    "before <pad> after <pad><pad> end",
    "<unk>",
    " ".join(["multilingual ñ ü 中文 テキスト"] * 200),
]
TEXTS = hard_multilingual_strings() + OWN_TEXTS
FOLDERS = {
    "xlm_roberta_mean_safetensors": dict(model_type="xlm-roberta", pooling="mean", seed=1),
    "xlm_roberta_byte_fallback_cls_bin": dict(
        model_type="xlm-roberta",
        byte_fallback=True,
        vocab_size=3000,
        pooling="cls",
        safetensors=False,
        hidden_size=48,
        num_layers=3,
        num_heads=6,
        seed=2,
    ),
    "bert_with_xlm_roberta_tokenizer": dict(model_type="bert", pooling="mean", seed=3),
}


@pytest.fixture(scope="session")
def build_folder(tmp_path_factory):
    """The folder of a FOLDERS entry, built once per session."""
    built = {}

    def build(name):
        if name not in built:
            folder = tmp_path_factory.mktemp(name) / "model"
            built[name] = build_xlm_roberta_sentence_folder(folder, **FOLDERS[name])
        return built[name]

    return build


@pytest.fixture(scope="session", params=sorted(FOLDERS))
def multilingual_folder(request, build_folder):
    return build_folder(request.param)


@pytest.fixture(scope="session")
def xlm_roberta_folder(build_folder):
    return build_folder("xlm_roberta_mean_safetensors")


@pytest.fixture(scope="session")
def multilingual_reference(multilingual_folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(multilingual_folder), device="cpu")


@pytest.fixture(scope="session")
def multilingual_model(multilingual_folder):
    return tfst.load(multilingual_folder)


def test_the_corpus_is_hard_and_large():
    assert len(TEXTS) >= 500
    assert max(len(text) for text in TEXTS) >= 10_000


def test_folder_shapes(multilingual_folder):
    config = json.loads((multilingual_folder / "config.json").read_text())
    tokenizer_config = json.loads((multilingual_folder / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "XLMRobertaTokenizer"
    assert config["model_type"] in ("xlm-roberta", "bert")
    weights = {path.name for path in multilingual_folder.iterdir()}
    assert weights & {"model.safetensors", "pytorch_model.bin"}


def test_hidden_states_match_transformers(multilingual_folder):
    encoder = load_encoder(multilingual_folder)
    features = random_features(
        seed=4, batch=4, length=120, vocab_size=encoder.vocab_size, pad_id=1, token_types=False
    )
    # Real tokens with the padding id: their positions do not count.
    features["input_ids"][0, [3, 4, 50]] = 1
    assert largest_difference_from_transformers(multilingual_folder, encoder, features) <= 1e-5


def test_token_ids_match_sentence_transformers(multilingual_reference, multilingual_model):
    expected = multilingual_reference.preprocess(TEXTS)
    actual = multilingual_model.tokenize(TEXTS)
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(actual[name].numpy(), expected[name].numpy(), err_msg=name)


def test_embeddings_match_sentence_transformers(multilingual_reference, multilingual_model):
    expected = multilingual_reference.encode(TEXTS)
    assert np.abs(multilingual_model.encode(TEXTS) - expected).max() <= 1e-5


# Each of these traces and serves a model again: one XLM-R and one BERT shape are enough.
SERVED = ("xlm_roberta_mean_safetensors", "bert_with_xlm_roberta_tokenizer")


@pytest.mark.parametrize("name", SERVED)
def test_saved_model_in_a_fresh_process_has_core_ops_only_and_matches(name, build_folder, tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = build_folder(name)
    export = tfst.load(folder).export(tmp_path / "export")
    report = serve_in_fresh_process(export, TEXTS, tmp_path)
    assert report["unregistered"] == []
    assert not report["tensorflow_text_imported"] and not report["tfst_imported"]
    expected = SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert np.abs(report["embeddings"]["serving_default"] - expected).max() <= 1e-5


def test_save_pretrained_round_trips_through_sentence_transformers(xlm_roberta_folder, tmp_path):
    from sentence_transformers import SentenceTransformer

    tfst.load(xlm_roberta_folder).save_pretrained(tmp_path / "saved")
    original = json.loads((xlm_roberta_folder / "config.json").read_text())
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    for key in ("model_type", "pad_token_id", "type_vocab_size", "max_position_embeddings"):
        assert saved[key] == original[key], key
    expected = SentenceTransformer(str(xlm_roberta_folder), device="cpu").encode(TEXTS)
    reloaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu").encode(TEXTS)
    assert np.abs(reloaded - expected).max() <= 1e-5


def test_task_model_checkpoint_with_prefix_and_heads_loads(xlm_roberta_folder, tmp_path):
    """transformers' XLMRobertaForMaskedLM saves ``roberta.``-prefixed names and an ``lm_head``;
    the heads are skipped, the names found."""
    from safetensors.numpy import load_file, save_file

    folder = shutil.copytree(xlm_roberta_folder, tmp_path / "model")
    tensors = load_file(str(folder / "model.safetensors"))
    hidden = tensors["embeddings.LayerNorm.weight"].shape[0]
    vocab = tensors["embeddings.word_embeddings.weight"].shape[0]
    tensors = {f"roberta.{name}": value for name, value in tensors.items()}
    tensors["lm_head.dense.weight"] = np.ones((hidden, hidden), np.float32)
    tensors["lm_head.bias"] = np.ones((vocab,), np.float32)
    tensors["roberta.pooler.dense.weight"] = np.ones((hidden, hidden), np.float32)
    save_file(tensors, str(folder / "model.safetensors"))
    features = random_features(
        seed=6, batch=3, length=20, vocab_size=vocab, pad_id=1, token_types=False
    )
    encoder = load_encoder(folder)
    assert largest_difference_from_transformers(xlm_roberta_folder, encoder, features) <= 1e-5


def test_the_encoder_keeps_its_family_through_keras_serialization(xlm_roberta_folder):
    """RoBERTa and XLM-R share one encoder class: the layer carries the model_type it was read
    as, so a .keras file or a save writes the right family back."""
    import keras

    from tfst.models.registry import family_of

    encoder = load_encoder(xlm_roberta_folder)
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(encoder))
    assert family_of(encoder).model_type == family_of(copy).model_type == "xlm-roberta"
    assert copy.pad_token_id == 1 and copy.usable_positions() == 512


def test_max_seq_length_is_capped_by_the_positions_after_the_padding_id(
    xlm_roberta_folder, tmp_path
):
    folder = shutil.copytree(xlm_roberta_folder, tmp_path / "model")
    assert tfst.load(folder).encoder.usable_positions() == 514 - 1 - 1
    settings = json.loads((folder / "sentence_bert_config.json").read_text())
    settings["max_seq_length"] = 513
    (folder / "sentence_bert_config.json").write_text(json.dumps(settings))
    with pytest.raises(ConfigError, match="max_seq_length 513 exceeds the 512 positions"):
        tfst.load(folder)


def _edited_config(folder, tmp_path, **changes):
    folder = shutil.copytree(folder, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_padding_id_that_leaves_no_position_is_refused(xlm_roberta_folder, tmp_path):
    folder = _edited_config(xlm_roberta_folder, tmp_path, pad_token_id=513)
    with pytest.raises(ConfigError, match="pad_token_id 513 leaves no position"):
        tfst.load(folder)


def test_a_decoder_configuration_is_refused(xlm_roberta_folder, tmp_path):
    folder = _edited_config(xlm_roberta_folder, tmp_path, is_decoder=True)
    with pytest.raises(ConfigError, match="is_decoder"):
        tfst.load(folder)


def save_large_unigram_tokenizer(folder, pieces: int) -> int:
    """An XLM-R tokenizer.json with ``pieces`` pieces: a trained model's, then made-up pieces of
    its scripts scored below them; returns the number of ids."""
    import random

    from text.sentencepiece_models import _CHARACTERS, tokenizer_json, train_model

    pipeline = json.loads(tokenizer_json(train_model("nmt_nfkc", 1000, False), xlmr_layout=True))
    vocab = pipeline["model"]["vocab"]
    mask = vocab.pop()
    known = {piece for piece, _ in vocab}
    lowest = min(score for _, score in vocab[4:])
    generator = random.Random(0)
    alphabet = "".join(_CHARACTERS.values()) + "abcdefghijklmnopqrstuvwxyzéèüößñ"
    while len(vocab) < pieces - 1:
        piece = "▁" * generator.randint(0, 1) + "".join(
            generator.choices(alphabet, k=generator.randint(2, 6))
        )
        if piece not in known:
            known.add(piece)
            vocab.append([piece, lowest - 1 - 10 * generator.random()])
    vocab.append(mask)
    for token in pipeline["added_tokens"]:
        token["id"] = len(vocab) - 1 if token["content"] == "<mask>" else token["id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(pipeline), encoding="utf-8")
    config = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512}
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return len(vocab)


@pytest.mark.slow
def test_a_250000_piece_vocabulary_loads_in_seconds_and_exports_at_its_size(tmp_path):
    """XLM-R's vocabulary size: the model loads in seconds, and the SavedModel is the weights
    plus the vocabulary (pieces as UTF-8 with an int64 id each, and the trie the Unigram model
    walks: an int64 key, an int64 child and a float64 score per distinct prefix of a piece)
    plus a graph of a few MB."""
    import time

    import torch
    from model_builders import perturb_norms_and_biases, wrap_with_sentence_transformers
    from sentence_transformers import SentenceTransformer
    from transformers import XLMRobertaConfig, XLMRobertaModel

    encoder_folder = tmp_path / "encoder"
    ids = save_large_unigram_tokenizer(encoder_folder, 250_002)
    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=ids,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
    )
    model = XLMRobertaModel(config, add_pooling_layer=False).eval()
    perturb_norms_and_biases(model)
    model.save_pretrained(str(encoder_folder))
    folder = wrap_with_sentence_transformers(encoder_folder, tmp_path / "model")

    start = time.perf_counter()
    loaded = tfst.load(folder)
    load_seconds = time.perf_counter() - start
    texts = TEXTS[:100]
    expected = SentenceTransformer(str(folder), device="cpu").encode(texts)
    assert np.abs(loaded.encode(texts) - expected).max() <= 1e-5

    export = loaded.export(tmp_path / "export")
    exported = sum(path.stat().st_size for path in export.rglob("*") if path.is_file())
    weights = (folder / "model.safetensors").stat().st_size
    pipeline = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    pieces = [piece for piece, _ in pipeline["model"]["vocab"]]
    prefixes = {piece[:end] for piece in pieces for end in range(1, len(piece) + 1)}
    vocabulary = sum(len(piece.encode()) + 8 for piece in pieces) + 24 * len(prefixes)
    print(
        f"250k pieces: load {load_seconds:.1f} s, export {exported / 1e6:.1f} MB = weights "
        f"{weights / 1e6:.1f} MB + vocabulary {vocabulary / 1e6:.1f} MB "
        f"({len(prefixes):,} prefixes) + {(exported - weights - vocabulary) / 1e6:.1f} MB"
    )
    assert load_seconds < 60
    assert exported <= weights + vocabulary + 5_000_000
