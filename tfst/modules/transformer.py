"""The Transformer module: the tokenizer and the encoder of any registered family, as one module.

Its folder holds ``config.json`` (the family comes from its ``model_type``, see
``tfst.models.registry``), the weights, the tokenizer files and ``sentence_bert_config.json``
(``max_seq_length``, ``do_lower_case``, ``transformer_task``). It turns strings (or pairs) into
token features (``tokenize``) and token features into ``token_embeddings`` (``call``).

As in sentence-transformers 6, ``transformer_task`` says what the module outputs:
``feature-extraction`` (token embeddings, for sentence embeddings) or ``sequence-classification``
(also ``scores``, the logits of the family's ``*ForSequenceClassification`` head: a
cross-encoder, see ``tfst.cross_encoder``).
"""

from __future__ import annotations

from pathlib import Path

import keras

from tfst.checkpoint import checkpoint_tensors, find_weights_file
from tfst.config import ConfigError, Setting, read_json, read_optional_json, setting
from tfst.files import write_json, write_safetensors, write_text
from tfst.models.classification_head import ClassificationHead
from tfst.models.family import Family
from tfst.models.portable_encoder import PortableEncoder
from tfst.models.registry import FAMILIES, family_for, family_of
from tfst.modules.base import PACKAGE, LoadOptions, Module
from tfst.text.tokenizer import Tokenizer
from tfst.text.tokenizer_folder import (
    read_tokenizer_settings,
    tokenizer_files,
    with_lowercase_first,
)
from tfst.weights import WeightTable, WeightTarget

FEATURE_EXTRACTION = "feature-extraction"
SEQUENCE_CLASSIFICATION = "sequence-classification"
_TASK = Setting(
    "transformer_task",
    str,
    FEATURE_EXTRACTION,
    choices=(FEATURE_EXTRACTION, SEQUENCE_CLASSIFICATION),
)
_DO_LOWER_CASE = Setting("do_lower_case", bool, False)
_MAX_SEQ_LENGTH = Setting("max_seq_length", int, None, minimum=1, nullable=True)
# What sentence-transformers 6 writes for a sequence-classification Transformer.
_CLASSIFICATION_MODULE_CONFIG = {
    "transformer_task": SEQUENCE_CLASSIFICATION,
    "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
    "module_output_name": "scores",
}
_LABELS = Setting("num_labels", int, 2, minimum=1, maximum=1 << 16)


