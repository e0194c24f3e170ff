"""The ONNX export: ``model.onnx`` (token ids in) and ``model_with_tokenizer.onnx`` (strings in).

``model.onnx`` is the model after its tokenizer (encoder, pooling, Dense, Normalize) as standard
ONNX operators (opset ``OPSET``: ``LayerNormalization``, ``Erf`` for the exact GELU, no loop and
no control flow), with dynamic batch and sequence; any ONNX runtime runs it. It is built node by
node from the layers' weights (each module's and family's ``portable_call``, see
``tfst.export.portable``), not converted from the TensorFlow graph, whose chunked attention loop
and token scatter have no ONNX form worth having.

Inputs ``input_ids`` and ``attention_mask`` (int64 ``[batch, sequence]``, as Hugging Face
tokenizers give them), output ``sentence_embedding`` (float32 ``[batch, dim]``).

``model_with_tokenizer.onnx`` puts an onnxruntime-extensions tokenizer operator in front (see
``tfst.export.onnx_tokenizer``): input ``text`` (string ``[batch]``), the same output. It needs
the onnxruntime-extensions library registered in the session; its ids differ from Hugging Face's
on some inputs, which the export names in a warning.

Needs the ``onnx`` extra: ``pip install "tensorflow-sentence-transformers[onnx]"``.
"""

from __future__ import annotations

import collections
import math
import os
import warnings
from pathlib import Path

import keras
import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        'the ONNX export needs the onnx extra: pip install "tensorflow-sentence-transformers[onnx]"'
    ) from error

from tfst.export.folders import ONNX_MODEL_FILE, ONNX_MODEL_WITH_TOKENIZER_FILE, export_folder
from tfst.export.portable import portable_forward

# ONNX 1.13's operator set (2022): LayerNormalization (17) and reductions whose axes are inputs
# (18). IR version 8 is the oldest that carries it, so older runtimes read the files too.
OPSET = 18
IR_VERSION = 8
# Protocol buffers cannot serialize more than 2 GB: larger models keep their weights in a
# ``<file>.data`` file beside the graph (ONNX external data).
LARGEST_SELF_CONTAINED_BYTES = 1_800_000_000


