"""Text preprocessing: raw strings to model inputs."""

from tfst.text.wordpiece import WordPieceTokenizer

__all__ = ["WordPieceTokenizer"]
