"""Random-weight BERT folders end to end: every pooling mode, hidden_act and config format."""

from __future__ import annotations

import numpy as np
import pytest
from model_builders import build_sentence_folder
from sentences import parity_corpus

import tfst

TEXTS = parity_corpus()[:30] + parity_corpus()[-3:]
POOLING_MODES = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]


def _assert_parity(folder):
    from sentence_transformers import SentenceTransformer

    expected = SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    actual = tfst.load(folder).encode(TEXTS)
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= 1e-5


@pytest.mark.parametrize("config_format", ["legacy", "current"])
@pytest.mark.parametrize("pooling_mode", POOLING_MODES)
def test_each_pooling_mode_in_each_config_format(tmp_path, pooling_mode, config_format):
    _assert_parity(
        build_sentence_folder(tmp_path, pooling_modes=(pooling_mode,), config_format=config_format)
    )


@pytest.mark.parametrize("config_format", ["legacy", "current"])
def test_concatenated_pooling_modes(tmp_path, config_format):
    _assert_parity(
        build_sentence_folder(
            tmp_path, pooling_modes=("cls", "max", "mean"), config_format=config_format
        )
    )


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"])
def test_each_hidden_act(tmp_path, hidden_act):
    _assert_parity(build_sentence_folder(tmp_path, hidden_act=hidden_act, normalize=True))


def test_pytorch_bin_weights(tmp_path):
    folder = build_sentence_folder(tmp_path, safetensors=False)
    assert (folder / "pytorch_model.bin").is_file()
    assert not (folder / "model.safetensors").exists()
    _assert_parity(folder)


def test_folder_without_modules_json_is_transformer_plus_mean_pooling(tmp_path):
    folder = build_sentence_folder(tmp_path, max_seq_length=None)
    (folder / "modules.json").unlink()
    (folder / "sentence_bert_config.json").unlink()
    _assert_parity(folder)
