"""The tokenizer in ONNX: onnxruntime-extensions operators in front of ``model.onnx``.

ONNX has no string operators beyond a few, so ``model_with_tokenizer.onnx`` uses those of
onnxruntime-extensions (domain ``ai.onnx.contrib``), which ship as a library that the serving
process registers (``SessionOptions.register_custom_ops_library`` in Python,
``registerCustomOpLibrary`` in Java). ``TOKENIZER_MODELS`` maps a ``tokenizer.json`` model type
to the function that writes its nodes; each reads the pipeline, refuses what its operator cannot
do (``UnsupportedTokenizer``, naming the option) and says where its ids may differ from
Hugging Face's (``tokenizer_differences``).

WordPiece (BERT, DistilBERT, MPNet) uses ``BertTokenizer``, onnxruntime-extensions' BERT
normalizer, pre-tokenizer, WordPiece and ``[CLS] ... [SEP]`` in one operator. It takes one text
per call, so a ``Loop`` over the batch runs it and pads each row to ``max_length``; the rows are
then cut to the longest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from onnx import TensorProto, helper

CONTRIB_DOMAIN = "ai.onnx.contrib"


class UnsupportedTokenizer(ValueError):
    """The tokenizer has a setting the onnxruntime-extensions operators cannot reproduce."""


# What BertTokenizer does differently from Hugging Face's BERT pipeline, read from its source
# (onnxruntime-extensions 0.15: operators/tokenizer/basic_tokenizer.cc, bert_tokenizer.cc) and
# measured on tests/hard_strings.py (tests/test_onnx.py prints the rate).
WORDPIECE_DIFFERENCES = (
    "onnxruntime-extensions' BertTokenizer gives other ids than Hugging Face on text with "
    "non-ASCII capitals or combining marks (Greek, Cyrillic, Armenian, Georgian, Latin letters "
    "beyond Latin-1 such as Ł or Ř), vowel signs and nuktas (Arabic, Hebrew, Indic, Thai), "
    "Hangul and kana with voicing marks, some invisible, control, private-use and symbol "
    "characters (BOM, variation selectors, NUL, U+FFFD, fullwidth and math symbols), and on "
    "special tokens written in the text ([CLS], [MASK]), which it splits as punctuation "
    "(all-MiniLM-L6-v2: the same ids on 126 of tfst's 199 hard test strings and on every "
    "plain-English test sentence; see the README)."
)


def _wordpiece_settings(tokenizer) -> dict[str, Any]:
    """BertTokenizer's attributes for a WordPiece ``tokenizer.json``, or UnsupportedTokenizer."""
    spec: Mapping[str, Any] = tokenizer.tokenizer_json
    where = f"{tokenizer.source}: onnxruntime-extensions' BertTokenizer"

    def refuse(what: str):
        raise UnsupportedTokenizer(
            f"{where} cannot reproduce {what}; export with with_tokenizer=False for model.onnx "
            "alone"
        )

    model = spec["model"]
    vocabulary = model.get("vocab", {})
    # The tokenizer layer has checked that the ids are 0, 1, 2...: the operator numbers lines.
    tokens = sorted(vocabulary, key=vocabulary.get)
    if any(not token or "\n" in token or "\r" in token for token in tokens):
        refuse("an empty vocabulary entry or one with a line break (it reads one per line)")
    if model.get("max_input_chars_per_word", 100) != 100:
        refuse(f"max_input_chars_per_word {model.get('max_input_chars_per_word')} (it uses 100)")

    normalizer = spec.get("normalizer") or {}
    lowercase_first = False
    if normalizer.get("type") == "Sequence":
        steps = list(normalizer.get("normalizers", []))
        if len(steps) == 2 and steps[0].get("type") == "Lowercase":
            lowercase_first, normalizer = True, steps[1]
    if normalizer.get("type") != "BertNormalizer":
        refuse(f"the normalizer {normalizer.get('type')!r} (it has BertNormalizer only)")
    if not normalizer.get("clean_text", True):
        refuse("BertNormalizer's clean_text false (it always removes control characters)")
    lowercase = bool(normalizer.get("lowercase", True))
    strip_accents = normalizer.get("strip_accents")
    strip_accents = lowercase if strip_accents is None else bool(strip_accents)
    if (spec.get("pre_tokenizer") or {}).get("type") != "BertPreTokenizer":
        refuse(f"the pre-tokenizer {(spec.get('pre_tokenizer') or {}).get('type')!r}")

    cls_token, sep_token = _single_text_frame(spec.get("post_processor"), refuse)
    for token in (cls_token, sep_token, model.get("unk_token")):
        if token not in vocabulary:
            refuse(f"the special token {token!r}, which is not in the WordPiece vocabulary")
    if tokenizer.truncation_side != "right":
        refuse("truncation on the left")
    return {
        "vocab_file": "\n".join(tokens),
        "do_lower_case": int(lowercase or lowercase_first),
        "strip_accents": int(strip_accents),
        "tokenize_chinese_chars": int(bool(normalizer.get("handle_chinese_chars", True))),
        "suffix_indicator": model.get("continuing_subword_prefix", "##"),
        "unk_token": model["unk_token"],
        "cls_token": cls_token,
        "sep_token": sep_token,
        # Looked up in the vocabulary when the operator is built, never emitted: the unknown
        # token is there for sure.
        "pad_token": model["unk_token"],
        "mask_token": model["unk_token"],
        "max_length": tokenizer.max_length,
    }


