"""The BPE model against Hugging Face `tokenizers` 0.23.3, id for id.

Three readings of BPE are compared on every word: tfst's rounds of merges in TensorFlow, the
`tokenizers` library, and :class:`ReferenceBPE`, a line-by-line Python reading of
``models/bpe/model.rs`` (``merge_word``, ``tokenize``) and ``word.rs`` (``merge_all``, its
priority queue included), so a disagreement shows which side misreads the source.

Models come from two places:

- tokenizers trained here with `tokenizers`' own trainer (byte-level at several vocabulary
  sizes, and character-level with ``unk_token``/``fuse_unk``, ``continuing_subword_prefix``,
  ``end_of_word_suffix``, ``byte_fallback``, ``ignore_merges``), fed the words their own
  pre-tokenizer makes from >= 500 hard strings and from hypothesis text;
- random merge tables, whose ranks are shuffled so that merges create pairs ranked below the
  merge itself, repeat pairs, and reach one token by several merges: the cases where the order of
  equal-ranked and overlapping pairs decides the ids. Many small tables, each over its own
  characters, share one model, so one tfst call covers them all.
"""

from __future__ import annotations

import heapq
import json
import random
from pathlib import Path
from typing import NamedTuple

import pytest
import tensorflow as tf
import tokenizers
from hard_strings import ALL_HARD_STRINGS
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import models, pre_tokenizers, trainers

from tfst.text.bpe_files import load_bpe_files, read_merges_file, read_vocab_file
from tfst.text.code_points import decode_utf8
from tfst.text.models import MODELS, model_from_json
from tfst.text.models.bpe import BPE
from tfst.text.spec import TokenizerSpecError

# ---------------------------------------------------------------------------------------------
# Text: what the tokenizers are trained on, and what they are tested on.

TRAINING_TEXT = """\
The quick brown fox jumps over the lazy dog; it's what they'd've said, isn't it?
Sentence embeddings map text to vectors: similar meanings land close together.
Der schnelle braune Fuchs springt über den faulen Hund. Straße, Größe, Übermaß.
Le cœur a ses raisons que la raison ne connaît point. Où est l'hôtel ? Ça va très bien.
El niño comió jalapeños en la montaña; ¿dónde está la señora? ¡Qué día más largo!
Съешь же ещё этих мягких французских булок, да выпей чаю. Москва, Санкт-Петербург.
Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο. Αθήνα και Θεσσαλονίκη.
שלום עולם, מה שלומך היום? ירושלים ותל אביב.
مرحبا بالعالم، كيف حالك اليوم؟ القاهرة والرباط وبغداد.
नमस्ते दुनिया, आप कैसे हैं? दिल्ली और मुंबई में बारिश हो रही है।
你好，世界！今天天气很好，我们去公园散步吧。北京和上海都是大城市。
こんにちは世界。東京は今日も晴れです。カタカナとひらがなを混ぜて書きます。
안녕하세요 세계! 서울과 부산은 한국의 큰 도시입니다.
สวัสดีชาวโลก วันนี้อากาศดีมาก กรุงเทพมหานคร
Tiếng Việt có dấu: Hà Nội, Thành phố Hồ Chí Minh, phở bò.
Dvořák, Łódź, Škoda, Žižek, İstanbul, Ğüşçö, Ångström, Øre, Œuvre.
Emoji: 👍 🎉 🙂 👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵 🇫🇷 ✔️ ❤️ 1️⃣ 👋🏽
Numbers: 1,234,567.89 1.234.567,89 3.14159 2e-10 0xDEADBEEF 2024-01-31T12:00:00Z 50% $42 €13
URLs: https://example.org/path/to/page?query=value&x=1#frag mailto:someone@example.com
def tokenize(self, text: str) -> list[int]:
    return [self.vocab[token] for token in text.split() if token in self.vocab]
for (int i = 0; i < n; ++i) { sum += values[i] * weights[i]; }
SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY name DESC;
const fetchData = async (url) => { const response = await fetch(url); return response.json(); };
fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); println!("{:?}", v); }
<div class="container"><p id='intro'>Hello &amp; welcome!</p></div>
{"name": "tfst", "version": "0.1.0", "dependencies": ["tensorflow", "numpy"]}
git commit -m "Fix the tokenizer" && git push origin main 2>&1 | tee log.txt
    if __name__ == "__main__":\n\tmain()\r\n
"""

# Syllables of many scripts, strung into pseudo-words so the larger vocabularies fill up.
SYLLABLES = [
    "ka",
    "to",
    "ri",
    "mu",
    "zen",
    "ba",
    "lo",
    "qu",
    "ish",
    "ent",
    "ung",
    "tion",
    "ing",
    "er",
    "ed",
    "ly",
    "ße",
    "é",
    "ø",
    "ñ",
    "ç",
    "ü",
    "щ",
    "да",
    "ть",
    "ст",
    "κα",
    "λο",
    "πο",
    "ש",
    "ל",
    "ال",
    "مر",
    "का",
    "ने",
    "中",
    "文",
    "の",
    "で",
    "한",
    "국",
    "ไทย",
    "🙂",
    "👍🏽",
]


def training_lines() -> list[str]:
    rng = random.Random(20240131)
    lines = TRAINING_TEXT.splitlines() * 3
    for _ in range(3000):
        words = ("".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(12))
        lines.append(" ".join(words))
    return lines


APOSTROPHES = ("'", "\u2019", "\u02bc", "\u2018", "`", "\u00b4", "\uff07")
CONTRACTIONS = ("don{}t", "it{}s", "we{}ve", "I{}m", "you{}re", "they{}ll", "he{}d", "O{}Neil")

