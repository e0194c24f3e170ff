"""What a sentence-transformers module is in tfst: a Keras layer that reads and writes its folder.

sentence-transformers chains the modules ``modules.json`` lists, passing a dict of features from
one to the next (``input_ids``, ``attention_mask``, ``token_embeddings``, ``sentence_embedding``,
...). tfst does the same inside one Keras model: each module is a Keras layer whose ``call`` takes
and returns that dict, and which knows its ``modules.json`` type names, how to build itself from
its folder (configuration and weights) and how to save itself back. The first module is an
*input* module: it also turns raw strings into features (``tokenize``).
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
    """

    type_names: ClassVar[tuple[str, ...]]
    saved_type: ClassVar[str]
    folder_name: ClassVar[str]
    has_weights: ClassVar[bool] = False
    has_folder: ClassVar[bool] = True
    is_input: ClassVar[bool] = False

    @classmethod
    def from_folder(cls, folder: Path, options: LoadOptions) -> Module:
        """Build the module from its folder (configuration, and weights if it has any)."""
        raise NotImplementedError

    def save(self, folder: Path) -> None:
        """Write the module's configuration (and weights) into ``folder``, which exists."""
        raise NotImplementedError

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

    def portable_call(self, ops, features: dict[str, Any]) -> dict[str, Any]:
        """``call`` as a portable graph (``tfst.export.portable``): the same features, built
        through ``ops`` (ONNX nodes or TensorFlow Lite-friendly ops) on a padded batch of token
        ids, for ``model.onnx`` and ``model.tflite``."""
        raise NotImplementedError(
            f"the {type(self).__name__} module has no ONNX / TensorFlow Lite form yet"
        )

    def compute_output_spec(self, features: dict[str, Any]) -> dict[str, Any]:
        return dict(features)
