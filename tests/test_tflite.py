"""`model.export_tflite(path)`: `model.tflite` (ids in, builtin ops only) + a core-ops tokenizer.

Run with the TFLite interpreter that ships with TensorFlow, fed by the exported tokenizer
SavedModel, the pair gives sentence-transformers' embeddings from raw strings.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf
from model_builders import (
    build_distiluse_shaped_folder,
    build_mpnet_sentence_folder,
    build_sentence_folder,
)
from sentences import parity_corpus
from tensorflow.lite.python import schema_py_generated as tflite_schema

from tfst.export.tflite import int8_rows

TEXTS = parity_corpus()[:60] + ["", "hello☃ unaffable [MASK] 中文", "word " * 600]


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


@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_tflite_embeddings_from_strings_match_sentence_transformers(
    tflite_export, interpreter, minilm_reference, batch_size
):
    tokenize = tf.saved_model.load(str(tflite_export / "tokenizer")).signatures["serving_default"]
    embed = interpreter.get_signature_runner("serving_default")
    embeddings = []
    for start in range(0, len(TEXTS), batch_size):
        ids = tokenize(sentences=tf.constant(TEXTS[start : start + batch_size]))
        outputs = embed(
            input_ids=ids["input_ids"].numpy(), attention_mask=ids["attention_mask"].numpy()
        )
        embeddings.append(outputs["sentence_embedding"])
    expected = minilm_reference.encode(TEXTS)
    assert np.abs(np.concatenate(embeddings) - expected).max() <= 1e-5


def test_tflite_uses_builtin_operators_only(tflite_export):
    builtins, customs = _operators(tflite_export / "model.tflite")
    assert customs == set()  # no Flex (select TF ops) and no custom ops
    assert {"BATCH_MATMUL", "GATHER", "GELU", "SOFTMAX"} <= builtins


def test_tflite_signature_takes_any_batch_of_any_length(interpreter):
    assert interpreter.get_signature_list() == {
        "serving_default": {
            "inputs": ["attention_mask", "input_ids"],
            "outputs": ["sentence_embedding"],
        }
    }
    inputs = interpreter.get_signature_runner().get_input_details()
    assert inputs["input_ids"]["shape_signature"].tolist() == [-1, -1]


def test_tflite_is_about_the_size_of_the_weights(tflite_export, minilm_folder):
    weights = (minilm_folder / "model.safetensors").stat().st_size
    assert (tflite_export / "model.tflite").stat().st_size <= 1.02 * weights


@pytest.fixture(scope="session")
def int8_export(minilm, tmp_path_factory):
    return minilm.export_tflite(tmp_path_factory.mktemp("tflite_int8") / "minilm", quantize="int8")


def _tensors(path) -> set[tuple[str, tuple[int, ...]]]:
    """(type, shape) of every tensor of the model's main graph."""
    data = path.read_bytes()
    model = tflite_schema.ModelT.InitFromObj(tflite_schema.Model.GetRootAsModel(data, 0))
    names = {code: name for name, code in vars(tflite_schema.TensorType).items()}
    return {
        (names[tensor.type], tuple(int(size) for size in tensor.shape))
        for tensor in model.subgraphs[0].tensors
    }


def _tensor_types(path) -> set[str]:
    return {tensor_type for tensor_type, _ in _tensors(path)}


def test_int8_tflite_keeps_quality_at_a_quarter_of_the_size(int8_export, tflite_export, minilm):
    assert "INT8" in _tensor_types(int8_export / "model.tflite")
    assert "INT8" not in _tensor_types(tflite_export / "model.tflite")
    size = (int8_export / "model.tflite").stat().st_size
    assert size <= 0.3 * (tflite_export / "model.tflite").stat().st_size
    assert _operators(int8_export / "model.tflite")[1] == set()  # builtin operators only
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_path=str(int8_export / "model.tflite"))
    embed = interpreter.get_signature_runner("serving_default")
    texts = TEXTS[:60]
    ids = minilm.tokenize(texts)
    quantized = embed(
        input_ids=ids["input_ids"].numpy().astype(np.int32),
        attention_mask=ids["attention_mask"].numpy().astype(np.int32),
    )["sentence_embedding"]
    expected = minilm.encode(texts)
    cosine = np.sum(quantized * expected, axis=1) / (
        np.linalg.norm(quantized, axis=1) * np.linalg.norm(expected, axis=1)
    )
    # The real model's float32 embeddings are the reference: close, but not equal. These texts
    # are hard ones (literal special tokens, punctuation only, scripts MiniLM barely knows):
    # measured min 0.9921, mean 0.9983 (with one scale per embedding table, as the
    # converter quantizes them, min 0.9888, mean 0.9966).
    assert cosine.min() >= 0.99 and cosine.mean() >= 0.997
    assert np.abs(quantized - expected).max() > 1e-5


