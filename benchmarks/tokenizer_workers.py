"""The contenders of the tokenizer benchmark, each as it runs inside its worker process.

- ``rust``: Hugging Face `tokenizers` (``Tokenizer.from_file``, ``encode_batch``, padding to
  the longest text), ids and attention mask gathered into numpy arrays, as a model needs them;
- ``tfst``: ``tfst.text.Tokenizer`` called eagerly on a list of strings, i.e. the
  ``tf.function`` the layer runs for eager calls, outputs fetched with ``.numpy()``;
- ``tfst-function``: the same layer inside a ``tf.function`` with a ``[None]`` string signature
  (as a user's own graph or a SavedModel holds it), traced by the first call when the pipeline
  loads, called on ``tf.constant(texts)``.

A worker holds every pipeline at once. ``load`` builds one (a tfst stage that is not supported
yet makes it answer ``loaded: false`` with the reason, and the benchmark goes on without that
pipeline); ``encode`` tokenizes a stored text set in batches and answers the seconds it took,
and when asked, the ids of every text (without padding) for the parity check, or ``failed``
with the reason when the tokenizer raises. ``stages`` times one batch (the first of a set)
over and over: ``tfst-function`` its traced pipeline up to the model (``Tokenizer.words``:
added tokens, normalizer, pre-tokenizer) and its whole pipeline, alternately; ``rust`` its whole
pipeline.
"""

from __future__ import annotations

import json
import time

import numpy as np
from protocol import Handler
from timing import interleaved_milliseconds

CONTENDERS = ("rust", "tfst", "tfst-function")
FIRST_TEXT = "The first text this process tokenizes."
# tfst's max_length when nothing is truncated: more ids than any benchmark text has.
UNTRUNCATED = 10**9