def _single_text_frame(post_processor, refuse) -> tuple[str, str]:
    """The tokens the post-processor puts around a single text, when it is ``A ... B``."""
    kind = (post_processor or {}).get("type")
    if kind in ("BertProcessing", "RobertaProcessing"):
        return post_processor["cls"][0], post_processor["sep"][0]
    if kind == "TemplateProcessing":
        single = post_processor.get("single", [])
        if (
            len(single) == 3
            and "SpecialToken" in single[0]
            and single[1].get("Sequence", {}).get("id") == "A"
            and "SpecialToken" in single[2]
        ):
            return single[0]["SpecialToken"]["id"], single[2]["SpecialToken"]["id"]
    return refuse(f"the post-processor {kind!r} other than one special token on each side")


def wordpiece_nodes(ops, tokenizer, text: str) -> tuple[str, str]:
    """``BertTokenizer`` on each text in a Loop → padded ``input_ids``, ``attention_mask``."""
    settings = _wordpiece_settings(tokenizer)
    max_length = settings["max_length"]

    body = ops.subgraph()
    iteration, condition = body.fresh("iteration"), body.fresh("condition")
    one_text = body.expand(body.node("Gather", text, iteration, axis=0), [0])
    ids, _, mask = body.node(
        "BertTokenizer", one_text, outputs=3, domain=CONTRIB_DOMAIN, **settings
    )
    padding = body.subtract(body.constant(np.array([max_length])), body.node("Shape", ids))
    pads = body.concat([body.constant(np.array([0])), padding], axis=0)
    padded_ids = body.node("Pad", ids, pads, body.constant(np.int64(tokenizer.pad_token_id)))
    padded_mask = body.node("Pad", mask, pads, body.constant(np.int64(0)))
    condition_out = body.node("Identity", condition)
    body_graph = helper.make_graph(
        body.nodes,
        "tokenize_one_text",
        [
            helper.make_tensor_value_info(iteration, TensorProto.INT64, []),
            helper.make_tensor_value_info(condition, TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info(condition_out, TensorProto.BOOL, []),
            helper.make_tensor_value_info(padded_ids, TensorProto.INT64, [max_length]),
            helper.make_tensor_value_info(padded_mask, TensorProto.INT64, [max_length]),
        ],
        initializer=body.initializers,
    )
    texts = ops.node("Squeeze", ops.node("Shape", text), ops.constant(np.array([0])))
    all_ids, all_masks = ops.node("Loop", texts, "", outputs=2, body=body_graph)
    # Cut the padding every row has (at least one text; an empty batch gives [0, 0]).
    lengths = ops.reduce_sum(all_masks, axis=1)
    longest = ops.node(
        "ReduceMax", ops.concat([lengths, ops.constant(np.array([0]))], axis=0), keepdims=1
    )

    def cut(rows):
        zero, one = ops.constant(np.array([0])), ops.constant(np.array([1]))
        return ops.node("Slice", rows, zero, longest, one)

    return cut(all_ids), cut(all_masks)


TOKENIZER_MODELS = {"WordPiece": (wordpiece_nodes, _wordpiece_settings, WORDPIECE_DIFFERENCES)}


def _entry(tokenizer):
    kind = tokenizer.tokenizer_json["model"].get("type")
    if kind not in TOKENIZER_MODELS:
        raise UnsupportedTokenizer(
            f"{tokenizer.source}: no onnxruntime-extensions tokenizer is wired for {kind} models "
            f"(supported: {', '.join(TOKENIZER_MODELS)}); export with with_tokenizer=False for "
            "model.onnx alone"
        )
    return TOKENIZER_MODELS[kind]


def tokenizer_differences(tokenizer) -> str:
    """Where the ONNX tokenizer's ids may differ from Hugging Face's ("" if nowhere); raises
    UnsupportedTokenizer if it cannot be exported at all."""
    _, check, differences = _entry(tokenizer)
    check(tokenizer)
    return differences


def tokenizer_nodes(ops, tokenizer, text: str) -> tuple[str, str]:
    """The tokenizer's nodes on the string tensor ``text`` → ``input_ids``, ``attention_mask``."""
    nodes, _, _ = _entry(tokenizer)
    return nodes(ops, tokenizer, text)
