"""The vocabulary side of the ``BPE`` model: merges read from ``tokenizer.json`` or merges.txt,
checked as `tokenizers` checks them, and packed into the tables ``tfst.text.models.bpe`` and
``tfst.text.models.bpe_merges`` look up."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tfst.text.spec import TokenizerSpecError
from tfst.text.unicode_tables import NUM_CODE_POINTS, TwoLevelTable

# What a string of a surrogate or out-of-range code point holds instead (U+FFFD).
REPLACEMENT = 0xFFFD
SURROGATES = slice(0xD800, 0xE000)


def parse_merge_line(line: str, where: str) -> tuple[str, str]:
    """One merge in its legacy form, ``"left right"``: exactly one space, as `tokenizers`'
    ``convert_merges_to_hashmap`` splits it (tokens may be empty, never contain a space)."""
    parts = line.split(" ")
    if len(parts) != 2:
        raise TokenizerSpecError(
            f"{where}: a merge must be two tokens separated by one space, got {line!r:.100}"
        )
    return parts[0], parts[1]


def byte_token(byte: int) -> str:
    """The ``byte_fallback`` token of one byte, as `tokenizers` spells it: ``<0x0A>``."""
    return f"<0x{byte:02X}>"


def character_ids(vocab: Mapping[str, int], prefix: str, suffix: str) -> dict:
    """The token of each character, for each way a character is decorated: (with the prefix,
    with the suffix) → {character: id}. The undecorated variant comes first."""
    variants = {}
    for prefixed in (False, True) if prefix else (False,):
        for suffixed in (False, True) if suffix else (False,):
            head, tail = prefix if prefixed else "", suffix if suffixed else ""
            variants[prefixed, suffixed] = {
                token[len(head)]: token_id
                for token, token_id in vocab.items()
                if len(token) == len(head) + len(tail) + 1
                and token.startswith(head)
                and token.endswith(tail)
            }
    return variants


def code_point_table(ids: Mapping[str, int]) -> TwoLevelTable:
    """A per-code-point table of the ids of single characters (-1: none). Surrogates, which a
    string cannot hold, read as U+FFFD, as TensorFlow's UTF-8 encoder writes them."""
    values = np.full(NUM_CODE_POINTS, -1, dtype=np.int32)
    for character, token_id in ids.items():
        values[ord(character)] = token_id
    values[SURROGATES] = values[REPLACEMENT]
    return TwoLevelTable.from_array(values)


def check_ids(vocab: Mapping[str, int], where: str) -> None:
    """Refuses tokens that are not Unicode text, ids out of range, and ids shared by two tokens:
    `tokenizers` finds merges by the ids of their parts, and its merge order is only reproduced
    with one token per id."""
    holder: dict[int, str] = {}
    for token, token_id in vocab.items():
        if not token.isascii():
            try:
                token.encode()
            except UnicodeEncodeError:
                raise TokenizerSpecError(
                    f"{where}: vocab token {token!r} is not valid Unicode (a lone surrogate)"
                ) from None
        if not 0 <= token_id < 2**31:
            raise TokenizerSpecError(
                f"{where}: vocab[{token!r}] is {token_id}; tfst supports ids in [0, 2**31)"
            )
        if token_id in holder:
            raise TokenizerSpecError(
                f"{where}: tokens {holder[token_id]!r} and {token!r} share id {token_id}; "
                "tfst needs one token per id"
            )
        holder[token_id] = token


def read_merges(items: list, where: str) -> list[tuple[str, str]]:
    """Merges in either ``tokenizer.json`` form: ``["a", "b"]`` pairs or ``"a b"`` strings
    (where, as in merges.txt, lines starting with ``#version`` are skipped)."""
    if all(isinstance(item, list) for item in items):
        for index, item in enumerate(items):
            if len(item) != 2 or not all(isinstance(part, str) for part in item):
                raise TokenizerSpecError(
                    f"{where}: merges[{index}] must be two strings, got {item!r:.100}"
                )
        return [(left, right) for left, right in items]
    if all(isinstance(item, str) for item in items):
        return [
            parse_merge_line(item, f"{where}: merges[{index}]")
            for index, item in enumerate(items)
            if not item.startswith("#version")
        ]
    raise TokenizerSpecError(
        f'{where}: merges must be all strings ("a b") or all pairs (["a", "b"])'
    )


def merge_table(vocab, merges, merge_places, prefix, id_bits) -> dict[int, int]:
    """The (left id, right id) → (rank, merged id) table, each side packed in one integer
    (``left << id_bits | right``, ``rank << id_bits | merged``).

    Spells each merged token as ``BpeBuilder::build`` does: the left token, then the right token
    without its first ``len(prefix)`` bytes. Refuses what `tokenizers` refuses (tokens out of the
    vocabulary, a right token shorter than the prefix) and a right token no longer than the
    prefix, whose merge would not lengthen the token (the merge order argument needs it).
    """
    prefix_bytes = len(prefix.encode())
    table: dict[int, int] = {}
    for rank, ((left, right), place) in enumerate(zip(merges, merge_places, strict=True)):
        place = f"{place} ({left!r} {right!r})"
        for part in (left, right):
            if part not in vocab:
                raise TokenizerSpecError(f"{place}: token {part!r} is not in the vocab")
        right_bytes = right.encode()
        if len(right_bytes) <= prefix_bytes:
            raise TokenizerSpecError(
                f"{place}: the right token must be longer than the continuing_subword_prefix "
                f"{prefix!r}"
            )
        try:
            merged = left + right_bytes[prefix_bytes:].decode()
        except UnicodeDecodeError:
            merged = None
        if merged not in vocab:
            raise TokenizerSpecError(f"{place}: the merged token {merged!r} is not in the vocab")
        # A repeated pair takes its last rank, as the map `tokenizers` collects them in does.
        table[vocab[left] << id_bits | vocab[right]] = rank << id_bits | vocab[merged]
    return table


def merge_word(symbols: list[int], table: Mapping[int, int], id_bits: int) -> list[int]:
    """One word's merges in plain Python (``Word::merge_all``, given the checks ``merge_table``
    makes): merge the leftmost occurrence of the lowest-ranked pair until no pair has a rank."""
    symbols = list(symbols)
    while True:
        best = None
        for index in range(len(symbols) - 1):
            packed = table.get(symbols[index] << id_bits | symbols[index + 1])
            if packed is not None and (best is None or packed >> id_bits < best[0]):
                best = (packed >> id_bits, index, packed & ((1 << id_bits) - 1))
        if best is None:
            return symbols
        _, index, merged = best
        symbols[index : index + 2] = [merged]
