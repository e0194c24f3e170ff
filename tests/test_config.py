"""Reading model folders: both sentence-transformers generations of modules.json, legacy pooling
keys, defaults, and refusals that name the file and setting."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from model_builders import CURRENT_TYPES, LEGACY_TYPES, MINILM_FOLDER, save_dense_module

from tfst.config import ConfigError
from tfst.loading import read_modules
from tfst.modules import Dense, LoadOptions, Normalize, Pooling, Transformer


def read_model_config(folder):
    """The modules tfst.load builds for ``folder``."""
    return read_modules(folder, LoadOptions())


def read_pooling_module(folder):
    return Pooling.from_folder(folder)


@pytest.fixture
def minilm_copy(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(MINILM_FOLDER, folder)
    return folder


def _write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def test_real_minilm_pipeline_is_transformer_mean_pooling_normalize():
    modules = read_model_config(MINILM_FOLDER)
    assert [type(module) for module in modules] == [Transformer, Pooling, Normalize]
    assert modules[0].max_seq_length == 256
    assert modules[0].encoder.hidden_size == 384
    assert modules[0].tokenizer.tokenizer_json["normalizer"]["lowercase"] is True
    assert modules[1].modes == ("mean",)


def test_normalize_module_needs_no_folder():
    assert not (MINILM_FOLDER / "2_Normalize").exists()
    assert isinstance(read_model_config(MINILM_FOLDER)[2], Normalize)


@pytest.mark.parametrize("types", [LEGACY_TYPES, CURRENT_TYPES], ids=["st5", "st6"])
def test_module_type_names_of_both_generations_are_read(minilm_copy, types):
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": types["Transformer"]},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": types["Pooling"]},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": types["Normalize"]},
    ]
    _write(minilm_copy / "modules.json", modules)
    kinds = [type(m) for m in read_model_config(minilm_copy)]
    assert kinds == [Transformer, Pooling, Normalize]


def test_unknown_module_type_is_named_with_the_supported_ones(minilm_copy):
    modules = json.loads((minilm_copy / "modules.json").read_text())
    modules[1]["type"] = "sentence_transformers.models.NotAModule"
    _write(minilm_copy / "modules.json", modules)
    with pytest.raises(ConfigError, match=r"NotAModule.*not supported.*Pooling"):
        read_model_config(minilm_copy)


def test_folder_without_modules_json_is_transformer_plus_mean_pooling(minilm_copy):
    (minilm_copy / "modules.json").unlink()
    modules = read_model_config(minilm_copy)
    assert [type(m) for m in modules] == [Transformer, Pooling]
    assert modules[1].modes == ("mean",)
    assert modules[1].embedding_dimension == 384


def test_unsupported_model_type_names_itself(minilm_copy):
    config = json.loads((minilm_copy / "config.json").read_text())
    config["model_type"] = "gpt2"
    _write(minilm_copy / "config.json", config)
    with pytest.raises(ConfigError, match=r"model_type 'gpt2' is not supported.*bert"):
        read_model_config(minilm_copy)


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "1_Pooling/config.json"])
def test_missing_file_is_named(minilm_copy, missing):
    (minilm_copy / missing).unlink()
    with pytest.raises(FileNotFoundError, match=missing.replace(".", r"\.")):
        read_model_config(minilm_copy)


def test_missing_module_folder_is_named(minilm_copy):
    shutil.rmtree(minilm_copy / "1_Pooling")
    with pytest.raises(FileNotFoundError, match="1_Pooling"):
        read_model_config(minilm_copy)


def test_invalid_json_is_named(minilm_copy):
    (minilm_copy / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json is not valid JSON"):
        read_model_config(minilm_copy)


def test_legacy_pooling_flags_concatenate_in_sentence_transformers_order(tmp_path):
    _write(
        tmp_path / "config.json",
        {
            "word_embedding_dimension": 8,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": True,
            "pooling_mode_lasttoken": True,
            "pooling_mode_max_tokens": False,
        },
    )
    assert read_pooling_module(tmp_path).modes == ("cls", "mean", "lasttoken")


def test_legacy_pooling_without_any_flag_means_mean(tmp_path):
    _write(tmp_path / "config.json", {"word_embedding_dimension": 8})
    assert read_pooling_module(tmp_path).modes == ("mean",)


@pytest.mark.parametrize(
    ("pooling_mode", "expected"),
    [("max", ("max",)), (["weightedmean", "cls"], ("weightedmean", "cls"))],
)
def test_new_pooling_mode_as_string_or_list(tmp_path, pooling_mode, expected):
    _write(
        tmp_path / "config.json",
        {"embedding_dimension": 8, "pooling_mode": pooling_mode, "include_prompt": False},
    )
    config = read_pooling_module(tmp_path)
    assert config.modes == expected
    assert config.include_prompt is False


def test_unknown_pooling_mode_is_named(tmp_path):
    _write(tmp_path / "config.json", {"embedding_dimension": 8, "pooling_mode": "median"})
    with pytest.raises(ConfigError, match=r"'median' is not supported.*mean_sqrt_len_tokens"):
        read_pooling_module(tmp_path)


def test_max_seq_length_from_sentence_bert_config(minilm_copy):
    _write(minilm_copy / "sentence_bert_config.json", {"max_seq_length": 77})
    assert read_model_config(minilm_copy)[0].max_seq_length == 77


def test_max_seq_length_falls_back_to_tokenizer_capped_by_positions(minilm_copy):
    (minilm_copy / "sentence_bert_config.json").unlink()
    tokenizer_config = json.loads((minilm_copy / "tokenizer_config.json").read_text())
    tokenizer_config["model_max_length"] = 100
    _write(minilm_copy / "tokenizer_config.json", tokenizer_config)
    assert read_model_config(minilm_copy)[0].max_seq_length == 100
    tokenizer_config.pop("model_max_length")
    _write(minilm_copy / "tokenizer_config.json", tokenizer_config)
    assert read_model_config(minilm_copy)[0].max_seq_length == 512


def test_do_lower_case_on_a_cased_tokenizer_lowercases_without_stripping_accents(minilm_copy):
    """sentence-transformers prepends a plain Lowercase normalizer: accents survive."""
    from sentence_transformers import SentenceTransformer

    import tfst

    tokenizer_config = json.loads((minilm_copy / "tokenizer_config.json").read_text())
    tokenizer_config["do_lower_case"] = False
    _write(minilm_copy / "tokenizer_config.json", tokenizer_config)
    _write(minilm_copy / "sentence_bert_config.json", {"max_seq_length": 64, "do_lower_case": True})
    normalizer = read_model_config(minilm_copy)[0].tokenizer.tokenizer_json["normalizer"]
    assert [n["type"] for n in normalizer["normalizers"]] == ["Lowercase", "BertNormalizer"]
    texts = ["Déjà VU, Ünïcödé", "ÉCOLE"]
    expected = SentenceTransformer(str(minilm_copy), device="cpu").preprocess(texts)["input_ids"]
    actual = tfst.load(minilm_copy).tokenize(texts)["input_ids"].numpy()
    np.testing.assert_array_equal(actual, expected.numpy())


def test_tokenizer_config_settings_win_over_tokenizer_json_as_in_transformers_5(minilm_copy):
    """transformers 5 rebuilds the BERT normalizer from tokenizer_config.json; so do we."""
    from transformers import AutoTokenizer

    import tfst

    tokenizer = json.loads((minilm_copy / "tokenizer.json").read_text())
    tokenizer["normalizer"].update(lowercase=False, handle_chinese_chars=False)
    _write(minilm_copy / "tokenizer.json", tokenizer)
    normalizer = read_model_config(minilm_copy)[0].tokenizer.tokenizer_json["normalizer"]
    assert (normalizer["lowercase"], normalizer["handle_chinese_chars"]) == (True, True)
    texts = ["Ça VA? 中文字 Déjà", "MIXED Case"]
    expected = AutoTokenizer.from_pretrained(str(minilm_copy))(texts, padding=True)["input_ids"]
    actual = tfst.load(minilm_copy).tokenize(texts)["input_ids"].numpy().tolist()
    assert actual == expected


@pytest.mark.parametrize(
    ("class_path", "activation"),
    [
        ("torch.nn.modules.activation.Tanh", "tanh"),
        ("torch.nn.modules.linear.Identity", "linear"),
        ("torch.nn.modules.activation.ReLU", "relu"),
        ("torch.nn.modules.activation.GELU", "gelu"),
        ("torch.nn.modules.activation.Sigmoid", "sigmoid"),
        ("torch.nn.Tanh", "tanh"),
    ],
)
def test_dense_activation_class_paths(tmp_path, class_path, activation):
    save_dense_module(tmp_path, in_features=4, out_features=2, activation=class_path)
    assert Dense.from_folder(tmp_path).activation == activation


def test_unsupported_dense_activation_is_refused_by_name(tmp_path):
    activation = "torch.nn.modules.activation.Softplus"
    save_dense_module(tmp_path, in_features=4, out_features=2, activation=activation)
    with pytest.raises(ConfigError, match=r"Softplus.*not supported.*Tanh"):
        Dense.from_folder(tmp_path)


def test_unsupported_hidden_activation_names_file_and_choices(minilm_copy):
    config = json.loads((minilm_copy / "config.json").read_text())
    config["hidden_act"] = "swish"
    _write(minilm_copy / "config.json", config)
    with pytest.raises(
        ConfigError, match=r"config\.json: hidden_act 'swish' is not supported.*gelu_new"
    ):
        read_model_config(minilm_copy)


def test_missing_encoder_key_is_named(minilm_copy):
    config = json.loads((minilm_copy / "config.json").read_text())
    del config["num_attention_heads"]
    _write(minilm_copy / "config.json", config)
    with pytest.raises(ConfigError, match=r"config\.json: missing num_attention_heads"):
        read_model_config(minilm_copy)
