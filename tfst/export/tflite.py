"""The TensorFlow Lite export: ``model.tflite`` (token ids in, builtin ops only) and, beside it,
the tokenizer as a core-ops SavedModel.

TensorFlow Lite takes token ids, not strings: turning a string tensor into numbers
(``UnicodeDecode``, ``Substr``, ``StaticRegexReplace``, ...) has no TFLite builtin, and the
select-TF-ops (Flex) delegate those ops would need ships with neither TensorFlow's
``tf.lite.Interpreter`` nor ``ai-edge-litert``. So the folder holds ``model.tflite`` (ids in,
builtin ops only) and ``tokenizer/``, a core-ops SavedModel that makes the ids from strings.

``quantize="int8"`` writes int8 weights instead (TFLite's dynamic range quantization): the
fastest CPU form tfst makes, because TensorFlow Lite's int8 kernels (XNNPack) quantize each
call's activations themselves. TensorFlow's own graph runtime has no fast counterpart: its
oneDNN quantized matmul costs more per call on short texts than the float32 one, and the
quantize and dequantize steps around it run as separate ops (benchmarks/README.md).

The embedding tables are quantized here rather than by the converter, which gives a whole
table one scale: one outlying value then costs every row its precision, and on
all-MiniLM-L6-v2 that alone cost as much quality as quantizing every projection. Each row
(one token's or position's vector) gets its own scale instead (:class:`Int8TableOps`).
"""

from __future__ import annotations

import os
from pathlib import Path

import flatbuffers
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as tflite_schema

from tfst.export.folders import TFLITE_MODEL_FILE, TFLITE_TOKENIZER_FOLDER, export_folder
from tfst.export.portable import TensorFlowOps, portable_forward
from tfst.export.saved_model import with_tokenizer_ops
from tfst.modules import Transformer
from tfst.text.tokenizer import Tokenizer


class _TokenizerModule(tf.Module):
    """The tokenizer alone: strings → ``input_ids``, ``attention_mask``, ``token_type_ids``."""

    def __init__(self, tokenizer: Tokenizer):
        super().__init__(name="tfst_tokenizer")
        self.tokenizer = tokenizer

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string, name="sentences")], autograph=False
    )
    def tokenize(self, sentences):
        return self.tokenizer(sentences)


# Values of export_tflite's ``quantize``: None keeps float32.
TFLITE_QUANTIZATIONS = ("int8",)
# Bits of a row scale's integer multiple of the table's scale unit: float32 holds it exactly.
SCALE_BITS = 23
# Smaller tables stay float32, as the converter leaves weights under 1,024 elements: they save
# little, and a row added to every token (token type 0 of a small model, such as MiniLM's 2 x 384
# table) would add its rounding error to all.
SMALLEST_INT8_TABLE = 1024


class Int8TableOps(TensorFlowOps):
    """The portable graph's ops with the embedding tables stored as int8 with one scale per
    row (tables of ``SMALLEST_INT8_TABLE`` elements or more): a looked-up row is its int8
    values times its row's scale.

    The converter's dynamic range quantization would quantize any float32 table a ``Gather``
    reads, the scales too, with one scale for the whole tensor; it leaves integer tensors
    alone. So the scales are stored as int32 multiples of one float unit (the largest scale
    over 2^23), which a ``Cast`` turns back into float32 exactly.
    """

    def lookup(self, variable, indices):
        if np.prod(variable.shape) < SMALLEST_INT8_TABLE:
            return super().lookup(variable, indices)
        with tf.init_scope():  # the values, read once while the function is traced
            table = np.asarray(variable.numpy(), np.float32)
        if not np.isfinite(table).all():
            raise ValueError(
                f"{variable.path} holds NaN or infinite values; it cannot be stored as int8"
            )
        rows, scale_multiples, unit = int8_rows(table)
        values = tf.cast(tf.gather(tf.constant(rows), indices), tf.float32)
        scales = tf.cast(tf.gather(tf.constant(scale_multiples), indices), tf.float32)
        return values * (scales * unit)


def int8_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.float32]:
    """``table`` ``[rows, width]`` as int8 values, int32 row-scale multiples ``[rows, 1]`` and
    the unit they multiply: row r is about ``values[r] * multiples[r] * unit``.

    Symmetric: a row's scale is its largest magnitude over 127, rounded up to a multiple of the
    unit (at least one, so an all-zero row stays zero; up, so that no value is clipped), and the
    values are quantized with that scale, so that the stored scale is the one they were made
    with. ``table`` must be finite."""
    largest = np.abs(table).max(axis=1, keepdims=True) / 127.0
    unit = np.float32(max(float(largest.max()), np.finfo(np.float32).tiny) / 2**SCALE_BITS)
    multiples = np.maximum(np.ceil(largest / unit), 1).astype(np.int32)
    scales = multiples.astype(np.float32) * unit
    values = np.clip(np.round(table / scales), -127, 127).astype(np.int8)
    return values, multiples, unit


