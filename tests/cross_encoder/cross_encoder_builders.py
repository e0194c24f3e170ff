"""Small random-weight cross-encoders built with transformers, in both forms sentence-transformers
6 reads, and the (query, document) pairs their scores are compared on.

The classic form is a transformers ``*ForSequenceClassification`` folder as sentence-transformers
4/5 saved it (the activation in ``config.json``'s ``sentence_transformers`` block, or before 4 in
``sbert_ce_default_activation_function``); the modular form is what sentence-transformers 6's
``CrossEncoder.save`` writes from it.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from hard_strings import ALL_HARD_STRINGS
from model_builders import (
    MINILM_FOLDER,
    TOKENIZER_FILES,
    save_mpnet_tokenizer,
    save_roberta_tokenizer,
    save_xlm_roberta_tokenizer,
)
from sentences import EVERYDAY, long_texts, varied_sentences

HIDDEN_SIZE = 32
# Positions of the BERT and DistilBERT models, and the tokens MPNet can use: pairs longer than
# this are truncated (longest_first), which most of the pairs below need.
MAX_LENGTH = 128


@dataclass(frozen=True)
class CrossEncoderShape:
    """One random cross-encoder: its family, labels and the activation its config names
    (``block``: config.json's sentence_transformers block; ``legacy``:
    sbert_ce_default_activation_function; None: the default)."""

    family: str
    num_labels: int
    activation: str | None = None
    activation_place: str = "block"
    safetensors: bool = True
    seed: int = 0


SHAPES = {
    "bert_1_label": CrossEncoderShape("bert", 1, "torch.nn.modules.linear.Identity", "legacy"),
    "bert_3_labels": CrossEncoderShape(
        "bert", 3, "torch.nn.modules.activation.Sigmoid", safetensors=False, seed=1
    ),
    "distilbert_1_label": CrossEncoderShape("distilbert", 1, seed=2),
    "mpnet_1_label": CrossEncoderShape(
        "mpnet", 1, "torch.nn.modules.activation.Sigmoid", safetensors=False, seed=3
    ),
    "xlm_roberta_1_label": CrossEncoderShape("xlm-roberta", 1, seed=4),
    "roberta_2_labels": CrossEncoderShape(
        "roberta", 2, "torch.nn.modules.activation.Sigmoid", safetensors=False, seed=5
    ),
}


def _classification_model(shape: CrossEncoderShape, vocab_size: int):
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        MPNetConfig,
        MPNetForSequenceClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
    )

    torch.manual_seed(shape.seed)
    # Weights ten times the usual spread: with the default 0.02, attention is near uniform and
    # every pair gets about the same score, which would leave nothing for rank() to order.
    common = dict(vocab_size=vocab_size, num_labels=shape.num_labels, initializer_range=0.2)
    if shape.family == "bert":
        config = BertConfig(
            hidden_size=HIDDEN_SIZE,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=MAX_LENGTH,
            **common,
        )
        model = BertForSequenceClassification(config)
    elif shape.family == "distilbert":
        config = DistilBertConfig(
            dim=HIDDEN_SIZE,
            n_layers=2,
            n_heads=4,
            hidden_dim=64,
            max_position_embeddings=MAX_LENGTH,
            **common,
        )
        model = DistilBertForSequenceClassification(config)
    elif shape.family in ("roberta", "xlm-roberta"):
        config_class, model_class = {
            "roberta": (RobertaConfig, RobertaForSequenceClassification),
            "xlm-roberta": (XLMRobertaConfig, XLMRobertaForSequenceClassification),
        }[shape.family]
        config = config_class(
            hidden_size=HIDDEN_SIZE,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=MAX_LENGTH + 2,  # positions start after pad_token_id 1
            pad_token_id=1,
            **common,
        )
        model = model_class(config)
    else:
        config = MPNetConfig(
            hidden_size=HIDDEN_SIZE,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=MAX_LENGTH + 2,
            **common,
        )
        model = MPNetForSequenceClassification(config)
    model.eval()
    # Random init leaves LayerNorm at identity and biases at zero; perturb them (and widen the
    # head) so a swapped or missing tensor, or the wrong head activation, changes the scores.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name.lower() or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))
            if "relative_attention_bias" in name:
                parameter.normal_()
            if "classifier" in name or "pooler" in name:
                parameter.normal_(std=0.5)
    return model


def _save_tokenizer(family: str, folder: Path) -> int:
    """The tokenizer files of a family's cross-encoder; returns the vocabulary size."""
    folder.mkdir(parents=True, exist_ok=True)
    if family == "mpnet":
        vocab_size = save_mpnet_tokenizer(folder)
    elif family == "xlm-roberta":
        vocab_size = save_xlm_roberta_tokenizer(folder)
    elif family == "roberta":
        vocab_size = save_roberta_tokenizer(folder)
    elif family == "distilbert":
        # DistilBertTokenizer gives the model no token_type_ids (DistilBERT has none).
        from transformers import DistilBertTokenizer

        DistilBertTokenizer(vocab_file=str(MINILM_FOLDER / "vocab.txt")).save_pretrained(folder)
        vocab_size = 30522
    else:
        for name in TOKENIZER_FILES:
            shutil.copy(MINILM_FOLDER / name, folder / name)
        vocab_size = 30522
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["model_max_length"] = MAX_LENGTH
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return vocab_size


