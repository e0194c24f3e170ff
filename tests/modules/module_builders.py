"""Random-weight sentence-transformers models of every module, built and saved by
sentence-transformers itself (model2vec folders are written by hand, as model2vec writes them).

Each builder takes a folder and returns it; the tests load it with both libraries.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from hard_strings import ALL_HARD_STRINGS
from model_builders import MINILM_FOLDER, build_sentence_folder
from sentences import parity_corpus

SEED = 20240601
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def reference(folder: Path):
    """sentence-transformers' model of ``folder``, on the CPU."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")


def assert_same_embeddings(actual: np.ndarray, expected: np.ndarray, tolerance: float = 1e-5):
    """Within ``tolerance``; non-finite values (max pooling over a text without tokens gives
    -inf) must be the very same."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(actual), finite)
    np.testing.assert_array_equal(actual[~finite], expected[~finite])
    assert np.abs(actual[finite] - expected[finite]).max(initial=0.0) <= tolerance


def _texts() -> list[str]:
    return parity_corpus() + ALL_HARD_STRINGS


def long_texts() -> list[str]:
    """Texts far beyond any limit: thousands of words, one 20,000-character word."""
    rng = random.Random(SEED)
    words = " ".join(_texts()).split()
    return [
        " ".join(rng.choices(words, k=3000)),
        "x" * 20000,
        " ".join(rng.choices(words, k=600)) + " ΟΔΥΣΣΕΥΣ.",
    ]


def corpus() -> list[str]:
    """The texts every module is compared on: everyday sentences, hard Unicode, empty and
    whitespace-only strings, and very long texts."""
    return _texts() + ["", " ", "\t\n", "The THE the, (the)"] + long_texts()


# --- StaticEmbedding ------------------------------------------------------------------------------


def minilm_tokenizer():
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(MINILM_FOLDER / "tokenizer.json"))


def byte_level_bpe_tokenizer():
    """A small byte-level BPE with RoBERTa's post-processor and added tokens (none of which
    a StaticEmbedding adds)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<s>", "<pad>", "</s>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_texts() * 2, trainer)
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return tokenizer