OWN_HARD_STRINGS = [
    # Code.
    "def f(x):\n    return x**2  # square",
    "if (a && b || !c) { return a->b[i++]; }",
    "x = [i for i in range(10) if i % 2 == 0]",
    'std::vector<std::string> names{"a", "b"};',
    "SELECT * FROM t WHERE a <> b AND c >= 3;",
    "let re = /^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$/i;",
    '#!/usr/bin/env bash\nset -euo pipefail\necho "$HOME"',
    '<a href="https://x.org">link</a>&nbsp;&lt;&gt;',
    '{"key": [1, 2.5, null, true], "nested": {"a": "b"}}',
    "__init__ __main__ self.__dict__ _private __dunder__",
    "camelCaseIdentifier PascalCaseName snake_case_name SCREAMING_CASE kebab-case-name",
    "a+=1;b-=2;c*=3;d/=4;e%=5;f**=6;g//=7;h<<=8;i>>=9",
    "matrix[i][j] = sum(a[i][k] * b[k][j] for k in range(n))",
    "try:\n\tpass\nexcept Exception as e:\n\traise",
    "console.log(`template ${literal} string`);",
    'printf("%d %s %.2f\\n", n, s, x);',
    "@decorator\nclass Foo(Bar, metaclass=Meta): ...",
    "0b1010 0o777 0xFF 1_000_000 1e3 .5 5. 6.02e23",
    # URLs and addresses.
    "https://www.example.com/path/to/resource?query=1&other=two#section-3",
    "http://user:pass@host.example.org:8080/a/b;c?d=e",
    "ftp://files.example.net/pub/file-1.2.3.tar.gz",
    "www.example.co.uk/index.html",
    "someone.name+tag@sub.example.com",
    "file:///C:/Users/name/Documents/report%20final.pdf",
    "https://ja.wikipedia.org/wiki/東京都",
    "C:\\Program Files\\App\\bin\\app.exe --flag=value",
    "/usr/local/lib/python3.11/site-packages/",
    "192.168.0.1:443 [2001:db8::1]:8080",
    # Numbers with separators.
    "1,234,567.89",
    "1.234.567,89",
    "1 234 567,89",
    "1'234'567.89",
    "12\u202f345",
    "١٢٣٬٤٥٦٫٧٨",
    "१२,३४,५६७",
    "一千二百三十四",
    "3.14159265358979323846",
    "-42 +42 \u221242 ±0.5",
    "+1 (555) 123-4567",
    "12:30:45.123",
    "1/2 3/4 ½ ¾",
    "$1,000,000.00 €1.000,00 ¥1000 £5 ₹10",
    "99.9% 1e-10 2E+5",
    "2024-01-31 31/01/2024 01.31.2024",
    # Whitespace runs.
    "a  b",
    "a   b    c",
    "a\t\tb",
    "a\n\n\nb",
    "  leading",
    "trailing  ",
    "   ",
    "\t \n \r\n",
    "a \u00a0 b",
    "x\r\ny\rz",
    "line\u2028separator\u2029para",
    "tabs\tand  spaces \t mixed",
    " " * 20 + "x",
    "\n" * 5,
    "word\u200bword\u200cword\u200dword",
    "\u3000ideographic\u3000space",
    # Emoji.
    "👨‍👩‍👧‍👦 family",
    "🏳️‍🌈🏳️‍⚧️",
    "🇯🇵🇺🇸🇫🇷🇩🇪",
    "👋🏻👋🏼👋🏽👋🏾👋🏿",
    "1️⃣2️⃣#️⃣*️⃣",
    "❤️‍🔥 ❤ ♥️",
    "🧑🏽‍💻 coding",
    "😀😃😄😁😆😅🤣😂",
    "a🙂b🙃c",
    "🙂" * 30,
    # Scripts.
    "中文分词测试：我们今天去北京。",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 텍스트입니다.",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "العربية من اليمين إلى اليسار",
    "עברית עם ניקוד: שָׁלוֹם",
    "हिन्दी देवनागरी लिपि",
    "বাংলা লিপি",
    "தமிழ் எழுத்து",
    "ქართული დამწერლობა",
    "Հայերեն գրություն",
    "አማርኛ ፊደል",
    "ᚠᚢᚦᚨᚱᚲ",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙",
    # Accents, both normal forms.
    "café résumé naïve",
    "cafe\u0301 re\u0301sume\u0301 nai\u0308ve",
    "Ǆ ǅ ǆ ﬁ ﬂ ﬃ",
    "Ａｂｃ１２３！？",
    "ḱṷṓn ǘ ǜ",
    "z\u0335\u0321\u0322a\u0334\u0327l\u0336\u0328g\u0337o",
    # Controls and oddities.
    "\x00\x01\x02\x7f",
    "\ufeffbom",
    "\ufffd replacement",
    "\U0010ffff\U000e0001",
    "x" * 300,
    "ab" * 150,
    "aaa" + "b" * 50 + "aaa",
]


def hard_bpe_strings() -> list[str]:
    """The repository's hard strings, the ones above, contractions with seven apostrophes, and
    seeded mixes of them: over 500 strings."""
    strings = list(ALL_HARD_STRINGS) + OWN_HARD_STRINGS
    for apostrophe in APOSTROPHES:
        for contraction in CONTRACTIONS:
            word = contraction.format(apostrophe)
            strings += [word, word.upper(), f"I said {word}, didn{apostrophe}t I?"]
    rng = random.Random(7)
    pool = list(strings)
    separators = ["", " ", "  ", "\t", "\n", ", ", "-", "_", "/"]
    for _ in range(150):
        strings.append(rng.choice(separators).join(rng.sample(pool, rng.randint(2, 4))))
    return list(dict.fromkeys(strings))


