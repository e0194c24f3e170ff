"""Broken model folders: ``tfst.load`` refuses each one with an error naming the file or setting
and what was expected, never a crash deep inside Keras or TensorFlow and never a half-loaded model.

Cases covered elsewhere are not repeated: missing files and module folders, invalid JSON and
unsupported types, modes and activations (test_config.py); corrupt, lying and hostile weights
files (test_checkpoint.py); a hub id missing from the cache (test_hub.py).
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from model_builders import build_sentence_folder
from safetensors.numpy import load_file, save_file

import tfst
from tfst.checkpoint import CheckpointError
from tfst.config import ConfigError
from tfst.folder_paths import OutsideFolderError
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
    (folder / "tokenizer.json").unlink()  # a legacy folder: vocab.txt is the vocabulary
    vocabulary = folder / "vocab.txt"
    tokens = vocabulary.read_text(encoding="utf-8").splitlines()
    tokens[tokens.index(token)] = "[GONE]"
    vocabulary.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    # A missing [PAD] is added past the end of the vocabulary, as transformers adds it, and that
    # id has no embedding; the others are refused by name.
    expected = "has ids up to 30522" if token == "[PAD]" else rf"'\{token}'"
    with pytest.raises(ConfigError, match=rf"{vocabulary}.*{expected}"):
        tfst.load(folder)


def test_vocabulary_that_is_not_utf8_is_refused_naming_it(folder):
    (folder / "tokenizer.json").unlink()
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
    _edit_json(folder / "config.json", intermediate_size=40)
    with pytest.raises(
        WeightMismatchError,
        match=r"intermediate\.dense\.weight has shape \(\d+, 32\), expected \(40, 32\)",
    ):
        tfst.load(folder)


def test_vocabulary_larger_than_the_embedding_table_is_refused(folder):
    _edit_json(folder / "config.json", vocab_size=100)
    with pytest.raises(
        ConfigError,
        match=r"tokenizer\.json has ids up to 30521, but the encoder's vocab_size in .*config\.json "
        r"is 100: those ids have no embedding",
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
        r"config\.json: hidden_size must be an integer, got 'abc'",
    ),
    "zero_attention_heads": (
        "config.json",
        {"num_attention_heads": 0},
        r"config\.json: num_attention_heads must be >= 1 and <= \d+, got 0",
    ),
    "heads_not_dividing_hidden_size": (
        "config.json",
        {"num_attention_heads": 5},
        r"config\.json: hidden size 32 is not a multiple of the 5 attention heads",
    ),
    "negative_layer_count": (
        "config.json",
        {"num_hidden_layers": -1},
        r"config\.json: num_hidden_layers must be >= 1 and <= 1024, got -1",
    ),
    "layer_norm_eps_not_a_number": (
        "config.json",
        {"layer_norm_eps": "tiny"},
        r"config\.json: layer_norm_eps must be a number, got 'tiny'",
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
        r"sentence_bert_config\.json: max_seq_length must be an integer or null, got 'long'",
    ),
    "max_seq_length_below_two": (
        "sentence_bert_config.json",
        {"max_seq_length": 1},
        r"max_length must leave room for the 2 special tokens and at least one more, got 1",
    ),
    "max_seq_length_beyond_positions": (
        "sentence_bert_config.json",
        {"max_seq_length": 1000},
        r"sentence_bert_config\.json: max_seq_length 1000 exceeds the 128 positions the "
        r"encoder of .*config\.json has",
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
        r"modules\.json: the Pooling\(modes=\['mean'\]\) module expects width 16, but the "
        r"module before it gives 32",
    ),
    "model_max_length_not_a_number": (
        "tokenizer_config.json",
        {"model_max_length": "abc"},
        r"tokenizer_config\.json: model_max_length must be a positive integer, got 'abc'",
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
        r"tokenizer\.json, added_tokens\[0\]: missing 'content'",
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
        r"config_sentence_transformers\.json: truncate_dim must be an integer or null, got 'half'",
    ),
    "no_token_types": (
        "config.json",
        {"type_vocab_size": 0},
        r"config\.json: type_vocab_size must be >= 1 and <= .*, got 0",
    ),
    "include_prompt_a_string": (
        "1_Pooling/config.json",
        {"include_prompt": "false"},
        r"1_Pooling/config\.json: include_prompt must be true or false, got 'false'",
    ),
    "prompt_with_a_lone_surrogate": (
        "config_sentence_transformers.json",
        '{"prompts": {"query": "query: \\ud800"}}',
        r"config_sentence_transformers\.json: prompt 'query' holds a lone surrogate U\+D800 at "
        r"character 7, not text",
    ),
    "config_nested_too_deeply": (
        "config.json",
        "[" * 100_000 + "]" * 100_000,
        r"config\.json is nested too deeply to be a configuration file",
    ),
    "modules_nested_too_deeply": (
        "modules.json",
        '[{"a": ' * 50_000 + "1" + "}]" * 50_000,
        r"modules\.json is nested too deeply to be a configuration file",
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


# --- nothing read outside the model folder --------------------------------------------------------


def _link_out(folder, name, tmp_path):
    """Move ``folder/name`` out of the folder and leave a symbolic link to it in its place."""
    outside = tmp_path / "outside" / name
    outside.parent.mkdir(parents=True, exist_ok=True)
    (folder / name).rename(outside)
    (folder / name).symlink_to(outside)
    return outside


LINKED_OUT = [
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "model.safetensors",
    "1_Pooling",
    "1_Pooling/config.json",
]


@pytest.mark.parametrize("name", LINKED_OUT)
def test_link_out_of_the_model_folder_is_refused_naming_it(folder, tmp_path, name):
    if name == "config_sentence_transformers.json":
        _edit_json(folder / name, prompts={"query": "query: "})
    if name == "vocab.txt":
        (folder / "tokenizer.json").unlink()  # then vocab.txt is the vocabulary tfst reads
    outside = _link_out(folder, name, tmp_path)
    with pytest.raises(
        OutsideFolderError, match=rf"{folder / name} leads to {outside}, outside the model folder"
    ):
        tfst.load(folder)


def test_shard_linked_out_of_the_model_folder_is_refused(folder, tmp_path):
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    names = sorted(tensors)
    save_file({name: tensors[name] for name in names[:5]}, folder / "model-1.safetensors")
    save_file({name: tensors[name] for name in names[5:]}, folder / "model-2.safetensors")
    weight_map = {
        name: "model-1.safetensors" if i < 5 else "model-2.safetensors"
        for i, name in enumerate(names)
    }
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    weights.unlink()
    assert tfst.load(folder).encode("sharded").shape == (32,)
    outside = _link_out(folder, "model-2.safetensors", tmp_path)
    with pytest.raises(OutsideFolderError, match=rf"weight_map: .* leads to {outside}"):
        tfst.load(folder)


@pytest.mark.parametrize(
    ("name", "device"), [("tokenizer.json", "/proc/self/mem"), ("model.safetensors", "/dev/zero")]
)
def test_link_into_a_device_file_is_refused_naming_it(folder, name, device):
    (folder / name).unlink()
    (folder / name).symlink_to(device)
    target = device.replace("self", r"\d+")  # /proc/self resolves to this process's number
    with pytest.raises(OutsideFolderError, match=rf"{folder / name} leads to {target}"):
        tfst.load(folder)


def test_fifo_in_the_model_folder_is_refused_without_blocking(folder):
    (folder / "config.json").unlink()
    os.mkfifo(folder / "config.json")
    with pytest.raises(OutsideFolderError, match=r"config\.json is a device, FIFO or socket"):
        tfst.load(folder)


def test_module_path_up_out_of_the_folder_is_refused_naming_the_entry(folder, tmp_path):
    shutil.copytree(folder / "1_Pooling", tmp_path / "1_Pooling")
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["path"] = "../1_Pooling"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(
        OutsideFolderError,
        match=r"modules\.json \(module '1'\): path '\.\./1_Pooling' is not inside the model folder",
    ):
        tfst.load(folder)


def test_absolute_module_path_is_refused_naming_the_entry(folder, tmp_path):
    outside = shutil.copytree(folder / "1_Pooling", tmp_path / "elsewhere")
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["path"] = str(outside)
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(
        OutsideFolderError,
        match=rf"modules\.json \(module '1'\): path '{outside}' is not inside the model folder",
    ):
        tfst.load(folder)


def test_links_that_stay_inside_the_folder_are_followed(folder):
    (folder / "shared").mkdir()
    for name in ("vocab.txt", "1_Pooling"):
        (folder / name).rename(folder / "shared" / name)
        (folder / name).symlink_to(folder / "shared" / name)
    assert tfst.load(folder).encode("linked inside").shape == (32,)


def _hub_style_cache(source, cache, repo="models--someone--tiny", revision="0" * 40):
    """A Hugging Face cache as huggingface_hub writes it: snapshot files are relative symbolic
    links to content-named blobs."""
    snapshot = cache / repo / "snapshots" / revision
    blobs = cache / repo / "blobs"
    blobs.mkdir(parents=True)
    for file in sorted(source.rglob("*")):
        if file.is_file():
            link = snapshot / file.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            blob = blobs / f"{len(list(blobs.iterdir())):040x}"
            shutil.copy(file, blob)
            link.symlink_to(os.path.relpath(blob, link.parent))
    (cache / repo / "refs").mkdir()
    (cache / repo / "refs" / "main").write_text(revision)
    return snapshot


def test_hub_cache_links_into_its_blobs_are_followed(tiny_folder, tmp_path, monkeypatch):
    _hub_style_cache(tiny_folder, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert tfst.load("someone/tiny").encode("from the cache").shape == (32,)


def test_hub_cache_link_into_another_repo_is_refused(tiny_folder, tmp_path, monkeypatch):
    snapshot = _hub_style_cache(tiny_folder, tmp_path)
    other = _hub_style_cache(tiny_folder, tmp_path, repo="models--someone--other")
    (snapshot / "config.json").unlink()
    (snapshot / "config.json").symlink_to((other / "config.json").resolve())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(OutsideFolderError, match=r"config\.json leads to .*models--someone--other"):
        tfst.load("someone/tiny")


def test_hub_module_path_out_of_the_repo_is_refused_naming_modules_json(
    cache_without_weights, tmp_path
):
    snapshot = next(cache_without_weights.glob("models--someone--tiny/snapshots/*"))
    modules = json.loads((snapshot / "modules.json").read_text())
    modules[1]["path"] = "../../elsewhere"
    (snapshot / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(OutsideFolderError, match=r"modules\.json, module '1': path '\.\./\.\./"):
        tfst.load("someone/tiny")


def test_hub_index_whose_weight_map_is_a_list_is_named(cache_without_weights):
    snapshot = next(cache_without_weights.glob("models--someone--tiny/snapshots/*"))
    index = snapshot / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": ["model-00001-of-00001.safetensors"]}))
    with pytest.raises(
        CheckpointError, match=rf'{index}: expected a JSON object whose "weight_map"'
    ):
        tfst.load("someone/tiny")


# --- errors stay short, whatever the file holds ---------------------------------------------------


def test_many_unexpected_tensors_give_a_short_error(folder):
    """tfst.load on a checkpoint with 50,000 extra (empty) tensors: a few are named, the rest
    counted."""
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    tensors.update({f"extra.{index:06d}": np.zeros(0, np.float32) for index in range(50_000)})
    save_file(tensors, weights)
    with pytest.raises(WeightMismatchError) as error:
        tfst.load(folder)
    message = str(error.value)
    assert "unexpected tensors: extra.000000, extra.000001" in message
    assert "… and 49,990 more" in message
    assert len(message) < 2000


def test_many_prompts_give_a_short_error_for_an_unknown_name(folder):
    _edit_json(
        folder / "config_sentence_transformers.json",
        prompts={f"prompt_{index}": "p: " for index in range(100_000)},
    )
    model = tfst.load(folder)
    with pytest.raises(ValueError, match=r"not one of the prompts \[.* and 99,992 more\]") as error:
        model.encode("text", prompt_name="missing")
    assert len(str(error.value)) < 1000
