"""Serving artifacts, one module per format: ``saved_model`` (strings in, embeddings or
cross-encoder scores out) and ``tflite`` (token ids in, with the tokenizer as a SavedModel beside
it)."""

from tfst.export.saved_model import export_cross_encoder, export_saved_model
from tfst.export.tflite import export_tflite

__all__ = ["export_cross_encoder", "export_saved_model", "export_tflite"]