HARD_BPE_STRINGS = hard_bpe_strings()


# ---------------------------------------------------------------------------------------------
# The Python reading of `tokenizers`' BPE.


class ReferenceBPE:
    """`tokenizers`' BPE model, read line by line from ``model.rs`` and ``word.rs``."""

    def __init__(self, model: dict):
        self.vocab = model["vocab"]
        self.unk_token = model.get("unk_token")
        self.prefix = model.get("continuing_subword_prefix")
        self.suffix = model.get("end_of_word_suffix")
        self.fuse_unk = bool(model.get("fuse_unk"))
        self.byte_fallback = bool(model.get("byte_fallback"))
        self.ignore_merges = bool(model.get("ignore_merges"))
        merges = [
            tuple(merge) if isinstance(merge, list) else tuple(merge.split(" "))
            for merge in model["merges"]
            if not (isinstance(merge, str) and merge.startswith("#version"))
        ]
        # BpeBuilder::build: the right token loses len(prefix) bytes; later ranks overwrite.
        prefix_length = len((self.prefix or "").encode())
        self.merges = {}
        for rank, (left, right) in enumerate(merges):
            merged = (left.encode() + right.encode()[prefix_length:]).decode()
            self.merges[(self.vocab[left], self.vocab[right])] = (rank, self.vocab[merged])

    def tokenize(self, word: str) -> list[int]:
        """Model::tokenize → tokenize_with_cache → merge_word."""
        if not word:
            return []
        if self.ignore_merges and word in self.vocab:
            return [self.vocab[word]]
        return self.merge_all(self.merge_word(word))

    def merge_word(self, word: str) -> list[int]:
        symbols = []
        unk = None  # the pending unknown token's id
        for index, character in enumerate(word):
            string = character
            if index > 0 and self.prefix is not None:
                string = self.prefix + string
            if index == len(word) - 1 and self.suffix is not None:
                string = string + self.suffix
            if string in self.vocab:
                if unk is not None:
                    symbols.append(unk)
                    unk = None
                symbols.append(self.vocab[string])
                continue
            if self.byte_fallback:
                ids = [self.vocab.get(f"<0x{byte:02X}>") for byte in string.encode()]
                if None not in ids:
                    symbols.extend(ids)  # a pending unknown token stays pending
                    continue
            if self.unk_token is not None:
                unk_id = self.vocab[self.unk_token]
                if unk is not None and not self.fuse_unk:
                    symbols.append(unk)
                unk = unk_id
        if unk is not None:
            symbols.append(unk)
        return symbols

    def merge_all(self, ids: list[int], first_merges: set[int] | None = None) -> list[int]:
        """Word::merge_all without dropout: a min-queue of (rank, position, new id). Adds to
        ``first_merges`` each i whose symbols i and i + 1 are merged as given."""
        count = len(ids)
        symbols = list(ids)
        untouched = [True] * count
        previous = list(range(-1, count - 1))
        following = [*range(1, count), -1] if count else []
        removed = [False] * count
        queue = []
        for position in range(count - 1):
            merge = self.merges.get((symbols[position], symbols[position + 1]))
            if merge is not None:
                queue.append((merge[0], position, merge[1]))
        heapq.heapify(queue)
        while queue:
            _, position, new_id = heapq.heappop(queue)
            if removed[position] or following[position] == -1:
                continue
            right = following[position]
            merge = self.merges.get((symbols[position], symbols[right]))
            if merge is None or merge[1] != new_id:
                continue  # an expired entry
            if first_merges is not None and untouched[position] and untouched[right]:
                first_merges.add(position)
            untouched[position] = False
            symbols[position] = new_id
            removed[right] = True
            following[position] = following[right]
            if following[right] != -1:
                previous[following[right]] = position
            if previous[position] >= 0:
                merge = self.merges.get((symbols[previous[position]], new_id))
                if merge is not None:
                    heapq.heappush(queue, (merge[0], previous[position], merge[1]))
            if following[position] != -1:
                merge = self.merges.get((new_id, symbols[following[position]]))
                if merge is not None:
                    heapq.heappush(queue, (merge[0], position, merge[1]))
        return [symbol for symbol, gone in zip(symbols, removed, strict=True) if not gone]


# ---------------------------------------------------------------------------------------------
# Building tokenizers and running all three readings.


def tokenizer_json(model: dict, pre_tokenizer: dict | None = None) -> dict:
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": None,
        "decoder": None,
        "model": model,
    }


def model_json(tokenizer: tokenizers.Tokenizer) -> dict:
    return json.loads(tokenizer.to_str())["model"]


def with_model_options(tokenizer: tokenizers.Tokenizer, **options) -> tokenizers.Tokenizer:
    """The tokenizer with options set in its JSON, rebuilt by `tokenizers` itself."""
    spec = json.loads(tokenizer.to_str())
    spec["model"].update(options)
    return tokenizers.Tokenizer.from_str(json.dumps(spec))


def train_byte_level(vocab_size: int) -> tokenizers.Tokenizer:
    tokenizer = tokenizers.Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_lines(), trainer)
    return tokenizer


def train_character_level(vocab_size: int, **trainer_options) -> tokenizers.Tokenizer:
    """Whitespace-split BPE over a limited alphabet, so rarer characters are unknown."""
    tokenizer = tokenizers.Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>"],
        limit_alphabet=150,
        show_progress=False,
        **trainer_options,
    )
    tokenizer.train_from_iterator(training_lines(), trainer)
    return tokenizer


