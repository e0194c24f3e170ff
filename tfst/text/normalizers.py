"""Normalizers: the first stage of a `tokenizers` pipeline, rewriting the text code point by code point.

Each class here is one ``normalizer`` type of ``tokenizer.json`` with the same name and options.
``normalize`` takes and returns ``[texts, (code points)]`` int32 tensors (see
``tfst.text.code_points``): placeholders of added tokens pass unchanged and cut the text, so a
normalizer that looks at its neighbours (``Strip``, ``Replace``, composition in ``NFC``) treats the
pieces between placeholders as separate strings, as `tokenizers` does.

Build one from its JSON with :func:`normalizer_from_json`; every type this module registers in
``NORMALIZERS`` is supported, any other is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import tensorflow as tf

from tfst.text.regex import PatternMatcher, pattern_from_json, replace_matches
from tfst.text.spec import build_component, option


class Normalizer(tf.Module):
    """One normalizer stage. Subclasses read their options in ``from_json`` (raising
    ``TokenizerSpecError`` for anything unsupported) and build their tables in ``__init__``."""

    type_name: ClassVar[str]

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], where: str) -> Normalizer:
        raise NotImplementedError

    def normalize(self, texts: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[texts, (code points)]`` → the normalized ``[texts, (code points)]``."""
        raise NotImplementedError


class Sequence(Normalizer):
    """Several normalizers, applied in order."""

    type_name = "Sequence"

    def __init__(self, normalizers: list[Normalizer]):
        super().__init__(name="sequence")
        self.normalizers = list(normalizers)

    @classmethod
    def from_json(cls, spec, where):
        items = option(spec, "normalizers", list, where)
        return cls(
            [
                normalizer_from_json(item, f"{where}.normalizers[{index}]")
                for index, item in enumerate(items)
            ]
        )

    def normalize(self, texts):
        for normalizer in self.normalizers:
            texts = normalizer.normalize(texts)
        return texts


class Replace(Normalizer):
    """Replaces every match of a pattern (``String``: literal text, ``Regex``: Oniguruma) with
    ``content``, in each piece of text between added tokens."""

    type_name = "Replace"

    def __init__(self, pattern: PatternMatcher, content: str):
        super().__init__(name="replace")
        self.pattern = pattern
        self.content = [ord(char) for char in content]

    @classmethod
    def from_json(cls, spec, where):
        return cls(
            pattern_from_json(option(spec, "pattern", dict, where), f"{where}.pattern"),
            option(spec, "content", str, where),
        )

    def normalize(self, texts):
        return replace_matches(texts, self.pattern, self.content)


NORMALIZERS: dict[str, type[Normalizer]] = {cls.type_name: cls for cls in (Sequence, Replace)}


def normalizer_from_json(spec: Mapping[str, Any], where: str) -> Normalizer:
    """The normalizer a ``tokenizer.json`` ``normalizer`` entry describes (``where`` names it)."""
    return build_component("normalizer", NORMALIZERS, spec, where)
