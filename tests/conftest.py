"""Shared fixtures: the real all-MiniLM-L6-v2 (tfst and the sentence-transformers reference)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from model_builders import MINILM_FOLDER  # noqa: E402


@pytest.fixture(scope="session")
def minilm_folder():
    return MINILM_FOLDER


@pytest.fixture(scope="session")
def minilm_reference(minilm_folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_folder), device="cpu")


@pytest.fixture(scope="session")
def minilm(minilm_folder):
    import tfst

    return tfst.load(minilm_folder)
