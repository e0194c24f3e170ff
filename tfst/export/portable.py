"""Portable graphs: the model after its tokenizer, on a padded batch of token ids, in standard ops.

``model.onnx`` and ``model.tflite`` cannot hold what makes the TensorFlow graph fast (a scatter
of the real tokens, a ``while_loop`` over attention chunks) nor the string ops of the tokenizer.
They hold the *portable graph* instead: each module's ``portable_call(ops, features)`` (and the
encoder's, ``tfst.models.portable_encoder``) describes its computation once, through an *ops*
object, and the ops object decides what that becomes:

- ``tfst.export.onnx.OnnxOps`` appends ONNX nodes and weight initializers (``model.onnx``);
- :class:`TensorFlowOps` runs TensorFlow ops that the TensorFlow Lite converter turns into
  builtins (``model.tflite``), with dynamic batch and sequence.

An ops object offers: ``weight(variable)`` (float32), ``constant(array)`` (integers become the
backend's integer type), elementwise ``add subtract multiply divide maximum minimum abs sqrt``,
``not_equal less where to_int to_float``, ``gather(table, indices)``, ``lookup(variable,
indices)`` (rows of a weight table: embeddings), ``dense(x, kernel, bias)`` on the last axis,
``matmul(a, b, transpose_b)``, ``layer_norm``, ``softmax`` (last axis), ``activation(name,
x)``, ``split_heads(x, heads, size)``/``merge_heads(x, width)``, ``attention_bias(mask)``,
``sequence_length(x)`` (axis 1), ``range``, ``cumsum``, ``expand`` (new axes), ``transpose``,
``reduce_sum``/``reduce_max`` (one axis), ``l2_norm`` (last axis, kept), ``argmax`` (first or
last maximum), ``take_along_sequence(x, index)`` (``x[b, index[b]]``) and ``concat``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfst.models.transformer_block import activation_function


def portable_forward(model, ops, input_ids, attention_mask):
    """The model's portable graph: ``[batch, seq]`` token ids and mask (in ``ops``' tensors) →
    the ``sentence_embedding`` ``[batch, dim]``."""
    features = {"input_ids": input_ids, "attention_mask": attention_mask}
    for module in model.pipeline_modules:
        features = module.portable_call(ops, features)
    return features["sentence_embedding"]


# Sentence-level activations (Dense) beside the encoder's (``ACTIVATIONS``).
_ACTIVATIONS = {"linear": tf.identity, "tanh": tf.tanh, "sigmoid": tf.sigmoid}


class TensorFlowOps:
    """The portable graph as TensorFlow ops the TFLite converter maps to builtins: int32 ids,
    float32 weights, reshapes with dynamic sizes instead of ``[:, None, None, :]`` slices."""

    integer = tf.int32

    def weight(self, variable) -> tf.Tensor:
        value = variable.value if isinstance(variable, keras.Variable) else variable
        return tf.cast(value, tf.float32)

    def constant(self, value) -> tf.Tensor:
        value = np.asarray(value)
        dtype = self.integer if np.issubdtype(value.dtype, np.integer) else tf.float32
        return tf.constant(value, dtype)

    def add(self, a, b):
        return a + b

    def subtract(self, a, b):
        return a - b

    def multiply(self, a, b):
        return a * b

    def divide(self, a, b):
        return a / b

    def maximum(self, a, b):
        return tf.maximum(a, b)

    def minimum(self, a, b):
        return tf.minimum(a, b)

    def abs(self, x):
        return tf.abs(x)

    def sqrt(self, x):
        return tf.sqrt(x)

    def not_equal(self, a, b):
        return tf.not_equal(a, b)

    def less(self, a, b):
        return tf.less(a, b)

    def where(self, condition, a, b):
        return tf.where(condition, a, b)

    def to_int(self, x):
        return tf.cast(x, self.integer)

    def to_float(self, x):
        return tf.cast(x, tf.float32)

    def gather(self, table, indices):
        return tf.gather(table, indices)

    def lookup(self, variable, indices):
        return tf.gather(self.weight(variable), indices)

    def dense(self, x, kernel, bias=None):
        outputs = tf.matmul(x, kernel)
        return outputs if bias is None else outputs + bias

    def matmul(self, a, b, transpose_b=False):
        return tf.matmul(a, b, transpose_b=transpose_b)

    def layer_norm(self, x, gamma, beta, epsilon):
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        scale = tf.math.rsqrt(variance + epsilon) * gamma
        return x * scale + (beta - mean * scale)

    def softmax(self, x):
        return tf.nn.softmax(x, axis=-1)

    def activation(self, name, x):
        if name in _ACTIVATIONS:
            return _ACTIVATIONS[name](x)
        return activation_function(name)(x)

    def split_heads(self, x, heads, size):
        """``[batch, seq, heads * size]`` → ``[batch, heads, seq, size]``."""
        shape = tf.shape(x)
        return tf.transpose(tf.reshape(x, [shape[0], shape[1], heads, size]), [0, 2, 1, 3])

    def merge_heads(self, x, width):
        """``[batch, heads, seq, size]`` → ``[batch, seq, width]`` (``width = heads * size``)."""
        shape = tf.shape(x)
        return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [shape[0], shape[2], width])

    def attention_bias(self, mask):
        """As ``transformer_block.attention_bias``, through a reshape: TFLite has no strided
        slice adding two axes to a tensor with two dynamic dimensions."""
        shape = tf.shape(mask)
        mask = tf.cast(tf.reshape(mask, [shape[0], 1, 1, shape[1]]), tf.float32)
        return (1.0 - mask) * tf.float32.min

    def sequence_length(self, x):
        return tf.shape(x, out_type=self.integer)[1]

    def range(self, length):
        return tf.range(length, dtype=self.integer)

    def cumsum(self, x, axis):
        return tf.cumsum(x, axis=axis)

    def expand(self, x, axes):
        for axis in sorted(axes):
            x = tf.expand_dims(x, axis)
        return x

    def transpose(self, x, permutation):
        return tf.transpose(x, permutation)

    def reduce_sum(self, x, axis):
        return tf.reduce_sum(x, axis=axis)

    def reduce_max(self, x, axis):
        return tf.reduce_max(x, axis=axis)

    def l2_norm(self, x):
        return tf.norm(x, axis=-1, keepdims=True)

    def argmax(self, x, axis, last=False):
        if not last:
            return tf.argmax(x, axis=axis, output_type=self.integer)
        from_end = tf.argmax(tf.reverse(x, [axis]), axis=axis, output_type=self.integer)
        return tf.shape(x, out_type=self.integer)[axis] - 1 - from_end

    def take_along_sequence(self, x, index):
        return tf.gather(x, index, axis=1, batch_dims=1)

    def concat(self, tensors, axis):
        return tf.concat(tensors, axis=axis)
