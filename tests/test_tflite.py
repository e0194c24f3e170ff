"""`model.export_tflite(path)`: `model.tflite` (ids in, builtin ops only) + a core-ops tokenizer.

Run with the TFLite interpreter that ships with TensorFlow, fed by the exported tokenizer
SavedModel, the pair gives sentence-transformers' embeddings from raw strings.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf
from sentences import parity_corpus
from tensorflow.lite.python import schema_py_generated as tflite_schema

TEXTS = parity_corpus()[:24] + ["", "hello☃ unaffable [MASK] 中文", "word " * 600]


@pytest.fixture(scope="session")
def tflite_export(minilm, tmp_path_factory):
    return minilm.export_tflite(tmp_path_factory.mktemp("tflite") / "minilm")


@pytest.fixture(scope="session")
def interpreter(tflite_export):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        return tf.lite.Interpreter(model_path=str(tflite_export / "model.tflite"))


def _operators(path) -> tuple[set[str], set[str]]:
    """Builtin operator names and custom (Flex and other) operator names of a .tflite file."""
    data = path.read_bytes()
    model = tflite_schema.ModelT.InitFromObj(tflite_schema.Model.GetRootAsModel(data, 0))
    names = {code: name for name, code in vars(tflite_schema.BuiltinOperator).items()}
    builtins, customs = set(), set()
    for code in model.operatorCodes:
        if code.customCode:
            customs.add(code.customCode.decode())
        else:
            builtins.add(names[max(code.builtinCode, code.deprecatedBuiltinCode)])
    return builtins, customs


def test_tflite_embeddings_from_strings_match_sentence_transformers(
    tflite_export, interpreter, minilm_reference
):
    tokenize = tf.saved_model.load(str(tflite_export / "tokenizer")).signatures["serving_default"]
    embed = interpreter.get_signature_runner("serving_default")
    embeddings = []
    for text in TEXTS:
        ids = tokenize(sentences=tf.constant([text]))
        outputs = embed(
            input_ids=ids["input_ids"].numpy(), attention_mask=ids["attention_mask"].numpy()
        )
        embeddings.append(outputs["sentence_embedding"][0])
    expected = minilm_reference.encode(TEXTS)
    assert np.abs(np.stack(embeddings) - expected).max() <= 1e-5


def test_tflite_uses_builtin_operators_only(tflite_export):
    builtins, customs = _operators(tflite_export / "model.tflite")
    assert customs == set()  # no Flex (select TF ops) and no custom ops
    assert {"BATCH_MATMUL", "GATHER", "GELU", "SOFTMAX"} <= builtins


def test_tflite_signature_takes_one_text_of_any_length(interpreter):
    assert interpreter.get_signature_list() == {
        "serving_default": {
            "inputs": ["attention_mask", "input_ids"],
            "outputs": ["sentence_embedding"],
        }
    }
    inputs = interpreter.get_signature_runner().get_input_details()
    assert inputs["input_ids"]["shape_signature"].tolist() == [1, -1]


def test_tflite_is_about_the_size_of_the_weights(tflite_export, minilm_folder):
    weights = (minilm_folder / "model.safetensors").stat().st_size
    assert (tflite_export / "model.tflite").stat().st_size <= 1.02 * weights
