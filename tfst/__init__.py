"""tfst: sentence-transformers models in TensorFlow / Keras 3, raw strings in, embeddings (or
reranking scores) out."""

from tfst.cross_encoder import CrossEncoder
from tfst.loading import load, load_cross_encoder
from tfst.sentence_model import SentenceTransformer

__version__ = "0.1.0"

__all__ = ["CrossEncoder", "SentenceTransformer", "__version__", "load", "load_cross_encoder"]
