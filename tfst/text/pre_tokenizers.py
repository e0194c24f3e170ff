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

import numpy as np
import tensorflow as tf

from tfst.text.character_classes import (
    NUMERIC,
    PUNCTUATION,
    REGEX_SPACE,
    REGEX_WORD,
    WHITESPACE,
    flag_mask,
)
from tfst.text.code_point_maps import CodePointProperty
from tfst.text.code_points import (
    expand,
    is_added_token,
    is_row_start,
    previous_values,
    row_ids,
    split_words,
)
from tfst.text.regex import (
    SPLIT_BEHAVIORS,
    PatternMatcher,
    pattern_from_json,
    split_on_code_points,
    split_on_matches,
    translate_pattern,
)
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
        return split_words(words, breaks | previous_values(breaks, False), ~is_space)


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
            words = split_words(words, tf.equal(words.flat_values, self.replacement))
        return words

    def _prepend(self, pieces, code_points, words):
        """``pieces`` (``[words, (code points)]``) with the replacement put before the words that
        get it; ``code_points`` are their values with spaces already replaced."""
        prefixed = is_row_start(pieces) & ~tf.equal(code_points, self.replacement)
        prefixed &= ~is_added_token(code_points)
        if self.prepend_scheme == "first":
            word_of = row_ids(pieces)
            first_word_of_text = tf.gather(words.row_starts(), tf.gather(row_ids(words), word_of))
            prefixed &= tf.equal(word_of, first_word_of_text)
        # Each code point moves right by the replacements put before it (its own word's too);
        # the places left over are the replacements.
        moved_by = tf.cumsum(tf.cast(prefixed, tf.int64))
        count = tf.size(code_points, out_type=tf.int64)
        position = tf.range(count)
        code_points = tf.tensor_scatter_nd_update(
            tf.fill([count + tf.reduce_sum(tf.cast(prefixed, tf.int64))], self.replacement),
            (position + moved_by)[:, None],
            code_points,
        )
        moved_before = tf.concat([[0], moved_by], axis=0)
        return tf.RaggedTensor.from_row_splits(
            code_points,
            pieces.row_splits + tf.gather(moved_before, pieces.row_splits),
            validate=False,
        )


class Split(PreTokenizer):
    """Cuts words on the matches of a pattern (``String``: literal text, ``Regex``: Oniguruma),
    treating each match as ``behavior`` says; ``invert`` swaps matches and the text between."""

    type_name = "Split"

    def __init__(self, pattern: PatternMatcher, behavior: str, invert: bool):
        super().__init__(name="split")
        self.pattern = pattern
        self.behavior = behavior
        self.invert = invert

    @classmethod
    def from_json(cls, spec, where):
        return cls(
            pattern_from_json(option(spec, "pattern", dict, where), f"{where}.pattern"),
            choice(spec, "behavior", SPLIT_BEHAVIORS, where),
            option(spec, "invert", bool, where),
        )

    def pre_tokenize(self, words):
        return split_on_matches(words, self.pattern, self.behavior, self.invert)


class _CodePointSplit(PreTokenizer):
    """Cuts words on the code points of a probed class, each one a match of its own."""

    def __init__(self, delimiters: np.ndarray, behavior: str):
        super().__init__(name=self.type_name.lower())
        self.behavior = behavior
        self._is_delimiter = CodePointProperty(delimiters.astype(np.int32))

    def pre_tokenize(self, words):
        is_delimiter = self._is_delimiter(words.flat_values) != 0
        return split_on_code_points(words, is_delimiter, self.behavior)


class Punctuation(_CodePointSplit):
    """Cuts words on punctuation as `tokenizers` defines it (ASCII punctuation and the Unicode
    P categories of the ``unicode_categories`` crate, older than Oniguruma's tables)."""

    type_name = "Punctuation"

    def __init__(self, behavior: str = "Isolated"):
        super().__init__(flag_mask(PUNCTUATION), behavior)

    @classmethod
    def from_json(cls, spec, where):
        return cls(choice(spec, "behavior", SPLIT_BEHAVIORS, where, default="Isolated"))


class Digits(_CodePointSplit):
    """Cuts out numeric characters (Rust's ``char::is_numeric``: Nd, Nl, No), each on its own
    (``individual_digits``) or in runs."""

    type_name = "Digits"

    def __init__(self, individual_digits: bool):
        super().__init__(flag_mask(NUMERIC), "Isolated" if individual_digits else "Contiguous")

    @classmethod
    def from_json(cls, spec, where):
        return cls(option(spec, "individual_digits", bool, where))


class WhitespaceSplit(_CodePointSplit):
    """Cuts words on whitespace (Rust's ``char::is_whitespace``) and drops it."""

    type_name = "WhitespaceSplit"

    def __init__(self):
        super().__init__(flag_mask(WHITESPACE), "Removed")

    @classmethod
    def from_json(cls, spec, where):
        return cls()


class CharDelimiterSplit(PreTokenizer):
    """Cuts words on one delimiter character and drops it."""

    type_name = "CharDelimiterSplit"

    def __init__(self, delimiter: str):
        super().__init__(name="char_delimiter_split")
        self.delimiter = ord(delimiter)

    @classmethod
    def from_json(cls, spec, where):
        delimiter = option(spec, "delimiter", str, where)
        if len(delimiter) != 1:
            raise TokenizerSpecError(
                f"{where}: delimiter must be a single character, got {delimiter!r}"
            )
        return cls(delimiter)

    def pre_tokenize(self, words):
        is_delimiter = tf.equal(words.flat_values, self.delimiter)
        return split_on_code_points(words, is_delimiter, "Removed")