def with_byte_tokens(tokenizer: tokenizers.Tokenizer, skipped: set[int]) -> tokenizers.Tokenizer:
    """The tokenizer with ``<0xNN>`` tokens for every byte but ``skipped`` (characters using a
    skipped byte fall back to the unknown token, between others that fall back to bytes)."""
    spec = json.loads(tokenizer.to_str())
    vocab = spec["model"]["vocab"]
    for byte in range(256):
        if byte not in skipped:
            vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    spec["model"]["byte_fallback"] = True
    return tokenizers.Tokenizer.from_str(json.dumps(spec))


def build_trained_tokenizers() -> dict[str, tokenizers.Tokenizer]:
    byte_level = {size: train_byte_level(size) for size in (300, 2000, 8000)}
    plain = train_character_level(1500)
    prefixed = train_character_level(1500, continuing_subword_prefix="##")
    suffixed = train_character_level(1500, end_of_word_suffix="</w>")
    # Lead bytes of 3-byte (CJK, ...) and 4-byte (emoji, ...) characters have no token.
    partial_bytes = set(range(0xE0, 0xF0)) | {0xF0}
    return {
        "byte_level_300": byte_level[300],
        "byte_level_2000": byte_level[2000],
        "byte_level_8000": byte_level[8000],
        "byte_level_ignore_merges": with_model_options(byte_level[2000], ignore_merges=True),
        "unk": plain,
        "unk_fused": with_model_options(plain, fuse_unk=True),
        "prefix_unk_fused": with_model_options(prefixed, fuse_unk=True),
        "suffix_unk": suffixed,
        "prefix_suffix_no_unk": with_model_options(
            train_character_level(1500, continuing_subword_prefix="##", end_of_word_suffix="</w>"),
            unk_token=None,
        ),
        "byte_fallback_all_bytes": with_byte_tokens(
            with_model_options(plain, fuse_unk=True), set()
        ),
        "byte_fallback_some_bytes_unk": with_byte_tokens(plain, partial_bytes),
        "byte_fallback_some_bytes_unk_fused": with_byte_tokens(
            with_model_options(plain, fuse_unk=True), partial_bytes
        ),
        "byte_fallback_prefix_no_unk": with_byte_tokens(
            with_model_options(prefixed, unk_token=None), partial_bytes
        ),
        "ignore_merges_suffix": with_model_options(suffixed, ignore_merges=True),
    }


@pytest.fixture(scope="session")
def trained() -> dict[str, tokenizers.Tokenizer]:
    return build_trained_tokenizers()


def tfst_function(model: BPE):
    """The model in a ``tf.function`` from UTF-8 words, as it runs inside a SavedModel."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(words):
        return model.tokenize(decode_utf8(words))

    return tokenize


def tfst_ids(function, words: list[str]) -> list[list[int]]:
    return function(tf.constant(words, tf.string)).to_list()


def eager_ids(model: BPE, words: list[str]) -> list[list[int]]:
    """The model run eagerly: no tracing, for models used once."""
    return model.tokenize(decode_utf8(tf.constant(words, tf.string))).to_list()


def words_of(tokenizer: tokenizers.Tokenizer, text: str) -> list[str]:
    """The words `tokenizers` hands its model for ``text``."""
    if tokenizer.normalizer is not None:
        text = tokenizer.normalizer.normalize_str(text)
    return [word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(text)]


def model_ids(tokenizer: tokenizers.Tokenizer, word: str) -> list[int]:
    return [token.id for token in tokenizer.model.tokenize(word)]


class Setup(NamedTuple):
    """One model three ways: `tokenizers`, tfst (and its tf.function), the Python reading."""

    tokenizer: tokenizers.Tokenizer
    model: BPE
    function: object
    reference: ReferenceBPE


def set_up(tokenizer: tokenizers.Tokenizer, model: BPE | None = None) -> Setup:
    """The three readings of ``tokenizer``'s model (tfst's read from its JSON unless given)."""
    spec = model_json(tokenizer)
    model = model or BPE.from_json(spec, "tokenizer.json, model")
    return Setup(tokenizer, model, tfst_function(model), ReferenceBPE(spec))


def assert_three_way(setup: Setup, words: list[str]) -> None:
    """tfst, `tokenizers` and the Python reading give the same ids for every word."""
    expected = [model_ids(setup.tokenizer, word) for word in words]
    read = [setup.reference.tokenize(word) for word in words]
    got = tfst_ids(setup.function, words)
    for word, want, python, tfst in zip(words, expected, read, got, strict=True):
        assert python == want, f"the Python reading differs from tokenizers on {word!r}"
        assert tfst == want, f"tfst differs from tokenizers on {word!r}"


# ---------------------------------------------------------------------------------------------
# Trained tokenizers.

TRAINED_NAMES = [
    "byte_level_300",
    "byte_level_2000",
    "byte_level_8000",
    "byte_level_ignore_merges",
    "unk",
    "unk_fused",
    "prefix_unk_fused",
    "suffix_unk",
    "prefix_suffix_no_unk",
    "byte_fallback_all_bytes",
    "byte_fallback_some_bytes_unk",
    "byte_fallback_some_bytes_unk_fused",
    "byte_fallback_prefix_no_unk",
    "ignore_merges_suffix",
]


@pytest.fixture(scope="session")
def setups(trained) -> dict[str, Setup]:
    """Each trained tokenizer three ways, tfst's model built through the MODELS registry."""
    return {
        name: set_up(tokenizer, model_from_json(model_json(tokenizer), f"{name}, model"))
        for name, tokenizer in trained.items()
    }


def test_there_are_over_500_hard_strings():
    assert len(HARD_BPE_STRINGS) >= 500


