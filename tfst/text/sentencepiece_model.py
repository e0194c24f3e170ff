"""A SentencePiece model file (``sentencepiece.bpe.model``, ``spiece.model``) read without the
``sentencepiece`` or ``protobuf`` packages.

The file is one serialized ``sentencepiece.ModelProto`` (``sentencepiece_model.proto``). Folders
without ``tokenizer.json`` (older XLM-R ones) have only this file, and transformers converts it to
its ``tokenizers`` pipeline from a few fields, which this module decodes from the protobuf wire
format directly:

- ``ModelProto.pieces`` (field 1, repeated ``SentencePiece``): ``piece`` (1, string), ``score``
  (2, float), ``type`` (3, enum: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
  6 byte; 1 when absent);
- ``ModelProto.normalizer_spec`` (field 3, ``NormalizerSpec``): ``precompiled_charsmap``
  (2, bytes), the table the ``Precompiled`` normalizer reads.

Other fields are skipped by their wire type. As protobuf parses them, a singular field given
twice keeps its last value, and a message field given twice is merged field by field.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from tfst.text.spec import TokenizerSpecError

# SentencePiece.Type values (sentencepiece_model.proto).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# Protobuf wire types.
_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True)
class SentencePiece:
    """One piece of the vocabulary: its text, its score (a float32 in the file), its type."""

    piece: str
    score: float
    type: int = NORMAL


@dataclass(frozen=True)
class SentencePieceModel:
    """The pieces, by id, and the normalizer's ``precompiled_charsmap`` (empty when absent)."""

    pieces: tuple[SentencePiece, ...]
    precompiled_charsmap: bytes


class _Reader:
    """Fields of one serialized message: ``(field number, wire type, value)``, in order."""

    def __init__(self, data: bytes, where: str):
        self.data, self.where, self.position = data, where, 0

    def _varint(self) -> int:
        value, shift = 0, 0
        while True:
            if self.position >= len(self.data):
                raise self._error("the data ends inside a number")
            byte = self.data[self.position]
            self.position += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift >= 70:
                raise self._error("a number is longer than 10 bytes")

    def _take(self, length: int) -> bytes:
        if length > len(self.data) - self.position:
            raise self._error(f"a field of {length} bytes runs past the end of the data")
        value = self.data[self.position : self.position + length]
        self.position += length
        return value

    def _error(self, what: str) -> TokenizerSpecError:
        return TokenizerSpecError(
            f"{self.where}: not a SentencePiece model ({what}, at byte {self.position})"
        )

    def fields(self):
        while self.position < len(self.data):
            key = self._varint()
            number, wire_type = key >> 3, key & 7
            if wire_type == _VARINT:
                value = self._varint()
            elif wire_type == _FIXED64:
                value = self._take(8)
            elif wire_type == _LENGTH_DELIMITED:
                value = self._take(self._varint())
            elif wire_type == _FIXED32:
                value = self._take(4)
            else:
                raise self._error(f"field {number} has the unsupported wire type {wire_type}")
            yield number, wire_type, value


def _expect(wire_type: int, expected: int, what: str, where: str) -> None:
    if wire_type != expected:
        raise TokenizerSpecError(
            f"{where}: not a SentencePiece model ({what} has wire type {wire_type}, expected "
            f"{expected})"
        )


def _read_piece(data: bytes, where: str) -> SentencePiece:
    piece, score, piece_type = "", 0.0, NORMAL
    for number, wire_type, value in _Reader(data, where).fields():
        if number == 1:
            _expect(wire_type, _LENGTH_DELIMITED, "a piece's text", where)
            try:
                piece = value.decode("utf-8")
            except UnicodeDecodeError:
                raise TokenizerSpecError(f"{where}: the piece {value!r:.60} is not UTF-8") from None
        elif number == 2:
            _expect(wire_type, _FIXED32, "a piece's score", where)
            (score,) = struct.unpack("<f", value)
        elif number == 3:
            _expect(wire_type, _VARINT, "a piece's type", where)
            piece_type = value
    return SentencePiece(piece, score, piece_type)


def parse_sentencepiece_model(data: bytes, where: str) -> SentencePieceModel:
    """The pieces and charsmap of a serialized ``ModelProto``; ``where`` names it in errors."""
    pieces: list[SentencePiece] = []
    charsmap = b""
    for number, wire_type, value in _Reader(data, where).fields():
        if number == 1:
            _expect(wire_type, _LENGTH_DELIMITED, "a piece", where)
            pieces.append(_read_piece(value, f"{where}, piece {len(pieces)}"))
        elif number == 3:
            _expect(wire_type, _LENGTH_DELIMITED, "the normalizer spec", where)
            for field, field_type, field_value in _Reader(value, where).fields():
                if field == 2:
                    _expect(field_type, _LENGTH_DELIMITED, "precompiled_charsmap", where)
                    charsmap = field_value
    if not pieces:
        raise TokenizerSpecError(f"{where}: not a SentencePiece model (it has no pieces)")
    return SentencePieceModel(tuple(pieces), charsmap)


def read_sentencepiece_model(path: str | Path) -> SentencePieceModel:
    """:func:`parse_sentencepiece_model` of a file."""
    return parse_sentencepiece_model(Path(path).read_bytes(), str(path))
