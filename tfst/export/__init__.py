"""Serving artifacts, one module per format: ``saved_model`` (strings in, embeddings or
cross-encoder scores out), ``tflite`` (token ids in, with the tokenizer as a SavedModel beside it)
and ``onnx`` (token ids in, and strings in through onnxruntime-extensions). ``export_onnx`` is
imported from ``tfst.export.onnx``, which needs the ``onnx`` extra; ``portable`` is the loop-free
graph that TFLite and ONNX hold; ``folders`` is where every export is written."""

from tfst.export.saved_model import export_cross_encoder, export_saved_model
from tfst.export.tflite import export_tflite

__all__ = ["export_cross_encoder", "export_saved_model", "export_tflite"]