@pytest.mark.parametrize("name", TRAINED_NAMES)
def test_hard_strings_give_the_ids_of_tokenizers(name, setups):
    setup = setups[name]
    tokenizer = setup.tokenizer
    words_per_text = [words_of(tokenizer, text) for text in HARD_BPE_STRINGS]
    words = [word for text_words in words_per_text for word in text_words]
    assert_three_way(setup, words)
    # The whole pipeline of `tokenizers` on each text: its words' ids, one after the other.
    ids = iter(tfst_ids(setup.function, words))
    for text, text_words in zip(HARD_BPE_STRINGS, words_per_text, strict=True):
        joined = [token for _ in text_words for token in next(ids)]
        assert joined == tokenizer.encode(text, add_special_tokens=False).ids, repr(text)


def test_byte_fallback_tokenizers_emit_unknown_and_byte_tokens(setups):
    """The byte-fallback models reach the cases they are here for: a character falling back to
    bytes between two that are unknown (their bytes are missing)."""
    tokenizer = setups["byte_fallback_some_bytes_unk"].tokenizer
    vocab = tokenizer.get_vocab()
    two_byte = next(c for c in map(chr, range(0x100, 0x800)) if c not in vocab)
    three_byte = next(c for c in map(chr, range(0x4E00, 0x9FFF)) if c not in vocab)
    word = f"x{three_byte}{two_byte}{three_byte}y"
    first_byte = vocab[f"<0x{two_byte.encode()[0]:02X}>"]
    ids = model_ids(tokenizer, word)
    # `tokenizers` emits the first unknown token after the bytes of the character after it.
    assert ids[1:4] == [first_byte, ids[2], vocab["<unk>"]]
    assert tfst_ids(setups["byte_fallback_some_bytes_unk"].function, [word]) == [ids]


TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=("Cs",)),
        st.sampled_from(list(" \t\n'’0123456789.,-_/aeiouéßщ中の🙂👍🏽\u0301\u200d")),
    ),
    max_size=40,
)


@pytest.mark.parametrize(
    "name",
    ["byte_level_2000", "prefix_unk_fused", "byte_fallback_some_bytes_unk", "ignore_merges_suffix"],
)
@settings(max_examples=200, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=8))
def test_hypothesis_text_gives_the_ids_of_tokenizers(name, texts, setups):
    setup = setups[name]
    assert_three_way(setup, [word for text in texts for word in words_of(setup.tokenizer, text)])


def test_long_words_give_the_ids_of_tokenizers(setups):
    rng = random.Random(5)
    setup = setups["byte_level_8000"]
    letters = "".join(sorted({c for c in TRAINING_TEXT if c.isalpha()}))
    texts = [
        "a" * 5000,
        "ab" * 2500,
        "".join(rng.choices("etaoinshrdlu", k=5000)),
        "".join(rng.choices(letters, k=5000)),
        "".join(rng.choices(SYLLABLES[:16], k=1500)),
        "9" * 5000,
        "中" * 3000,
    ]
    words = [word for text in texts for word in words_of(setup.tokenizer, text)]
    assert max(len(word) for word in words) >= 5000
    assert_three_way(setup, words)


def test_min_tokens_per_word(setups):
    expected = {
        "byte_level_300": 0,  # no unk_token, no byte fallback: unknown characters vanish
        "prefix_suffix_no_unk": 0,
        "byte_fallback_prefix_no_unk": 0,  # some bytes have no token
        "unk": 1,
        "byte_fallback_all_bytes": 1,
    }
    for name, minimum in expected.items():
        assert setups[name].model.min_tokens_per_word == minimum, name
    # A word whose characters all vanish gives no token, in `tokenizers` too.
    assert model_ids(setups["prefix_suffix_no_unk"].tokenizer, "☃☃") == []
    assert tfst_ids(setups["prefix_suffix_no_unk"].function, ["☃☃"]) == [[]]


# ---------------------------------------------------------------------------------------------
# Legacy files and the two forms of merges.


@pytest.mark.parametrize("name", TRAINED_NAMES)
def test_legacy_files_load_to_the_same_ids(name, setups, tmp_path):
    tokenizer = setups[name].tokenizer
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    vocab_path, merges_path = tokenizer.model.save(str(tmp_path))
    assert Path(merges_path).read_text(encoding="utf-8").startswith("#version")
    spec = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    options = {
        key: spec[key]
        for key in (
            "unk_token",
            "continuing_subword_prefix",
            "end_of_word_suffix",
            "fuse_unk",
            "byte_fallback",
            "ignore_merges",
        )
    }
    from_json = BPE.from_json(spec, "tokenizer.json, model")
    from_files = load_bpe_files(vocab_path, merges_path, **options)
    from_tokenizers = models.BPE.from_file(
        vocab_path,
        merges_path,
        **{key: value for key, value in options.items() if value is not None},
    )
    words = [word for text in HARD_BPE_STRINGS[:300] for word in words_of(tokenizer, text)]
    expected = tfst_ids(setups[name].function, words)
    assert eager_ids(from_json, words) == expected
    assert eager_ids(from_files, words) == expected
    assert [[t.id for t in from_tokenizers.tokenize(word)] for word in words] == expected
    assert from_files.vocabulary() == from_json.vocabulary()


def test_merges_as_strings_load_to_the_same_ids(setups):
    setup = setups["prefix_unk_fused"]
    spec = model_json(setup.tokenizer)
    legacy = dict(spec, merges=["#version: 0.2", *(f"{a} {b}" for a, b in spec["merges"])])
    words = [word for text in HARD_BPE_STRINGS[:200] for word in words_of(setup.tokenizer, text)]
    expected = tfst_ids(setup.function, words)
    assert eager_ids(BPE.from_json(legacy, "legacy"), words) == expected
    reloaded = tokenizers.Tokenizer.from_str(json.dumps(tokenizer_json(legacy)))
    assert [model_ids(reloaded, word) for word in words] == expected


