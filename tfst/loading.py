"""``tfst.load``: a hub id or folder → a ready ``SentenceTransformer`` with checkpoint weights.

The flow is the one the package layout shows: name → files (hub) → config → layers → weights.
Every module's weights are checked and assigned before the model is returned, so a model is
either loaded whole or not at all.
"""

from __future__ import annotations

import os

from tfst.checkpoint import find_weights_file, load_checkpoint_tensors
from tfst.config import (
    DenseModuleConfig,
    NormalizeModuleConfig,
    PoolingModuleConfig,
    TransformerModuleConfig,
    read_model_config,
)
from tfst.hub import resolve_model_folder
from tfst.layers import Dense, Normalize, Pooling
from tfst.models import build_encoder
from tfst.sentence_model import SentenceTransformer
from tfst.similarity import SIMILARITY_FUNCTIONS
from tfst.text.tokenizer import Tokenizer
from tfst.weights import assign_checkpoint_tensors


def build_tokenizer(module: TransformerModuleConfig) -> Tokenizer:
    return Tokenizer(
        **module.tokenizer.layer_arguments(), max_length=module.max_seq_length, name="tokenizer"
    )


def load(
    name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    prompts: dict[str, str] | None = None,
    default_prompt_name: str | None = None,
    similarity_fn_name: str | None = None,
    truncate_dim: int | None = None,
    encoder_precision: str = "float32",
) -> SentenceTransformer:
    """Load a sentence-transformers model from a local folder or a Hugging Face Hub id.

    Hub ids use the Hugging Face cache; ``revision``, ``cache_dir``, ``token`` and
    ``local_files_only`` mean what they mean in huggingface_hub, and HF_HUB_OFFLINE=1 is honoured.
    ``prompts``, ``default_prompt_name``, ``similarity_fn_name`` and ``truncate_dim`` override
    the values in ``config_sentence_transformers.json``, as in sentence-transformers (given
    prompts replace saved ones of the same name; the others are kept).
    ``encoder_precision="bfloat16"`` is the opt-in faster encoder of ``tfst.precision``; the
    default ``float32`` matches sentence-transformers.

    Example:
        >>> model = tfst.load("sentence-transformers/all-MiniLM-L6-v2")
        >>> model.encode(["A sentence", "Another one"]).shape
        (2, 384)
    """
    folder = resolve_model_folder(
        name_or_path,
        revision=revision,
        cache_dir=cache_dir,
        token=token,
        local_files_only=local_files_only,
    )
    config = read_model_config(folder)
    transformer = config.transformer
    tokenizer = build_tokenizer(transformer)
    encoder, prefixes, skipped = build_encoder(transformer.encoder, precision=encoder_precision)
    weights_file = find_weights_file(transformer.folder)
    assign_checkpoint_tensors(
        encoder.weight_targets(),
        load_checkpoint_tensors(weights_file),
        source=weights_file,
        prefixes=prefixes,
        skip_patterns=skipped,
    )

    modules = []
    for index, module in enumerate(config.modules[1:], start=1):
        if isinstance(module, PoolingModuleConfig):
            modules.append(
                Pooling(
                    module.embedding_dimension,
                    module.modes,
                    include_prompt=module.include_prompt,
                    name=f"pooling_{index}",
                )
            )
        elif isinstance(module, DenseModuleConfig):
            dense = Dense(
                module.in_features,
                module.out_features,
                bias=module.bias,
                activation=module.activation,
                name=f"dense_{index}",
            )
            dense_weights = find_weights_file(module.folder)
            assign_checkpoint_tensors(
                dense.weight_targets(), load_checkpoint_tensors(dense_weights), source=dense_weights
            )
            modules.append(dense)
        elif isinstance(module, NormalizeModuleConfig):
            modules.append(Normalize(name=f"normalize_{index}"))
    # Like sentence-transformers, a saved similarity it does not support (e.g. a multi-vector
    # "maxsim") is ignored rather than refused.
    saved_similarity = config.similarity_fn_name
    if saved_similarity not in SIMILARITY_FUNCTIONS:
        saved_similarity = None
    merged_prompts = dict(prompts or {})
    for prompt_name, prompt_text in config.prompts.items():
        if merged_prompts.get(prompt_name) is None:
            merged_prompts[prompt_name] = prompt_text
    return SentenceTransformer(
        tokenizer,
        encoder,
        modules,
        prompts=merged_prompts,
        default_prompt_name=(
            config.default_prompt_name if default_prompt_name is None else default_prompt_name
        ),
        similarity_fn_name=similarity_fn_name or saved_similarity,
        truncate_dim=config.truncate_dim if truncate_dim is None else truncate_dim,
        name="sentence_transformer",
    )
