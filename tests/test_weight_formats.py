"""The same model from safetensors, pytorch_model.bin, fp16 and bf16 checkpoints."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from model_builders import MINILM_FOLDER, build_sentence_folder
from sentences import parity_corpus

import tfst

TEXTS = parity_corpus()[:50]


@pytest.fixture(scope="session")
def minilm_as_bin(tmp_path_factory):
    """The real all-MiniLM-L6-v2 re-saved by torch as pytorch_model.bin (no safetensors)."""
    import torch
    from safetensors.torch import load_file

    folder = tmp_path_factory.mktemp("minilm_bin")
    shutil.copytree(MINILM_FOLDER, folder, dirs_exist_ok=True)
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    return folder


def test_real_minilm_from_pytorch_bin_in_a_process_without_torch(minilm_as_bin, minilm_reference):
    output = minilm_as_bin / "embeddings.npy"
    script = textwrap.dedent(
        f"""
        import sys, json
        import numpy as np
        import tfst
        texts = json.loads(sys.stdin.read())
        model = tfst.load({str(minilm_as_bin)!r})
        np.save({str(output)!r}, model.encode(texts))
        assert "torch" not in sys.modules, "torch was imported"
        """
    )
    import json

    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(TEXTS),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert np.abs(np.load(output) - minilm_reference.encode(TEXTS)).max() <= 1e-5


@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16"])
def test_half_precision_checkpoints_match_at_float32_compute(tmp_path, dtype_name):
    """Half-precision weights are widened to float32 exactly; sentence-transformers is asked to
    widen them too, so both compute in float32 from identical weights and 1e-5 still holds."""
    import torch
    from safetensors.torch import load_file, save_file
    from sentence_transformers import SentenceTransformer

    folder = build_sentence_folder(tmp_path / "model", pooling_modes=("mean",))
    dtype = getattr(torch, dtype_name)
    state = load_file(folder / "model.safetensors")
    save_file(
        {name: value.to(dtype) for name, value in state.items()}, folder / "model.safetensors"
    )
    reference = SentenceTransformer(
        str(folder), device="cpu", model_kwargs={"dtype": torch.float32}
    ).encode(TEXTS)
    actual = tfst.load(folder).encode(TEXTS)
    assert np.abs(actual - reference).max() <= 1e-5


def test_safetensors_is_preferred_when_both_formats_exist(tmp_path):
    """As transformers does: with both files present, model.safetensors is the one loaded."""
    import torch
    from safetensors.torch import load_file

    folder = build_sentence_folder(tmp_path / "model")
    state = load_file(folder / "model.safetensors")
    torch.save(
        {name: torch.zeros_like(value) for name, value in state.items()},
        folder / "pytorch_model.bin",
    )
    from sentence_transformers import SentenceTransformer

    expected = SentenceTransformer(str(folder), device="cpu").encode(TEXTS[:5])
    assert np.abs(tfst.load(folder).encode(TEXTS[:5]) - expected).max() <= 1e-5


def test_sharded_safetensors_checkpoint_matches_sentence_transformers(tmp_path):
    """save_pretrained's shards (read one tensor at a time, shard by shard) give the same
    embeddings as the single file they were split from."""
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer
    from transformers import BertModel

    folder = build_sentence_folder(tmp_path / "model", normalize=True)
    model = BertModel.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    model.save_pretrained(folder, max_shard_size="1MB")
    shards = sorted(folder.glob("model-*-of-*.safetensors"))
    assert len(shards) >= 2
    assert sum(len(load_file(shard)) for shard in shards) == len(model.state_dict())
    expected = SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert np.abs(tfst.load(folder).encode(TEXTS) - expected).max() <= 1e-5