def test_merges_file_lines_are_read_as_tokenizers_reads_them(tmp_path):
    vocab = {"a": 0, "b": 1, "ab": 2, "c": 3, "abc": 4, "bc": 5, "\r": 6, "c\r": 7}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    # CRLF endings, a #version line in the middle, a final line without a newline.
    (tmp_path / "merges.txt").write_bytes(b"#version: 0.2\r\na b\r\n#version again\nab c\r\nb c")
    merges, places = read_merges_file(tmp_path / "merges.txt")
    assert merges == [("a", "b"), ("ab", "c"), ("b", "c")]
    assert places[1].endswith("merges.txt, line 4")
    model = load_bpe_files(tmp_path / "vocab.json", tmp_path / "merges.txt")
    reference = models.BPE.from_file(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    words = ["abc", "bcab", "cabcab", "aabbcc"]
    assert eager_ids(model, words) == [[t.id for t in reference.tokenize(word)] for word in words]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"#version: 0.2\na b\nab\n", "merges.txt, line 3: a merge must be two tokens"),
        (b"a b\n\na b\n", "merges.txt, line 2: a merge must be two tokens"),
        (b"a  b\n", "merges.txt, line 1: a merge must be two tokens"),
        (b"a b\nb \xff\n", "merges.txt, line 2: not UTF-8"),
        (b"a b\nb x\n", "merges.txt, line 2 ('b' 'x'): token 'x' is not in the vocab"),
        (b"a b\nb a\n", "merges.txt, line 2 ('b' 'a'): the merged token 'ba' is not in the vocab"),
    ],
)
def test_bad_merges_files_are_refused_naming_the_line(tmp_path, content, message):
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "b": 1, "ab": 2}), encoding="utf-8")
    (tmp_path / "merges.txt").write_bytes(content)
    with pytest.raises(TokenizerSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_bpe_files(tmp_path / "vocab.json", tmp_path / "merges.txt")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": 0,\n "b": }', r"vocab.json, line 2: not valid JSON"),
        ('["a", "b"]', "expected a JSON object"),
        ('{"a": 0, "b": "1"}', "the id of 'b' must be an integer"),
        ('{"a": 0, "b": 1.5}', "the id of 'b' must be an integer"),
    ],
)
def test_bad_vocab_files_are_refused_naming_the_file(tmp_path, content, message):
    (tmp_path / "vocab.json").write_text(content, encoding="utf-8")
    with pytest.raises(TokenizerSpecError, match=message):
        read_vocab_file(tmp_path / "vocab.json")


# ---------------------------------------------------------------------------------------------
# Random merge tables: merge order in all its corner cases.

PREFIX, SUFFIX = "##", "</w>"


def random_tables(rng: random.Random, options: dict, table_count: int):
    """Vocabulary, merges and words of many small random tables, each over its own characters.

    A token is (first, core, last): its string is the prefix unless first, the core, the suffix
    if last. A merge joins a token that is not last with one that is not first, as `tokenizers`
    spells it. Ranks are shuffled in most tables, merges repeat pairs, several merges reach the
    same token, and some characters have no token (unknown).
    """
    prefix = options.get("continuing_subword_prefix") or ""
    suffix = options.get("end_of_word_suffix") or ""

    def spell(first, core, last):
        return ("" if first else prefix) + core + (suffix if last else "")

    vocab: dict[str, int] = {}
    merges: list[tuple[str, str]] = []
    words: list[str] = []
    # Code points of 1, 2, 3 and 4 UTF-8 bytes, so byte fallback sees all lengths.
    blocks = {0x21: 0x7F, 0x100: 0x800, 0x4E00: 0x9FFF, 0x1F300: 0x1F700}
    next_code_point = {block: block for block in blocks}
    for table in range(table_count):
        size = rng.randint(1, 4)
        block = list(blocks)[table % len(blocks)]
        if next_code_point[block] + size + 1 > blocks[block]:
            block = 0x4E00
        alphabet = [chr(next_code_point[block] + i) for i in range(size)]
        unknown = chr(next_code_point[block] + size)
        next_code_point[block] += size + 1
        forms = [(f, c, la) for c in alphabet for f in (True, False) for la in (True, False)]
        for form in forms:
            vocab.setdefault(spell(*form), len(vocab))
        pool = list(forms)
        table_merges = []
        for _ in range(rng.randint(0, 25)):
            if table_merges and rng.random() < 0.1:
                table_merges.append(rng.choice(table_merges))  # a repeated pair
                continue
            left = rng.choice([token for token in pool if not token[2]])
            right = rng.choice([token for token in pool if not token[0]])
            merged = (left[0], left[1] + right[1], right[2])
            table_merges.append((spell(*left), spell(*right)))
            if merged not in pool:
                pool.append(merged)
                vocab.setdefault(spell(*merged), len(vocab))
        if rng.random() < 0.8:
            rng.shuffle(table_merges)
        merges += table_merges
        cores = [core for _, core, _ in pool]
        for _ in range(12):
            kind = rng.random()
            if kind < 0.4:
                word = "".join(rng.choices(cores, k=rng.randint(1, 6)))
            elif kind < 0.6:
                word = rng.choice(alphabet) * rng.randint(1, 12)
            elif kind < 0.8:
                word = "".join(rng.choices([*alphabet, unknown], k=rng.randint(1, 20)))
            else:
                # Up to 120: words over CERTAIN_MERGES_FROM symbols take the certain merges.
                word = "".join(rng.choices(alphabet, k=rng.randint(1, 120)))
            words.append(word)
    # Tables interleave in rank order; a word only ever meets its own table's merges.
    return vocab, merges, words


