"""SentencePiece Unigram models for the Precompiled / Metaspace / Unigram tests.

Models are trained here, in seconds, on the multilingual text below with the normalization rules
XLM-R and its relatives use, then converted to ``tokenizer.json`` the way the Hugging Face hub
files for XLM-R (``Precompiled`` + ``Metaspace`` + ``Unigram``) and Llama-style byte-fallback
models look. Everything is cached per process, so test modules share one training run.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import random
import re

import numpy as np
import tensorflow as tf
from tokenizers import Tokenizer

from tfst.text.code_points import ADDED_TOKEN_BASE, texts_as_words
from tfst.text.models.unigram import Unigram
from tfst.text.normalizers import Precompiled
from tfst.text.pre_tokenizers import Metaspace
from tfst.text.spec import serde_json_float

TRAINING_TEXT = """\
The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs!
Sentence embeddings map text to vectors; similar meanings end up close to each other.
Café, naïve résumé, façade, jalapeño and crème brûlée are all borrowed into English.
Ça va très bien, merci. Où est la gare ? Les élèves étudient à la bibliothèque ce soir.
Die Bücher sind schön, aber die Straße ist laut. Grüße aus München und Köln!
¿Dónde está la biblioteca? El niño comió paella con su abuela en Valencia.
Ångström, Øre, Œuvre, Łódź, Dvořák, Škoda, Žižek, İstanbul, Ğüşçö ve ıi harfleri.
Съешь же ещё этих мягких французских булок, да выпей же чаю. Москва — столица России.
Привет, как дела? Я читаю книгу о истории Киева и Санкт-Петербурга.
Η γρήγορη καφέ αλεπού πηδάει πάνω από το τεμπέλικο σκυλί. Καλημέρα σας, τι κάνετε;
Ἀθῆναι καὶ Ὀδυσσεύς, ΟΔΟΣ οδος, σοφός ΣΟΦΟΣ, ᾼ ᾳ ῼ ῳ.
مرحبا بالعالم. اللغة العربية جميلة جدا. كيف حالك اليوم؟ أنا بخير، شكرا لك.
الْعَرَبِيَّةُ لُغَةٌ سَامِيَّةٌ، وَيَتَحَدَّثُ بِهَا مِلْيُونَاتُ النَّاسِ.
שלום עולם. עברית היא שפה עתיקה. מה שלומך היום? שָׁלוֹם וּבְרָכָה.
नमस्ते दुनिया। हिन्दी भारत की राजभाषा है। क्या आप ठीक हैं? धन्यवाद। क्षत्रिय ज्ञान।
বাংলা ভাষা খুব সুন্দর। தமிழ் மொழி மிகவும் பழமையானது. ગુજરાતી ਪੰਜਾਬੀ ಕನ್ನಡ മലയാളം
สวัสดีชาวโลก ภาษาไทยเป็นภาษาที่สวยงาม คุณสบายดีไหม ขอบคุณมากครับ วันนี้อากาศดีมาก
ພາສາລາວ ភាសាខ្មែរ မြန်မာဘာသာ tiếng Việt có nhiều dấu thanh: ạ ả ấ ầ ẩ ẫ ậ.
你好，世界。中文是一种美丽的语言。今天天气很好，我们去公园散步吧。北京是中国的首都。
我们今天去公园散步，然后吃了北京烤鸭。繁體中文與简体中文都很常用。上海和广州也是大城市。
こんにちは世界。日本語はとても面白いです。カタカナとひらがなを勉強しています。
東京は日本の首都です。漢字かな交じり文を読みます。ｶﾀｶﾅ ガ ｶﾞ パ ﾊﾟ
안녕하세요 세계. 한국어는 아름다운 언어입니다. 오늘 날씨가 좋네요. 서울은 한국의 수도입니다.
Emoji: 😀 😂 👍🏽 👨‍👩‍👧‍👦 🇫🇷 🇯🇵 ❤️ ✨ 🎉 🏳️‍🌈 — fun! ﬁnancial ﬂow ① ② ½ ™ ＡＢＣ１２３
Numbers 1234567890, 3.14159, 2024-01-31, $1,234.56, 7% and e-mail someone@example.com.
Բարեւ աշխարհ. გამარჯობა სამყარო. ܫܠܡܐ ܥܠܡܐ. ᬩᬲᬩᬮᬶ. Ꭳ ᎣᏏᏲ.
"""


# Syllables (space-separated) and characters to make up words from, so a larger vocabulary has enough to learn.
_SYLLABLES = {
    "latin": "ka to ri mé sa lu ne ßo pa dé vi çu gra ström ño ül ze",
    "cyrillic": "ка то ри ме са лу не бо па де ви чу гра жё ый щи",
    "greek": "κα το ρι με σα λυ νε βό πα δέ βι χυ γρα ζώ",
    "devanagari": "क का कि की कु के को क्ष ज्ञ न ना नि म मा र रा त ता स सा ह हि ं",
    "arabic": "كا تو ري مي سا لو ني بو با دي في شو غرا",
}
_CHARACTERS = {
    "cjk": "".join(chr(code_point) for code_point in range(0x4E00, 0x4E00 + 1500)),
    "hangul": "".join(chr(code_point) for code_point in range(0xAC00, 0xAC00 + 600)),
    "kana": "".join(chr(code_point) for code_point in range(0x3041, 0x3097))
    + "".join(chr(code_point) for code_point in range(0x30A1, 0x30FB)),
    "thai": "".join(chr(code_point) for code_point in range(0x0E01, 0x0E3B)),
}


def training_lines(made_up_words: bool) -> list[str]:
    """The training text, and for large vocabularies lines of words made up from the syllables
    and characters of each script (a few KB of real text cannot feed 8k pieces)."""
    lines = TRAINING_TEXT.splitlines() * 20
    if made_up_words:
        generator = random.Random(0)
        for _ in range(4000):
            script = generator.choice([*_SYLLABLES, *_CHARACTERS])
            units = _SYLLABLES[script].split() if script in _SYLLABLES else _CHARACTERS[script]
            lines.append(
                " ".join(
                    "".join(generator.choices(units, k=generator.randint(1, 4)))
                    for _ in range(generator.randint(3, 10))
                )
            )
    return lines


@functools.cache
def train_model(rule: str, vocab_size: int, byte_fallback: bool) -> bytes:
    """A serialized SentencePiece Unigram model with the named normalization rule."""
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(training_lines(made_up_words=vocab_size > 2000)),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        normalization_rule_name=rule,
        byte_fallback=byte_fallback,
        character_coverage=0.9995,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


def model_proto(model: bytes):
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model)
    return proto


@functools.cache
def rule_charsmap(rule: str) -> bytes:
    """The precompiled_charsmap SentencePiece builds for a named normalization rule."""
    return model_proto(train_model(rule, 600, False)).normalizer_spec.precompiled_charsmap


@functools.cache
def charsmap_from_rules(rules: tuple[tuple[str, str], ...]) -> bytes:
    """A precompiled_charsmap with exactly these (key, replacement) rules, built by SentencePiece."""
    import tempfile

    import sentencepiece

    with tempfile.NamedTemporaryFile("w", suffix=".tsv", encoding="utf-8") as table:
        for key, replacement in rules:
            hexes = (" ".join(f"{ord(ch):X}" for ch in text) for text in (key, replacement))
            table.write("\t".join(hexes) + "\n")
        table.flush()
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def"] * 10),
            model_writer=model,
            model_type="char",
            vocab_size=10,
            normalization_rule_tsv=table.name,
            hard_vocab_limit=False,
            minloglevel=2,
        )
    return model_proto(model.getvalue()).normalizer_spec.precompiled_charsmap


ADDED_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def tokenizer_json(model: bytes, *, xlmr_layout: bool) -> str:
    """``tokenizer.json`` text for a trained model: Precompiled, Metaspace, Unigram.

    ``xlmr_layout`` renumbers the vocab as the XLM-R converter does (``<s> <pad> </s> <unk>``
    first, ``<mask>`` last); otherwise ids are SentencePiece's own (byte-fallback models).
    Scores are written by ``json.dumps``, as the converters write them.
    """
    proto = model_proto(model)
    pieces = [[piece.piece, piece.score] for piece in proto.pieces]
    if xlmr_layout:
        vocab = [[token, 0.0] for token in ADDED_TOKENS[:4]] + pieces[3:] + [["<mask>", 0.0]]
        unk_id = 3
    else:
        vocab = pieces
        unk_id = proto.trainer_spec.unk_id
    ids = {piece: index for index, (piece, _) in enumerate(vocab)}
    added = [
        {
            "id": ids[token],
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for token in ADDED_TOKENS
        if token in ids
    ]
    charsmap = proto.normalizer_spec.precompiled_charsmap
    return json.dumps(
        {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": {
                "type": "Precompiled",
                "precompiled_charsmap": base64.b64encode(charsmap).decode(),
            },
            "pre_tokenizer": {
                "type": "Metaspace",
                "replacement": "▁",
                "prepend_scheme": "always",
                "split": True,
            },
            "post_processor": None,
            "decoder": None,
            "model": {
                "type": "Unigram",
                "unk_id": unk_id,
                "vocab": vocab,
                "byte_fallback": proto.trainer_spec.byte_fallback,
            },
        }
    )


def read_spec(text: str) -> dict:
    """A tokenizer.json parsed with its numbers read as `tokenizers` reads them."""
    return json.loads(text, parse_float=serde_json_float)


class Pipeline:
    """Precompiled → Metaspace → Unigram composed by hand, with the added tokens of the JSON
    found in Python (the tokenizer layer's job, not under test here) and turned into
    placeholders, as ``tfst.text.code_points`` describes."""

    def __init__(self, text: str):
        spec = read_spec(text)
        self.reference = Tokenizer.from_str(text)
        self.normalizer = Precompiled.from_json(spec["normalizer"], "normalizer")
        self.pre_tokenizer = Metaspace.from_json(spec["pre_tokenizer"], "pre_tokenizer")
        self.model = Unigram.from_json(spec["model"], "model")
        added = sorted(spec["added_tokens"], key=lambda token: -len(token["content"]))
        self.added_ids = [token["id"] for token in added]
        self._added_pattern = re.compile("|".join(re.escape(t["content"]) for t in added))
        self._placeholder_of = {token["content"]: index for index, token in enumerate(added)}
        self._ids = tf.function(
            self._graph_ids,
            input_signature=[
                tf.RaggedTensorSpec([None, None], tf.int32, row_splits_dtype=tf.int64)
            ],
        )

    def _graph_ids(self, texts):
        words = self.pre_tokenizer.pre_tokenize(texts_as_words(self.normalizer.normalize(texts)))
        pieces = words.values
        first = tf.gather(pieces.values, pieces.row_starts())
        is_placeholder = first >= ADDED_TOKEN_BASE
        model_ids = self.model.tokenize(tf.ragged.boolean_mask(pieces, ~is_placeholder))
        return words.row_splits, is_placeholder, first, model_ids

    def code_points(self, text: str) -> list[int]:
        """The text with each added token replaced by its placeholder."""
        output, last = [], 0
        for match in self._added_pattern.finditer(text):
            output += map(ord, text[last : match.start()])
            output.append(ADDED_TOKEN_BASE + self._placeholder_of[match.group()])
            last = match.end()
        return output + list(map(ord, text[last:]))

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Ids of each text, as ``Tokenizer.encode(text, add_special_tokens=False).ids``."""
        ragged = ragged_code_points([self.code_points(text) for text in texts])
        text_splits, is_placeholder, first, model_ids = self._ids(ragged)
        model_ids = iter(model_ids.to_list())
        word_ids = [
            [self.added_ids[code_point - ADDED_TOKEN_BASE]] if placeholder else next(model_ids)
            for placeholder, code_point in zip(
                is_placeholder.numpy().tolist(), first.numpy().tolist(), strict=True
            )
        ]
        splits = text_splits.numpy().tolist()
        return [
            [token for word in word_ids[start:end] for token in word]
            for start, end in zip(splits[:-1], splits[1:], strict=True)
        ]

    def reference_encode(self, texts: list[str]) -> list[list[int]]:
        return [
            encoding.ids
            for encoding in self.reference.encode_batch(texts, add_special_tokens=False)
        ]


def ragged_code_points(rows: list[list[int]]) -> tf.RaggedTensor:
    """``[rows, (code points)]`` int32 from Python lists (faster than ``tf.ragged.constant``)."""
    lengths = np.asarray([len(row) for row in rows], dtype=np.int64)
    values = np.fromiter((value for row in rows for value in row), np.int32, int(lengths.sum()))
    return tf.RaggedTensor.from_row_lengths(values, lengths)


# Cases aimed at the three stages: grapheme clusters that Precompiled rewrites whole (and the
# code points it then drops), Metaspace's prefix and splits, Unigram's unknown and byte pieces.
EXTRA_HARD_STRINGS = [
    "e\u0301",
    "e\u0301\u0316",
    "e\u0316\u0301x",
    "ﬁ\u0301 ﬂ\u0308",
    "\r\n",
    "a\r\nb\r\n\r\nc",
    "\x01hi",
    "\x01 hi \x01",
    "™\x1eg",
    "nul\x00in\x00side",
    "\u200b\u200c\u200d\u2060\ufeff",
    "👨\u200d👩\u200d👧\u200d👦👩🏽\u200d💻",
    "©\u200d©\u0301 ®\u200d© ©\u0301",
    "🇫🇷🇩 🇩🇪🇫🇷🇮",
    "क्\u0958\u0301 N\u094d\u0915 क्\u200dष",
    "\u1100\u1161\u11a8 \u1100\u1161\u0301 가\u0301",
    "\u0600a \u0600\u0301 a\u0903b",
    "ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟﾌﾟ ｱｲｳ",
    "ＡＢＣ１２３！？ ｈｅｌｌｏ",
    "Ⅻ ㍿ ㈱ ㌔ ㎏ ½ ⅓ ¼",
    "ǅ ǈ ǋ Ǳ ß ẞ İ ı",
    "ᾼ\u0301 ῼ\u0313",
    "     ",
    "\t\t\t",
    " \n \n ",
    "▁",
    "▁▁x▁ ▁",
    "<unk>",
    "<0x41><0xE4><0xB8>",
    "<s>hello</s>",
    "x<mask>y<pad>z",
    "<s><s></s>",
    " <s> ",
    "<s>",
    "hahahahahahahahahahaha",
    "!!!!!!!!!!?????......",
    "ーーーーー〜〜〜",
    "😂😂😂😂😂",
    "ab\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307cd",
    "Tiếng Việt: Việt Nam, người, được, những",
    "Tie\u0302\u0301ng Vie\u0323\u0302t",
    "한국어 \u1112\u1161\u11ab\u1100\u1173\u11af",
    "ﷺ ﷲ ﻻ",
    "\u0e40\u0e01\u0e4b\u0e32 \u0e01\u0e33",
    "\U0001d54f\U0001d550 \U0001f600\ufe0f \u2764\ufe0f",
    "\U000f0000\U0010fffd \ue000",
    "\u0378\u0379 \U000e0001\U000e0020",
    "",
]


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def hard_multilingual_strings() -> list[str]:
    """At least 500 strings in every script of the training text, in NFC, NFD and fullwidth
    forms, with zero-width and control characters, runs of spaces, added tokens, and long
    runs, among them a 10,000-character CJK paragraph."""
    import unicodedata

    from hard_strings import ALL_HARD_STRINGS

    lines = TRAINING_TEXT.splitlines() + EXTRA_HARD_STRINGS
    variants = []
    for line in lines:
        variants += [
            unicodedata.normalize("NFD", line),
            unicodedata.normalize("NFKC", line),
            _fullwidth(line),
            line.upper(),
            line.replace(" ", "\u200b "),
            line.replace(" ", "  \t"),
            f"  {line}  ",
            f"<s>{line}</s>",
            line.replace(" ", "\x01"),
        ]
    generator = random.Random(1)
    ideographs = _CHARACTERS["cjk"] + "，。、「」"
    long_runs = [
        "".join(generator.choices(ideographs, k=10_000)),
        "".join(generator.choices(_CHARACTERS["thai"], k=3000)),
        "ha" * 2000,
        "".join(generator.choices("abcdefghij", k=3000)),
        "😀👍🏽" * 500,
    ]
    return ALL_HARD_STRINGS + lines + variants + long_runs
