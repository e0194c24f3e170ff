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
from tfst.text.code_points import is_added_token, is_row_start, row_ids, split_words
from tfst.text.spec import TokenizerSpecError, build_component, choice, option
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


class Metaspace(PreTokenizer):
    """SentencePiece's whitespace handling: spaces become ``replacement`` ("▁"), a word may get one
    in front, and words are cut before every ``replacement`` (``pre_tokenizers/metaspace.rs``).

    ``prepend_scheme`` says which words get the prefix when they do not already start with it:
    ``"always"`` every word, ``"never"`` none, ``"first"`` only a word that starts at offset 0 of
    the original text, which `tokenizers` tests with ``offsets_original().0 == 0``. Here that is
    the first word of each text when the text does not start with an added token. `tokenizers`
    also counts a word as not starting at 0 when an earlier stage deleted the text's first
    characters in a way its offsets record (``Strip``, ``Replace``, ``StripAccents``, a
    whitespace pre-tokenizer, but not ``Precompiled``, whose leading deletions are not recorded).
    Words carry no offsets here, so such a word still gets the prefix: telling needs a per-text
    "starts at the original start" flag from the stages before.
    Placeholder words pass unchanged: `tokenizers` hands them to no pre-tokenizer.
    """

    type_name = "Metaspace"

    def __init__(self, replacement: str = "▁", prepend_scheme: str = "always", split: bool = True):
        super().__init__(name="metaspace")
        self.replacement = ord(replacement)
        self.prepend_scheme = prepend_scheme
        self.split = split

    @classmethod
    def from_json(cls, spec, where):
        replacement = option(spec, "replacement", str, where)
        if len(replacement) != 1:
            raise TokenizerSpecError(
                f"{where}: replacement must be one character, got {replacement!r}"
            )
        prepend_scheme = choice(
            spec, "prepend_scheme", ("always", "first", "never"), where, default="always"
        )
        # Files older than prepend_scheme say add_prefix_space; false means "never", and
        # `tokenizers` refuses it next to any other scheme (including the default "always").
        add_prefix_space = option(spec, "add_prefix_space", (bool, type(None)), where, None)
        if add_prefix_space is False and prepend_scheme != "never":
            raise TokenizerSpecError(
                f"{where}: add_prefix_space false contradicts prepend_scheme "
                f"{prepend_scheme!r}; give prepend_scheme 'never'"
            )
        split = option(spec, "split", (bool, type(None)), where, None)
        # "str_rep" (older files) is always the replacement itself: nothing to read.
        return cls(replacement, prepend_scheme, True if split is None else split)

    def pre_tokenize(self, words):
        code_points = words.flat_values
        code_points = tf.where(tf.equal(code_points, ord(" ")), self.replacement, code_points)
        if self.prepend_scheme == "never":
            words = words.with_flat_values(code_points)
        else:
            words = words.with_values(self._prepend(words.values, code_points, words))
        if self.split:
            # MergedWithNext: every replacement starts a word, and stays at its front.
            words = split_words(
                words,
                tf.equal(words.flat_values, self.replacement),
                tf.ones_like(words.flat_values, tf.bool),
            )
        return words

    def _prepend(self, pieces, code_points, words):
        """``pieces`` (``[words, (code points)]``) with the replacement put before the words that
        get it; ``code_points`` are their values with spaces already replaced."""
        word_of = row_ids(pieces)
        prefixed = is_row_start(pieces) & ~tf.equal(code_points, self.replacement)
        prefixed &= ~is_added_token(code_points)
        if self.prepend_scheme == "first":
            first_word_of_text = tf.gather(words.row_starts(), tf.gather(row_ids(words), word_of))
            prefixed &= tf.equal(word_of, first_word_of_text)
        copies = 1 + tf.cast(prefixed, tf.int32)
        # Of the two copies of a prefixed word's first code point, the first is the replacement.
        copy_start = tf.repeat(tf.cumsum(copies, exclusive=True), copies)
        is_prefix = tf.repeat(prefixed, copies) & tf.equal(
            tf.range(tf.reduce_sum(copies)), copy_start
        )
        code_points = tf.where(is_prefix, self.replacement, tf.repeat(code_points, copies))
        added = tf.math.unsorted_segment_sum(tf.cast(prefixed, tf.int64), word_of, pieces.nrows())
        return tf.RaggedTensor.from_row_lengths(
            code_points, pieces.row_lengths() + added, validate=False
        )


PRE_TOKENIZERS: dict[str, type[PreTokenizer]] = {
    cls.type_name: cls for cls in (Sequence, BertPreTokenizer, Metaspace)
}


def pre_tokenizer_from_json(spec: Mapping[str, Any], where: str) -> PreTokenizer:
    """The pre-tokenizer a ``tokenizer.json`` ``pre_tokenizer`` entry describes."""
    return build_component("pre_tokenizer", PRE_TOKENIZERS, spec, where)