def unigram_tokenizer():
    """A small Metaspace + Unigram tokenizer with an NFKC normalizer and an unknown token."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=400, special_tokens=["<unk>"], unk_token="<unk>", show_progress=False
    )
    tokenizer.train_from_iterator(parity_corpus() * 3, trainer)
    return tokenizer


def random_table(rows: int, dimension: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, dimension)).astype(np.float32)


def build_static_embedding(
    folder: Path,
    tokenizer,
    *,
    dimension: int = 24,
    normalize: bool = True,
    seed: int = SEED,
    dtype=np.float32,
) -> Path:
    """sentence-transformers' StaticEmbedding from ``tokenizer`` and a random table, saved."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    table = random_table(tokenizer.get_vocab_size(), dimension, seed).astype(dtype)
    modules = [StaticEmbedding(tokenizer, embedding_weights=table)]
    if normalize:
        modules.append(Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder


def build_model2vec_folder(
    folder: Path, *, quantized_vocabulary: bool = False, dimension: int = 16
) -> Path:
    """A folder as model2vec saves one and sentence-transformers loads it: model2vec's
    config.json, ``embeddings`` (with ``mapping`` and per-token ``weights`` when the vocabulary
    is quantized), tokenizer.json, and a modules.json of StaticEmbedding + Normalize in the
    legacy type names."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = minilm_tokenizer()
    tokenizer.no_truncation()
    tokenizer.no_padding()
    tokenizer.save(str(folder / "tokenizer.json"))
    vocabulary = tokenizer.get_vocab_size()
    rng = np.random.default_rng(SEED + 1)
    if quantized_vocabulary:
        clusters = 257
        tensors = {
            "embeddings": random_table(clusters, dimension, SEED + 2),
            "mapping": rng.integers(0, clusters, size=vocabulary).astype(np.int64),
            "weights": rng.uniform(0.1, 2.0, size=vocabulary).astype(np.float32),
        }
    else:
        tensors = {"embeddings": random_table(vocabulary, dimension, SEED + 3)}
    save_file(tensors, str(folder / "model.safetensors"))
    config = {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": "sentence-transformers/all-MiniLM-L6-v2",
        "apply_pca": dimension,
        "apply_zipf": True,
        "hidden_dim": dimension,
        "seq_length": 1000000,
        "normalize": True,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    modules = [
        {
            "idx": 0,
            "name": "0",
            "path": ".",
            "type": "sentence_transformers.models.StaticEmbedding",
        },
        {
            "idx": 1,
            "name": "1",
            "path": "1_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
    (folder / "1_Normalize").mkdir()
    return folder


# --- WordEmbeddings and the modules after it ----------------------------------------------------


def write_embeddings_file(path: Path, dimension: int = 12, word2vec_header: bool = False) -> Path:
    """A GloVe-style text file of random vectors for words of the test corpus (as they are,
    stripped of punctuation, lowercased), so every lookup step of the tokenizer is exercised."""
    words = set()
    for text in _texts():
        for word in text.split():
            stripped = word.strip(PUNCTUATION)
            words.update({word, stripped, stripped.lower()})
    words.discard("")
    rng = random.Random(SEED)
    vocabulary = sorted(words)
    rng.shuffle(vocabulary)
    # Drop some words of each form, so the later lookups decide too; keep stop words in,
    # so that dropping them is visible.
    vocabulary = vocabulary[: int(len(vocabulary) * 0.8)] + ["the", "The", "a", "is"]
    vectors = np.random.default_rng(SEED).standard_normal((len(vocabulary), dimension))
    lines = [f"{len(vocabulary)} {dimension}"] if word2vec_header else []
    lines += [
        word + " " + " ".join(f"{value:.6f}" for value in vector)
        for word, vector in zip(vocabulary, vectors, strict=True)
        if " " not in word
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def word_embeddings(embeddings_file: Path, *, do_lower_case: bool = False, max_seq_length=None):
    from sentence_transformers.sentence_transformer.modules import WordEmbeddings
    from sentence_transformers.sentence_transformer.modules.tokenizer import WhitespaceTokenizer

    module = WordEmbeddings.from_text_file(
        str(embeddings_file), tokenizer=WhitespaceTokenizer(do_lower_case=do_lower_case)
    )
    if max_seq_length is not None:
        module.max_seq_length = max_seq_length
    return module


def idf_weights(vocab: list[str], seed: int = SEED) -> dict[str, float]:
    """Weights for most words (some lowercase only), so WordWeights' three cases all occur."""
    rng = random.Random(seed)
    weights = {}
    for word in vocab[1:]:
        draw = rng.random()
        if draw < 0.6:
            weights[word] = round(rng.uniform(0.5, 6.0), 4)
        elif draw < 0.8:
            weights[word.lower()] = round(rng.uniform(0.5, 6.0), 4)
    return weights


def build_word_pipeline(folder: Path, embeddings_file: Path, layout: str) -> Path:
    """A WordEmbeddings model in one of ``WORD_LAYOUTS``, saved by sentence-transformers."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (
        CNN,
        LSTM,
        Dense,
        Dropout,
        LayerNorm,
        Normalize,
        Pooling,
        WordWeights,
    )

    torch.manual_seed(SEED)
    if layout == "weights_mean_dense_layer_norm":
        embeddings = word_embeddings(embeddings_file)
        dimension = embeddings.get_embedding_dimension()
        vocab = embeddings.tokenizer.get_vocab()
        layer_norm = LayerNorm(10)
        with torch.no_grad():
            layer_norm.norm.weight.uniform_(0.5, 1.5)
            layer_norm.norm.bias.uniform_(-0.3, 0.3)
        modules = [
            embeddings,
            WordWeights(vocab, idf_weights(vocab), unknown_word_weight=0.25),
            Pooling(dimension, ["mean", "weightedmean", "mean_sqrt_len_tokens"]),
            Dense(dimension * 3, 10),
            layer_norm,
            Dropout(0.3),
            Normalize(),
        ]
    elif layout == "lstm_max":
        embeddings = word_embeddings(embeddings_file, do_lower_case=True)
        dimension = embeddings.get_embedding_dimension()
        lstm = LSTM(dimension, hidden_dim=8, num_layers=2, dropout=0.1, bidirectional=True)
        modules = [embeddings, lstm, Pooling(16, ["max", "mean"])]
    elif layout == "unidirectional_lstm_truncated":
        embeddings = word_embeddings(embeddings_file, max_seq_length=7)
        dimension = embeddings.get_embedding_dimension()
        lstm = LSTM(dimension, hidden_dim=6, num_layers=1, bidirectional=False)
        modules = [embeddings, lstm, Pooling(6, "lasttoken")]
    elif layout == "cnn":
        embeddings = word_embeddings(embeddings_file)
        dimension = embeddings.get_embedding_dimension()
        cnn = CNN(dimension, out_channels=5, kernel_sizes=[1, 3, 5])
        modules = [embeddings, cnn, Pooling(15, "mean"), Normalize()]
    elif layout == "weights_lstm_cnn":
        embeddings = word_embeddings(embeddings_file, do_lower_case=True)
        dimension = embeddings.get_embedding_dimension()
        vocab = embeddings.tokenizer.get_vocab()
        modules = [
            embeddings,
            WordWeights(vocab, idf_weights(vocab, SEED + 1)),
            LSTM(dimension, hidden_dim=5, num_layers=1),
            CNN(10, out_channels=4, kernel_sizes=[3, 7]),
            Pooling(8, ["mean", "max"]),
        ]
    else:
        raise ValueError(layout)
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder


WORD_LAYOUTS = (
    "weights_mean_dense_layer_norm",
    "lstm_max",
    "unidirectional_lstm_truncated",
    "cnn",
    "weights_lstm_cnn",
)


def build_bow(folder: Path, *, cumulative: bool) -> Path:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import BoW, Dense, Normalize

    words = sorted({word for text in _texts() for word in text.split()})
    vocab = words[::3] + words[:50]  # with repeats, which BoW drops
    modules = [BoW(vocab, idf_weights(vocab), 0.5, cumulative_term_frequency=cumulative)]
    if cumulative:
        modules.append(Normalize())
    else:
        modules.append(Dense(len(dict.fromkeys(vocab)), 8))
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder


# --- Router -------------------------------------------------------------------------------------


def build_query_document_router(folder: Path, scratch: Path) -> Path:
    """``Router.for_query_document``: a static query encoder, a tiny BERT + mean pooling for
    documents (the default route), Normalize after both; with query and document prompts."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (
        Normalize,
        Router,
        StaticEmbedding,
    )

    document = SentenceTransformer(
        str(build_sentence_folder(scratch / "document_encoder")), device="cpu"
    )
    tokenizer = minilm_tokenizer()
    table = random_table(tokenizer.get_vocab_size(), 32, SEED + 4)
    router = Router.for_query_document(
        query_modules=[StaticEmbedding(tokenizer, embedding_weights=table)],
        document_modules=list(document.children()),
    )
    model = SentenceTransformer(
        modules=[router, Normalize()],
        prompts={"query": "query: ", "document": "passage: "},
        device="cpu",
    )
    model.save(str(folder))
    return folder


def build_mapped_router(folder: Path, embeddings_file: Path) -> Path:
    """A Router without a default route whose routes are found through route_mappings, sharing
    one WordEmbeddings between two routes, with a third route named like a task."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Router, StaticEmbedding

    embeddings = word_embeddings(embeddings_file)
    dimension = embeddings.get_embedding_dimension()
    unigram = unigram_tokenizer()
    table = random_table(unigram.get_vocab_size(), dimension, SEED + 5)
    router = Router(
        {
            "short": [embeddings, Pooling(dimension, "max")],
            "long": [embeddings, Pooling(dimension, "mean")],
            "static": [StaticEmbedding(unigram, embedding_weights=table)],
        },
        default_route=None,
        allow_empty_key=False,
        route_mappings={("query", "text"): "short", ("document", None): "long"},
    )
    SentenceTransformer(modules=[router], device="cpu").save(str(folder))
    return folder
