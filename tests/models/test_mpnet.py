"""The MPNet family against transformers' MPNetModel and sentence-transformers, on random-weight
models of several shapes (texts longer than 128 tokens, so the logarithmic buckets are used)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from hard_strings import ALL_HARD_STRINGS
from model_builders import build_mpnet_sentence_folder
from parity import largest_difference_from_transformers, load_encoder, random_features
from sentences import parity_corpus

import tfst
from tfst.config import ConfigError
from tfst.models.mpnet import BUCKETS, MAX_DISTANCE, distance_buckets

LONG_TEXTS = [" ".join(f"word{i} token" for i in range(n)) for n in (90, 200, 400)]
TEXTS = parity_corpus()[:60] + ALL_HARD_STRINGS[:60] + LONG_TEXTS + ["", "a"]
SHAPES = {
    "base_shape": dict(hidden_size=32, num_layers=2, num_heads=4, buckets=32),
    "wide_3_layers_64_buckets": dict(hidden_size=48, num_layers=3, num_heads=6, buckets=64),
}


@pytest.fixture(scope="session", params=sorted(SHAPES))
def mpnet_folder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"mpnet_{request.param}") / "model"
    return build_mpnet_sentence_folder(folder, **SHAPES[request.param], seed=7)


@pytest.fixture(scope="session")
def mpnet_bin_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mpnet_bin") / "model"
    return build_mpnet_sentence_folder(folder, safetensors=False, pooling="cls", seed=8)


def _reference(folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")


def test_distance_buckets_are_transformers_buckets():
    import torch
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

    relative = torch.arange(-1500, 1501)
    expected = MPNetEncoder.relative_position_bucket(relative, BUCKETS, MAX_DISTANCE).numpy()
    table = distance_buckets(1500)
    distance = -relative.numpy()  # transformers' n = -(key - query)
    ours = table[np.abs(distance)] + np.where(distance < 0, BUCKETS // 2, 0)
    np.testing.assert_array_equal(ours, expected)


def test_hidden_states_match_mpnet_model(mpnet_folder):
    encoder = load_encoder(mpnet_folder)
    features = random_features(seed=1, batch=4, length=300, pad_id=1, token_types=False)
    assert largest_difference_from_transformers(mpnet_folder, encoder, features) <= 1e-5


def test_embeddings_match_sentence_transformers(mpnet_folder):
    expected = _reference(mpnet_folder).encode(TEXTS)
    actual = tfst.load(mpnet_folder).encode(TEXTS)
    assert np.abs(actual - expected).max() <= 1e-5


def test_pytorch_bin_weights_and_cls_pooling(mpnet_bin_folder):
    assert (mpnet_bin_folder / "pytorch_model.bin").is_file()
    expected = _reference(mpnet_bin_folder).encode(TEXTS)
    assert np.abs(tfst.load(mpnet_bin_folder).encode(TEXTS) - expected).max() <= 1e-5


def test_token_ids_match_sentence_transformers(mpnet_folder):
    reference = _reference(mpnet_folder)
    texts = ALL_HARD_STRINGS + ["a <mask> b", "x<mask>", "<s> </s> <pad>"]
    expected = reference.preprocess(texts)
    actual = tfst.load(mpnet_folder).tokenize(texts)
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(actual[name].numpy(), expected[name].numpy())


def test_save_pretrained_round_trips_through_sentence_transformers(mpnet_folder, tmp_path):
    model = tfst.load(mpnet_folder)
    model.save_pretrained(tmp_path / "saved")
    expected = _reference(mpnet_folder).encode(TEXTS)
    assert np.abs(_reference(tmp_path / "saved").encode(TEXTS) - expected).max() <= 1e-5
    assert np.abs(tfst.load(tmp_path / "saved").encode(TEXTS) - expected).max() <= 1e-5


def test_saved_model_serves_the_same_embeddings_in_a_fresh_process(mpnet_folder, tmp_path):
    path = tfst.load(mpnet_folder).export(tmp_path / "export")
    script = textwrap.dedent(
        f"""
        import json, sys
        import tensorflow as tf
        served = tf.saved_model.load({str(path)!r}).signatures["serving_default"]
        texts = json.loads(sys.stdin.read())
        print(json.dumps(served(tf.constant(texts))["sentence_embedding"].numpy().tolist()))
        assert "tfst" not in sys.modules
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(TEXTS),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.asarray(json.loads(result.stdout.strip().splitlines()[-1]))
    expected = _reference(mpnet_folder).encode(TEXTS)
    assert np.abs(served - expected).max() <= 1e-5


def test_fewer_buckets_than_transformers_uses_are_refused(mpnet_folder, tmp_path):
    import shutil

    folder = shutil.copytree(mpnet_folder, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config["relative_attention_num_buckets"] = 16
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="relative_attention_num_buckets 16"):
        tfst.load(folder)


def test_position_bias_is_computed_once_per_batch_for_all_layers(mpnet_folder, monkeypatch):
    from tfst.models.mpnet import MPNetEncoder

    calls = []
    original = MPNetEncoder.position_bias

    def counting(self, length):
        calls.append(length)
        return original(self, length)

    monkeypatch.setattr(MPNetEncoder, "position_bias", counting)
    model = tfst.load(mpnet_folder)
    assert model.encoder.num_layers >= 2
    tf.function(model).get_concrete_function(tf.TensorSpec([None], tf.string))
    assert len(calls) == 1
