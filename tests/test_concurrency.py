"""One model, many threads: ``encode`` and a loaded SavedModel called from 8 threads at once give
bit-for-bit the results of sequential calls.

Each thread gets its own batch (different texts, sizes and padded lengths), all threads start
together at a barrier, and the round is repeated with the batches dealt to other threads.
"""

from __future__ import annotations

import functools
import threading

import numpy as np
import pytest
import tensorflow as tf
from sentences import EVERYDAY, varied_sentences

THREADS = 8
ROUNDS = 5


@pytest.fixture(scope="module")
def batches():
    texts = EVERYDAY + varied_sentences(64, seed=7)
    # Sizes 1-8 and lengths from a few words to ~60: every thread pads to its own shape.
    return [texts[start : start + 1 + index] for index, start in enumerate(range(0, 64, 8))]


@pytest.fixture(scope="module")
def serve(minilm, tmp_path_factory):
    loaded = tf.saved_model.load(str(minilm.export(tmp_path_factory.mktemp("threads") / "model")))
    signature = loaded.signatures["serving_default"]

    def embed(texts):
        return signature(sentences=tf.constant(texts))["sentence_embedding"].numpy()

    embed.loaded = loaded  # the signature needs its loaded object alive
    return embed


def _run_concurrently(function, batches, rounds):
    """Per round, thread t embeds batches[(t + round) % n]; all threads start at a barrier."""
    results = []
    for round_index in range(rounds):
        assignment = [(thread + round_index) % len(batches) for thread in range(THREADS)]
        outputs, errors = [None] * THREADS, []
        barrier = threading.Barrier(THREADS)

        def work(thread, assignment=assignment, outputs=outputs, errors=errors, barrier=barrier):
            try:
                barrier.wait()
                outputs[thread] = function(batches[assignment[thread]])
            except Exception as error:  # reported below, with its thread
                errors.append((thread, error))

        threads = [threading.Thread(target=work, args=(index,)) for index in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        results.append(list(zip(assignment, outputs, strict=True)))
    return results


def _assert_identical_to_sequential(function, batches):
    sequential = [function(batch) for batch in batches]
    runs = 0
    for round_results in _run_concurrently(function, batches, ROUNDS):
        for batch_index, output in round_results:
            np.testing.assert_array_equal(output, sequential[batch_index])
            runs += 1
    assert runs == THREADS * ROUNDS


def test_encode_from_eight_threads_equals_sequential_encode(minilm, batches):
    # batch_size=3 splits most batches, so graph calls of different threads interleave.
    _assert_identical_to_sequential(functools.partial(minilm.encode, batch_size=3), batches)


def test_saved_model_from_eight_threads_equals_sequential_calls(serve, batches):
    _assert_identical_to_sequential(serve, batches)
