"""The keyed (query, document) → score Beam handler, from a cross-encoder SavedModel and from a
model folder, against sentence-transformers' predict."""

from __future__ import annotations

import json
from importlib.util import find_spec

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    find_spec("apache_beam") is None,
    reason='Apache Beam is not installed: pip install -e ".[beam]"',
)


def _score_with_beam(model_uri: str, keyed_pairs: list, output) -> dict:
    """Key → (pair, score) from a DirectRunner pipeline, through JSON lines on disk."""
    import apache_beam as beam
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
    from apache_beam.options.pipeline_options import PipelineOptions

    from tfst.beam import CrossEncoderModelHandler

    def as_json(keyed_result) -> str:
        key, prediction = keyed_result
        score = np.asarray(prediction.inference).tolist()
        return json.dumps({"key": key, "pair": list(prediction.example), "score": score})

    handler = KeyedModelHandler(CrossEncoderModelHandler(model_uri, max_batch_size=16))
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as pipeline:
        (
            pipeline
            | beam.Create(keyed_pairs)
            | RunInference(handler)
            | beam.Map(as_json)
            | beam.io.WriteToText(str(output / "scores"), file_name_suffix=".jsonl")
        )
    records = [
        json.loads(line)
        for path in sorted(output.glob("scores*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return {record["key"]: (tuple(record["pair"]), record["score"]) for record in records}


@pytest.mark.parametrize("source", ["saved_model", "folder"])
def test_keyed_pairs_get_sentence_transformers_scores(
    source, loaded, cross_encoder_folder, pairs, tmp_path
):
    model, reference = loaded("bert_3_labels", "modular")
    if source == "saved_model":
        model_uri = str(model.export(tmp_path / "export"))
    else:
        model_uri = str(cross_encoder_folder("bert_3_labels", "modular"))
    keyed_pairs = [(f"pair-{index}", pair) for index, pair in enumerate(pairs[:40])]
    results = _score_with_beam(model_uri, keyed_pairs, tmp_path)
    assert sorted(results) == sorted(key for key, _ in keyed_pairs)
    assert all(results[key][0] == pair for key, pair in keyed_pairs)
    actual = np.array([results[key][1] for key, _ in keyed_pairs])
    assert np.abs(actual - reference.predict(pairs[:40])).max() <= 1e-5