@keras.saving.register_keras_serializable(package="tfst")
class Transformer(Module):
    """Tokenizer + encoder (+ classification head).

    Args:
        tokenizer: a ``tfst.text.Tokenizer``; its ``max_length`` is the module's
            ``max_seq_length``.
        encoder: an encoder layer of a registered family (``tfst.models``).
        head: for ``sequence-classification``, the family's ``ClassificationHead``; its logits
            are the ``scores`` feature. None for ``feature-extraction``.
    """

    type_names = ("Transformer",)
    saved_type = f"{PACKAGE}.base.modules.transformer.Transformer"
    folder_name = ""
    has_weights = True
    is_input = True
    gives_prompt_length = True

    def __init__(
        self, tokenizer: Tokenizer, encoder, head: ClassificationHead | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.head = head
        if tokenizer.max_length > encoder.usable_positions():
            raise ValueError(
                f"the tokenizer's max_length {tokenizer.max_length} is more than the encoder's "
                f"{encoder.usable_positions()} positions"
            )
        if head is not None and tokenizer.padding_side == "left":
            # The head reads the first position, which left padding fills with padding.
            raise ValueError("a classification head needs a tokenizer that pads on the right")

    @property
    def transformer_task(self) -> str:
        return FEATURE_EXTRACTION if self.head is None else SEQUENCE_CLASSIFICATION

    @classmethod
    def from_folder(cls, folder: Path, options: LoadOptions | None = None) -> Transformer:
        module_path = folder / "sentence_bert_config.json"
        module_config = read_optional_json(module_path)
        return cls.from_model_folder(
            folder,
            options,
            task=setting(module_config, _TASK, module_path),
            max_seq_length=setting(module_config, _MAX_SEQ_LENGTH, module_path),
            do_lower_case=setting(module_config, _DO_LOWER_CASE, module_path),
            module_path=module_path,
        )

    @classmethod
    def from_model_folder(
        cls,
        folder: Path,
        options: LoadOptions | None = None,
        *,
        task: str = FEATURE_EXTRACTION,
        max_seq_length: int | None = None,
        do_lower_case: bool = False,
        module_path: Path | None = None,
    ) -> Transformer:
        """The module from a Hugging Face model folder (``config.json``, weights, tokenizer files)
        and the module settings sentence-transformers keeps in ``sentence_bert_config.json``
        (``module_path``, for error messages); ``max_seq_length`` None means the tokenizer's
        ``model_max_length`` capped at the encoder's positions, as sentence-transformers does."""
        options = options or LoadOptions()
        config_path = folder / "config.json"
        module_path = module_path or folder / "sentence_bert_config.json"
        raw = read_json(config_path)
        family = family_for(raw.get("model_type"), config_path)
        arguments = family.read_config(raw, config_path)
        encoder = family.build_encoder(arguments, options.encoder_precision)
        head = None
        if task == SEQUENCE_CLASSIFICATION:
            head = _classification_head(raw, family, encoder.hidden_size, config_path)

        tokenizer_settings = read_tokenizer_settings(folder, family.tokenizer_class)
        if do_lower_case:
            tokenizer_settings = with_lowercase_first(tokenizer_settings)
        positions = encoder.usable_positions()
        # Named in errors: the file max_seq_length came from.
        length_source = module_path if max_seq_length is not None else tokenizer_settings.source
        if max_seq_length is None:
            max_seq_length = min(tokenizer_settings.model_max_length, positions)
        if max_seq_length > positions:
            # A longer text would fail deep inside the encoder (sentence-transformers fails there).
            raise ConfigError(
                f"{module_path}: max_seq_length {max_seq_length} exceeds the {positions} positions "
                f"the encoder of {config_path} has"
            )
        if head is not None and tokenizer_settings.padding_side == "left":
            raise ConfigError(
                f"{tokenizer_settings.source}: padding_side 'left' is not supported for "
                f"sequence classification: the {family.classification_head.architecture} head "
                "reads the first position, which would be padding"
            )
        tokenizer = Tokenizer(
            **tokenizer_settings.layer_arguments(), max_length=positions, name="tokenizer"
        )
        try:
            tokenizer.max_length = max_seq_length
        except ValueError as error:  # no room for a token beside the special tokens
            raise ConfigError(f"{length_source}: {error}") from None
        if tokenizer.vocabulary_size() > encoder.vocab_size:
            raise ConfigError(
                f"{tokenizer_settings.source} has ids up to {tokenizer.vocabulary_size() - 1}, but "
                f"the encoder's vocab_size in {config_path} is {encoder.vocab_size}: those ids "
                "have no embedding"
            )

        module = cls(tokenizer, encoder, head, name="transformer")
        weights = find_weights_file(folder)
        table = module.weight_table()
        # Names and shapes are checked from the header, before any tensor data is read.
        tensors = checkpoint_tensors(weights)
        shapes = tensors.shapes
        table.match(shapes, weights)
        module.build()
        table.assign(module, tensors, source=weights, shapes=shapes)
        return module

    def weight_table(self) -> WeightTable:
        """Checkpoint name → variable, relative to this module: the encoder's own table, or with
        a head, the family's ``*ForSequenceClassification`` table."""
        if self.head is None:
            table = self.encoder.weight_table()
            targets = {
                name: WeightTarget(f"encoder.{target.path}", target.shape, target.transform)
                for name, target in table.targets.items()
            }
            return WeightTable(targets, table.prefixes, table.skipped)
        spec = family_of(self.encoder).classification_head
        return spec.weight_table(self.encoder, self.head)

    def save(self, folder: Path) -> None:
        family = family_of(self.encoder)
        # A family that reads pad_token_id (RoBERTa's positions depend on it) writes its own.
        config = {"pad_token_id": self.tokenizer.pad_token_id, **family.config_json(self.encoder)}
        module_config = {"max_seq_length": self.max_seq_length, "do_lower_case": False}
        if self.head is not None:
            config["architectures"] = [family.classification_head.architecture]
            config["id2label"] = dict(enumerate(self.head.labels))
            config["label2id"] = {label: index for index, label in enumerate(self.head.labels)}
            module_config = {**_CLASSIFICATION_MODULE_CONFIG, **module_config}
        write_json(folder / "config.json", config)
        write_safetensors(folder / "model.safetensors", self.weight_table().export(self))
        files = tokenizer_files(self.tokenizer, self.encoder.usable_positions())
        for name, content in files.items():
            if isinstance(content, str):
                write_text(folder / name, content)
            else:
                write_json(folder / name, content)
        # The pipeline in tokenizer.json already lowercases if it should.
        write_json(folder / "sentence_bert_config.json", module_config)

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
        """The same tokenizer (and head) around another encoder (e.g. another precision)."""
        return Transformer(self.tokenizer, encoder, self.head, name=self.name)

    def with_tokenizer(self, tokenizer: Tokenizer) -> Transformer:
        """Another tokenizer (e.g. other ops) in front of the same encoder (and head)."""
        return Transformer(tokenizer, self.encoder, self.head, name=self.name)

    def tokenize(self, strings, pairs=None) -> dict:
        """Strings (or pairs of strings) → ``input_ids``, ``attention_mask``, ``token_type_ids``."""
        return self.tokenizer(strings, pairs)

    def text_layers(self) -> list:
        return [self.tokenizer]

    def build(self, input_shape=None):
        if not self.encoder.built:
            self.encoder.build()
        if self.head is not None and not self.head.built:
            self.head.build()
        self.built = True

    def call(self, features):
        token_embeddings = self.encoder(features)
        features = {**features, "token_embeddings": token_embeddings}
        if self.head is not None:
            features["scores"] = self.head(token_embeddings)
        return features

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
        head = (
            "" if self.head is None else f"; {self.transformer_task}: {self.head.num_labels} labels"
        )
        return (
            f"Transformer({family.model_type}: num_layers={encoder.num_layers}, "
            f"hidden_size={encoder.hidden_size}, num_heads={encoder.num_heads}, "
            f"hidden_act={encoder.hidden_act}; tokenizer={model}{head})"
        )

    def compute_output_spec(self, features):
        batch_and_length = features["input_ids"].shape
        outputs = {
            **features,
            "token_embeddings": keras.KerasTensor(
                (*batch_and_length, self.encoder.hidden_size), "float32"
            ),
        }
        if self.head is not None:
            outputs["scores"] = keras.KerasTensor(
                (batch_and_length[0], self.head.num_labels), "float32"
            )
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
            encoder=keras.saving.serialize_keras_object(self.encoder),
        )
        if self.head is not None:
            config["head"] = keras.saving.serialize_keras_object(self.head)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        tokenizer = keras.saving.deserialize_keras_object(config.pop("tokenizer"))
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        head = config.pop("head", None)
        if head is not None:
            head = keras.saving.deserialize_keras_object(head)
        return cls(tokenizer, encoder, head, **config)


