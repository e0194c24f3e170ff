"""The default tokenizer (`ops="core"`) gives exactly the Hugging Face ids without tensorflow-text.

The same references as tests/text/test_wordpiece.py (the real all-MiniLM-L6-v2 tokenizer, and a
cased multilingual vocabulary), run on the layer whose WordPiece split is
`tfst.text.models.wordpiece.CoreWordpiece`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import transformers
from hard_strings import ALL_HARD_STRINGS, HARD_STRINGS
from hypothesis import given
from sentences import EVERYDAY, varied_sentences
from test_wordpiece import (
    UNCASED_FOLDER,
    _fuzz_settings,
    _random_batch,
    assert_same_as_hf,
    build_cased_vocabulary,
    ids_of,
)
from tokenizer_helpers import layer_from_folder

from tfst.text import Tokenizer
from tfst.text.models.wordpiece import CoreWordpiece


@pytest.fixture(scope="session")
def core_layer():
    return layer_from_folder(UNCASED_FOLDER, ops="core")


@pytest.fixture(scope="session")
def tensorflow_text_layer():
    return layer_from_folder(UNCASED_FOLDER, ops="tensorflow_text")


@pytest.fixture(scope="session")
def hf_uncased():
    return transformers.AutoTokenizer.from_pretrained(str(UNCASED_FOLDER))


@pytest.fixture(scope="session")
def cased_strip_accents_pair(tmp_path_factory):
    """A cased vocabulary with pieces of many scripts, accents stripped: core layer and HF."""
    folder = tmp_path_factory.mktemp("cased_core")
    vocabulary_file = folder / "vocab.txt"
    vocabulary_file.write_text("".join(f"{t}\n" for t in build_cased_vocabulary()), "utf-8")
    hf = transformers.BertTokenizerFast(
        vocab=str(vocabulary_file), do_lower_case=False, strip_accents=True
    )
    hf.save_pretrained(str(folder / "hf"))
    hf = transformers.AutoTokenizer.from_pretrained(str(folder / "hf"))
    return layer_from_folder(folder / "hf", ops="core"), hf


@pytest.mark.parametrize("group", sorted(HARD_STRINGS))
def test_hard_strings_match_hf(core_layer, hf_uncased, group):
    assert_same_as_hf(core_layer, hf_uncased, HARD_STRINGS[group])


def test_hard_strings_match_hf_in_one_truncated_batch(core_layer, hf_uncased):
    assert_same_as_hf(core_layer, hf_uncased, ALL_HARD_STRINGS, max_length=16)


def test_everyday_sentences_match_hf(core_layer, hf_uncased):
    assert_same_as_hf(core_layer, hf_uncased, EVERYDAY + varied_sentences(64), max_length=128)


def test_cased_multilingual_vocabulary_matches_hf(cased_strip_accents_pair):
    layer, hf = cased_strip_accents_pair
    assert_same_as_hf(layer, hf, ALL_HARD_STRINGS, max_length=64)


@_fuzz_settings
@given(texts=_random_batch)
def test_random_text_matches_hf_uncased(core_layer, hf_uncased, texts):
    assert_same_as_hf(core_layer, hf_uncased, texts, max_length=24)


@_fuzz_settings
@given(texts=_random_batch)
def test_random_text_matches_hf_cased_strip_accents(cased_strip_accents_pair, texts):
    layer, hf = cased_strip_accents_pair
    assert_same_as_hf(layer, hf, texts, max_length=24)


def test_same_ids_as_the_tensorflow_text_layer(core_layer, tensorflow_text_layer):
    texts = ALL_HARD_STRINGS + EVERYDAY
    core_layer.max_length = tensorflow_text_layer.max_length = 512
    np.testing.assert_array_equal(
        core_layer(texts)["input_ids"], tensorflow_text_layer(texts)["input_ids"]
    )


def test_greedy_split_takes_longest_prefix_then_longest_suffixes(core_layer, hf_uncased):
    # The 21-letter word runs past the longest token (18 letters): its candidates are capped.
    texts = ["unaffable", "telecommunicationsxyz", "embeddings", "subwordtokenization"]
    assert_same_as_hf(core_layer, hf_uncased, texts)
    expected = ["[CLS]", "telecommunications", "##xy", "##z", "[SEP]"]
    assert ids_of(core_layer, "telecommunicationsxyz") == [
        core_layer.token_to_id(t) for t in expected
    ]


def test_word_with_an_unmatchable_tail_is_one_unknown(core_layer, hf_uncased):
    assert_same_as_hf(core_layer, hf_uncased, ["hello☃", "☃hello", "he☃llo"])
    assert ids_of(core_layer, "hello☃") == [101, 100, 102]


def test_hundred_character_word_splits_into_a_hundred_pieces(core_layer, hf_uncased):
    text = "ж" * 100  # "ж" then 99 times "##ж": the longest chain the doubling must follow
    assert_same_as_hf(core_layer, hf_uncased, [text, "ж" * 101])
    assert len(ids_of(core_layer, text)) == 102


def test_splitter_alone_handles_no_words_and_empty_words(core_layer):
    splitter = core_layer.model._splitter
    assert isinstance(splitter, CoreWordpiece)
    split = tf.function(splitter.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    assert split(tf.constant([], tf.string)).to_list() == []
    assert split(tf.constant(["", "unaffable"])).to_list() == [
        [],
        [core_layer.token_to_id(t) for t in ("una", "##ffa", "##ble")],
    ]


def test_config_round_trip_keeps_core_ops(core_layer):
    config = json.loads(json.dumps(core_layer.get_config()))
    assert config["ops"] == "core"
    assert Tokenizer.from_config(config).ops == "core"


def test_unknown_ops_are_rejected(core_layer):
    with pytest.raises(ValueError, match="ops must be one of"):
        Tokenizer(core_layer.tokenizer_json, ops="regex")


def test_core_layer_runs_where_tensorflow_text_cannot_be_imported(core_layer, tmp_path):
    texts = ["Hello unaffable world!", "café [MASK] 中文"]
    script = textwrap.dedent(
        f"""
        import json, sys

        class BlockTensorflowText:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "tensorflow_text":
                    raise ImportError(f"{{name}} is blocked in this test")

        sys.meta_path.insert(0, BlockTensorflowText())
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        from tokenizer_helpers import layer_from_folder

        layer = layer_from_folder({str(UNCASED_FOLDER)!r}, ops="core")
        ids = layer({texts!r})["input_ids"].numpy().tolist()
        assert "tensorflow_text" not in sys.modules
        print(json.dumps(ids))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    core_layer.max_length = 512
    expected = core_layer(texts)["input_ids"].numpy().tolist()
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
