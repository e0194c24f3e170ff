"""Shared fixtures: the real all-MiniLM-L6-v2 (tfst and the sentence-transformers reference)."""

from __future__ import annotations

import os
from pathlib import Path

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


SLOW_TESTS = frozenset(
    line.strip()
    for line in (Path(__file__).parent / "slow_tests.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark the measured-slow tests (tests/slow_tests.txt) before ``-m 'not slow'`` selects."""
    for item in items:
        if item.nodeid in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
