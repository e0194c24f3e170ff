"""Pre-tokenizers: the stage of a `tokenizers` pipeline that cuts normalized text into words.

Each class here is one ``pre_tokenizer`` type of ``tokenizer.json`` with the same name and options.
``pre_tokenize`` takes and returns ``[texts, (words), (code points)]`` int32 tensors (see
``tfst.text.code_points``): each stage cuts the words it is given further (and may rewrite or drop
code points), never joins two, and never yields an empty word; a placeholder word passes
unchanged. ``tfst.text.code_points.split_words`` does the cutting from per-code-point flags.

Build one from its JSON with :func:`pre_tokenizer_from_json`; every type this module registers in
``PRE_TOKENIZERS`` is supported, any other is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import tensorflow as tf

from tfst.text.code_point_maps import CodePointProperty
from tfst.text.code_points import split_words
from tfst.text.spec import build_component, option
from tfst.text.unicode_tables import (
    PROPERTY_PUNCTUATION,
    PROPERTY_WHITESPACE,
    character_class_properties,
)


class PreTokenizer(tf.Module):
    """One pre-tokenizer stage. Subclasses read their options in ``from_json`` (raising
    ``TokenizerSpecError`` for anything unsupported) and build their tables in ``__init__``."""

    type_name: ClassVar[str]

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], where: str) -> PreTokenizer:
        raise NotImplementedError

    def pre_tokenize(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[texts, (words), (code points)]`` → the same, cut into more (or rewritten) words."""
        raise NotImplementedError


class Sequence(PreTokenizer):
    """Several pre-tokenizers, applied in order, each to the words the one before it made."""

    type_name = "Sequence"

    def __init__(self, pre_tokenizers: list[PreTokenizer]):
        super().__init__(name="sequence")
        self.pre_tokenizers = list(pre_tokenizers)

    @classmethod
    def from_json(cls, spec, where):
        items = option(spec, "pretokenizers", list, where)
        return cls(
            [
                pre_tokenizer_from_json(item, f"{where}.pretokenizers[{index}]")
                for index, item in enumerate(items)
            ]
        )

    def pre_tokenize(self, words):
        for pre_tokenizer in self.pre_tokenizers:
            words = pre_tokenizer.pre_tokenize(words)
        return words


def has_property(properties: tf.Tensor, bit: int) -> tf.Tensor:
    """Which of the looked-up ``properties`` have ``bit`` set."""
    return tf.not_equal(tf.bitwise.bitwise_and(properties, bit), 0)


def after(flags: tf.Tensor) -> tf.Tensor:
    """``flags`` moved one code point to the right: true right after a true flag."""
    return tf.concat([[False], flags], axis=0)[:-1]


class BertPreTokenizer(PreTokenizer):
    """BERT's pre-tokenizer: split on whitespace (dropped) and isolate each punctuation mark.

    Whitespace is Rust's ``char::is_whitespace``; punctuation is ASCII punctuation plus Unicode
    category P, as `tokenizers` classifies them (probed into ``tfst.text.unicode_tables``).
    """

    type_name = "BertPreTokenizer"

    def __init__(self):
        super().__init__(name="bert_pre_tokenizer")
        self._classes = CodePointProperty(character_class_properties())

    @classmethod
    def from_json(cls, spec, where):
        return cls()

    def pre_tokenize(self, words):
        properties = self._classes(words.flat_values)
        is_space = has_property(properties, PROPERTY_WHITESPACE)
        breaks = is_space | has_property(properties, PROPERTY_PUNCTUATION)
        return split_words(words, breaks | after(breaks), ~is_space)


PRE_TOKENIZERS: dict[str, type[PreTokenizer]] = {
    cls.type_name: cls for cls in (Sequence, BertPreTokenizer)
}


def pre_tokenizer_from_json(spec: Mapping[str, Any], where: str) -> PreTokenizer:
    """The pre-tokenizer a ``tokenizer.json`` ``pre_tokenizer`` entry describes."""
    return build_component("pre_tokenizer", PRE_TOKENIZERS, spec, where)
