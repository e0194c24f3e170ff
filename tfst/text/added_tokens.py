"""Added tokens (``[CLS]``, ``<mask>``, user tokens): found in the text before the model, as
`tokenizers`' ``AddedVocabulary.extract_and_normalize`` finds them.

Tokens with ``normalized: false`` are matched in the raw text; the pieces between them are then
normalized, and tokens with ``normalized: true`` are matched (by their normalized form) in each
normalized piece. Each pass finds occurrences leftmost-longest and without overlaps (Aho-Corasick
``LeftmostLongest`` in `tokenizers`): one RE2 alternation of the tokens, longest first, does the
same. Then, per occurrence and in `tokenizers`' order:

- ``single_word``: the occurrence is dropped (left as text) when the character before or after it
  in the piece is a regex word character (``\\w``);
- ``lstrip`` / ``rstrip``: the whitespace run right before / after the occurrence is removed
  (never reaching into the occurrence before it).

Each kept occurrence becomes a placeholder code point (``tfst.text.code_points``). One known
difference: `tokenizers` would let a token that starts with whitespace match inside the whitespace
its neighbour's ``rstrip`` removed; tfst does not (no real tokenizer has such tokens).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from tfst.text.code_point_maps import CodePointProperty
from tfst.text.code_points import (
    ADDED_TOKEN_BASE,
    decode_utf8,
    encode_utf8,
    index_in_row,
    is_added_token,
    merge_inner,
    row_ids,
    rows_and_indices,
    texts_as_words,
)
from tfst.text.spec import TokenizerSpecError, option
from tfst.text.unicode_tables import (
    PROPERTY_WHITESPACE,
    PROPERTY_WORD,
    character_class_properties,
)

# Marks matches in a string; valid UTF-8 (what the text is transcoded to first) never holds it.
_MARK = b"\xff"


@dataclass(frozen=True)
class AddedToken:
    """One entry of ``tokenizer.json``'s ``added_tokens``."""

    id: int
    content: str
    single_word: bool = False
    lstrip: bool = False
    rstrip: bool = False
    normalized: bool = False
    special: bool = False

    @classmethod
    def from_json(cls, spec: Any, where: str) -> AddedToken:
        if not isinstance(spec, Mapping):
            raise TokenizerSpecError(f"{where}: an added token must be an object")
        special = option(spec, "special", bool, where, False)
        token = cls(
            id=option(spec, "id", int, where),
            content=option(spec, "content", str, where),
            single_word=option(spec, "single_word", bool, where, False),
            lstrip=option(spec, "lstrip", bool, where, False),
            rstrip=option(spec, "rstrip", bool, where, False),
            normalized=option(spec, "normalized", bool, where, not special),
            special=special,
        )
        if token.id < 0 or not token.content:
            raise TokenizerSpecError(f"{where}: an added token needs an id >= 0 and a content")
        return token

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "content": self.content,
            "single_word": self.single_word,
            "lstrip": self.lstrip,
            "rstrip": self.rstrip,
            "normalized": self.normalized,
            "special": self.special,
        }


