"""The tokenizer: Hugging Face `tokenizers` stages compiled to TensorFlow ops (see ``tokenizer``)."""

from tfst.text.tokenizer import Tokenizer

__all__ = ["Tokenizer"]
