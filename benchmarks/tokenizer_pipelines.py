"""The tokenizer pipelines the tokenizer benchmark compares, each as one ``tokenizer.json``.

- ``wordpiece``: a real BERT folder (all-MiniLM-L6-v2), as ``tfst.text.tokenizer_folder``
  resolves it: the pipeline transformers 5's ``BertTokenizer`` runs and tfst builds.
- ``unigram``: XLM-R style. A SentencePiece Unigram model trained here (``nmt_nfkc``, ~8k
  pieces) on multilingual text, its vocab laid out as the XLM-R converter lays it out (``<s>
  <pad> </s> <unk>`` first, ``<mask>`` last), and the pipeline transformers 5's
  ``XLMRobertaTokenizer`` builds around it: ``Precompiled``, ``WhitespaceSplit`` + ``Metaspace``,
  ``Unigram``, ``<s> … </s>``.
- ``bpe``: RoBERTa style. A byte-level BPE trained here with `tokenizers` (~8k ids) on the same
  text, in the pipeline transformers 5's ``RobertaTokenizer`` builds: ``ByteLevel``, ``BPE``,
  ``RobertaProcessing``.

Training takes seconds and is deterministic for the text (SentencePiece and the BPE trainer are
run single-threaded on a fixed corpus from ``corpus``). Building uses sentencepiece, tokenizers and
transformers, never tfst, so a pipeline tfst cannot load yet is still built and the benchmark can
say why tfst refuses it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from corpus import cjk_paragraph, english_texts, multilingual_texts

VOCAB_SIZE = 8000
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


@dataclass(frozen=True)
class Pipeline:
    """One ``tokenizer.json`` text and what padding needs; ``title`` names it in the report."""

    name: str
    title: str
    tokenizer_json: str
    pad_token_id: int
    pad_token: str


def training_lines() -> list[str]:
    """What the Unigram and BPE models learn from: English prose, multilingual sentences and
    Chinese paragraphs, from other seeds than the benchmark's texts."""
    lines = english_texts(4000, 5, 60, seed=100)
    lines += multilingual_texts(20000, 3, 30, seed=100)
    lines += [cjk_paragraph(500, seed=100 + index) for index in range(200)]
    return lines


def wordpiece(model: str) -> Pipeline:
    """The pipeline tfst builds from a BERT folder or hub id (``read_tokenizer_settings``)."""
    from tfst.hub import resolve_model_folder
    from tfst.text.tokenizer_folder import read_tokenizer_settings

    model_folder = resolve_model_folder(model)
    config = json.loads((model_folder / "config.json").read_text())
    settings = read_tokenizer_settings(model_folder, config.get("model_type"))
    pad_token = settings.special_tokens["pad_token"]
    return Pipeline(
        name="wordpiece",
        title="WordPiece, BERT style (the --model folder's, "
        f"{len(settings.tokenizer_json['model']['vocab']):,} ids)",
        tokenizer_json=json.dumps(settings.tokenizer_json),
        pad_token_id=settings.pad_token_id,
        pad_token=pad_token,
    )


def unigram() -> Pipeline:
    """A SentencePiece Unigram (nmt_nfkc) in transformers 5's XLM-R pipeline."""
    tokenizer = unigram_tokenizer()
    return Pipeline(
        name="unigram",
        title="SentencePiece Unigram, XLM-R style (trained here, nmt_nfkc, "
        f"{len(tokenizer):,} pieces)",
        tokenizer_json=tokenizer.backend_tokenizer.to_str(),
        pad_token_id=tokenizer.pad_token_id,
        pad_token=tokenizer.pad_token,
    )


def unigram_tokenizer():
    """The ``unigram`` pipeline as transformers 5's ``XLMRobertaTokenizer``."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2
    from transformers import XLMRobertaTokenizer

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(training_lines()),
        model_writer=model,
        model_type="unigram",
        vocab_size=VOCAB_SIZE,
        normalization_rule_name="nmt_nfkc",
        character_coverage=0.9995,
        num_threads=1,
        minloglevel=2,
    )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    # The XLM-R converter's layout: fairseq's four specials, SentencePiece's pieces after its own
    # <unk> <s> </s>, then <mask>.
    vocab = [(token, 0.0) for token in SPECIAL_TOKENS[:4]]
    vocab += [(piece.piece, piece.score) for piece in proto.pieces[3:]]
    vocab.append(("<mask>", 0.0))
    return XLMRobertaTokenizer(
        vocab=vocab, _spm_precompiled_charsmap=proto.normalizer_spec.precompiled_charsmap
    )


def byte_level_bpe() -> Pipeline:
    """A byte-level BPE trained with `tokenizers`, in transformers 5's RoBERTa pipeline."""
    tokenizer = byte_level_bpe_tokenizer()
    return Pipeline(
        name="bpe",
        title=f"byte-level BPE, RoBERTa style (trained here, {len(tokenizer):,} ids)",
        tokenizer_json=tokenizer.backend_tokenizer.to_str(),
        pad_token_id=tokenizer.pad_token_id,
        pad_token=tokenizer.pad_token,
    )


def byte_level_bpe_tokenizer():
    """The ``bpe`` pipeline as transformers 5's ``RobertaTokenizer``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import RobertaTokenizer

    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    trained.train_from_iterator(training_lines(), trainer)
    model = json.loads(trained.to_str())["model"]
    merges = [tuple(merge) for merge in model["merges"]]
    return RobertaTokenizer(vocab=model["vocab"], merges=merges)


def builders(model: str) -> dict[str, Callable[[], Pipeline]]:
    """Each pipeline's builder, by name, in the report's order; ``model`` is the WordPiece one's
    folder or hub id."""
    return {
        "wordpiece": lambda: wordpiece(model),
        "unigram": unigram,
        "bpe": byte_level_bpe,
    }