class OnnxOps:
    """The portable-graph ops (``tfst.export.portable``) as ONNX nodes: each method appends
    nodes and returns the name of the tensor it makes; weights and constants become
    initializers. ``subgraph()`` gives the ops of a Loop body, sharing the names."""

    integer = np.int64

    def __init__(self, names: collections.Counter | None = None):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names = collections.Counter() if names is None else names
        self._weights: dict[int, str] = {}
        self._constants: dict[tuple, str] = {}

    def subgraph(self) -> OnnxOps:
        return OnnxOps(self._names)

    def fresh(self, hint: str) -> str:
        """A name no other tensor or node of the model has."""
        count = self._names[hint]
        self._names[hint] += 1
        return hint if count == 0 else f"{hint}_{count}"

    def node(self, op_type: str, *inputs: str, outputs: int = 1, domain: str = "", **attributes):
        """Append one node; its output name(s)."""
        names = [self.fresh(f"{op_type}_output") for _ in range(outputs)]
        self.nodes.append(
            helper.make_node(
                op_type,
                list(inputs),
                names,
                name=self.fresh(op_type),
                domain=domain,
                **attributes,
            )
        )
        return names[0] if outputs == 1 else names

    def weight(self, variable) -> str:
        """A Keras variable as a float32 initializer named by its path (once per variable)."""
        if id(variable) not in self._weights:
            name = self.fresh(variable.path if isinstance(variable, keras.Variable) else "weight")
            value = variable.value if isinstance(variable, keras.Variable) else variable
            array = np.asarray(value.numpy(), dtype=np.float32)
            self.initializers.append(numpy_helper.from_array(array, name))
            self._weights[id(variable)] = name
        return self._weights[id(variable)]

    def constant(self, value) -> str:
        """An initializer holding ``value``: integers as int64, the rest as float32."""
        array = np.asarray(value)
        array = array.astype(np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            name = self.fresh("constant")
            self.initializers.append(numpy_helper.from_array(array, name))
            self._constants[key] = name
        return self._constants[key]

    def add(self, a, b):
        return self.node("Add", a, b)

    def subtract(self, a, b):
        return self.node("Sub", a, b)

    def multiply(self, a, b):
        return self.node("Mul", a, b)

    def divide(self, a, b):
        return self.node("Div", a, b)

    def maximum(self, a, b):
        return self.node("Max", a, b)

    def minimum(self, a, b):
        return self.node("Min", a, b)

    def abs(self, x):
        return self.node("Abs", x)

    def sqrt(self, x):
        return self.node("Sqrt", x)

    def not_equal(self, a, b):
        return self.node("Not", self.node("Equal", a, b))

    def less(self, a, b):
        return self.node("Less", a, b)

    def where(self, condition, a, b):
        return self.node("Where", condition, a, b)

    def to_int(self, x):
        return self.node("Cast", x, to=TensorProto.INT64)

    def to_float(self, x):
        return self.node("Cast", x, to=TensorProto.FLOAT)

    def gather(self, table, indices):
        return self.node("Gather", table, indices, axis=0)

    def lookup(self, variable, indices):
        return self.gather(self.weight(variable), indices)

    def dense(self, x, kernel, bias=None):
        outputs = self.node("MatMul", x, kernel)
        return outputs if bias is None else self.node("Add", outputs, bias)

    def matmul(self, a, b, transpose_b=False):
        """Batched matmul of ``[batch, heads, ., .]`` tensors."""
        if transpose_b:
            b = self.node("Transpose", b, perm=[0, 1, 3, 2])
        return self.node("MatMul", a, b)

    def layer_norm(self, x, gamma, beta, epsilon):
        return self.node("LayerNormalization", x, gamma, beta, axis=-1, epsilon=float(epsilon))

    def softmax(self, x):
        return self.node("Softmax", x, axis=-1)

    def activation(self, name, x):
        """The encoder's and Dense's activations, with torch's / Keras' formulas."""
        if name == "linear":
            return x
        if name in ("relu", "tanh", "sigmoid"):
            return self.node(name.capitalize(), x)
        half_x = self.multiply(x, self.constant(np.float32(0.5)))
        if name == "gelu":  # exact: x/2 (1 + erf(x / sqrt 2)); onnxruntime fuses it into Gelu
            erf = self.node("Erf", self.divide(x, self.constant(np.float32(math.sqrt(2.0)))))
            return self.multiply(half_x, self.add(erf, self.constant(np.float32(1.0))))
        if name in ("gelu_new", "gelu_pytorch_tanh"):
            cube = self.multiply(self.multiply(x, x), x)
            inner = self.add(x, self.multiply(cube, self.constant(np.float32(0.044715))))
            scaled = self.multiply(inner, self.constant(np.float32(math.sqrt(2.0 / math.pi))))
            return self.multiply(
                half_x, self.add(self.node("Tanh", scaled), self.constant(np.float32(1.0)))
            )
        raise ValueError(f"activation {name!r} has no ONNX form here")

    def split_heads(self, x, heads, size):
        # Reshape's 0 copies the input's size (an empty batch included).
        x = self.node("Reshape", x, self.constant(np.array([0, 0, heads, size])))
        return self.node("Transpose", x, perm=[0, 2, 1, 3])

    def merge_heads(self, x, width):
        x = self.node("Transpose", x, perm=[0, 2, 1, 3])
        return self.node("Reshape", x, self.constant(np.array([0, 0, width])))

    def attention_bias(self, mask):
        hidden = self.subtract(self.constant(np.float32(1.0)), self.to_float(mask))
        bias = self.multiply(hidden, self.constant(np.finfo(np.float32).min))
        return self.expand(bias, [1, 2])

    def sequence_length(self, x):
        length = self.node("Shape", x, start=1, end=2)
        return self.node("Squeeze", length, self.constant(np.array([0])))

    def range(self, length):
        return self.node("Range", self.constant(np.int64(0)), length, self.constant(np.int64(1)))

    def cumsum(self, x, axis):
        return self.node("CumSum", x, self.constant(np.int64(axis)))

    def expand(self, x, axes):
        return self.node("Unsqueeze", x, self.constant(np.array(axes)))

    def transpose(self, x, permutation):
        return self.node("Transpose", x, perm=list(permutation))

    def reduce_sum(self, x, axis):
        return self.node("ReduceSum", x, self.constant(np.array([axis])), keepdims=0)

    def reduce_max(self, x, axis):
        return self.node("ReduceMax", x, self.constant(np.array([axis])), keepdims=0)

    def l2_norm(self, x):
        return self.node("ReduceL2", x, self.constant(np.array([-1])), keepdims=1)

    def argmax(self, x, axis, last=False):
        return self.node("ArgMax", x, axis=axis, keepdims=0, select_last_index=int(last))

    def take_along_sequence(self, x, index):
        """``x[b, index[b], :]`` of ``[batch, seq, width]``."""
        shape = self.node("Shape", x)
        target = self.node(
            "Concat",
            self.node("Slice", shape, self.constant(np.array([0])), self.constant(np.array([1]))),
            self.constant(np.array([1])),
            self.node("Slice", shape, self.constant(np.array([2])), self.constant(np.array([3]))),
            axis=0,
        )
        index = self.node("Expand", self.expand(index, [1, 2]), target)
        picked = self.node("GatherElements", x, index, axis=1)
        return self.node("Squeeze", picked, self.constant(np.array([1])))

    def concat(self, tensors, axis):
        return self.node("Concat", *tensors, axis=axis)


def _value_info(name: str, element_type: int, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, element_type, shape)


def onnx_model(model, *, with_tokenizer: bool = False) -> onnx.ModelProto:
    """The ONNX model of ``model``: token ids in, or (``with_tokenizer``) strings in."""
    ops = OnnxOps()
    opsets = [helper.make_opsetid("", OPSET)]
    if with_tokenizer:
        from tfst.export.onnx_tokenizer import CONTRIB_DOMAIN, tokenizer_nodes

        inputs = [_value_info("text", TensorProto.STRING, ["batch"])]
        input_ids, attention_mask = tokenizer_nodes(ops, model.tokenizer, "text")
        opsets.append(helper.make_opsetid(CONTRIB_DOMAIN, 1))
    else:
        inputs = [
            _value_info(name, TensorProto.INT64, ["batch", "sequence"])
            for name in ("input_ids", "attention_mask")
        ]
        input_ids, attention_mask = "input_ids", "attention_mask"
    embedding = portable_forward(model, ops, input_ids, attention_mask)
    ops.nodes.append(helper.make_node("Identity", [embedding], ["sentence_embedding"]))
    dimension = model._output_dimension()
    graph = helper.make_graph(
        ops.nodes,
        "tfst_sentence_transformer",
        inputs,
        [_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", dimension])],
        initializer=ops.initializers,
    )
    return helper.make_model(
        graph, opset_imports=opsets, ir_version=IR_VERSION, producer_name="tfst"
    )


def _save(model: onnx.ModelProto, path: Path) -> None:
    size = sum(len(tensor.raw_data) for tensor in model.graph.initializer)
    if size <= LARGEST_SELF_CONTAINED_BYTES:
        onnx.save_model(model, str(path))
    else:
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=f"{path.name}.data",
        )


def export_onnx(
    model, path: str | os.PathLike, *, overwrite: bool = False, with_tokenizer: bool = True
) -> Path:
    """Write ``model.onnx`` and (``with_tokenizer``) ``model_with_tokenizer.onnx`` into the
    folder ``path``; see the module docstring.

    A tokenizer that onnxruntime-extensions cannot express is refused with a ValueError that
    says why (``with_tokenizer=False`` writes ``model.onnx`` alone); where its ids can differ
    from Hugging Face's, a warning says on which inputs.
    """
    if with_tokenizer:
        from tfst.export.onnx_tokenizer import tokenizer_differences

        differences = tokenizer_differences(model.tokenizer)
    with export_folder(path, overwrite) as staging:
        _save(onnx_model(model), staging / ONNX_MODEL_FILE)
        if with_tokenizer:
            _save(onnx_model(model, with_tokenizer=True), staging / ONNX_MODEL_WITH_TOKENIZER_FILE)
    if with_tokenizer and differences:
        warnings.warn(
            f"{ONNX_MODEL_WITH_TOKENIZER_FILE}: {differences} {ONNX_MODEL_FILE} with "
            "Hugging Face tokenizers' ids has no such differences.",
            stacklevel=2,
        )
    return Path(path)
