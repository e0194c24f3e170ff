"""Folder → tokenizer resolution gives the pipeline transformers 5 (sentence-transformers' backend)
builds, on the folder shapes real models come in, and the same ids.

The reference for the pipeline is ``AutoTokenizer.from_pretrained(folder).backend_tokenizer``
serialized to JSON; for ids, calling that tokenizer as sentence-transformers does.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import transformers
from hard_strings import ALL_HARD_STRINGS
from model_builders import MINILM_FOLDER
from tokenizer_helpers import layer_from_folder

from tfst.text.spec import TokenizerSpecError
from tfst.text.tokenizer_folder import read_tokenizer_settings

COMPARED_KEYS = ("normalizer", "pre_tokenizer", "post_processor", "added_tokens", "model")
TEXTS = ALL_HARD_STRINGS + ["Hello [MASK] world", "ÉCOLE élève", "<new> token", "a  new word"]


def hf_pipeline(folder) -> dict:
    hf = transformers.AutoTokenizer.from_pretrained(str(folder))
    return json.loads(hf.backend_tokenizer.to_str())


def assert_same_pipeline_and_ids(folder, default_class="BertTokenizer", max_length=64):
    ours = read_tokenizer_settings(folder, default_class).tokenizer_json
    theirs = hf_pipeline(folder)
    for key in COMPARED_KEYS:
        assert ours.get(key) == theirs.get(key), key
    hf = transformers.AutoTokenizer.from_pretrained(str(folder))
    layer = layer_from_folder(folder, max_length=max_length, default_class=default_class)
    expected = hf(
        TEXTS, padding=True, truncation="longest_first", max_length=max_length, return_tensors="np"
    )
    actual = layer(TEXTS)
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(actual[name].numpy(), expected[name], err_msg=name)
    # A model that is given no token_type_ids uses zeros.
    expected_types = expected.get("token_type_ids", np.zeros_like(expected["input_ids"]))
    np.testing.assert_array_equal(actual["token_type_ids"].numpy(), expected_types)


@pytest.fixture(scope="session")
def saved_by_transformers_5(tmp_path_factory):
    """A BERT tokenizer as transformers 5 saves it: tokenizer.json + tokenizer_config.json."""
    folder = tmp_path_factory.mktemp("transformers5")
    hf = transformers.AutoTokenizer.from_pretrained(str(MINILM_FOLDER))
    hf.save_pretrained(str(folder))
    return folder


def copy_tokenizer(source, target, names=None):
    target.mkdir(parents=True, exist_ok=True)
    for name in names or ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy(source / name, target / name)
    return target


def edit_json(path, **changes):
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_real_minilm_folder(tmp_path):
    assert_same_pipeline_and_ids(MINILM_FOLDER)


def test_folder_saved_by_transformers_5_has_no_vocab_txt_and_loads(saved_by_transformers_5):
    assert not (saved_by_transformers_5 / "vocab.txt").exists()
    assert_same_pipeline_and_ids(saved_by_transformers_5)


def test_legacy_vocab_txt_folder_without_tokenizer_json(tmp_path):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path, ("vocab.txt", "tokenizer_config.json"))
    edit_json(folder / "tokenizer_config.json", do_lower_case=False, strip_accents=True)
    assert_same_pipeline_and_ids(folder)


def test_tokenizer_json_vocabulary_wins_over_a_disagreeing_vocab_txt(tmp_path):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path, ("tokenizer.json", "tokenizer_config.json"))
    lines = (MINILM_FOLDER / "vocab.txt").read_text(encoding="utf-8").splitlines()
    hello, world = lines.index("hello"), lines.index("world")
    lines[hello], lines[world] = lines[world], lines[hello]
    (folder / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same_pipeline_and_ids(folder)
    ids = layer_from_folder(folder)(["hello world"])["input_ids"].numpy().tolist()
    assert ids == [[101, hello, world, 102]]


def test_tokenizer_config_options_override_the_normalizer_in_tokenizer_json(tmp_path):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path)
    edit_json(folder / "tokenizer_config.json", do_lower_case=False, tokenize_chinese_chars=False)
    assert_same_pipeline_and_ids(folder)


def test_added_tokens_with_every_flag(tmp_path):
    hf = transformers.AutoTokenizer.from_pretrained(str(MINILM_FOLDER))
    hf.add_tokens(
        [
            transformers.AddedToken("<new>", single_word=False, normalized=False),
            transformers.AddedToken("new", single_word=True, normalized=True),
            transformers.AddedToken("WORD", lstrip=True, rstrip=True, normalized=True),
            transformers.AddedToken(
                "<sp>", lstrip=True, rstrip=False, special=True, normalized=False
            ),
        ]
    )
    hf.save_pretrained(str(tmp_path))
    assert_same_pipeline_and_ids(tmp_path)


def test_distilbert_model_type_without_tokenizer_class(tmp_path):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    del config["tokenizer_class"]
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "config.json").write_text(json.dumps({"model_type": "distilbert"}), encoding="utf-8")
    assert_same_pipeline_and_ids(folder, default_class="BertTokenizer")


def test_generic_class_runs_tokenizer_json_as_written(tmp_path):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path)
    edit_json(folder / "tokenizer_config.json", tokenizer_class="PreTrainedTokenizerFast")
    edit_json(
        folder / "tokenizer.json",
        normalizer={
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": False,
            "strip_accents": False,
            "lowercase": False,
        },
    )
    assert_same_pipeline_and_ids(folder)


def test_unknown_tokenizer_class_is_refused_naming_it(tmp_path):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path)
    edit_json(folder / "tokenizer_config.json", tokenizer_class="BertJapaneseTokenizer")
    with pytest.raises(TokenizerSpecError, match="BertJapaneseTokenizer.*supported are"):
        read_tokenizer_settings(folder, "BertTokenizer")


@pytest.mark.parametrize(
    "key, value",
    [("do_lower_case", "false"), ("strip_accents", "no"), ("tokenize_chinese_chars", 0)],
)
def test_string_or_number_for_a_boolean_option_is_refused(tmp_path, key, value):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path)
    edit_json(folder / "tokenizer_config.json", **{key: value})
    with pytest.raises(TokenizerSpecError, match=key):
        read_tokenizer_settings(folder, "BertTokenizer")


def test_special_token_missing_from_the_vocabulary_is_refused(tmp_path):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path)
    edit_json(folder / "tokenizer_config.json", cls_token="<s>")
    with pytest.raises(TokenizerSpecError, match="<s>"):
        read_tokenizer_settings(folder, "BertTokenizer")


def test_duplicate_vocab_txt_lines_are_refused_naming_them(tmp_path):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path, ("tokenizer_config.json",))
    lines = (MINILM_FOLDER / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (folder / "vocab.txt").write_text("\n".join(lines + ["hello"]) + "\n", encoding="utf-8")
    with pytest.raises(TokenizerSpecError, match="'hello' is on lines"):
        read_tokenizer_settings(folder, "BertTokenizer")


def test_unsupported_component_is_refused_naming_file_and_place(tmp_path):
    folder = copy_tokenizer(MINILM_FOLDER, tmp_path)
    edit_json(folder / "tokenizer_config.json", tokenizer_class="PreTrainedTokenizerFast")
    edit_json(folder / "tokenizer.json", pre_tokenizer={"type": "UnicodeScripts"})
    with pytest.raises(TokenizerSpecError, match=r"tokenizer.json, pre_tokenizer.*UnicodeScripts"):
        layer_from_folder(folder)


def test_sentence_transformers_do_lower_case_puts_lowercase_first(tmp_path):
    from tfst.text.tokenizer_folder import with_lowercase_first

    settings = with_lowercase_first(read_tokenizer_settings(MINILM_FOLDER, "BertTokenizer"))
    normalizer = settings.tokenizer_json["normalizer"]
    assert normalizer["type"] == "Sequence"
    assert [item["type"] for item in normalizer["normalizers"]] == ["Lowercase", "BertNormalizer"]
    assert with_lowercase_first(settings) == settings
