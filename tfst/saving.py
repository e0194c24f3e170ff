"""A tfst model written back as a sentence-transformers folder, e.g. after fine-tuning in Keras.

The folder is what sentence-transformers 6 itself saves: ``modules.json`` listing the modules,
each module saved by its own class into its sub-folder (the Transformer into the folder itself:
``config.json``, ``model.safetensors`` under the original checkpoint names, the tokenizer files,
``sentence_bert_config.json``), and ``config_sentence_transformers.json``. sentence-transformers,
transformers and ``tfst.load`` all read it. Checkpoint names come from the same weight tables
that load them, run backwards. A BERT pooler, which tfst does not load (sentence embeddings never
use it), is not written; transformers reports it as newly initialized when it loads the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfst import __version__
from tfst.files import write_json
from tfst.folder_paths import real_folder


def save_pretrained(model, path: str | os.PathLike) -> Path:
    """Write ``model`` (a ``tfst.SentenceTransformer``) as a sentence-transformers folder.

    Like sentence-transformers, files already in ``path`` with the same names are replaced; a
    symbolic or hard link there is replaced by the new file, never written through, and a
    symbolic link where a module folder goes is replaced by a folder.

    Example:
        >>> model.save_pretrained("my-finetuned-model")
        >>> sentence_transformers.SentenceTransformer("my-finetuned-model")
    """
    model_config = {
        "model_type": "SentenceTransformer",
        "__version__": {"tfst": __version__},
        "prompts": dict(model.prompts),
        "default_prompt_name": model.default_prompt_name,
        "similarity_fn_name": model.similarity_fn_name,
    }
    if model.truncate_dim is not None:
        model_config["truncate_dim"] = model.truncate_dim
    return save_modules(model.pipeline_modules, path, model_config)


def save_modules(modules, path: str | os.PathLike, model_config: dict) -> Path:
    """Write ``modules`` (each into its sub-folder), ``modules.json`` and ``model_config`` as
    ``config_sentence_transformers.json`` into the folder ``path``; returns the folder."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, module in enumerate(modules):
        module_path = f"{index}_{module.folder_name}" if module.folder_name else ""
        module_folder = real_folder(folder / module_path) if module_path else folder
        module.save(module_folder)
        entries.append(
            {"idx": index, "name": str(index), "path": module_path, "type": module.saved_type}
        )
    write_json(folder / "modules.json", entries)
    write_json(folder / "config_sentence_transformers.json", model_config)
    return folder
