"""Run a script against an exported SavedModel in a fresh Python process that cannot import
tensorflow_text (a meta-path hook blocks it), so none of its ops can be registered there.

The script gets ``request`` (a JSON dict written to a file), ``report`` (a dict it fills, printed
as JSON and returned to the test) and ``unregistered_ops(folder)``: every op of every function in
a SavedModel, and those TensorFlow's op registry does not know. The report also says whether
tensorflow_text or tfst got imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_PRELUDE = """
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
"""

_EPILOGUE = """
report["tensorflow_text_imported"] = "tensorflow_text" in sys.modules
report["tfst_imported"] = any(name.split(".")[0] == "tfst" for name in sys.modules)
print(json.dumps(report))
"""


def run_in_fresh_process(script: str, request: dict, folder: Path) -> dict:
    """Run ``script`` (see the module docstring) with ``request``; returns its report."""
    request_path = Path(folder) / "request.json"
    request_path.write_text(json.dumps(request), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", _PRELUDE + script + _EPILOGUE, str(request_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
