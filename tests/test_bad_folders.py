"""Broken model folders: ``tfst.load`` refuses each one with an error naming the file or setting
and what was expected, never a crash deep inside Keras or TensorFlow and never a half-loaded model.

Cases covered elsewhere are not repeated: missing files and module folders, invalid JSON and
unsupported types, modes and activations (test_config.py); corrupt, lying and hostile weights
files (test_checkpoint.py); a hub id missing from the cache (test_hub.py).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from model_builders import build_sentence_folder
from safetensors.numpy import load_file, save_file

import tfst
from tfst.config import ConfigError
from tfst.hub import ModelNotFoundError
from tfst.weights import WeightMismatchError


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return build_sentence_folder(tmp_path_factory.mktemp("bad_folders") / "model")


@pytest.fixture
def folder(tiny_folder, tmp_path):
    """A fresh copy of the tiny model to break."""
    return shutil.copytree(tiny_folder, tmp_path / "model")


def _edit_json(path, **changes):
    current = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**current, **changes}))


@pytest.mark.parametrize("token", ["[CLS]", "[SEP]", "[UNK]", "[PAD]"])
def test_vocabulary_without_a_framing_token_is_refused_naming_vocab_txt(folder, token):
    vocabulary = folder / "vocab.txt"
    tokens = vocabulary.read_text(encoding="utf-8").splitlines()
    tokens[tokens.index(token)] = "[GONE]"
    vocabulary.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"'\{token}' is not in {vocabulary}"):
        tfst.load(folder)


def test_vocabulary_that_is_not_utf8_is_refused_naming_it(folder):
    (folder / "vocab.txt").write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(ValueError, match=r"vocab\.txt is not a UTF-8 vocabulary file"):
        tfst.load(folder)


def test_tensor_of_the_wrong_shape_is_named_with_both_shapes(folder):
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    tensors["embeddings.LayerNorm.weight"] = np.ones(31, np.float32)
    save_file(tensors, weights)
    with pytest.raises(
        WeightMismatchError,
        match=rf"{weights}: tensor embeddings\.LayerNorm\.weight has shape \(31,\), expected \(32,\)",
    ):
        tfst.load(folder)


def test_config_disagreeing_with_the_weights_names_the_tensor(folder):
    _edit_json(folder / "config.json", vocab_size=100)
    with pytest.raises(
        WeightMismatchError,
        match=r"embeddings\.word_embeddings\.weight has shape \(30522, 32\), expected \(100, 32\)",
    ):
        tfst.load(folder)


# File, its broken content (the file's whole text, or changes to the keys of its JSON object),
# and the message: each names the file and what it should have held.
MALFORMED = {
    "config_not_an_object": (
        "config.json",
        "[]",
        r"config\.json: expected a JSON object, got list",
    ),
    "hidden_size_not_a_number": (
        "config.json",
        {"hidden_size": "abc"},
        r"config\.json: hidden_size must be an integer >= 1, got 'abc'",
    ),
    "zero_attention_heads": (
        "config.json",
        {"num_attention_heads": 0},
        r"config\.json: num_attention_heads must be an integer >= 1, got 0",
    ),
    "heads_not_dividing_hidden_size": (
        "config.json",
        {"num_attention_heads": 5},
        r"config\.json: hidden size 32 is not a multiple of the 5 attention heads",
    ),
    "negative_layer_count": (
        "config.json",
        {"num_hidden_layers": -1},
        r"config\.json: num_hidden_layers must be an integer >= 1, got -1",
    ),
    "layer_norm_eps_not_a_number": (
        "config.json",
        {"layer_norm_eps": "tiny"},
        r"config\.json: layer_norm_eps must be a positive number, got 'tiny'",
    ),
    "modules_not_a_list": ("modules.json", "{}", r"modules\.json: expected a JSON array, got dict"),
    "module_entry_not_an_object": (
        "modules.json",
        '["Transformer"]',
        r"modules\.json: entry 0 must be an object with a string type",
    ),
    "module_entry_without_type": (
        "modules.json",
        '[{"idx": 0, "path": ""}]',
        r"modules\.json: entry 0 must be an object with a string type",
    ),
    "max_seq_length_not_a_number": (
        "sentence_bert_config.json",
        {"max_seq_length": "long"},
        r"sentence_bert_config\.json: max_seq_length must be an integer >= 2, got 'long'",
    ),
    "max_seq_length_below_two": (
        "sentence_bert_config.json",
        {"max_seq_length": 1},
        r"sentence_bert_config\.json: max_seq_length must be an integer >= 2, got 1",
    ),
    "max_seq_length_beyond_positions": (
        "sentence_bert_config.json",
        {"max_seq_length": 1000},
        r"sentence_bert_config\.json: max_seq_length 1000 exceeds the 128 "
        r"max_position_embeddings of .*config\.json",
    ),
    "pooling_mode_not_a_name": (
        "1_Pooling/config.json",
        {"pooling_mode": 5},
        r"1_Pooling/config\.json: pooling_mode must be a mode name or a non-empty list",
    ),
    "pooling_mode_empty_list": (
        "1_Pooling/config.json",
        {"pooling_mode": []},
        r"1_Pooling/config\.json: pooling_mode must be a mode name or a non-empty list",
    ),
    "pooling_width_not_the_hidden_size": (
        "1_Pooling/config.json",
        {"embedding_dimension": 16},
        r"1_Pooling/config\.json: embedding_dimension is 16, expected the encoder's hidden size 32",
    ),
    "model_max_length_not_a_number": (
        "tokenizer_config.json",
        {"model_max_length": "abc"},
        r"tokenizer_config\.json: model_max_length must be an integer >= 1, got 'abc'",
    ),
    "special_token_not_a_string": (
        "tokenizer_config.json",
        {"cls_token": 5},
        r"cls_token must be a string, got 5",
    ),
    "tokenizer_json_not_an_object": (
        "tokenizer.json",
        "[]",
        r"tokenizer\.json: expected a JSON object, got list",
    ),
    "added_token_without_content": (
        "tokenizer.json",
        {"added_tokens": [{"id": 0}]},
        r"tokenizer\.json: added_tokens must be a list of objects with a string content",
    ),
    "special_tokens_map_not_an_object": (
        "special_tokens_map.json",
        "[]",
        r"special_tokens_map\.json: expected a JSON object, got list",
    ),
    "model_settings_not_an_object": (
        "config_sentence_transformers.json",
        "[]",
        r"config_sentence_transformers\.json: expected a JSON object, got list",
    ),
    "prompts_not_a_mapping": (
        "config_sentence_transformers.json",
        {"prompts": ["query: "]},
        r"config_sentence_transformers\.json: prompts must map prompt names to texts",
    ),
    "truncate_dim_not_a_number": (
        "config_sentence_transformers.json",
        {"truncate_dim": "half"},
        r"config_sentence_transformers\.json: truncate_dim must be an integer >= 1, got 'half'",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_setting_is_refused_naming_file_and_expectation(folder, case):
    name, content, message = MALFORMED[case]
    path = folder / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        _edit_json(path, **content)
    with pytest.raises(ConfigError, match=message):
        tfst.load(folder)


@pytest.fixture
def cache_without_weights(tiny_folder, tmp_path, monkeypatch):
    """A hub cache holding a model's configuration but not its weights (an interrupted
    download), with downloads off."""
    snapshot = tmp_path / "models--someone--tiny" / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_folder, snapshot)
    (snapshot / "model.safetensors").unlink()
    (tmp_path / "models--someone--tiny" / "refs").mkdir()
    (tmp_path / "models--someone--tiny" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    return tmp_path


def test_cached_model_without_weights_offline_says_what_to_do(cache_without_weights):
    with pytest.raises(
        ModelNotFoundError,
        match=r"no weights file .* for someone/tiny in the Hugging Face cache at .*downloads are "
        r"off \(HF_HUB_OFFLINE=1 or local_files_only=True\)\. Download it once with network "
        r"access \(`hf download someone/tiny`\)",
    ):
        tfst.load("someone/tiny")


# --- code named by the folder is never imported -------------------------------------------------

CUSTOM_CODE = (
    "import pathlib\npathlib.Path({sentinel!r}).write_text('imported')\nclass Custom: ...\n"
)


def test_custom_module_in_modules_json_is_refused_without_importing_it(folder, tmp_path):
    sentinel = tmp_path / "SENTINEL"
    (folder / "custom_pooling.py").write_text(CUSTOM_CODE.format(sentinel=str(sentinel)))
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["type"] = "custom_pooling.Custom"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match=r"module type 'custom_pooling\.Custom' is not supported"):
        tfst.load(folder)
    assert not sentinel.exists()


def test_auto_map_to_remote_code_is_ignored(folder, tmp_path):
    """What trust_remote_code=True would import; tfst builds its own BERT and never looks."""
    sentinel = tmp_path / "SENTINEL"
    (folder / "modeling_custom.py").write_text(CUSTOM_CODE.format(sentinel=str(sentinel)))
    _edit_json(folder / "config.json", auto_map={"AutoModel": "modeling_custom.Custom"})
    assert tfst.load(folder).encode("still a BERT").shape == (32,)
    assert not sentinel.exists()
