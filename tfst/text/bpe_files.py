"""The legacy files of a BPE tokenizer, ``vocab.json`` and ``merges.txt``, as one ``BPE`` model.

Folders saved before ``tokenizer.json`` existed (GPT-2, RoBERTa, ...) keep the BPE model in two
files. They are read as `tokenizers`' ``BPE::read_file`` reads them (``models/bpe/model.rs``):

- ``vocab.json``: one JSON object, token → id;
- ``merges.txt``: one merge per line, two tokens separated by one space, in rank order. Lines
  end at ``"\\n"`` (a ``"\\r"`` just before it is dropped, as Rust's ``BufRead::lines`` drops
  it); lines starting with ``#version`` (the header) are skipped, anywhere; any other line, even
  an empty one, must be a merge.

The options that live in ``tokenizer.json`` (``unk_token``, prefixes, ...) are not in these files:
the caller passes them. Errors name the file and line.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfst.text.models.bpe import BPE
from tfst.text.models.bpe_vocab import parse_merge_line
from tfst.text.spec import TokenizerSpecError


def read_vocab_file(path: str | Path) -> dict[str, int]:
    """token → id from a ``vocab.json``."""
    try:
        vocab = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise TokenizerSpecError(f"{path}: not UTF-8 ({error})") from None
    except json.JSONDecodeError as error:
        raise TokenizerSpecError(
            f"{path}, line {error.lineno}: not valid JSON ({error.msg})"
        ) from None
    if not isinstance(vocab, dict):
        raise TokenizerSpecError(
            f"{path}: expected a JSON object of token → id, got {type(vocab).__name__}"
        )
    for token, token_id in vocab.items():
        # `tokenizers` skips entries that are not numbers; tfst refuses such a damaged file.
        if isinstance(token_id, bool) or not isinstance(token_id, int):
            raise TokenizerSpecError(
                f"{path}: the id of {token!r} must be an integer, got {token_id!r:.100}"
            )
    return vocab


def read_merges_file(path: str | Path) -> tuple[list[tuple[str, str]], list[str]]:
    """The merges of a ``merges.txt`` in rank order, and where each is (``"file, line n"``)."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TokenizerSpecError(f"{path}, line {line}: not UTF-8") from None
    lines = text.split("\n")
    last_ended = lines[-1] == ""
    if last_ended:
        lines.pop()  # the end of the last line, not a line
    merges, places = [], []
    for number, line in enumerate(lines, start=1):
        if number < len(lines) or last_ended:
            line = line.removesuffix("\r")
        if line.startswith("#version"):
            continue
        place = f"{path}, line {number}"
        merges.append(parse_merge_line(line, place))
        places.append(place)
    return merges, places


def load_bpe_files(
    vocab_path: str | Path,
    merges_path: str | Path,
    *,
    unk_token: str | None = None,
    continuing_subword_prefix: str | None = None,
    end_of_word_suffix: str | None = None,
    fuse_unk: bool = False,
    byte_fallback: bool = False,
    ignore_merges: bool = False,
) -> BPE:
    """The ``BPE`` model of a ``vocab.json`` and a ``merges.txt``, with the given options."""
    merges, places = read_merges_file(merges_path)
    return BPE(
        read_vocab_file(vocab_path),
        merges,
        unk_token=unk_token,
        continuing_subword_prefix=continuing_subword_prefix,
        end_of_word_suffix=end_of_word_suffix,
        fuse_unk=fuse_unk,
        byte_fallback=byte_fallback,
        ignore_merges=ignore_merges,
        where=str(vocab_path),
        merge_places=places,
    )
