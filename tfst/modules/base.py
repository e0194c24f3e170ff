"""What a sentence-transformers module is in tfst: a Keras layer that reads and writes its folder.

sentence-transformers chains the modules ``modules.json`` lists, passing a dict of features from
one to the next (``input_ids``, ``attention_mask``, ``token_embeddings``, ``sentence_embedding``,
...). tfst does the same inside one Keras model: each module is a Keras layer whose ``call`` takes
and returns that dict, and which knows its ``modules.json`` type names, how to build itself from
its folder (configuration and weights) and how to save itself back.

The first module is an *input* module (``is_input``): it also turns raw strings into features.
Besides what every module has, an input module provides:

- ``tokenize(strings) -> features``: a 1-D ``tf.string`` batch → the features its ``call`` takes;
- ``tokenizer``: the layer that turns text into ids (``tfst info`` asks its ``vocabulary_size()``);
- ``max_seq_length`` where the module truncates texts (the model reads None where it has none);
- ``text_layers()``: the layers holding TensorFlow resources (lookup tables), which an exported
  SavedModel must track;
- ``gives_prompt_length``: whether it measures a prompt's tokens for ``Pooling(include_prompt=
  False)``, as sentence-transformers' Transformer does and its other input modules do not;
- ``route(task)`` and ``tasks()``, which only a Router overrides: a Router stands for several
  pipelines and picks one by task (``encode_query``, ``encode_document``, ``encode(task=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import keras

# sentence-transformers 6 writes module types under these packages; older ones under
# ``sentence_transformers.models``.
PACKAGE = "sentence_transformers"


@dataclass(frozen=True)
class LoadOptions:
    """Options of ``tfst.load`` that reach the modules."""

    encoder_precision: str = "float32"


class Module(keras.layers.Layer):
    """One sentence-transformers module.

    Class attributes:
        type_names: the class names ``modules.json`` uses for it, across sentence-transformers
            generations (the part after the last dot of the type).
        saved_type: the full type sentence-transformers 6 writes.
        folder_name: the sub-folder name it is saved in (``1_Pooling``), or ``""`` for the
            model's own folder.
        has_weights: whether its folder holds a weights file (the Hub route fetches it).
        has_folder: whether it reads a folder at all (Normalize does not: sentence-transformers
            may not even create one).
        is_input: whether it takes raw strings (``tokenize``) and must come first.
        gives_prompt_length: (input modules) whether ``encode`` passes the prompt's token count
            on in the features, for ``Pooling(include_prompt=False)``.
    """

    type_names: ClassVar[tuple[str, ...]]
    saved_type: ClassVar[str]
    folder_name: ClassVar[str]
    has_weights: ClassVar[bool] = False
    has_folder: ClassVar[bool] = True
    is_input: ClassVar[bool] = False
    gives_prompt_length: ClassVar[bool] = False

    @classmethod
    def from_folder(cls, folder: Path, options: LoadOptions) -> Module:
        """Build the module from its folder (configuration, and weights if it has any)."""
        raise NotImplementedError

    def save(self, folder: Path) -> None:
        """Write the module's configuration (and weights) into ``folder``, which exists."""
        raise NotImplementedError

    @classmethod
    def weight_folders(cls, folder: Path) -> list[str]:
        """Folders below ``folder`` (relative, "" for itself) whose weights files the module
        reads, for the Hub route to fetch; a Router reads its modules' from its configuration."""
        return [""] if cls.has_weights else []

    def output_dimension(self, input_dimension: int | None) -> int | None:
        """Width of the sentence embedding after this module, given the width before it (None
        before the first module); checked against what the next module expects."""
        return input_dimension

    def expected_input_dimension(self) -> int | None:
        """The sentence-embedding (or token-embedding) width this module needs, if fixed."""
        return None

    def describe(self) -> str:
        """One line for ``tfst info``."""
        return type(self).__name__

    def text_layers(self) -> list[keras.layers.Layer]:
        """(Input modules) the layers holding the TensorFlow resources that turn text into
        features, which an exported SavedModel must track."""
        return []

    def route(self, task: str | None) -> list[Module]:
        """The modules texts of ``task`` go through in place of this one.

        A module is its own route and ignores the task, as sentence-transformers ignores
        ``encode(task=...)`` for models without a Router; a Router returns one of its routes.
        """
        return [self]

    def tasks(self) -> tuple[str, ...]:
        """Task names that select a route of their own (a Router's); none for other modules."""
        return ()

    def portable_call(self, ops, features: dict[str, Any]) -> dict[str, Any]:
        """``call`` as a portable graph (``tfst.export.portable``): the same features, built
        through ``ops`` (ONNX nodes or TensorFlow Lite-friendly ops) on a padded batch of token
        ids, for ``model.onnx`` and ``model.tflite``."""
        raise NotImplementedError(
            f"the {type(self).__name__} module has no ONNX / TensorFlow Lite form yet"
        )

    def compute_output_spec(self, features: dict[str, Any]) -> dict[str, Any]:
        return dict(features)
