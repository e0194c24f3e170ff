"""What makes an encoder family: its ``config.json`` settings, its layer, its checkpoint names.

A family module (``bert.py``, ``mpnet.py``, ...) defines its encoder layer (whose ``weight_table``
names its checkpoint tensors) and one :class:`Family` describing how its ``config.json`` maps to
the layer's constructor arguments; ``tfst.models.registry`` lists the families. Everything else
(loading, saving, export, the CLI) reads the family through that description.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfst.config import REQUIRED, ConfigError, Setting, read_settings
from tfst.models.classification_head import ClassificationHeadSpec
from tfst.models.transformer_block import ACTIVATIONS

# Generous bounds, far above any real encoder: they stop a hostile config.json from building
# millions of layers or tables before its weights are compared with the checkpoint.
MAX_LAYERS = 1024
MAX_WIDTH = 1 << 17
MAX_VOCABULARY = 1 << 24
MAX_POSITIONS = 1 << 20


def size(key: str, default: Any = REQUIRED, maximum: int = MAX_WIDTH, minimum: int = 1) -> Setting:
    """An integer size setting of ``config.json``, required unless ``default`` is given."""
    return Setting(key, int, default, minimum=minimum, maximum=maximum)


def activation(key: str) -> Setting:
    """A hidden activation name, of those the transformer block implements."""
    return Setting(key, str, "gelu", choices=ACTIVATIONS)


def layer_norm_epsilon(key: str = "layer_norm_eps", default: float = 1e-12) -> Setting:
    return Setting(key, float, default, minimum=1e-45, maximum=1.0)


@dataclass(frozen=True)
class Family:
    """An encoder family.

    Args:
        model_type: ``config.json``'s ``model_type``.
        encoder_class: the Keras layer; its constructor takes ``settings``' names (plus
            ``precision`` and ``name``), and ``get_config`` returns them.
        settings: constructor argument → the ``config.json`` setting it comes from.
        architecture: the transformers class written in ``config.json``'s ``architectures``.
        tokenizer_class: the tokenizer transformers' AutoTokenizer picks for this model_type when
            the tokenizer config names none.
        fixed: settings this family only supports at one value: ``config.json`` key → value;
            any other value is refused, and saving writes these.
        constants: constructor arguments the family fixes (not in its ``config.json``).
        check: extra consistency checks on the read arguments (raising ConfigError).
        classification_head: the family's ``*ForSequenceClassification`` head (cross-encoders),
            or None if tfst has none for it.
    """

    model_type: str
    encoder_class: type
    settings: dict[str, Setting]
    architecture: str
    tokenizer_class: str
    fixed: dict[str, Any] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Any], Path], None] | None = None
    classification_head: ClassificationHeadSpec | None = None

    def read_config(self, raw: dict[str, Any], path: Path) -> dict[str, Any]:
        """The encoder's constructor arguments from a parsed ``config.json``."""
        arguments = read_settings(raw, self.settings, path)
        for key, value in self.fixed.items():
            found = raw.get(key, value)
            if found != value:
                raise ConfigError(
                    f"{path}: {key} {found!r:.80} is not supported; supported is {value!r}"
                )
        if arguments["hidden_size"] % arguments["num_heads"]:
            raise ConfigError(
                f"{path}: hidden size {arguments['hidden_size']} is not a multiple of the "
                f"{arguments['num_heads']} attention heads"
            )
        if self.check is not None:
            self.check(arguments, path)
        return {**arguments, **self.constants}

    def build_encoder(self, arguments: dict[str, Any], precision: str = "float32"):
        """The (unbuilt) encoder layer for ``read_config``'s arguments."""
        return self.encoder_class(**arguments, precision=precision, name="encoder")

    def config_json(self, encoder) -> dict[str, Any]:
        """The Hugging Face ``config.json`` of an encoder layer of this family."""
        arguments = encoder.get_config()
        config = {"architectures": [self.architecture], "model_type": self.model_type}
        for name, spec in self.settings.items():
            config[spec.key] = arguments[name]
        config.update(self.fixed)
        return config