def build_classic_folder(folder: Path, shape: CrossEncoderShape) -> Path:
    """A transformers ``*ForSequenceClassification`` folder, as sentence-transformers < 6 saved
    cross-encoders (``pytorch_model.bin`` written as transformers 4 wrote it)."""
    from model_builders import save_transformers_model

    vocab_size = _save_tokenizer(shape.family, folder)
    model = _classification_model(shape, vocab_size)
    # save_pretrained records the class; the .bin route saves the config alone.
    model.config.architectures = [type(model).__name__]
    save_transformers_model(model, folder, safetensors=shape.safetensors)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if shape.activation is not None and shape.activation_place == "block":
        config["sentence_transformers"] = {"activation_fn": shape.activation, "version": "4.1.0"}
    elif shape.activation is not None:
        config["sbert_ce_default_activation_function"] = shape.activation
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def build_modular_folder(folder: Path, classic_folder: Path, safetensors: bool = True) -> Path:
    """The classic folder loaded and saved by sentence-transformers 6 (``modules.json`` form);
    for .bin weights, its safetensors are replaced."""
    import torch
    from sentence_transformers import CrossEncoder

    CrossEncoder(str(classic_folder), device="cpu").save(str(folder))
    if not safetensors:
        from safetensors.torch import load_file

        state = load_file(str(folder / "model.safetensors"))
        (folder / "model.safetensors").unlink()
        torch.save(state, folder / "pytorch_model.bin")
    return folder


def pair_corpus(seed: int = 0) -> list[tuple[str, str]]:
    """210 (query, document) pairs: short and long queries, documents far beyond
    ``MAX_LENGTH`` tokens (so longest_first truncation cuts one side or both), empty texts,
    and the hard-string corpus on either side."""
    rng = random.Random(seed)
    short = EVERYDAY + [text for text in ALL_HARD_STRINGS if len(text) <= 60]
    medium = varied_sentences(60, seed=seed + 5)
    long = long_texts() + [" ".join(varied_sentences(12, seed=seed + n)) for n in range(6)]
    hard = [text for text in ALL_HARD_STRINGS if len(text) <= 2000]
    pairs = [(rng.choice(short), rng.choice(medium + long)) for _ in range(60)]
    pairs += [(rng.choice(medium), rng.choice(medium)) for _ in range(30)]
    pairs += [(rng.choice(long), rng.choice(long)) for _ in range(20)]
    pairs += [(rng.choice(long), rng.choice(short)) for _ in range(20)]
    pairs += [(rng.choice(hard), rng.choice(hard)) for _ in range(76)]
    pairs += [("", ""), ("", "a document"), ("a query", ""), ("x", "word " * 400)]
    return pairs
