"""The installed package stays lean: no torch/transformers/tokenizers at run time."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from importlib.metadata import requires
from pathlib import Path

FORBIDDEN = ("torch", "transformers", "tokenizers", "sentence_transformers")
ONNX_PACKAGES = ("onnx", "onnxruntime", "onnxruntime_extensions", "tf2onnx")
ROOT = Path(__file__).resolve().parents[1]


def test_runtime_requirements_exclude_the_pytorch_stack():
    runtime = [r for r in requires("tensorflow-sentence-transformers") if "extra ==" not in r]
    names = {re.split(r"[<>=!~; \[]", r, maxsplit=1)[0].lower().replace("_", "-") for r in runtime}
    assert names == {"tensorflow", "safetensors", "huggingface-hub", "numpy", "tqdm"}


def test_tensorflow_text_is_only_an_extra():
    """`pip install .` (no extras) pulls no tensorflow-text; the extra of that name does."""
    extras = [
        r for r in requires("tensorflow-sentence-transformers") if r.startswith("tensorflow-text")
    ]
    assert extras and all('extra == "tensorflow-text"' in r for r in extras)


def test_tensorflow_text_ops_without_the_package_say_which_extra_to_install(minilm_folder):
    script = textwrap.dedent(
        f"""
        import sys

        class BlockTensorflowText:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "tensorflow_text":
                    raise ImportError(f"{{name}} is blocked in this test")

        sys.meta_path.insert(0, BlockTensorflowText())
        import tfst, tfst.text
        model = tfst.load({str(minilm_folder)!r})
        try:
            config = model.tokenizer.get_config()
            config["ops"] = "tensorflow_text"
            tfst.text.Tokenizer.from_config(config)
        except Exception as error:  # Keras' from_config wraps the ImportError, message kept
            print(error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tensorflow-sentence-transformers[tensorflow-text]" in result.stdout


def test_loading_and_encoding_import_neither_the_pytorch_stack_nor_onnx(minilm_folder):
    script = textwrap.dedent(
        f"""
        import sys, tfst
        model = tfst.load({str(minilm_folder)!r})
        model.encode(["no torch here"])
        # tensorflow-text too: the default tokenizer is core TensorFlow, and importing
        # tensorflow-text costs ~110 MB of memory.
        # Nor the ONNX export's packages, an extra.
        print(sorted(name for name in {FORBIDDEN + ("tensorflow_text",) + ONNX_PACKAGES!r}
                     if name in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_ci_runs_the_readme_test_command_verbatim():
    ci_command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command in (ROOT / "README.md").read_text()
