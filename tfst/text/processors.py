"""Post-processors: special tokens around one text or a pair of texts, and their token type ids.

Each class here is one ``post_processor`` type of ``tokenizer.json`` with the same name and options,
working as `tokenizers` does: the first text's encoding starts with type id 0 and the second's
with 1, each processor turns the list of encodings into a new list, and the results are
concatenated. An :class:`Encoding` holds ``ids`` (int64) and ``type_ids`` (int32), both
``[batch, (tokens)]`` ragged tensors, so a whole batch is processed at once.

Options that only move character offsets (``trim_offsets``, ``add_prefix_space``) are read and
ignored: tfst returns no offsets, and they change no id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

import tensorflow as tf

from tfst.text.code_points import row_ids
from tfst.text.spec import TokenizerSpecError, build_component, option


class Encoding(NamedTuple):
    """Token ids and their type ids for a batch, ``[batch, (tokens)]`` each."""

    ids: tf.RaggedTensor
    type_ids: tf.RaggedTensor


def _constant_tokens(ids: list[int], type_id: int, batch_size: tf.Tensor) -> Encoding:
    """The same few tokens for every row of a batch."""
    count = len(ids)
    row_lengths = tf.fill([batch_size], tf.constant(count, tf.int64))
    values = tf.tile(tf.constant(ids, tf.int64), [batch_size])
    token_ids = tf.RaggedTensor.from_row_lengths(values, row_lengths, validate=False)
    type_ids = tf.RaggedTensor.from_row_lengths(
        tf.fill([batch_size * count], tf.constant(type_id, tf.int32)), row_lengths, validate=False
    )
    return Encoding(token_ids, type_ids)


def _with_type_id(encoding: Encoding, type_id: int) -> Encoding:
    return Encoding(
        encoding.ids,
        encoding.ids.with_values(tf.fill(tf.shape(encoding.ids.values), tf.constant(type_id))),
    )


def concatenate(parts: list[Encoding]) -> Encoding:
    """The parts' tokens one after another, row by row.

    One scatter puts every part's values where they land. A ragged ``tf.concat`` does the same
    behind validation asserts, each a conditional that costs a one-text call tens of
    microseconds.
    """
    if len(parts) == 1:
        return parts[0]
    lengths = [part.ids.row_lengths() for part in parts]
    row_lengths = tf.add_n(lengths)
    before = tf.cumsum(row_lengths, exclusive=True)  # where each output row starts
    destinations = []
    for part, length in zip(parts, lengths, strict=True):
        position = tf.range(tf.size(part.ids.values, out_type=tf.int64))
        shift = before - part.ids.row_starts()
        destinations.append(position + tf.gather(shift, row_ids(part.ids)))
        before += length
    destination = tf.concat(destinations, axis=0)[:, tf.newaxis]
    size = tf.shape(destination, out_type=tf.int64)[:1]

    def scatter(values):
        return tf.RaggedTensor.from_row_lengths(
            tf.scatter_nd(destination, tf.concat(values, axis=0), size),
            row_lengths,
            validate=False,
        )

    return Encoding(
        scatter([part.ids.values for part in parts]),
        scatter([part.type_ids.values for part in parts]),
    )


class PostProcessor(tf.Module):
    """One post-processor. ``special_token_count`` is what truncation leaves room for."""

    type_name: ClassVar[str]

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], where: str) -> PostProcessor:
        raise NotImplementedError

    def special_token_count(self, pair: bool) -> int:
        raise NotImplementedError

    def process_encodings(self, encodings: list[Encoding]) -> list[Encoding]:
        raise NotImplementedError


def process(processor: PostProcessor | None, first: tf.RaggedTensor, second=None) -> Encoding:
    """Special tokens and type ids for one text (``second`` None) or a pair, as `tokenizers`
    adds them: type ids start at 0 for the first text and 1 for the second."""
    encodings = [_with_type_id(Encoding(first, first), 0)]
    if second is not None:
        encodings.append(_with_type_id(Encoding(second, second), 1))
    if processor is not None:
        encodings = processor.process_encodings(encodings)
    return concatenate(encodings)


def _token_and_id(spec: Mapping[str, Any], key: str, where: str) -> tuple[str, int]:
    value = option(spec, key, list, where)
    if len(value) != 2 or not isinstance(value[0], str) or type(value[1]) is not int:
        raise TokenizerSpecError(f"{where}: {key} must be [token, id], got {value!r:.100}")
    return value[0], value[1]


class BertProcessing(PostProcessor):
    """``[CLS] A [SEP]`` and ``[CLS] A [SEP] B [SEP]``; B and its [SEP] have type id 1."""

    type_name = "BertProcessing"

    def __init__(self, cls_id: int, sep_id: int):
        super().__init__(name="bert_processing")
        self.cls_id, self.sep_id = cls_id, sep_id

    @classmethod
    def from_json(cls, spec, where):
        return cls(_token_and_id(spec, "cls", where)[1], _token_and_id(spec, "sep", where)[1])

    def special_token_count(self, pair):
        return 3 if pair else 2

    def process_encodings(self, encodings):
        batch_size = encodings[0].ids.nrows(out_type=tf.int32)
        parts = [
            _constant_tokens([self.cls_id], 0, batch_size),
            _with_type_id(encodings[0], 0),
            _constant_tokens([self.sep_id], 0, batch_size),
        ]
        if len(encodings) == 2:
            parts += [
                _with_type_id(encodings[1], 1),
                _constant_tokens([self.sep_id], 1, batch_size),
            ]
        return [concatenate(parts)]


class RobertaProcessing(PostProcessor):
    """``<s> A </s>`` and ``<s> A </s> </s> B </s>``, every type id 0."""

    type_name = "RobertaProcessing"

    def __init__(self, cls_id: int, sep_id: int):
        super().__init__(name="roberta_processing")
        self.cls_id, self.sep_id = cls_id, sep_id

    @classmethod
    def from_json(cls, spec, where):
        option(spec, "trim_offsets", bool, where, True)
        option(spec, "add_prefix_space", bool, where, True)
        return cls(_token_and_id(spec, "cls", where)[1], _token_and_id(spec, "sep", where)[1])

    def special_token_count(self, pair):
        return 4 if pair else 2

    def process_encodings(self, encodings):
        batch_size = encodings[0].ids.nrows(out_type=tf.int32)
        parts = [
            _constant_tokens([self.cls_id], 0, batch_size),
            _with_type_id(encodings[0], 0),
            _constant_tokens([self.sep_id], 0, batch_size),
        ]
        if len(encodings) == 2:
            parts += [
                _constant_tokens([self.sep_id], 0, batch_size),
                _with_type_id(encodings[1], 0),
                _constant_tokens([self.sep_id], 0, batch_size),
            ]
        return [concatenate(parts)]


class TemplateProcessing(PostProcessor):
    """Templates such as ``[CLS]:0 $A:0 [SEP]:0`` for single texts and for pairs.

    A template is a list of pieces: a sequence (``$A`` or ``$B``) or a special token (one or
    more ids), each with the type id it gets.
    """

    type_name = "TemplateProcessing"

    def __init__(self, single: list[tuple], pair: list[tuple]):
        super().__init__(name="template_processing")
        # Each piece: ("sequence", index, type_id) or ("special", ids, type_id).
        self.single, self.pair = single, pair

    @classmethod
    def from_json(cls, spec, where):
        special_tokens = option(spec, "special_tokens", dict, where)
        ids_of = {}
        for name, token in special_tokens.items():
            ids = token.get("ids") if isinstance(token, dict) else None
            if not isinstance(ids, list) or not all(type(i) is int and i >= 0 for i in ids):
                raise TokenizerSpecError(
                    f"{where}: special_tokens[{name!r}] must have a list of ids, got {token!r:.100}"
                )
            ids_of[name] = ids
        templates = []
        for key, allowed in (("single", ("A",)), ("pair", ("A", "B"))):
            pieces = []
            for index, piece in enumerate(option(spec, key, list, where)):
                pieces.append(_template_piece(piece, allowed, ids_of, f"{where}.{key}[{index}]"))
            templates.append(pieces)
        return cls(*templates)

    def special_token_count(self, pair):
        template = self.pair if pair else self.single
        return sum(len(piece[1]) for piece in template if piece[0] == "special")

    def process_encodings(self, encodings):
        template = self.pair if len(encodings) == 2 else self.single
        batch_size = encodings[0].ids.nrows(out_type=tf.int32)
        parts = []
        for kind, value, type_id in template:
            if kind == "sequence":
                parts.append(_with_type_id(encodings[value], type_id))
            elif value:
                parts.append(_constant_tokens(value, type_id, batch_size))
        return [concatenate(parts)]


def _template_piece(piece: Any, allowed: tuple[str, ...], ids_of: dict, where: str) -> tuple:
    if isinstance(piece, dict) and len(piece) == 1:
        ((kind, body),) = piece.items()
        if isinstance(body, dict):
            name = option(body, "id", str, where)
            type_id = option(body, "type_id", int, where, 0)
            if kind == "Sequence" and name in allowed:
                return ("sequence", allowed.index(name), type_id)
            if kind == "SpecialToken":
                if name not in ids_of:
                    raise TokenizerSpecError(f"{where}: special token {name!r} has no ids")
                return ("special", ids_of[name], type_id)
    raise TokenizerSpecError(
        f"{where}: expected {{'Sequence': {{'id': one of {allowed}}}}} or "
        f"{{'SpecialToken': {{'id': ...}}}}, got {piece!r:.100}"
    )


class ByteLevel(PostProcessor):
    """Byte-level offset trimming: changes no id, adds no token."""

    type_name = "ByteLevel"

    @classmethod
    def from_json(cls, spec, where):
        for key in ("trim_offsets", "add_prefix_space", "use_regex"):
            option(spec, key, bool, where, True)
        return cls(name="byte_level")

    def special_token_count(self, pair):
        return 0

    def process_encodings(self, encodings):
        return encodings


class Sequence(PostProcessor):
    """Several post-processors, each given the encodings the one before it returned."""

    type_name = "Sequence"

    def __init__(self, processors: list[PostProcessor]):
        super().__init__(name="sequence")
        self.processors = list(processors)

    @classmethod
    def from_json(cls, spec, where):
        items = option(spec, "processors", list, where)
        return cls(
            [
                post_processor_from_json(item, f"{where}.processors[{index}]")
                for index, item in enumerate(items)
            ]
        )

    def special_token_count(self, pair):
        return sum(processor.special_token_count(pair) for processor in self.processors)

    def process_encodings(self, encodings):
        for processor in self.processors:
            encodings = processor.process_encodings(encodings)
        return encodings


POST_PROCESSORS: dict[str, type[PostProcessor]] = {
    cls.type_name: cls
    for cls in (BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel, Sequence)
}


def post_processor_from_json(spec: Mapping[str, Any], where: str) -> PostProcessor:
    """The post-processor a ``tokenizer.json`` ``post_processor`` entry describes."""
    return build_component("post_processor", POST_PROCESSORS, spec, where)
