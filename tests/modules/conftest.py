"""Session fixtures: every module's models, built once by sentence-transformers, and helpers to
compare tfst with it."""

from __future__ import annotations

import pytest
from module_builders import (
    WORD_LAYOUTS,
    build_bow,
    build_mapped_router,
    build_model2vec_folder,
    build_query_document_router,
    build_static_embedding,
    build_word_pipeline,
    byte_level_bpe_tokenizer,
    corpus,
    minilm_tokenizer,
    unigram_tokenizer,
    write_embeddings_file,
)

STATIC_TOKENIZERS = {
    "wordpiece": minilm_tokenizer,
    "byte_level_bpe": byte_level_bpe_tokenizer,
    "unigram": unigram_tokenizer,
}


@pytest.fixture(scope="session")
def texts() -> list[str]:
    return corpus()


@pytest.fixture(scope="session", params=sorted(STATIC_TOKENIZERS))
def static_folder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"static_{request.param}") / "model"
    # The BPE model goes without Normalize, so empty texts show their zero vectors.
    normalize = request.param != "byte_level_bpe"
    return build_static_embedding(folder, STATIC_TOKENIZERS[request.param](), normalize=normalize)


@pytest.fixture(scope="session", params=["full_vocabulary", "quantized_vocabulary"])
def model2vec_folder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"model2vec_{request.param}") / "model"
    return build_model2vec_folder(folder, quantized_vocabulary=request.param != "full_vocabulary")


@pytest.fixture(scope="session")
def embeddings_file(tmp_path_factory):
    return write_embeddings_file(tmp_path_factory.mktemp("embeddings") / "vectors.txt")


@pytest.fixture(scope="session", params=WORD_LAYOUTS)
def word_folder(request, embeddings_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"word_{request.param}") / "model"
    return build_word_pipeline(folder, embeddings_file, request.param)


@pytest.fixture(scope="session", params=["cumulative", "presence"])
def bow_folder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"bow_{request.param}") / "model"
    return build_bow(folder, cumulative=request.param == "cumulative")


@pytest.fixture(scope="session")
def query_document_router_folder(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("router_parts")
    return build_query_document_router(tmp_path_factory.mktemp("router") / "model", scratch)


@pytest.fixture(scope="session")
def mapped_router_folder(embeddings_file, tmp_path_factory):
    return build_mapped_router(tmp_path_factory.mktemp("mapped_router") / "model", embeddings_file)
