"""Benchmark texts, deterministic and without downloads.

- English: sentences of prose from the Python standard library's docstrings, cut to a word count.
- Multilingual: sentences made from small hand-written word lists of many languages and scripts
  (Latin with diacritics, Cyrillic, Greek, Arabic, Devanagari, Thai, Chinese, Japanese kana and
  kanji, Hangul), sometimes switching language mid-text, with emoji (ZWJ sequences, skin tones,
  flags) sprinkled in.
- A CJK paragraph: Chinese without spaces, punctuated like prose, of an exact length.
- Search queries: short hand-written queries, 4-15 tokens with BERT's WordPiece and special
  tokens, the texts an embedding service mostly sees.

Every generator takes a seed; the same seed gives the same texts on every machine.
"""

from __future__ import annotations

import functools
import importlib
import random
import re
import warnings

# Modules whose docstrings give the English prose the texts are cut from.
PROSE_MODULES = [
    "argparse",
    "asyncio",
    "collections",
    "csv",
    "datetime",
    "decimal",
    "email.message",
    "fractions",
    "functools",
    "http.client",
    "itertools",
    "json",
    "logging",
    "os",
    "pathlib",
    "random",
    "re",
    "shutil",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "textwrap",
    "threading",
    "typing",
    "unittest",
    "urllib.request",
    "zipfile",
]


# What users type into a search box: 1-12 words, some with digits and punctuation.
SEARCH_QUERIES = (
    "weather tomorrow",
    "cheap flights to rome",
    "python list comprehension",
    "how to boil an egg",
    "best pizza near me",
    "what is the capital of australia",
    "symptoms of vitamin d deficiency",
    "convert 30 celsius to fahrenheit",
    "who wrote pride and prejudice",
    "tensorflow serving docker gpu",
    "How do I serve sentence embeddings from TensorFlow?",
    "reset router password",
    "difference between a crocodile and an alligator",
    "laptop won't turn on after update",
    "sentence similarity model multilingual",
    "when does the next train leave for Berlin",
)


def search_queries() -> list[str]:
    """The short queries of ``SEARCH_QUERIES``, in a fixed order."""
    return list(SEARCH_QUERIES)


@functools.cache
def prose_sentences() -> tuple[str, ...]:
    """Sentences of English prose from the standard library's docstrings, deduplicated, sorted."""
    sentences = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # typing.io and friends
        for name in PROSE_MODULES:
            module = importlib.import_module(name)
            documented = [module, *(getattr(module, attribute) for attribute in dir(module))]
            for item in documented:
                doc = getattr(item, "__doc__", None)
                if not isinstance(doc, str):
                    continue
                for sentence in re.split(r"(?<=[.!?])\s+", " ".join(doc.split())):
                    if len(sentence.split()) >= 3:
                        sentences.add(sentence)
    return tuple(sorted(sentences))


def english_texts(count: int, min_words: int, max_words: int, seed: int) -> list[str]:
    """``count`` texts with word counts uniform in [min_words, max_words], cut from real prose."""
    sentences = prose_sentences()
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        target = rng.randint(min_words, max_words)
        start = rng.randrange(len(sentences))
        words: list[str] = []
        while len(words) < target:
            words.extend(sentences[start % len(sentences)].split())
            start += 1
        texts.append(" ".join(words[:target]))
    return texts


