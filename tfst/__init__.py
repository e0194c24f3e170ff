"""tfst: sentence-transformers models in TensorFlow / Keras 3, raw strings in, embeddings out."""

from tfst.loading import load
from tfst.sentence_model import SentenceTransformer

__version__ = "0.1.0"

__all__ = ["SentenceTransformer", "__version__", "load"]
