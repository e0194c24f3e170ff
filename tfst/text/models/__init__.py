"""Tokenizer models: the stage of a `tokenizers` pipeline that turns each word into token ids.

One algorithm per module (``wordpiece.py``, ``unigram.py``, ``bpe.py``), each a ``model`` type of
``tokenizer.json`` with the same name and options. ``tokenize`` takes ``[words, (code points)]``
int32 (the words of every text of a batch, flattened, placeholders already removed) and returns
``[words, (ids)]`` int64, all words at once.

Build one from its JSON with :func:`model_from_json`; every type registered in ``MODELS`` is
supported, any other is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfst.text.models.base import TokenizerModel
from tfst.text.models.bpe import BPE
from tfst.text.models.unigram import Unigram
from tfst.text.models.wordpiece import WordPiece
from tfst.text.spec import build_component

MODELS: dict[str, type[TokenizerModel]] = {cls.type_name: cls for cls in (WordPiece, BPE, Unigram)}


def model_from_json(spec: Mapping[str, Any], where: str) -> TokenizerModel:
    """The model a ``tokenizer.json`` ``model`` entry describes."""
    return build_component("model", MODELS, spec, where)