def with_special_tokens(vocab, merges, options, rng):
    """Adds the unknown and byte tokens the options use, and merges of those tokens."""
    if options.get("unk_token"):
        vocab.setdefault(options["unk_token"], len(vocab))
    if options.get("byte_fallback"):
        for byte in rng.sample(range(256), 200):
            vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    if not options.get("continuing_subword_prefix"):
        # Merged symbols may be unknown or byte tokens too: merges only see ids.
        extra = [(a, b) for a in ("<unk>", "<0x41>") for b in ("<unk>", "<0x42>")]
        for left, right in extra:
            if left in vocab and right in vocab:
                vocab.setdefault(left + right, len(vocab))
                merges.insert(rng.randrange(len(merges) + 1), (left, right))


RANDOM_TABLE_OPTIONS = {
    "plain": {},
    "prefix_suffix_unk": {
        "continuing_subword_prefix": PREFIX,
        "end_of_word_suffix": SUFFIX,
        "unk_token": "<unk>",
    },
    "prefix_unk_fused": {
        "continuing_subword_prefix": PREFIX,
        "unk_token": "<unk>",
        "fuse_unk": True,
    },
    "suffix_byte_fallback_unk_fused": {
        "end_of_word_suffix": SUFFIX,
        "byte_fallback": True,
        "unk_token": "<unk>",
        "fuse_unk": True,
    },
    "byte_fallback_unk": {"byte_fallback": True, "unk_token": "<unk>"},
    "prefix_byte_fallback_no_unk": {"continuing_subword_prefix": PREFIX, "byte_fallback": True},
    "ignore_merges_unk": {"ignore_merges": True, "unk_token": "<unk>", "fuse_unk": True},
}


@pytest.mark.parametrize("variant", sorted(RANDOM_TABLE_OPTIONS))
def test_random_merge_tables_give_the_ids_of_tokenizers(variant):
    options = RANDOM_TABLE_OPTIONS[variant]
    rng = random.Random(variant)
    vocab, merges, words = random_tables(rng, options, table_count=240)
    with_special_tokens(vocab, merges, options, rng)
    spec = {"type": "BPE", "dropout": None, "vocab": vocab, "merges": merges, **options}
    tokenizer = tokenizers.Tokenizer.from_str(json.dumps(tokenizer_json(spec)))
    # Words that are tokens, for ignore_merges.
    words += rng.sample(sorted(vocab), 200)
    setup = set_up(tokenizer)
    assert_three_way(setup, words)
    # A batch of words that merge into their own token (and an empty word): tfst finds every
    # word whole and skips the merges altogether.
    suffix = options.get("end_of_word_suffix", "")
    own = [word for word in words if model_ids(tokenizer, word) == [vocab.get(word + suffix)]]
    assert len(own) > 50
    assert set(own) <= setup.model.whole_words().keys()
    assert_three_way(setup, [*own, ""])


@pytest.fixture(scope="session")
def shuffled_table():
    rng = random.Random(11)
    vocab, merges, words = random_tables(rng, {}, table_count=60)
    spec = {"type": "BPE", "vocab": vocab, "merges": merges}
    tokenizer = tokenizers.Tokenizer.from_str(json.dumps(tokenizer_json(spec)))
    return set_up(tokenizer), sorted({character for word in words for character in word})


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_hypothesis_words_on_shuffled_tables_give_the_ids_of_tokenizers(shuffled_table, data):
    setup, characters = shuffled_table
    # Words over one table's few characters (neighbouring code points), long enough to merge.
    start = data.draw(st.integers(0, len(characters) - 1))
    letters = st.sampled_from(characters[start : start + 4])
    words = data.draw(st.lists(st.text(letters, min_size=1, max_size=90), min_size=1, max_size=8))
    assert_three_way(setup, words)


def test_certain_merges_belong_to_the_sequential_order():
    """Every pair the first round marks as a certain merge is merged as it stands in the
    sequential order (``ReferenceBPE``'s reading of `tokenizers`), on tables in rank order and
    shuffled ones; on long words the rule finds merges that the round's proved prefix leaves for
    later rounds."""
    rng = random.Random(5)
    vocab, merges, words = random_tables(rng, {}, table_count=240)
    words += ["".join(rng.choices(word, k=80)) for word in words if len(set(word)) > 2][:200]
    model = BPE(vocab, merges)
    reference = ReferenceBPE({"vocab": vocab, "merges": [list(merge) for merge in merges]})
    symbols = model._initial_symbols(decode_utf8(tf.constant(words)))
    word_of_symbol = symbols.value_rowids()
    rounds = model.merge_rounds
    word_start, has_next, rank, merged_id = rounds._pairs(symbols.values, word_of_symbol)
    certain = rounds._certain_merges(symbols.values, rank, merged_id, word_start, has_next)
    prefix = rounds._merges_of_round(
        symbols.values, rank, merged_id, word_start, word_of_symbol, symbols.nrows()
    )
    starts = symbols.row_starts().numpy()
    found = beyond_prefix = 0
    for index, word_ids in enumerate(symbols.to_list()):
        first_merges = set()
        reference.merge_all(word_ids, first_merges)
        begin = starts[index]
        marked = certain[begin : begin + len(word_ids)].numpy().nonzero()[0]
        assert set(marked) <= first_merges, (words[index], sorted(marked), sorted(first_merges))
        found += len(marked)
        beyond_prefix += int((~prefix[begin : begin + len(word_ids)].numpy())[marked].sum())
    assert found > 1000
    assert beyond_prefix > 100