# Everyday words per language; `spaced` says whether the script puts spaces between words.
_LANGUAGES = {
    "french": (
        True,
        ".?!",
        "le la les un une des et est dans pour avec sur pas plus très bien temps jour monde "
        "maison ville été école élève café français première déjà où ça cœur fenêtre garçon "
        "naïve hôtel forêt noël",
    ),
    "german": (
        True,
        ".?!",
        "der die das und ist nicht mit für auf über schön Straße Größe Mädchen Bücher grün "
        "früh heißen müssen können Häuser Stadt Zeit Jahr Grüße Übermaß Fußgänger",
    ),
    "spanish": (
        True,
        ".?!",
        "el la los las y es en con por para niño señor mañana año corazón canción está "
        "también más después pequeño ciudad ¿dónde ¡qué jalapeño",
    ),
    "vietnamese": (
        True,
        ".?",
        "tôi bạn là của có không người Việt Nam tiếng được những nhà trường học ăn phở "
        "đẹp nước Hà Nội cảm ơn",
    ),
    "polish_czech_turkish": (
        True,
        ".!",
        "źródło łódź żółw gęś Dvořák Škoda příliš žluťoučký İstanbul ağaç şehir çiçek göz ılık",
    ),
    "russian": (
        True,
        ".?!",
        "и в не на я что он с как это по но они мы она быть весь так его год для язык "
        "дом город время человек хорошо сегодня ещё Москва съешь французских булок",
    ),
    "greek": (
        True,
        ".;!",
        "και το η ο του να είναι με για από σε δεν ένα καλημέρα ευχαριστώ σπίτι πόλη "
        "άνθρωπος γλώσσα σήμερα θάλασσα ήλιος Αθήνα",
    ),
    "arabic": (
        True,
        ".؟!",
        "في من على إلى أن هذا هذه كان مع عن اللغة العربية مرحبا شكرا كتاب مدينة بيت "
        "يوم جميل كبير صغير الماء الشمس القاهرة",
    ),
    "hindi": (
        True,
        "।?!",
        "और के है में की को से यह एक नहीं पर भी हिन्दी भाषा भारत नमस्ते धन्यवाद घर शहर "
        "पानी दिन अच्छा बहुत दिल्ली क्षत्रिय ज्ञान",
    ),
    "thai": (
        False,
        " ",
        "ภาษา ไทย สวัสดี ขอบคุณ ประเทศ บ้าน วันนี้ อากาศ ดี มาก กิน ข้าว น้ำ เมือง คน รัก เรา คุณ ไป มา กรุงเทพ",
    ),
    "chinese": (
        False,
        "。？！",
        "我们 今天 天气 很好 中文 语言 美丽 北京 上海 城市 公园 散步 学习 工作 朋友 时间 "
        "吃饭 喜欢 世界 中国 人民 大学 电脑 手机 问题 发展 繁體 與 简体",
    ),
    "japanese": (
        False,
        "。？",
        "私 は です ます 日本語 東京 今日 天気 とても 面白い カタカナ ひらがな 勉強 "
        "しています 学校 先生 友達 電車 コーヒー テレビ ありがとう ｶﾀｶﾅ",
    ),
    "korean": (
        True,
        ".?!",
        "안녕하세요 한국어 서울 오늘 날씨 좋네요 학교 친구 사랑 감사합니다 사람 시간 음식 "
        "도시 나라 우리 그리고 하지만 부산",
    ),
}
_EMOJI = [
    "😀",
    "😂",
    "👍",
    "👍🏽",
    "🎉",
    "❤️",
    "👨\u200d👩\u200d👧\u200d👦",
    "👩🏽\u200d💻",
    "🇫🇷",
    "🇯🇵",
    "✨",
    "🙏",
    "🔥",
    "1️⃣",
    "🏳️\u200d🌈",
]


def _clause(rng: random.Random, language: str, words: int) -> str:
    spaced, endings, vocabulary = _LANGUAGES[language]
    chosen = rng.choices(vocabulary.split(), k=words)
    return (" " if spaced else "").join(chosen) + rng.choice(endings).strip()


def multilingual_texts(count: int, min_words: int, max_words: int, seed: int) -> list[str]:
    """``count`` texts of [min_words, max_words] words, each mostly in one language, a fifth
    switching to a second one halfway, a third with an emoji; every script above occurs."""
    rng = random.Random(seed)
    languages = sorted(_LANGUAGES)
    texts = []
    for index in range(count):
        words = rng.randint(min_words, max_words)
        language = languages[index % len(languages)]  # every language, evenly
        if rng.random() < 0.2:
            other = rng.choice(languages)
            half = max(words // 2, 1)
            text = f"{_clause(rng, language, half)} {_clause(rng, other, max(words - half, 1))}"
        else:
            text = _clause(rng, language, words)
        if rng.random() < 0.3:
            text += " " + rng.choice(_EMOJI)
        texts.append(text)
    return texts


# The most common Chinese characters, roughly by frequency: what a paragraph is made of.
_COMMON_HANZI = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能"
    "对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前"
    "面又定见只主没公从知使点全开把加高本动长工明力现重机部实间体民问意外关新回手文化理物水代正等"
    "表山电果合气百已量政儿通口东由教想感北南西书路门城市区海声员月色做变利特结真别"
)


def cjk_paragraph(characters: int, seed: int) -> str:
    """Exactly ``characters`` characters of Chinese-like prose: runs of common characters and
    words, commas every 4-12 characters, a full stop every 2-4 clauses, no spaces."""
    rng = random.Random(seed)
    words = _LANGUAGES["chinese"][2].split()
    paragraph = ""
    while len(paragraph) < characters:
        clauses = []
        for _ in range(rng.randint(2, 4)):
            clause = ""
            while len(clause) < rng.randint(4, 12):
                clause += rng.choice(words) if rng.random() < 0.4 else rng.choice(_COMMON_HANZI)
            clauses.append(clause)
        paragraph += "，".join(clauses) + "。"
    return paragraph[:characters]