def _classification_head(
    raw: dict, family: Family, hidden_size: int, config_path: Path
) -> ClassificationHead:
    """The family's classification head for a ``*ForSequenceClassification`` ``config.json``:
    its labels from ``id2label`` (else ``num_labels``, else 2, as transformers reads them)."""
    spec = family.classification_head
    if spec is None:
        supported = sorted(
            f.classification_head.architecture
            for f in FAMILIES.values()
            if f.classification_head is not None
        )
        raise ConfigError(
            f"{config_path}: tfst has no sequence-classification head for model_type "
            f"{family.model_type!r}; supported are {', '.join(supported)}"
        )
    architectures = raw.get("architectures")
    if not isinstance(architectures, list) or spec.architecture not in architectures:
        # transformers would add a randomly initialized head: scores that mean nothing.
        raise ConfigError(
            f"{config_path}: architectures {architectures!r:.120} does not name "
            f"{spec.architecture}, so the checkpoint has no trained classification head (a "
            "cross-encoder needs one; an embedding model loads with tfst.load)"
        )
    id2label = raw.get("id2label")
    if id2label is None:
        labels = tuple(f"LABEL_{index}" for index in range(setting(raw, _LABELS, config_path)))
    else:
        if not isinstance(id2label, dict) or not all(
            isinstance(label, str) for label in id2label.values()
        ):
            raise ConfigError(f"{config_path}: id2label must map label ids to names")
        by_id = {}
        for key, label in id2label.items():
            try:
                by_id[int(key)] = label
            except ValueError:
                raise ConfigError(
                    f"{config_path}: id2label key {key!r:.40} is not a label id"
                ) from None
        if sorted(by_id) != list(range(len(by_id))) or not by_id:
            raise ConfigError(
                f"{config_path}: id2label must number its labels 0 to n-1, got {sorted(by_id)}"
            )
        labels = tuple(by_id[index] for index in range(len(by_id)))
    return spec.build_head(hidden_size, labels)
