"""A tfst model written back as a sentence-transformers folder, e.g. after fine-tuning in Keras.

The folder is what sentence-transformers 6 itself saves (``modules.json``, each module's
configuration, ``config_sentence_transformers.json``) with the encoder weights under their
original checkpoint names in ``model.safetensors``, so sentence-transformers, transformers and
``tfst.load`` all read it. Weight names come from the same tables that load them
(``weight_targets()``), run backwards: torch ``Linear`` weights are stored ``[out, in]``.

Files: ``modules.json``, ``config_sentence_transformers.json``, ``config.json``,
``model.safetensors``, ``sentence_bert_config.json``, ``vocab.txt``, ``tokenizer.json``,
``tokenizer_config.json``, ``special_tokens_map.json``, and ``N_Pooling/config.json``,
``N_Dense/{config.json,model.safetensors}``, ``N_Normalize/config.json`` per module.
The BERT pooler, which tfst does not load (sentence embeddings never use it), is not written;
transformers reports it as newly initialized when it loads the folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from tfst import __version__
from tfst.config import DENSE_ACTIVATIONS, ENCODER_CONFIG_KEYS
from tfst.folder_paths import real_folder, replace_file
from tfst.layers import Dense, Normalize, Pooling
from tfst.models.bert import BertEncoder
from tfst.models.distilbert import DistilBertEncoder
from tfst.text.tokenizer_folder import tokenizer_files
from tfst.weights import WeightTarget, as_is, linear_kernel

# The class paths sentence-transformers 6 writes in modules.json.
MODULE_TYPES = {
    "Transformer": "sentence_transformers.base.modules.transformer.Transformer",
    "Pooling": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
    "Dense": "sentence_transformers.base.modules.dense.Dense",
    "Normalize": "sentence_transformers.base.modules.normalize.Normalize",
}
# Each loading transform is its own inverse (identity, transpose); anything else is refused.
_INVERSE_TRANSFORMS = {as_is: as_is, linear_kernel: linear_kernel}
# Our Dense activations → the torch class path sentence-transformers imports.
_TORCH_ACTIVATIONS = {
    name: f"torch.nn.modules.{'linear' if torch_name == 'Identity' else 'activation'}.{torch_name}"
    for torch_name, name in DENSE_ACTIVATIONS.items()
}


def checkpoint_tensors(targets: dict[str, WeightTarget]) -> dict[str, np.ndarray]:
    """Checkpoint name → float32 tensor in the checkpoint's layout, from a ``weight_targets()``."""
    tensors = {}
    for name, target in targets.items():
        if target.transform not in _INVERSE_TRANSFORMS:
            raise ValueError(f"no inverse known for the transform of checkpoint tensor {name}")
        value = np.asarray(target.variable.numpy(), dtype=np.float32)
        tensors[name] = np.ascontiguousarray(_INVERSE_TRANSFORMS[target.transform](value))
    return tensors


def encoder_config(encoder, pad_token_id: int) -> dict[str, Any]:
    """The Hugging Face ``config.json`` of a BERT or DistilBERT encoder layer, spelled with the
    same key table ``tfst.config`` reads it with."""
    if isinstance(encoder, BertEncoder):
        config = {"architectures": ["BertModel"], "model_type": "bert"}
    elif isinstance(encoder, DistilBertEncoder):
        config = {"architectures": ["DistilBertModel"], "model_type": "distilbert"}
    else:
        raise TypeError(
            f"cannot save an encoder of type {type(encoder).__name__}; "
            "supported are BertEncoder and DistilBertEncoder"
        )
    for field_name, (key, _) in ENCODER_CONFIG_KEYS[config["model_type"]].items():
        if key is not None:  # a setting the family's config.json does not spell out
            config[key] = getattr(encoder, field_name)
    if config["model_type"] == "bert":
        config["position_embedding_type"] = "absolute"
    config["pad_token_id"] = pad_token_id
    return config


def module_config(module) -> tuple[str, dict[str, Any]]:
    """A post-encoder module's kind and its ``config.json``, as sentence-transformers 6 writes it."""
    if isinstance(module, Pooling):
        modes = list(module.modes)
        return "Pooling", {
            "embedding_dimension": module.embedding_dimension,
            "pooling_mode": modes[0] if len(modes) == 1 else modes,
            "include_prompt": module.include_prompt,
        }
    if isinstance(module, Dense):
        return "Dense", {
            "in_features": module.in_features,
            "out_features": module.out_features,
            "bias": module.use_bias,
            "activation_function": _TORCH_ACTIVATIONS[module.activation],
        }
    if isinstance(module, Normalize):
        return "Normalize", {}
    raise TypeError(f"cannot save a module of type {type(module).__name__}")


def _write_json(path: Path, value: Any) -> None:
    _write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _write_text(path: Path, content: str) -> None:
    """Replaces ``path`` (never writing through a link there; see ``tfst.folder_paths``)."""
    replace_file(path, lambda temporary: temporary.write_text(content, "utf-8", newline="\n"))


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    replace_file(
        path, lambda temporary: save_file(tensors, str(temporary), metadata={"format": "pt"})
    )


def save_pretrained(model, path: str | os.PathLike) -> Path:
    """Write ``model`` (a ``tfst.SentenceTransformer``) as a sentence-transformers folder.

    Like sentence-transformers, files already in ``path`` with the same names are replaced; a
    symbolic or hard link there is replaced by the new file, never written through, and a
    symbolic link where a module folder goes is replaced by a folder.

    Example:
        >>> model.save_pretrained("my-finetuned-model")
        >>> sentence_transformers.SentenceTransformer("my-finetuned-model")
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer, encoder = model.tokenizer, model.encoder
    pad_token_id = tokenizer.pad_token_id

    _write_safetensors(folder / "model.safetensors", checkpoint_tensors(encoder.weight_targets()))
    _write_json(folder / "config.json", encoder_config(encoder, pad_token_id))
    for name, content in tokenizer_files(tokenizer, encoder.max_position_embeddings).items():
        if isinstance(content, str):
            _write_text(folder / name, content)
        else:
            _write_json(folder / name, content)
    _write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": model.max_seq_length, "do_lower_case": False},
    )

    modules = [{"idx": 0, "name": "0", "path": "", "type": MODULE_TYPES["Transformer"]}]
    for index, module in enumerate(model.pipeline_modules, start=1):
        kind, config = module_config(module)
        module_folder = f"{index}_{kind}"
        real_folder(folder / module_folder)
        _write_json(folder / module_folder / "config.json", config)
        if kind == "Dense":
            _write_safetensors(
                folder / module_folder / "model.safetensors",
                checkpoint_tensors(module.weight_targets()),
            )
        modules.append(
            {"idx": index, "name": str(index), "path": module_folder, "type": MODULE_TYPES[kind]}
        )
    _write_json(folder / "modules.json", modules)

    model_config = {
        "model_type": "SentenceTransformer",
        "__version__": {"tfst": __version__},
        "prompts": dict(model.prompts),
        "default_prompt_name": model.default_prompt_name,
        "similarity_fn_name": model.similarity_fn_name,
    }
    if model.truncate_dim is not None:
        model_config["truncate_dim"] = model.truncate_dim
    _write_json(folder / "config_sentence_transformers.json", model_config)
    return folder
