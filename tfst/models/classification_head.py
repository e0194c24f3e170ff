"""Sequence-classification heads (what transformers' ``*ForSequenceClassification`` adds to an
encoder): the cross-encoder's scores from the first token's hidden state.

Every family tfst supports computes the same thing, ``output(activation(dense(hidden[:, 0])))``:
BERT through its pooler (``bert.pooler.dense`` + tanh, then ``classifier``), RoBERTa, XLM-R and
MPNet through ``classifier.dense`` + tanh and ``classifier.out_proj``, DistilBERT through
``pre_classifier`` + ReLU and ``classifier``. Only the checkpoint names and the activation
differ, so one layer (:class:`ClassificationHead`) computes them all and each family describes
its own with a :class:`ClassificationHeadSpec` beside its encoder. Dropout is a no-op at inference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import keras
import tensorflow as tf

from tfst.weights import WeightTable, WeightTarget, linear_kernel

HEAD_ACTIVATIONS = {"tanh": tf.math.tanh, "relu": tf.nn.relu}


@dataclass(frozen=True)
class ClassificationHeadSpec:
    """A family's ``*ForSequenceClassification``: its class name and checkpoint names.

    Args:
        architecture: the transformers class (``config.json``'s ``architectures``).
        encoder_prefix: the prefix the encoder's tensors carry in that class's checkpoints
            (``bert.``: its ``base_model_prefix`` and a dot).
        dense: checkpoint module name of the hidden → hidden projection (``bert.pooler.dense``).
        output: checkpoint module name of the hidden → labels projection (``classifier``).
        activation: what follows ``dense``: ``tanh`` or ``relu``.
    """

    architecture: str
    encoder_prefix: str
    dense: str
    output: str
    activation: str

    def __post_init__(self):
        if self.activation not in HEAD_ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(HEAD_ACTIVATIONS)}")

    def build_head(self, hidden_size: int, labels: tuple[str, ...]) -> ClassificationHead:
        """The (unbuilt) head of this family for an encoder of ``hidden_size``."""
        return ClassificationHead(hidden_size, labels, self.activation, name="head")

    def weight_table(self, encoder, head: ClassificationHead) -> WeightTable:
        """Every tensor of a ``*ForSequenceClassification`` checkpoint → the variable it fills,
        relative to a layer holding the encoder as ``encoder`` and the head as ``head``.

        Names are the full checkpoint names: the encoder's own with ``encoder_prefix``, which
        transformers always writes for task models. The encoder's deliberately skipped tensors
        stay skipped, except those patterns that would hide a head tensor (BERT skips its pooler
        when it embeds sentences, but a cross-encoder needs it): those are checked like all others.
        """
        encoder_table = encoder.weight_table()
        targets = {
            f"{self.encoder_prefix}{name}": WeightTarget(
                f"encoder.{target.path}", target.shape, target.transform
            )
            for name, target in encoder_table.targets.items()
        }
        hidden, labels = head.hidden_size, len(head.labels)
        head_targets = {
            f"{self.dense}.weight": WeightTarget(
                "head.dense.kernel", (hidden, hidden), linear_kernel
            ),
            f"{self.dense}.bias": WeightTarget("head.dense.bias", (hidden,)),
            f"{self.output}.weight": WeightTarget(
                "head.classifier.kernel", (hidden, labels), linear_kernel
            ),
            f"{self.output}.bias": WeightTarget("head.classifier.bias", (labels,)),
        }
        prefix = re.escape(self.encoder_prefix)
        skipped = tuple(
            f"{prefix}{pattern}"
            for pattern in encoder_table.skipped
            if not any(re.fullmatch(f"{prefix}{pattern}", name) for name in head_targets)
        )
        return WeightTable({**targets, **head_targets}, skipped=skipped)


@keras.saving.register_keras_serializable(package="tfst")
class ClassificationHead(keras.layers.Layer):
    """Token embeddings ``[batch, seq, hidden]`` → logits ``[batch, labels]`` from the first token.

    Args:
        hidden_size: width of the token embeddings.
        labels: the label names, in logit order (``config.json``'s ``id2label``); their count is
            the number of logits.
        activation: ``tanh`` or ``relu``, between the two projections.

    Example:
        >>> head = ClassificationHead(384, ("LABEL_0",), "tanh")
        >>> head(token_embeddings).shape  # [batch, 1]
    """

    def __init__(self, hidden_size: int, labels, activation: str = "tanh", **kwargs):
        super().__init__(**kwargs)
        if activation not in HEAD_ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(HEAD_ACTIVATIONS)}, got {activation!r}"
            )
        if not labels:
            raise ValueError("a classification head needs at least one label")
        self.hidden_size = hidden_size
        self.labels = tuple(str(label) for label in labels)
        self.activation = activation
        self._activation = HEAD_ACTIVATIONS[activation]
        # Zeros, not random: a head is always filled from a checkpoint.
        self.dense = keras.layers.Dense(hidden_size, kernel_initializer="zeros", name="dense")
        self.classifier = keras.layers.Dense(
            len(self.labels), kernel_initializer="zeros", name="classifier"
        )

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def build(self, input_shape=None):
        self.dense.build((None, self.hidden_size))
        self.classifier.build((None, self.hidden_size))
        self.built = True

    def call(self, token_embeddings):
        first = token_embeddings[:, 0, :]
        hidden = self._activation(
            tf.nn.bias_add(tf.matmul(first, self.dense.kernel), self.dense.bias)
        )
        return tf.nn.bias_add(tf.matmul(hidden, self.classifier.kernel), self.classifier.bias)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_labels)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size, labels=list(self.labels), activation=self.activation
        )
        return config