def test_int8_tflite_stores_embedding_tables_with_a_scale_per_row(int8_export, minilm):
    vocabulary, width = minilm.encoder.word_embeddings.embeddings.shape
    tensors = _tensors(int8_export / "model.tflite")
    assert ("INT8", (vocabulary, width)) in tensors
    assert ("INT32", (vocabulary, 1)) in tensors  # the row scales, not quantized again
    assert ("FLOAT32", (vocabulary, width)) not in tensors


def test_int8_rows_keep_every_row_to_half_its_own_step():
    rng = np.random.default_rng(0)
    magnitudes = 10.0 ** rng.uniform(-2, 1, size=(200, 1))
    table = (rng.standard_normal((200, 48)) * magnitudes).astype(np.float32)
    table[7] = 0.0
    values, multiples, unit = int8_rows(table)
    assert values.dtype == np.int8 and multiples.dtype == np.int32 and multiples.shape == (200, 1)
    steps = multiples.astype(np.float32) * unit
    restored = values.astype(np.float32) * steps
    assert np.all(np.abs(restored - table) <= 0.5 * steps * (1 + 1e-5))
    assert not restored[7].any()
    # Each row's step is its own (largest magnitude / 127), whatever the other rows hold: one
    # scale for the whole table would round the smallest rows here to zero.
    largest = np.abs(table).max(axis=1, keepdims=True)
    relative = np.delete(np.abs(steps * 127 / np.maximum(largest, 1e-30) - 1), 7)
    assert relative.max() <= 1e-3


def test_int8_rows_never_clip_a_row_far_below_the_largest():
    # A row at 1e-7 of the table's largest gets a step of a few units: rounded down, its
    # largest value would be clipped at 127 steps.
    table = np.array([[1000.0, -3.0], [1.3e-4, -1.0e-4]], np.float32)
    values, multiples, unit = int8_rows(table)
    restored = values.astype(np.float32) * (multiples.astype(np.float32) * unit)
    assert np.all(np.abs(restored - table) <= 0.5 * multiples * unit * (1 + 1e-5))


def test_int8_tflite_refuses_a_table_with_nan_naming_it(tmp_path):
    import tfst

    model = tfst.load(build_sentence_folder(tmp_path / "model"))
    table = model.encoder.word_embeddings.embeddings
    values = table.numpy()
    values[3, 0] = np.nan
    table.assign(values)
    with pytest.raises(ValueError, match="word_embeddings.* NaN or infinite"):
        model.export_tflite(tmp_path / "out", quantize="int8")


def test_tflite_refuses_an_unknown_quantization_before_writing(minilm, tmp_path):
    with pytest.raises(
        ValueError, match=r"quantize must be None or one of \('int8',\), got 'int4'"
    ):
        minilm.export_tflite(tmp_path / "out", quantize="int4")
    assert not (tmp_path / "out").exists()


def test_tflite_random_models_of_every_family_match_sentence_transformers(tmp_path):
    """MPNet (relative position bias, positions past the padding id) and DistilBERT + Dense +
    Normalize, at a batch of mixed lengths."""
    from sentence_transformers import SentenceTransformer

    import tfst

    texts = TEXTS[:32] + ["x " * 300]
    for name, build in (
        ("mpnet", build_mpnet_sentence_folder),
        ("distilbert", build_distiluse_shaped_folder),
    ):
        folder = build(tmp_path / name)
        model = tfst.load(folder)
        export = model.export_tflite(tmp_path / f"{name}_tflite")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runner = tf.lite.Interpreter(model_path=str(export / "model.tflite"))
        ids = model.tokenize(texts)
        outputs = runner.get_signature_runner()(
            input_ids=ids["input_ids"].numpy(), attention_mask=ids["attention_mask"].numpy()
        )
        expected = SentenceTransformer(str(folder), device="cpu").encode(texts)
        assert np.abs(outputs["sentence_embedding"] - expected).max() <= 1e-5, name


def test_tflite_export_prints_no_serialization_noise(tmp_path, capfd, caplog):
    """TensorFlow logged "Issue encountered when serializing table_initializer ... 'NoneType'
    object has no attribute 'name'" while freezing the graph (through Python logging)."""
    import tfst

    model = tfst.load(build_sentence_folder(tmp_path / "model"))
    capfd.readouterr()
    caplog.clear()
    model.export_tflite(tmp_path / "export")
    printed = capfd.readouterr()
    for output in (printed.out, printed.err, caplog.text):
        assert "NoneType" not in output
        assert "Issue encountered when serializing" not in output
