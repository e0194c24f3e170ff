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

from tfst.text.spec import build_component, option


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


PRE_TOKENIZERS: dict[str, type[PreTokenizer]] = {cls.type_name: cls for cls in (Sequence,)}


def pre_tokenizer_from_json(spec: Mapping[str, Any], where: str) -> PreTokenizer:
    """The pre-tokenizer a ``tokenizer.json`` ``pre_tokenizer`` entry describes."""
    return build_component("pre_tokenizer", PRE_TOKENIZERS, spec, where)
