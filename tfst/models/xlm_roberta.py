"""The XLM-RoBERTa family (paraphrase-multilingual-mpnet-base-v2, multilingual-e5, bge-m3, ...).

transformers' ``XLMRobertaModel`` is ``RobertaModel`` under another ``model_type``: the same
embeddings (positions past ``pad_token_id``), blocks, checkpoint names (``roberta.`` prefix in task
models) and ``config.json`` keys, so the family is :class:`tfst.models.roberta.RobertaEncoder`
with XLM-R's names. Its tokenizer, ``XLMRobertaTokenizer`` (SentencePiece Unigram), is built in
``tfst.text.tokenizer_folder``.
"""

from __future__ import annotations

from tfst.models.roberta import roberta_family

FAMILY = roberta_family("xlm-roberta", "XLMRobertaModel", "XLMRobertaTokenizer")