class _Matcher(tf.Module):
    """One pass: finds some added tokens in strings and makes their occurrences placeholders."""

    def __init__(self, patterns: Sequence[str], token_indices: Sequence[int], tokens, classes):
        super().__init__(name="added_token_matcher")
        by_length = sorted(range(len(patterns)), key=lambda i: -len(patterns[i]))
        self._regex = "|".join(re.escape(patterns[i]) for i in by_length)
        # Full-match form of "contains any token": RE2 scans each string once, in linear time.
        self._anywhere = f"(?s).*(?:{self._regex}).*"
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(patterns)), tf.constant(list(token_indices), tf.int32)
            ),
            default_value=-1,
        )
        self._single_word = tf.constant([tokens[i].single_word for i in range(len(tokens))])
        self._lstrip = tf.constant([tokens[i].lstrip for i in range(len(tokens))])
        self._rstrip = tf.constant([tokens[i].rstrip for i in range(len(tokens))])
        self._classes = classes
        self._has_context_rules = any(
            tokens[i].single_word or tokens[i].lstrip or tokens[i].rstrip for i in token_indices
        )

    def match(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """``[n]`` valid UTF-8 strings → ``[n, (code points)]``, occurrences as placeholders.

        Most batches hold no added token at all; one scan finds that out and skips the split.
        """
        found = tf.reduce_any(tf.strings.regex_full_match(strings, self._anywhere))
        return tf.cond(found, lambda: self._split(strings), lambda: decode_utf8(strings))

    def _split(self, strings: tf.Tensor) -> tf.RaggedTensor:
        pieces = tf.strings.split(
            tf.strings.regex_replace(strings, self._regex, _MARK + b"\\0" + _MARK), sep=_MARK
        )
        # Pieces alternate text, match, text, ..., text.
        is_match = tf.equal(tf.bitwise.bitwise_and(index_in_row(pieces), 1), 1)
        token = tf.where(is_match, self._table.lookup(pieces.values), -1)
        characters = decode_utf8(pieces.values)
        if self._has_context_rules:
            token = self._drop_non_single_words(characters, pieces, token)
        # A kept occurrence (never empty) becomes one placeholder in place of its first character.
        character_piece, index_in_piece = rows_and_indices(characters)
        character_token = tf.gather(token, character_piece)
        keep = (character_token < 0) | tf.equal(index_in_piece, 0)
        values = tf.where(
            character_token >= 0, ADDED_TOKEN_BASE + character_token, characters.values
        )
        kept_before = tf.concat([[0], tf.cumsum(tf.cast(keep, tf.int64))], axis=0)
        string_splits = tf.gather(kept_before, tf.gather(characters.row_splits, pieces.row_splits))
        texts = tf.RaggedTensor.from_row_splits(
            tf.boolean_mask(values, keep), string_splits, validate=False
        )
        if self._has_context_rules:
            texts = self._strip_whitespace(texts)
        return texts

    def _drop_non_single_words(self, characters, pieces, token):
        """``single_word`` occurrences next to a word character become text again.

        The character before an occurrence ends the piece before it or, that piece being empty,
        the occurrence before that (occurrences are never empty); likewise after it.
        """
        lengths = characters.row_lengths()
        padded = tf.concat([characters.values, [0]], axis=0)
        end = tf.size(characters.values, out_type=tf.int64)
        first = tf.gather(padded, tf.where(lengths > 0, characters.row_starts(), end))
        last = tf.gather(padded, tf.where(lengths > 0, characters.row_limits() - 1, end))
        word_first = (lengths > 0) & _has(self._classes(first), PROPERTY_WORD)
        word_last = (lengths > 0) & _has(self._classes(last), PROPERTY_WORD)
        count = tf.size(token, out_type=tf.int64)
        index = tf.range(count)
        piece_row = row_ids(pieces)
        row_start = tf.gather(pieces.row_starts(), piece_row)
        row_limit = tf.gather(pieces.row_limits(), piece_row)

        def word_at(step, is_word):
            """Whether the nearest non-empty piece ``step`` (±1, then ±2) away ends/starts with a
            word character, within the same string."""
            near, far = index + step, index + 2 * step
            near_inside = (near >= row_start) & (near < row_limit)
            far_inside = (far >= row_start) & (far < row_limit)
            near, far = (tf.clip_by_value(i, 0, tf.maximum(count - 1, 0)) for i in (near, far))
            near_empty = tf.gather(lengths, near) == 0
            return tf.where(
                near_inside & ~near_empty,
                tf.gather(is_word, near),
                near_inside & far_inside & tf.gather(is_word, far),
            )

        next_to_word = word_at(-1, word_last) | word_at(1, word_first)
        single_word = tf.gather(self._single_word, tf.maximum(token, 0))
        return tf.where((token >= 0) & single_word & next_to_word, -1, token)

    def _strip_whitespace(self, texts: tf.RaggedTensor) -> tf.RaggedTensor:
        """Remove the whitespace runs right before ``lstrip`` and right after ``rstrip`` tokens."""
        values = texts.values
        token = tf.where(is_added_token(values), values - ADDED_TOKEN_BASE, -1)
        is_space = ~is_added_token(values) & _has(self._classes(values), PROPERTY_WHITESPACE)
        solid = tf.where(~is_space)[:, 0]  # positions of everything but whitespace
        solid_count = tf.size(solid, out_type=tf.int64)
        solid_up_to = tf.cumsum(tf.cast(~is_space, tf.int64))  # inclusive count
        row = row_ids(texts)

        def touches(solid_index, flags):
            """Whether the solid element ``solid_index`` is a token with ``flags`` in the same row."""
            inside = (solid_index >= 0) & (solid_index < solid_count)
            position = tf.gather(
                tf.concat([solid, [0]], axis=0), tf.where(inside, solid_index, solid_count)
            )
            neighbour = tf.where(inside, tf.gather(token, position), -1)
            return (
                inside
                & tf.equal(tf.gather(row, position), row)
                & (neighbour >= 0)
                & tf.gather(flags, tf.maximum(neighbour, 0))
            )

        # For a whitespace character, the next solid element is number solid_up_to (0-based)
        # and the previous one number solid_up_to - 1.
        drop = is_space & (
            touches(solid_up_to, self._lstrip) | touches(solid_up_to - 1, self._rstrip)
        )
        kept_before = tf.concat([[0], tf.cumsum(tf.cast(~drop, tf.int64))], axis=0)
        return tf.RaggedTensor.from_row_splits(
            tf.boolean_mask(values, ~drop), tf.gather(kept_before, texts.row_splits), validate=False
        )


def _has(properties: tf.Tensor, bit: int) -> tf.Tensor:
    return tf.not_equal(tf.bitwise.bitwise_and(properties, bit), 0)


class AddedVocabulary(tf.Module):
    """The added tokens of a tokenizer, found in raw and in normalized text.

    Args:
        tokens: the ``added_tokens`` of ``tokenizer.json``.
        normalizer: the tokenizer's normalizer; a token with ``normalized: true`` is matched by
            its content as this normalizer rewrites it.
        split_special_tokens: as transformers' option: special tokens are not matched, so their
            text is tokenized like any other.

    Placeholder ``ADDED_TOKEN_BASE + k`` stands for ``tokens[k]``; ``ids`` maps k to its id.
    """

    def __init__(self, tokens: Sequence[AddedToken], normalizer=None, split_special_tokens=False):
        super().__init__(name="added_vocabulary")
        self.tokens = list(tokens)
        self.ids = tf.constant([token.id for token in self.tokens] or [0], tf.int64)
        classes = CodePointProperty(character_class_properties())
        matched = [
            index
            for index, token in enumerate(self.tokens)
            if not (split_special_tokens and token.special)
        ]
        raw = [index for index in matched if not self.tokens[index].normalized]
        normalized = [index for index in matched if self.tokens[index].normalized]
        self._raw = None
        if raw:
            patterns = [self.tokens[index].content for index in raw]
            self._raw = _Matcher(patterns, raw, self.tokens, classes)
        self._normalized = None
        if normalized:
            patterns = _normalized_contents([self.tokens[i] for i in normalized], normalizer)
            self._normalized = _Matcher(patterns, normalized, self.tokens, classes)

    def split_raw(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """``[texts]`` strings → ``[texts, (code points)]`` with the raw-matched tokens as
        placeholders; invalid UTF-8 reads as U+FFFD."""
        if self._raw is None:
            return decode_utf8(strings)
        valid = tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8", errors="replace")
        return self._raw.match(valid)

    def split_normalized(self, texts: tf.RaggedTensor) -> tf.RaggedTensor:
        """Find the normalized tokens in each piece of normalized text between placeholders."""
        if self._normalized is None:
            return texts
        pieces = texts_as_words(texts)
        words = pieces.values
        first = tf.gather(
            tf.concat([words.values, [0]], axis=0),
            tf.minimum(words.row_starts(), tf.size(words.values, out_type=tf.int64)),
        )
        placeholder = is_added_token(first)
        matched = self._normalized.match(
            encode_utf8(tf.gather(words, tf.where(~placeholder)[:, 0]))
        )
        # Put the placeholder pieces back between the matched ones.
        placeholder_pieces = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(first, placeholder),
            tf.ones_like(tf.boolean_mask(first, placeholder), tf.int64),
            validate=False,
        )
        text_count = tf.cumsum(tf.cast(~placeholder, tf.int64))
        placeholder_count = tf.cumsum(tf.cast(placeholder, tf.int64))
        row = tf.where(~placeholder, text_count - 1, text_count[-1:] + placeholder_count - 1)
        rejoined = tf.gather(tf.concat([matched, placeholder_pieces], axis=0), row)
        return merge_inner(pieces.row_splits, rejoined)


def _normalized_contents(tokens: Sequence[AddedToken], normalizer) -> list[str]:
    """Each token's content as the normalizer rewrites it (computed once, eagerly)."""
    if normalizer is None:
        return [token.content for token in tokens]
    normalized = normalizer.normalize(decode_utf8(tf.constant([t.content for t in tokens])))
    patterns = [text.decode("utf-8") for text in encode_utf8(normalized).numpy()]
    seen: dict[str, str] = {}
    for token, pattern in zip(tokens, patterns, strict=True):
        if not pattern or pattern in seen:
            raise TokenizerSpecError(
                f"added token {token.content!r} normalizes to {pattern!r}, which "
                + ("is empty" if not pattern else f"added token {seen[pattern]!r} also gives")
                + "; `tokenizers` refuses such a vocabulary"
            )
        seen[pattern] = token.content
    return patterns
