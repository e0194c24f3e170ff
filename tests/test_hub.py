"""Hub ids resolve through a Hugging Face cache, offline, exactly as sentence-transformers would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from model_builders import MINILM_FOLDER
from sentences import parity_corpus

from tfst import hub
from tfst.hub import ModelNotFoundError, resolve_model_folder

REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
COMMIT = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory):
    """A hub-layout cache (refs/main → snapshots/<commit>/...) filled from the installed folder."""
    cache = tmp_path_factory.mktemp("hf_cache")
    repo = cache / ("models--" + REPO_ID.replace("/", "--"))
    shutil.copytree(MINILM_FOLDER, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return cache


@pytest.fixture
def offline(monkeypatch, hub_cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    return hub_cache


def test_local_folder_is_returned_as_is():
    assert resolve_model_folder(MINILM_FOLDER) == MINILM_FOLDER


def test_hub_id_resolves_to_the_cached_snapshot_offline(offline):
    folder = resolve_model_folder(REPO_ID)
    assert folder.name == COMMIT
    assert (folder / "model.safetensors").is_file()


def test_revision_selects_the_snapshot(offline):
    assert resolve_model_folder(REPO_ID, revision=COMMIT).name == COMMIT


def test_cache_dir_argument_wins_over_environment(monkeypatch, hub_cache, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    folder = resolve_model_folder(REPO_ID, cache_dir=hub_cache, local_files_only=True)
    assert folder.name == COMMIT


def test_hf_home_locates_the_cache(monkeypatch, hub_cache, tmp_path):
    shutil.copytree(hub_cache, tmp_path / "home" / "hub")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    folder = resolve_model_folder(REPO_ID, local_files_only=True)
    assert folder.parents[2] == tmp_path / "home" / "hub"


def test_model_missing_from_cache_while_offline_says_so(offline):
    with pytest.raises(
        ModelNotFoundError, match=r"not .*in the Hugging Face cache.*HF_HUB_OFFLINE"
    ):
        resolve_model_folder("sentence-transformers/not-cached-model")


def test_only_configuration_and_one_weights_file_are_requested(monkeypatch, hub_cache):
    """With safetensors present, pytorch_model.bin and ONNX files are never asked for."""
    requested = []
    snapshot = hub_cache / ("models--" + REPO_ID.replace("/", "--")) / "snapshots" / COMMIT

    def fake_snapshot_download(repo_id, allow_patterns, **options):
        requested.extend(allow_patterns)
        return str(snapshot)

    def fake_hf_hub_download(repo_id, filename, subfolder=None, **options):
        requested.append(filename)
        return str(snapshot / filename)

    monkeypatch.setattr(hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setattr(hub, "hf_hub_download", fake_hf_hub_download)
    resolve_model_folder(REPO_ID)
    assert "model.safetensors" in requested
    assert not any("pytorch_model" in name or "onnx" in name for name in requested)


def test_load_by_hub_id_offline_matches_sentence_transformers(offline, minilm_reference):
    import tfst

    texts = parity_corpus()
    model = tfst.load(REPO_ID)
    embeddings = model.encode(texts)
    np.testing.assert_allclose(embeddings, minilm_reference.encode(texts), atol=1e-5, rtol=0)


def test_load_by_hub_id_in_a_fresh_offline_process(hub_cache):
    """HF_HUB_OFFLINE set before anything is imported, as a user's shell would set it."""
    script = textwrap.dedent(
        f"""
        import sys, tfst
        model = tfst.load({REPO_ID!r})
        vector = model.encode("hello offline world")
        assert vector.shape == (384,), vector.shape
        assert "torch" not in sys.modules
        print("ok")
        """
    )
    environment = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(hub_cache))
    result = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
