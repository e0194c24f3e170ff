"""Random Unicode text gives the embeddings of sentence-transformers (within 1e-5).

A tiny random BERT (tests/model_builders.py) keeps each example cheap; mean and max pooling are
concatenated so that one wrong token anywhere shows. Token ids alone are fuzzed in
tests/test_wordpiece.py and tests/test_core_wordpiece.py; this checks the whole pipeline
(length sorting, batching, padding, truncation, pooling) on the same kind of text.

``TFST_FUZZ_EXAMPLES=1000 pytest tests/test_fuzz_embeddings.py`` runs more examples (and new
random ones each time); ``pytest -m slow`` adds a longer run.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_builders import MINILM_FOLDER, build_sentence_folder

import tfst

VOCABULARY = (MINILM_FOLDER / "vocab.txt").read_text(encoding="utf-8").splitlines()
WORDS = [token for token in VOCABULARY[1996:] if not token.startswith("##")]


def _characters(**kinds):
    return st.characters(codec="utf-8", **kinds)


# Runs of one kind of character, so that words of marks, of CJK or of emoji occur, not only
# single odd characters inside ordinary words.
_RUNS = st.one_of(
    st.text(_characters(categories=["Lu", "Ll", "Lt", "Lm", "Lo"]), min_size=1, max_size=8),
    st.text(_characters(categories=["Mn", "Mc", "Me"]), min_size=1, max_size=3),
    st.text(_characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=6),
    st.text(_characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), min_size=1, max_size=3),
    st.text(_characters(categories=["Cc", "Cf", "Co"]), min_size=1, max_size=3),
    st.text(
        _characters(categories=["Zs", "Zl", "Zp"]) | st.sampled_from("\t\n\r\x0b\x85"), max_size=3
    ),
    st.text(_characters(categories=["P", "S", "N"]), min_size=1, max_size=3),
    st.sampled_from(WORDS),
    st.sampled_from(["[CLS]", "[SEP]", "[MASK]", "[UNK]", "[PAD]", "##", "##ing"]),
)
_SEPARATORS = st.sampled_from(["", " ", " ", "  ", "\n", "\u3000"])
# Up to 60 runs: often past the tiny model's 64 tokens, so truncation is exercised too.
TEXT = st.lists(st.tuples(_RUNS, _SEPARATORS).map("".join), max_size=60).map("".join)
BATCH = st.lists(TEXT, min_size=1, max_size=5)
FUZZ_EXAMPLES = os.environ.get("TFST_FUZZ_EXAMPLES")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """tfst and sentence-transformers on the same tiny random BERT folder."""
    from sentence_transformers import SentenceTransformer

    folder = build_sentence_folder(
        tmp_path_factory.mktemp("fuzz") / "model", pooling_modes=("mean", "max"), seed=3
    )
    return tfst.load(folder), SentenceTransformer(str(folder), device="cpu")


def assert_same_embeddings(models, texts):
    model, reference = models
    actual = model.encode(texts, batch_size=2)
    expected = reference.encode(texts, batch_size=2)
    for row, text in enumerate(texts):
        difference = np.abs(actual[row] - expected[row]).max()
        assert difference <= 1e-5, f"embeddings differ by {difference:.2e} for {text!r}"


def _fuzz_settings(default_examples: int):
    return settings(
        max_examples=int(FUZZ_EXAMPLES or default_examples),
        deadline=None,
        derandomize=FUZZ_EXAMPLES is None and default_examples < 1000,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@_fuzz_settings(50)
@given(texts=BATCH)
def test_random_unicode_text_matches_sentence_transformers(models, texts):
    assert_same_embeddings(models, texts)


@pytest.mark.slow
@_fuzz_settings(2000)
@given(texts=BATCH)
def test_random_unicode_text_matches_sentence_transformers_longer_run(models, texts):
    assert_same_embeddings(models, texts)