# Classes of the Whitespace pre-tokenizer; "other" must be 0, the value placeholders read.
_OTHER, _WORD, _SPACE = 0, 1, 2


class Whitespace(PreTokenizer):
    """Keeps the matches of ``\\w+|[^\\w\\s]+`` (Rust ``regex`` crate classes) as words and
    drops the rest: runs of word characters and runs of other non-space characters, cut
    wherever one kind meets the other, without the whitespace between them."""

    type_name = "Whitespace"

    def __init__(self):
        super().__init__(name="whitespace")
        classes = np.where(flag_mask(REGEX_WORD), _WORD, _OTHER)
        self._classes = CodePointProperty(np.where(flag_mask(REGEX_SPACE), _SPACE, classes))

    @classmethod
    def from_json(cls, spec, where):
        return cls()

    def pre_tokenize(self, words):
        classes = self._classes(words.flat_values)
        previous = previous_values(classes, _OTHER)
        starts = tf.not_equal(classes, previous) | is_row_start(words.values)
        return split_words(words, starts, tf.not_equal(classes, _SPACE))


# GPT-2's pattern, which ByteLevel splits with (tokenizers/src/pre_tokenizers/byte_level.rs).
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def byte_level_alphabet() -> np.ndarray:
    """GPT-2's printable stand-in for each byte value (``bytes_char`` in ``byte_level.rs``):
    printable Latin-1 bytes stand for themselves, the others for U+0100 onwards, in order."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    alphabet = np.zeros(256, dtype=np.int32)
    alphabet[printable] = printable
    others = [byte for byte in range(256) if byte not in printable]
    alphabet[others] = 0x100 + np.arange(len(others))
    return alphabet


class ByteLevel(PreTokenizer):
    """GPT-2's pre-tokenizer: optionally a space before each word that lacks one, the GPT-2
    pattern's matches as words, then each word's UTF-8 bytes as printable stand-ins."""

    type_name = "ByteLevel"

    def __init__(self, add_prefix_space: bool, use_regex: bool = True):
        super().__init__(name="byte_level")
        self.add_prefix_space = add_prefix_space
        self.pattern = (
            PatternMatcher(translate_pattern(GPT2_PATTERN, "ByteLevel"), "ByteLevel")
            if use_regex
            else None
        )
        self._alphabet = tf.constant(byte_level_alphabet())

    @classmethod
    def from_json(cls, spec, where):
        # trim_offsets only moves offsets in the post-processor; ids do not depend on it.
        option(spec, "trim_offsets", bool, where)
        return cls(
            option(spec, "add_prefix_space", bool, where),
            option(spec, "use_regex", bool, where, default=True),
        )

    def pre_tokenize(self, words):
        if self.add_prefix_space:
            words = _prefix_space(words)
        if self.pattern is not None:
            words = split_on_matches(words, self.pattern, "Isolated", invert=False)
        code_points = words.flat_values
        text = ~is_added_token(code_points)
        size = 1 + sum(
            tf.cast(text & (code_points >= bound), tf.int64) for bound in (0x80, 0x800, 0x10000)
        )
        ends = tf.concat([[0], tf.cumsum(size)], axis=0)
        new_words = tf.RaggedTensor.from_row_splits(
            _utf8_bytes(code_points, size, self._alphabet),
            tf.gather(ends, words.values.row_splits),
            validate=False,
        )
        return words.with_values(new_words)


def _utf8_bytes(code_points: tf.Tensor, size: tf.Tensor, alphabet: tf.Tensor) -> tf.Tensor:
    """The UTF-8 bytes of code points whose encoded sizes are ``size``, as byte-level stand-ins
    (placeholders stay themselves, one value each)."""
    source, index = expand(size)
    code_point = tf.gather(code_points, source)
    length = tf.gather(size, source)
    payload = tf.bitwise.right_shift(code_point, tf.cast(6 * (length - 1 - index), tf.int32))
    lead_marker = tf.gather(tf.constant([0, 0, 0xC0, 0xE0, 0xF0]), length)
    lead_bits = tf.gather(tf.constant([0, 0x7F, 0x1F, 0x0F, 0x07]), length)
    byte = tf.where(
        index == 0,
        tf.bitwise.bitwise_or(lead_marker, tf.bitwise.bitwise_and(payload, lead_bits)),
        tf.bitwise.bitwise_or(0x80, tf.bitwise.bitwise_and(payload, 0x3F)),
    )
    return tf.where(is_added_token(code_point), code_point, tf.gather(alphabet, byte))


def _prefix_space(words: tf.RaggedTensor) -> tf.RaggedTensor:
    """A space before every word that does not start with one (placeholders excepted), as
    ``ByteLevel`` does to each piece it is given."""
    flat = words.values
    first = tf.gather(flat.values, flat.row_starts())
    needs_space = tf.cast((first != 0x20) & ~is_added_token(first), tf.int64)
    spaces = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(needs_space)], 0x20), needs_space, validate=False
    )
    return words.with_values(tf.concat([spaces, flat], axis=1))


PRE_TOKENIZERS: dict[str, type[PreTokenizer]] = {
    cls.type_name: cls
    for cls in (
        Sequence,
        BertPreTokenizer,
        Metaspace,
        Split,
        Punctuation,
        Digits,
        Whitespace,
        WhitespaceSplit,
        CharDelimiterSplit,
        ByteLevel,
    )
}


def pre_tokenizer_from_json(spec: Mapping[str, Any], where: str) -> PreTokenizer:
    """The pre-tokenizer a ``tokenizer.json`` ``pre_tokenizer`` entry describes."""
    return build_component("pre_tokenizer", PRE_TOKENIZERS, spec, where)
