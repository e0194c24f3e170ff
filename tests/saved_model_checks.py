"""Serve an exported SavedModel in a fresh process that cannot import tensorflow_text or tfst.

There (a meta-path hook blocks tensorflow_text, so none of its ops can be registered), every op
of every function in the SavedModel must be known to TensorFlow's op registry, and the model
must load and run on strings. ``serve_in_fresh_process`` returns the op report and each
signature's embeddings of the texts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

FRESH_PROCESS = """
import json, sys

class BlockTensorflowText:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow_text":
            raise ImportError(f"{name} is blocked in this test")

sys.meta_path.insert(0, BlockTensorflowText())
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

def unregistered_ops(folder):
    saved_model = saved_model_pb2.SavedModel()
    with open(f"{folder}/saved_model.pb", "rb") as file:
        saved_model.ParseFromString(file.read())
    ops, functions = set(), set()
    for graph in (meta.graph_def for meta in saved_model.meta_graphs):
        ops |= {node.op for node in graph.node}
        for function in graph.library.function:
            functions.add(function.signature.name)
            ops |= {node.op for node in function.node_def}
    ops -= functions  # a node may call a library function by name
    return sorted(ops), sorted(op for op in ops if op_def_registry.get(op) is None)

request = json.loads(open(sys.argv[1], encoding="utf-8").read())
report = {}
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
report["tensorflow_text_imported"] = "tensorflow_text" in sys.modules
report["tfst_imported"] = any(name.split(".")[0] == "tfst" for name in sys.modules)
print(json.dumps(report))
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
    (scratch / "request.json").write_text(json.dumps(request), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(scratch / "request.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["embeddings"] = {
        name: np.load(scratch / f"embeddings_{name}.npy") for name in signatures
    }
    return report