class RustTokenizers:
    """`tokenizers` (the Rust library) with padding to the longest text of each batch. Its
    thread pool is sized by the environment (``RAYON_NUM_THREADS``, ``TOKENIZERS_PARALLELISM``),
    which the parent sets."""

    def __init__(self):
        import tokenizers

        self.tokenizers = tokenizers
        self.loaded = {}
        self.max_lengths = {}

    def load(self, pipeline: str, path: str, pad_token_id: int, pad_token: str) -> None:
        tokenizer = self.tokenizers.Tokenizer.from_file(path)
        tokenizer.enable_padding(pad_id=pad_token_id, pad_token=pad_token)
        tokenizer.no_truncation()
        self.loaded[pipeline] = tokenizer
        self.max_lengths[pipeline] = None

    def set_max_length(self, pipeline: str, max_length: int | None) -> None:
        if self.max_lengths[pipeline] != max_length:
            tokenizer = self.loaded[pipeline]
            if max_length is None:
                tokenizer.no_truncation()
            else:
                tokenizer.enable_truncation(max_length)
            self.max_lengths[pipeline] = max_length

    def encode(self, pipeline: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self.loaded[pipeline].encode_batch(texts)
        input_ids = np.array([encoding.ids for encoding in encodings], np.int32)
        attention_mask = np.array([encoding.attention_mask for encoding in encodings], np.int32)
        return input_ids, attention_mask

    def stages(self, pipeline: str, texts: list[str]) -> dict[str, float]:
        """Median ms of the whole pipeline on ``texts``."""
        return interleaved_milliseconds({"whole_ms": lambda: self.encode(pipeline, texts)})


class TfstTokenizers:
    """``tfst.text.Tokenizer`` called eagerly, or (``traced``) inside a pre-traced function."""

    def __init__(self, threads: int, traced: bool):
        from encode_workers import TensorFlowWorker  # TensorFlow's threads set as for encode

        self.tf = TensorFlowWorker("cpu", threads).tf
        self.traced = traced
        self.loaded = {}

    def load(self, pipeline: str, path: str, pad_token_id: int, pad_token: str) -> None:
        from tfst.text import Tokenizer
        from tfst.text.spec import serde_json_float

        tf = self.tf
        with open(path, encoding="utf-8") as file:
            spec = json.load(file, parse_float=serde_json_float)  # as `tokenizers` reads it
        layer = Tokenizer(spec, pad_token_id=pad_token_id, max_length=UNTRUNCATED, source=path)
        if not self.traced:
            self.loaded[pipeline] = (layer, layer)
            return

        # Traced by the first call, which `start_contender`'s load makes. The layer is plain
        # TensorFlow ops: AutoGraph would only add conversion time to that first call.
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
        def traced(strings):
            return layer(strings)

        self.loaded[pipeline] = (layer, lambda texts: traced(tf.constant(texts)))

    def set_max_length(self, pipeline: str, max_length: int | None) -> None:
        layer, _ = self.loaded[pipeline]
        wanted = UNTRUNCATED if max_length is None else max_length
        if layer.max_length != wanted:
            layer.max_length = wanted  # a variable the traced graphs read: no retracing

    def encode(self, pipeline: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        _, call = self.loaded[pipeline]
        outputs = call(texts)
        return outputs["input_ids"].numpy(), outputs["attention_mask"].numpy()

    def stages(self, pipeline: str, texts: list[str]) -> dict[str, float]:
        """Median ms of the traced words (up to the model) and of the traced whole, alternately,
        each from the list of strings, as ``encode`` is timed."""
        if not self.traced:
            raise ValueError("only the traced contender times stages")
        tf = self.tf
        layer, _ = self.loaded[pipeline]
        words = tf.function(
            lambda strings: layer.words(strings).flat_values,
            input_signature=[tf.TensorSpec([None], tf.string)],
            autograph=False,
        )
        return interleaved_milliseconds(
            {
                "words_ms": lambda: words(tf.constant(texts)).numpy(),
                "whole_ms": lambda: self.encode(pipeline, texts),
            }
        )


def make_contender(name: str, threads: int):
    if name == "rust":
        return RustTokenizers()
    if name == "tfst":
        return TfstTokenizers(threads, traced=False)
    if name == "tfst-function":
        return TfstTokenizers(threads, traced=True)
    raise ValueError(f"unknown contender {name!r}; choose from {CONTENDERS}")


def start_contender(name: str, threads: int) -> tuple[dict[str, Handler], dict]:
    """For ``protocol.serve``: import the contender's library; its handlers load pipelines and
    time them."""
    started = time.perf_counter()
    contender = make_contender(name, threads)
    startup = {"import_s": time.perf_counter() - started}

    def load(request, texts):
        pipeline = request["pipeline"]
        try:
            start = time.perf_counter()
            contender.load(pipeline, request["path"], request["pad_token_id"], request["pad_token"])
            built = time.perf_counter()
            contender.encode(pipeline, [FIRST_TEXT])
            first = time.perf_counter()
        except Exception as error:  # an unsupported stage: the benchmark reports it and goes on
            return {"loaded": False, "reason": f"{type(error).__name__}: {error}"}
        return {"loaded": True, "build_s": built - start, "first_call_s": first - built}

    def encode(request, texts):
        pipeline, batch_size = request["pipeline"], request["batch_size"]
        set_texts = texts[request["name"]]
        contender.set_max_length(pipeline, request["max_length"])
        try:
            start = time.perf_counter()
            outputs = [
                contender.encode(pipeline, set_texts[first : first + batch_size])
                for first in range(0, len(set_texts), batch_size)
            ]
        except Exception as error:  # a pipeline that loads but fails on some text: reported
            return {"failed": f"{type(error).__name__}: {error}"}
        answer = {"seconds": time.perf_counter() - start}
        if request.get("ids"):
            answer["ids"] = [
                row[:length].tolist()
                for input_ids, attention_mask in outputs
                for row, length in zip(input_ids, attention_mask.sum(axis=1), strict=True)
            ]
        return answer

    def stages(request, texts):
        batch = texts[request["name"]][: request["batch_size"]]
        contender.set_max_length(request["pipeline"], None)
        try:
            return contender.stages(request["pipeline"], batch)
        except Exception as error:  # reported beside the pipeline, the run goes on
            return {"failed": f"{type(error).__name__}: {error}"}

    return {"load": load, "encode": encode, "stages": stages}, startup
