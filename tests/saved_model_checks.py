"""Serve an exported SavedModel in a fresh process that cannot import tensorflow_text or tfst.

There (``fresh_process``: a meta-path hook blocks tensorflow_text, so none of its ops can be
registered), every op of every function in the SavedModel must be known to TensorFlow's op
registry, and the model must load and run on strings. ``serve_in_fresh_process`` returns the op
report and each signature's embeddings of the texts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fresh_process import run_in_fresh_process

SERVE_TEXTS = """
report["ops"], report["unregistered"] = unregistered_ops(request["export"])
if request["control"]:
    _, report["control_unregistered"] = unregistered_ops(request["control"])
loaded = tf.saved_model.load(request["export"])
report["signatures"] = sorted(loaded.signatures)
texts = request["texts"]
for name in request["signatures"]:
    serve = loaded.signatures[name]
    embeddings = [
        serve(sentences=tf.constant(texts[start : start + 64]))["sentence_embedding"].numpy()
        for start in range(0, len(texts), 64)
    ]
    np.save(f"{request['embeddings']}_{name}.npy", np.concatenate(embeddings))
"""


def serve_in_fresh_process(
    export: Path,
    texts: list[str],
    scratch: Path,
    signatures: tuple[str, ...] = ("serving_default",),
    control: Path | None = None,
) -> dict:
    """The op report of ``export`` (and of ``control``, if given) and, under ``"embeddings"``,
    each of ``signatures``' embeddings of ``texts``, from a fresh process."""
    request = {
        "export": str(export),
        "control": str(control) if control else None,
        "texts": texts,
        "signatures": list(signatures),
        "embeddings": str(scratch / "embeddings"),
    }
    report = run_in_fresh_process(SERVE_TEXTS, request, scratch)
    report["embeddings"] = {
        name: np.load(scratch / f"embeddings_{name}.npy") for name in signatures
    }
    return report