def export_tflite(
    model, path: str | os.PathLike, *, overwrite: bool = False, quantize: str | None = None
) -> Path:
    """Write ``model.tflite`` (token ids → embedding) and ``tokenizer/`` (core-ops SavedModel).

    ``model.tflite`` uses TFLite builtin ops only; its one signature, ``serving_default``, takes
    ``input_ids`` and ``attention_mask`` as int32 ``[batch, seq]`` (any batch and length; rows
    padded as the tokenizer pads them) and returns ``sentence_embedding`` ``[batch, dim]``.
    It holds the model's portable graph (``tfst.export.portable``): the TensorFlow encoder's
    token scatter and attention loop have no builtin form. ``tokenizer/``'s ``serving_default``
    turns strings into the ids.

    ``quantize``: None (float32 weights; embeddings match sentence-transformers to 1e-5) or
    ``"int8"``: weights stored as int8 (projections with one scale per output channel, the
    embedding tables with one per row), activations quantized per call by the TFLite runtime.
    On all-MiniLM-L6-v2 (README.md, Speed): a quarter of the size, about half the float32
    model's latency on a short query and more than twice its throughput at batch 32, with
    embeddings close to the float32 ones but not equal. Measure it on your own texts before
    you serve it.
    """
    if quantize is not None and quantize not in TFLITE_QUANTIZATIONS:
        raise ValueError(
            f"quantize must be None or one of {TFLITE_QUANTIZATIONS}, got {quantize!r}"
        )
    input_module = model.pipeline_modules[0]
    if not isinstance(input_module, Transformer):
        # The tokenizer SavedModel below calls the tokenizer.json pipeline as a Transformer
        # does (special tokens, truncation); other input modules tokenize their own way.
        raise ValueError(
            "export_tflite supports models whose first module is a Transformer; this one's is "
            f"a {type(input_module).__name__} (export a SavedModel with model.export instead)"
        )
    with export_folder(path, overwrite) as staging:
        core_model = with_tokenizer_ops(model, "core")
        tokenizer = _TokenizerModule(core_model.tokenizer)
        tf.saved_model.save(
            tokenizer,
            str(staging / TFLITE_TOKENIZER_FOLDER),
            signatures=tokenizer.tokenize.get_concrete_function(),
        )
        (staging / TFLITE_MODEL_FILE).write_bytes(_token_ids_to_tflite(core_model, quantize))
    return Path(path)


def _token_ids_to_tflite(model, quantize: str | None) -> bytes:
    """The ids → embedding graph as a TFLite flatbuffer of builtin ops, with weights inside
    (int8 ones with ``quantize="int8"``)."""
    weights = tf.Module()
    weights.variables_read = [variable.value for variable in model.weights]
    ops = Int8TableOps() if quantize == "int8" else TensorFlowOps()

    def embed_token_ids(input_ids, attention_mask):
        return portable_forward(model, ops, input_ids, attention_mask)

    function = tf.function(
        embed_token_ids,
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="input_ids"),
            tf.TensorSpec([None, None], tf.int32, name="attention_mask"),
        ],
        autograph=False,
    ).get_concrete_function()
    # Function graphs inherit the eager context's collections, where each tokenizer lookup
    # table created eagerly left a None initializer; freezing the graph for the converter
    # serializes them and prints "'NoneType' object has no attribute 'name'". No table is used.
    function.graph.clear_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], weights)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    # Through a SavedModel the converter keeps Keras 3 weights as uninitialized resource
    # variables; the frozen-graph path folds them into constants.
    converter.experimental_lower_to_saved_model = False
    if quantize == "int8":
        # Without a representative dataset this is dynamic range quantization: int8 weights
        # (per output channel for the projections), activations quantized at run time.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return _add_signature(converter.convert(), outputs=["sentence_embedding"])


def _add_signature(flatbuffer: bytes, outputs: list[str]) -> bytes:
    """Name the inputs (by tensor name) and outputs (in order) in a ``serving_default``
    signature, which the frozen-graph conversion path does not write."""
    model = tflite_schema.ModelT.InitFromObj(tflite_schema.Model.GetRootAsModel(flatbuffer, 0))
    subgraph = model.subgraphs[0]

    def tensor_map(name: str, index: int):
        entry = tflite_schema.TensorMapT()
        entry.name, entry.tensorIndex = name, index
        return entry

    signature = tflite_schema.SignatureDefT()
    signature.signatureKey = "serving_default"
    signature.subgraphIndex = 0
    signature.inputs = [
        tensor_map(subgraph.tensors[index].name.decode(), index) for index in subgraph.inputs
    ]
    signature.outputs = [
        tensor_map(name, index) for name, index in zip(outputs, subgraph.outputs, strict=True)
    ]
    model.signatureDefs = [signature]
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
