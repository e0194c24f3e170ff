"""The RoBERTa family end to end against transformers and sentence-transformers: random-weight
models over byte-level BPE tokenizers trained here on multilingual and code-heavy text, in
sentence-transformers folders whose tokenizer is ``tokenizer.json`` only or the legacy
``vocab.json`` + ``merges.txt`` only."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from model_builders import build_roberta_sentence_folder
from parity import largest_difference_from_transformers, load_encoder, random_features
from saved_model_checks import serve_in_fresh_process
from text.test_bpe import hard_bpe_strings

import tfst

OWN_TEXTS = [
    "a <mask> b",
    "<s>x</s>",
    "before <pad> after <pad><pad> end",
    "\t\n  leading whitespace before words",
    "x = {'key': [1, 2, 3]}  # trailing   spaces   ",
    " ".join(["def f(x): return x ** 2"] * 200),
    "中文" * 5000,
]
TEXTS = hard_bpe_strings() + OWN_TEXTS
FOLDERS = {
    "roberta_tokenizer_json_mean_safetensors": dict(
        tokenizer_files="tokenizer.json", pooling="mean", seed=1
    ),
    "roberta_legacy_files_cls_bin": dict(
        tokenizer_files="vocab.json+merges.txt",
        pooling="cls",
        safetensors=False,
        vocab_size=5000,
        hidden_size=48,
        num_layers=3,
        num_heads=6,
        seed=2,
    ),
}


@pytest.fixture(scope="session")
def build_folder(tmp_path_factory):
    """The folder of a FOLDERS entry, built once per session."""
    built = {}

    def build(name):
        if name not in built:
            folder = tmp_path_factory.mktemp(name) / "model"
            built[name] = build_roberta_sentence_folder(folder, **FOLDERS[name])
        return built[name]

    return build


@pytest.fixture(scope="session", params=sorted(FOLDERS))
def roberta_folder(request, build_folder):
    return build_folder(request.param)


@pytest.fixture(scope="session")
def roberta_reference(roberta_folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(roberta_folder), device="cpu")


@pytest.fixture(scope="session")
def roberta_model(roberta_folder):
    return tfst.load(roberta_folder)


def test_the_corpus_is_hard_and_large():
    assert len(TEXTS) >= 500
    assert max(len(text) for text in TEXTS) >= 10_000


def test_folder_shapes(roberta_folder):
    names = {path.name for path in roberta_folder.iterdir()}
    legacy = {"vocab.json", "merges.txt"}
    json_only = "tokenizer.json" in names and not legacy & names
    legacy_only = legacy <= names and "tokenizer.json" not in names
    assert json_only or legacy_only
    config = json.loads((roberta_folder / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "RobertaTokenizer"


def test_hidden_states_match_transformers(roberta_folder):
    encoder = load_encoder(roberta_folder)
    features = random_features(
        seed=4, batch=4, length=120, vocab_size=encoder.vocab_size, pad_id=1, token_types=False
    )
    # Real tokens with the padding id: their positions do not count.
    features["input_ids"][0, [3, 4, 50]] = 1
    assert largest_difference_from_transformers(roberta_folder, encoder, features) <= 1e-5


def test_token_ids_match_sentence_transformers(roberta_reference, roberta_model):
    expected = roberta_reference.preprocess(TEXTS)
    actual = roberta_model.tokenize(TEXTS)
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(actual[name].numpy(), expected[name].numpy(), err_msg=name)


def test_embeddings_match_sentence_transformers(roberta_reference, roberta_model):
    expected = roberta_reference.encode(TEXTS)
    assert np.abs(roberta_model.encode(TEXTS) - expected).max() <= 1e-5


def test_saved_model_in_a_fresh_process_has_core_ops_only_and_matches(build_folder, tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = build_folder("roberta_legacy_files_cls_bin")
    export = tfst.load(folder).export(tmp_path / "export")
    report = serve_in_fresh_process(export, TEXTS, tmp_path)
    assert report["unregistered"] == []
    assert not report["tensorflow_text_imported"] and not report["tfst_imported"]
    expected = SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert np.abs(report["embeddings"]["serving_default"] - expected).max() <= 1e-5


def test_save_pretrained_round_trips_through_sentence_transformers(build_folder, tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = build_folder("roberta_tokenizer_json_mean_safetensors")
    tfst.load(folder).save_pretrained(tmp_path / "saved")
    original = json.loads((folder / "config.json").read_text())
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    for key in ("model_type", "pad_token_id", "type_vocab_size", "max_position_embeddings"):
        assert saved[key] == original[key], key
    expected = SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    reloaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu").encode(TEXTS)
    assert np.abs(reloaded - expected).max() <= 1e-5


def test_task_model_checkpoint_with_prefix_and_heads_loads(build_folder, tmp_path):
    """transformers' RobertaForMaskedLM / ForSequenceClassification save ``roberta.``-prefixed
    names, an ``lm_head`` or a ``classifier``; the heads are skipped, the names found."""
    from safetensors.numpy import save_file

    from tfst.checkpoint import load_checkpoint_tensors

    original = build_folder("roberta_legacy_files_cls_bin")
    folder = shutil.copytree(original, tmp_path / "model")
    tensors = load_checkpoint_tensors(folder / "pytorch_model.bin")
    (folder / "pytorch_model.bin").unlink()
    hidden = tensors["embeddings.LayerNorm.weight"].shape[0]
    vocab = tensors["embeddings.word_embeddings.weight"].shape[0]
    tensors = {f"roberta.{name}": np.asarray(value) for name, value in tensors.items()}
    tensors["lm_head.layer_norm.weight"] = np.ones((hidden,), np.float32)
    tensors["classifier.out_proj.weight"] = np.ones((2, hidden), np.float32)
    tensors["roberta.embeddings.position_ids"] = np.arange(514, dtype=np.int64)[np.newaxis]
    save_file(tensors, str(folder / "model.safetensors"))
    features = random_features(
        seed=6, batch=3, length=20, vocab_size=vocab, pad_id=1, token_types=False
    )
    encoder = load_encoder(folder)
    assert largest_difference_from_transformers(original, encoder, features) <= 1e-5


def test_two_token_types_are_used_when_the_tokenizer_returns_them(tmp_path):
    """A RoBERTa with two token types (some fine-tunes) fed by a tokenizer whose
    model_input_names include token_type_ids."""
    import torch
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(3)
    config = RobertaConfig(
        vocab_size=300,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=40,
        type_vocab_size=2,
        pad_token_id=1,
    )
    RobertaModel(config, add_pooling_layer=False).eval().save_pretrained(str(tmp_path))
    features = random_features(seed=7, batch=3, length=30, vocab_size=300, pad_id=1)
    encoder = load_encoder(tmp_path)
    assert encoder.usable_positions() == 38
    assert largest_difference_from_transformers(tmp_path, encoder, features) <= 1e-5
