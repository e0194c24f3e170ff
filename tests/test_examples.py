"""Each example script runs offline on the real all-MiniLM-L6-v2 and reports success.

They run in this process (``main()`` returns the exit code) to spare a TensorFlow import each.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run_example(name: str) -> int:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main()


@pytest.mark.parametrize("name", ["semantic_search", "keras_classifier", "fine_tune_and_save"])
def test_example_runs_and_succeeds(name, capsys):
    assert _run_example(name) == 0, capsys.readouterr().out
    assert capsys.readouterr().out.rstrip().endswith(("OK", "expected sentence"))