@pytest.mark.parametrize(
    ("merges", "word", "expected_tokens"),
    [
        # "a a a a": the leftmost pair first, then the next one not overlapping it.
        ([("a", "a")], "aaaaa", ["aa", "aa", "a"]),
        # A merge creates a pair ranked below the remaining copies of its own pair.
        ([("aa", "a"), ("a", "a")], "aaaa", ["aaa", "a"]),
        # A lower-ranked pair created to the left is merged before the next occurrence.
        ([("b", "ab"), ("a", "b")], "babab", ["bab", "ab"]),
        # Equal ranks do not exist: a repeated pair takes its last rank.
        ([("a", "b"), ("b", "c"), ("a", "b")], "abc", ["a", "bc"]),
        # Two merges reach one token.
        ([("b", "c"), ("a", "bc"), ("a", "b"), ("ab", "c")], "abcab", ["abc", "ab"]),
    ],
)
def test_merge_order_corner_cases(merges, word, expected_tokens):
    tokens = {token for merge in merges for part in merge for token in (part, "".join(merge))}
    vocab = {token: index for index, token in enumerate(sorted(tokens | set(word)))}
    spec = {"type": "BPE", "vocab": vocab, "merges": [list(merge) for merge in merges]}
    tokenizer = tokenizers.Tokenizer.from_str(json.dumps(tokenizer_json(spec)))
    expected = [vocab[token] for token in expected_tokens]
    assert model_ids(tokenizer, word) == expected
    assert eager_ids(BPE.from_json(spec, "corner case"), [word]) == [expected]


# ---------------------------------------------------------------------------------------------
# Reading tokenizer.json: what is supported and what is refused.

SMALL = {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<unk>": 3}, "merges": [["a", "b"]]}


def test_bpe_is_registered():
    assert MODELS["BPE"] is BPE


def test_null_options_and_zero_dropout_are_the_defaults():
    spec = dict(
        SMALL,
        dropout=0.0,
        unk_token=None,
        continuing_subword_prefix=None,
        end_of_word_suffix=None,
        fuse_unk=None,
        byte_fallback=None,
        ignore_merges=None,
        cache_capacity=10000,
    )
    model = BPE.from_json(spec, "t")
    assert eager_ids(model, ["abab", "ba", "c"]) == [[2, 2], [1, 0], []]
    assert model.vocabulary() == ["a", "b", "ab", "<unk>"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dropout": 0.1}, r"t: dropout 0.1 is not supported; only null or 0"),
        ({"cache": 1}, r"t: BPE option 'cache' is not supported"),
        ({"fuse_unk": "yes"}, r"t: fuse_unk must be a boolean or null"),
        ({"vocab": {"a": 0, "b": "1"}}, r"t: vocab\['b'\] must be an integer id"),
        ({"vocab": {"a": 0, "b": -1}}, r"t: vocab\['b'\] is -1"),
        ({"vocab": {"a": 0, "b": 0, "ab": 2}}, r"t: tokens 'a' and 'b' share id 0"),
        ({"vocab": {"a": 0, "b": 1, "ab": 2, "\ud800": 3}}, r"is not valid Unicode"),
        ({"merges": [["a", "c"]]}, r"t: merges\[0\] \('a' 'c'\): token 'c' is not in the vocab"),
        ({"merges": [["b", "a"]]}, r"merges\[0\] \('b' 'a'\): the merged token 'ba' is not"),
        ({"merges": ["a b c"]}, r"t: merges\[0\]: a merge must be two tokens"),
        ({"merges": ["a b", ["a", "b"]]}, r"t: merges must be all strings"),
        ({"merges": [["a", "b", "c"]]}, r"t: merges\[0\] must be two strings"),
        (
            {"continuing_subword_prefix": "##"},
            r"the right token must be longer than the continuing_subword_prefix",
        ),
    ],
)
def test_unsupported_or_broken_options_are_refused(change, message):
    with pytest.raises(TokenizerSpecError, match=message):
        BPE.from_json({**SMALL, **change}, "t")


def test_empty_batches_and_empty_words_give_no_ids():
    for options in ({}, {"byte_fallback": True, "unk_token": "<unk>"}, {"ignore_merges": True}):
        function = tfst_function(BPE.from_json({**SMALL, **options}, "t"))
        assert tfst_ids(function, []) == []
        assert tfst_ids(function, ["", "ab", ""]) == [[], [2], []]


def test_missing_vocab_or_merges_is_refused():
    for key in ("vocab", "merges"):
        spec = {k: v for k, v in SMALL.items() if k != key}
        with pytest.raises(TokenizerSpecError, match=f"missing '{key}'"):
            BPE.from_json(spec, "t")


def test_an_unk_token_missing_from_the_vocab_fails_only_words_that_need_it():
    spec = {**SMALL, "unk_token": "<missing>"}
    tokenizer = tokenizers.Tokenizer.from_str(json.dumps(tokenizer_json(spec)))
    function = tfst_function(BPE.from_json(spec, "t"))
    assert tfst_ids(function, ["abab"]) == [model_ids(tokenizer, "abab")]
    with pytest.raises(Exception, match="not found in the vocabulary"):
        model_ids(tokenizer, "abc")
    with pytest.raises(tf.errors.InvalidArgumentError, match="the unk_token <missing> is not in"):
        tfst_ids(function, ["abc"])


def test_the_model_saves_in_a_saved_model(setups, tmp_path):
    setup = setups["byte_fallback_some_bytes_unk_fused"]
    module = tf.Module()
    module.model = setup.model
    module.tokenize = setup.function
    tf.saved_model.save(module, str(tmp_path / "saved"))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    words = [word for text in HARD_BPE_STRINGS for word in words_of(setup.tokenizer, text)]
    assert loaded.tokenize(tf.constant(words)).to_list() == tfst_ids(setup.function, words)
