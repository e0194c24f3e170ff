"""Varied sentences for embedding parity: everyday text, several scripts, and over-long text."""

from __future__ import annotations

import random

EVERYDAY = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The new movie is awesome!",
    "The cat sits outside.",
    "I love pasta; my sister prefers rice.",
    "Do you like pizza?",
    "What's the weather like in Paris in April?",
    "TensorFlow Serving loads SavedModels over gRPC and REST.",
    "Embeddings map sentences to vectors in R^384.",
    "e-mail me at someone@example.com before 5:30 p.m., ok?",
    "The price rose 12.5% to $1,234.56 (approx.) on 2024-01-31.",
    "URLs like https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2 are common.",
    "C'est la vie, déjà vu, naïve café crème brûlée.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein.",
    "¿Dónde está la biblioteca? ¡Allí!",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "我们今天去公园散步，然后吃了北京烤鸭。",
    "東京は日本の首都です。ひらがなとカタカナも使います。",
    "한국어 문장도 잘 처리되어야 합니다.",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "שלום עולם, מה שלומך?",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "สวัสดีชาวโลก วันนี้อากาศดีมาก",
    "Emoji time 😀👍🏽 and a family 👨‍👩‍👧‍👦 on vacation 🏖️!",
    "Tabs\tand\nnewlines\r\nare whitespace too.",
    "Zero\u200bwidth\u200cjoiners\u200dand\ufeffBOMs hide in text.",
    "Supercalifragilisticexpialidocious is a long word; so is pneumonoultramicroscopicsilicovolcanoconiosis.",
    "ALL CAPS SHOUTING IS STILL THE SAME WORDS",
    "Mixed\u00a0non-breaking\u3000ideographic\u2003em spaces.",
    "[CLS] literal special tokens [SEP] and [MASK] in text",
    "",
    "   ",
    "a",
    "?!",
]

_SUBJECTS = [
    "The engineer",
    "A small dog",
    "My neighbour",
    "The committee",
    "Every student",
    "Our model",
]
_VERBS = ["reads", "writes", "ignores", "celebrates", "measures", "translates", "serves"]
_OBJECTS = [
    "the quarterly report",
    "a long poem about the sea",
    "embeddings for the search index",
    "three cups of coffee",
    "the unexpected results",
    "every sentence in the corpus",
]
_ENDINGS = ["", " quickly.", " before lunch.", ", then leaves.", " without complaint!", " — again?"]


def varied_sentences(count: int = 80, seed: int = 0) -> list[str]:
    """Template sentences of 5-60 words, deterministic for a seed."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(count):
        clauses = [
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_ENDINGS)}"
            for _ in range(rng.randint(1, 6))
        ]
        sentences.append(" ".join(clauses))
    return sentences


def long_texts() -> list[str]:
    """Texts far beyond 256 word pieces, so truncation at max_seq_length is exercised."""
    return [
        " ".join(varied_sentences(60, seed=1)),
        "word " * 2000,
        "Ünïcödé " * 400 + "终" * 300,
    ]


def parity_corpus() -> list[str]:
    return EVERYDAY + varied_sentences() + long_texts()
