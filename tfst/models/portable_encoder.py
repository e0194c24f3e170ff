"""The encoder as a *portable graph*: the padded batch through standard ops, no loop, no scatter.

The TensorFlow encoder (``transformer_block.py``) is written for TensorFlow's CPU runtime: it
moves the real tokens out of the padded batch (a scatter back at the end) and computes attention
in a ``while_loop`` over chunks of texts when the scores would be large. Neither translates to
ONNX or to TensorFlow Lite builtins. The portable graph is the same math on the padded
``[batch, seq]`` batch as sentence-transformers computes it: padded places are computed and
masked out of attention, and every op is one ONNX and TFLite have.

It is written once, against an *ops* object (``tfst.export.portable``): ONNX nodes for
``model.onnx`` (``tfst.export.onnx.OnnxOps``), TensorFlow ops for ``model.tflite``
(``tfst.export.portable.TensorFlowOps``). A family's encoder inherits :class:`PortableEncoder`
and overrides its hooks where its ``embed`` / ``position_bias`` differ from the defaults, the
same way it overrides those of ``TransformerEncoder``: BERT adds its token types; MPNet,
RoBERTa and XLM-R count positions past their padding id (``portable_positions``); MPNet adds
its relative position bias.
"""

from __future__ import annotations

import math

import numpy as np


class PortableEncoder:
    """Mixin for ``TransformerEncoder`` families: ``portable_call`` builds the encoder through
    ``ops``; ``portable_embed``, ``portable_positions`` and ``portable_position_bias`` are the
    family hooks."""

    def portable_call(self, ops, features: dict):
        """``features`` (``input_ids``, ``attention_mask`` ``[batch, seq]`` ints, in ``ops``'
        tensors) → token embeddings ``[batch, seq, hidden]`` float32 (padded places hold
        values, as in transformers; only the mask says which are tokens)."""
        norm = self.embeddings_norm
        hidden = ops.layer_norm(
            self.portable_embed(ops, features),
            ops.weight(norm.gamma),
            ops.weight(norm.beta),
            self.layer_norm_eps,
        )
        bias = ops.attention_bias(features["attention_mask"])
        position_bias = self.portable_position_bias(ops, ops.sequence_length(hidden))
        for block in self.blocks:
            hidden = portable_block(ops, block, hidden, bias, position_bias)
        return hidden

    def portable_embed(self, ops, features: dict):
        """Word + position embeddings; as ``TransformerEncoder.embed``."""
        input_ids = features["input_ids"]
        return ops.add(
            ops.lookup(self.word_embeddings.embeddings, input_ids),
            ops.lookup(
                self.position_embeddings.embeddings, self.portable_positions(ops, input_ids)
            ),
        )

    def portable_positions(self, ops, input_ids):
        """Position ids: 0..seq-1 for every text (a family counting otherwise overrides it)."""
        return ops.range(ops.sequence_length(input_ids))

    def portable_positions_past_padding(self, ops, input_ids, padding_id: int):
        """Position ids counted over real tokens only, starting at ``padding_id + 1`` (padding
        keeps ``padding_id``): transformers' ``create_position_ids_from_input_ids``, which
        MPNet, RoBERTa and XLM-R use."""
        padding = ops.constant(np.int64(padding_id))
        not_padding = ops.to_int(ops.not_equal(input_ids, padding))
        return ops.add(ops.multiply(ops.cumsum(not_padding, axis=1), not_padding), padding)

    def portable_position_bias(self, ops, length):
        """A ``[1, heads, seq, seq]`` attention bias shared by all texts, or None; as
        ``TransformerEncoder.position_bias``."""
        return None


def portable_block(ops, block, hidden, bias, position_bias=None):
    """One post-LayerNorm ``TransformerBlock`` on ``[batch, seq, hidden]``, with the attention
    ``bias`` ``[batch, 1, 1, seq]`` and an optional ``[1, heads, seq, seq]`` ``position_bias``;
    the same operations, in the same order, as ``TransformerBlock.forward_tokens``."""

    def project(tokens, layer):
        return ops.dense(tokens, ops.weight(layer.kernel), ops.weight(layer.bias))

    def layer_norm(tokens, layer):
        return ops.layer_norm(
            tokens, ops.weight(layer.gamma), ops.weight(layer.beta), block.layer_norm_eps
        )

    scale = ops.constant(np.float32(1.0 / math.sqrt(block.head_size)))

    def split_heads(tokens):
        return ops.split_heads(tokens, block.num_heads, block.head_size)

    query = split_heads(ops.multiply(project(hidden, block.query), scale))
    key = split_heads(project(hidden, block.key))
    value = split_heads(project(hidden, block.value))
    scores = ops.matmul(query, key, transpose_b=True)
    if position_bias is not None:
        scores = ops.add(scores, position_bias)
    probabilities = ops.softmax(ops.add(scores, bias))
    context = ops.merge_heads(ops.matmul(probabilities, value), block.hidden_size)
    hidden = layer_norm(
        ops.add(hidden, project(context, block.attention_output)), block.attention_norm
    )
    intermediate = ops.activation(block.hidden_act, project(hidden, block.intermediate))
    return layer_norm(ops.add(hidden, project(intermediate, block.output_dense)), block.output_norm)
