"""The cross-encoder SavedModel (written by ``tfst export`` and by ``model.export``) served in a
fresh process without tfst or tensorflow-text: core ops only, sentence-transformers' scores;
and ``tfst rerank``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from fresh_process import run_in_fresh_process

TOLERANCE = 1e-5
# BERT with three labels (token types, several scores) through the CLI, MPNet (no token types,
# one squeezed score) through model.export.
EXPORTED = {"bert_3_labels": "modular", "mpnet_1_label": "classic"}

SCORE_PAIRS = """
report["ops"], report["unregistered"] = {}, {}
for name, folder in request["exports"].items():
    report["ops"][name], report["unregistered"][name] = unregistered_ops(folder)
    serve = tf.saved_model.load(folder).signatures["serving_default"]
    queries, documents = zip(*request["pairs"])
    outputs = serve(queries=tf.constant(queries), documents=tf.constant(documents))
    np.save(f"{request['output']}/{name}_scores.npy", outputs["scores"].numpy())
    np.save(f"{request['output']}/{name}_logits.npy", outputs["logits"].numpy())
"""


def run_cli(*arguments, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "-m", "tfst", *map(str, arguments)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="session")
def exports(cross_encoder_folder, loaded, tmp_path_factory):
    root = tmp_path_factory.mktemp("cross_encoder_exports")
    folder = cross_encoder_folder("bert_3_labels", EXPORTED["bert_3_labels"])
    result = run_cli("export", folder, root / "bert_3_labels")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "queries, documents → scores" in result.stdout
    model, _ = loaded("mpnet_1_label", EXPORTED["mpnet_1_label"])
    model.export(root / "mpnet_1_label")
    return {name: root / name for name in EXPORTED}


@pytest.fixture(scope="session")
def served(exports, pairs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    request = {
        "exports": {name: str(path) for name, path in exports.items()},
        "pairs": pairs,
        "output": str(folder),
    }
    report = run_in_fresh_process(SCORE_PAIRS, request, folder)
    for name in EXPORTED:
        report[name] = {
            output: np.load(folder / f"{name}_{output}.npy") for output in ("scores", "logits")
        }
    return report


def test_fresh_process_serves_without_tfst_or_tensorflow_text(served):
    assert not served["tfst_imported"]
    assert not served["tensorflow_text_imported"]


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_every_op_is_a_core_tensorflow_op(served, name):
    assert served["unregistered"][name] == []
    # The tokenizer is in the graph: its string and table ops are among the checked ones.
    for op in ("UnicodeDecodeWithOffsets", "StringJoin", "LookupTableFindV2"):
        assert op in served["ops"][name]


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_served_scores_are_sentence_transformers_predictions(served, loaded, pairs, name):
    _, reference = loaded(name, EXPORTED[name])
    scores, logits = served[name]["scores"], served[name]["logits"]
    assert np.abs(scores - reference.predict(pairs)).max() <= TOLERANCE
    expected_logits = reference.predict(pairs, activation_fn=lambda x: x)
    assert np.abs(logits - expected_logits.reshape(logits.shape)).max() <= TOLERANCE


@pytest.mark.parametrize("dtype", [tf.int64, tf.int32])
@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_token_id_signatures_take_what_the_transformers_tokenizer_gives(
    exports, loaded, pairs, name, dtype
):
    _, reference = loaded(name, EXPORTED[name])
    features = reference[0].preprocess([list(pair) for pair in pairs[:48]])
    signature = "from_token_ids" if dtype == tf.int64 else "from_token_ids_int32"
    serve = tf.saved_model.load(str(exports[name])).signatures[signature]
    inputs = {
        key: tf.constant(features[key].numpy(), dtype)
        for key in ("input_ids", "attention_mask", "token_type_ids")
        if key in features
    }
    assert ("token_type_ids" in inputs) == (name == "bert_3_labels")
    scores = serve(**inputs)["scores"].numpy()
    assert np.abs(scores - reference.predict(pairs[:48])).max() <= TOLERANCE


def test_rerank_prints_the_ranking_as_json_lines(cross_encoder_folder, loaded, pairs):
    model, _ = loaded("mpnet_1_label", "classic")
    # One document per line: none may hold a line break of Python's universal newlines.
    documents = [document for _, document in pairs if not {"\n", "\r"} & set(document)]
    documents = list(dict.fromkeys(documents))[:30]
    query = "Who reads the quarterly report?"
    result = run_cli(
        "rerank",
        cross_encoder_folder("mpnet_1_label", "classic"),
        "--query",
        query,
        "--top-k",
        "10",
        "--quiet",
        stdin="".join(f"{document}\n" for document in documents),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    expected = model.rank(query, documents, top_k=10, return_documents=True)
    assert [r["corpus_id"] for r in printed] == [r["corpus_id"] for r in expected]
    assert [r["text"] for r in printed] == [r["text"] for r in expected]
    assert (
        np.abs(np.array([r["score"] for r in printed]) - [r["score"] for r in expected]).max()
        <= 1e-6
    )


def test_rerank_refuses_an_embedding_model_in_one_line(minilm_folder):
    result = run_cli("rerank", minilm_folder, "--query", "q", stdin="a document\n")
    assert result.returncode == 1
    assert "BertForSequenceClassification" in result.stderr
    assert "Traceback" not in result.stderr
