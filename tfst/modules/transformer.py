"""The Transformer module: the tokenizer and the encoder of any registered family, as one module.

Its folder holds ``config.json`` (the family comes from its ``model_type``, see
``tfst.models.registry``), the weights, the tokenizer files and ``sentence_bert_config.json``
(``max_seq_length``, ``do_lower_case``). It turns strings into token features (``tokenize``) and
token features into ``token_embeddings`` (``call``).
"""

from __future__ import annotations

from pathlib import Path

import keras

from tfst.checkpoint import find_weights_file, load_checkpoint_tensors
from tfst.config import ConfigError, Setting, read_json, read_optional_json, setting
from tfst.files import write_json, write_safetensors, write_text
from tfst.models.portable_encoder import PortableEncoder
from tfst.models.registry import family_for, family_of
from tfst.modules.base import PACKAGE, LoadOptions, Module
from tfst.text.tokenizer import Tokenizer
from tfst.text.tokenizer_folder import (
    read_tokenizer_settings,
    tokenizer_files,
    with_lowercase_first,
)

_TASK = Setting("transformer_task", str, "feature-extraction", choices=("feature-extraction",))
_DO_LOWER_CASE = Setting("do_lower_case", bool, False)


@keras.saving.register_keras_serializable(package="tfst")
class Transformer(Module):
    """Tokenizer + encoder.

    Args:
        tokenizer: a ``tfst.text.Tokenizer``; its ``max_length`` is the module's
            ``max_seq_length``.
        encoder: an encoder layer of a registered family (``tfst.models``).
    """

    type_names = ("Transformer",)
    saved_type = f"{PACKAGE}.base.modules.transformer.Transformer"
    folder_name = ""
    has_weights = True
    is_input = True

    def __init__(self, tokenizer: Tokenizer, encoder, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.encoder = encoder
        if tokenizer.max_length > encoder.usable_positions():
            raise ValueError(
                f"the tokenizer's max_length {tokenizer.max_length} is more than the encoder's "
                f"{encoder.usable_positions()} positions"
            )

    @classmethod
    def from_folder(cls, folder: Path, options: LoadOptions | None = None) -> Transformer:
        options = options or LoadOptions()
        config_path = folder / "config.json"
        raw = read_json(config_path)
        family = family_for(raw.get("model_type"), config_path)
        arguments = family.read_config(raw, config_path)
        encoder = family.build_encoder(arguments, options.encoder_precision)

        module_path = folder / "sentence_bert_config.json"
        module_config = read_optional_json(module_path)
        setting(module_config, _TASK, module_path)
        tokenizer_settings = read_tokenizer_settings(folder, family.tokenizer_class)
        if setting(module_config, _DO_LOWER_CASE, module_path):
            tokenizer_settings = with_lowercase_first(tokenizer_settings)
        positions = encoder.usable_positions()
        # As sentence-transformers: the tokenizer's model_max_length capped at the positions.
        default_length = min(tokenizer_settings.model_max_length, positions)
        max_seq_length = setting(
            module_config,
            Setting("max_seq_length", int, None, minimum=1, nullable=True),
            module_path,
        )
        max_seq_length = default_length if max_seq_length is None else max_seq_length
        if max_seq_length > positions:
            # A longer text would fail deep inside the encoder (sentence-transformers fails there).
            raise ConfigError(
                f"{module_path}: max_seq_length {max_seq_length} exceeds the {positions} positions "
                f"the encoder of {config_path} has"
            )
        tokenizer = Tokenizer(
            **tokenizer_settings.layer_arguments(), max_length=max_seq_length, name="tokenizer"
        )
        if tokenizer.vocabulary_size() > encoder.vocab_size:
            raise ConfigError(
                f"{tokenizer_settings.source} has ids up to {tokenizer.vocabulary_size() - 1}, but "
                f"the encoder's vocab_size in {config_path} is {encoder.vocab_size}: those ids "
                "have no embedding"
            )

        weights = find_weights_file(folder)
        table = encoder.weight_table()
        tensors = load_checkpoint_tensors(weights)
        table.match({name: tensor.shape for name, tensor in tensors.items()}, weights)
        encoder.build()
        table.assign(encoder, tensors, source=weights)
        return cls(tokenizer, encoder, name="transformer")

    def save(self, folder: Path) -> None:
        family = family_of(self.encoder)
        config = {**family.config_json(self.encoder), "pad_token_id": self.tokenizer.pad_token_id}
        write_json(folder / "config.json", config)
        write_safetensors(
            folder / "model.safetensors", self.encoder.weight_table().export(self.encoder)
        )
        files = tokenizer_files(self.tokenizer, self.encoder.usable_positions())
        for name, content in files.items():
            if isinstance(content, str):
                write_text(folder / name, content)
            else:
                write_json(folder / name, content)
        # The pipeline in tokenizer.json already lowercases if it should.
        write_json(
            folder / "sentence_bert_config.json",
            {"max_seq_length": self.max_seq_length, "do_lower_case": False},
        )

    @property
    def max_seq_length(self) -> int:
        """Longest token sequence (special tokens included); longer input is truncated."""
        return self.tokenizer.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        # Refused here rather than by a failed embedding lookup on the first long text.
        positions = self.encoder.usable_positions()
        if value > positions:
            raise ValueError(
                f"max_seq_length {value} is more than the encoder's {positions} position embeddings"
            )
        self.tokenizer.max_length = value

    def with_encoder(self, encoder) -> Transformer:
        """The same tokenizer in front of another encoder (e.g. another precision)."""
        return Transformer(self.tokenizer, encoder, name=self.name)

    def with_tokenizer(self, tokenizer: Tokenizer) -> Transformer:
        """Another tokenizer (e.g. other ops) in front of the same encoder."""
        return Transformer(tokenizer, self.encoder, name=self.name)

    def tokenize(self, strings, pairs=None) -> dict:
        """Strings (or pairs of strings) → ``input_ids``, ``attention_mask``, ``token_type_ids``."""
        return self.tokenizer(strings, pairs)

    def build(self, input_shape=None):
        if not self.encoder.built:
            self.encoder.build()
        self.built = True

    def call(self, features):
        return {**features, "token_embeddings": self.encoder(features)}

    def portable_call(self, ops, features):
        if not isinstance(self.encoder, PortableEncoder):
            raise NotImplementedError(
                f"the {family_of(self.encoder).model_type} encoder has no ONNX / TensorFlow Lite "
                "form yet"
            )
        return {**features, "token_embeddings": self.encoder.portable_call(ops, features)}

    def output_dimension(self, input_dimension=None) -> int:
        return self.encoder.hidden_size

    def describe(self) -> str:
        encoder = self.encoder
        family = family_of(encoder)
        model = self.tokenizer.tokenizer_json["model"].get("type")
        return (
            f"Transformer({family.model_type}: num_layers={encoder.num_layers}, "
            f"hidden_size={encoder.hidden_size}, num_heads={encoder.num_heads}, "
            f"hidden_act={encoder.hidden_act}; tokenizer={model})"
        )

    def compute_output_spec(self, features):
        batch_and_length = features["input_ids"].shape
        return {
            **features,
            "token_embeddings": keras.KerasTensor(
                (*batch_and_length, self.encoder.hidden_size), "float32"
            ),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
            encoder=keras.saving.serialize_keras_object(self.encoder),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        tokenizer = keras.saving.deserialize_keras_object(config.pop("tokenizer"))
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        return cls(tokenizer, encoder, **config)
