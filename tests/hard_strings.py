"""Hard strings for tokenizer parity: many scripts, normalization traps, special tokens, extremes.

`HARD_STRINGS` groups them by what they exercise; `ALL_HARD_STRINGS` is the flat list. Each entry
is a plain `str` (so no lone surrogates: Python strings that hold them cannot be UTF-8 encoded).
"""

from __future__ import annotations

HARD_STRINGS: dict[str, list[str]] = {
    "ascii": [
        "Hello world!",
        "The quick brown fox jumps over the lazy dog.",
        "ALL CAPS SHOUTING",
        "don't won't can't shouldn't've",
        "e-mail: someone@example.com, web: https://example.org/a?b=c&d=e#frag",
        "$1,234.56 + 7% = ~$1,321 (approx.) <tag attr='x'> {json: [1, 2]} | a^b `code`",
        "under_score snake_case CamelCase kebab-case dot.separated",
        "!!!???...---***",
        "1234567890 3.14159 1e-10 0x1F 2024-01-31T12:00:00Z",
        '\\backslash\\ /slash/ "quoted"',
        "a",
        "I",
        "##",
        "##ing",
        "x##y",
        "unaffable unbelievably antidisestablishmentarianism",
    ],
    "latin_accents": [
        "café naïve résumé façade jalapeño",
        "cafe\u0301 nai\u0308ve re\u0301sume\u0301",  # NFD spelling
        "CAFÉ NAÏVE RÉSUMÉ",
        "Ångström Øre Œuvre Æsir ðæt þorn",
        "Dvořák Łódź Škoda Žižek Ğüşçö İstanbul ıi",
        "Straße STRASSE ß ẞ",
        "Crème brûlée à la mode",
        "ǅungla ǈuta ǋuta Ǆ",  # titlecase digraphs
        "ﬁnancial ﬂow ﬀ ﬃ ﬄ ﬅ ﬆ",  # ligatures
        "Ａｂｃ　ＤＥＦ１２３",  # fullwidth
        "ª º ¹ ² ³ ½ ¼ ™ ℠ ℃ ℉ Ω K Å",
        "a\u0301\u0316 a\u0316\u0301 a\u0301\u0301",  # combining marks in both orders
        "o\u0308\u0304 o\u0304\u0308 ȫ",
        "e\u0328\u0301 ę\u0301",
        "\u0301leading combining mark",
        "x\u20dd x\u20e3 1\ufe0f\u20e3",  # enclosing marks (Me)
    ],
    "greek": [
        "Η γρήγορη καφέ αλεπού",
        "ΟΔΟΣ οδος ΣΟΦΟΣ σοφός",  # final sigma
        "ΌΛΑ ΤΑ ΚΕΦΑΛΑΙΑ ΜΕ ΤΌΝΟΥΣ",
        "ᾼ ᾳ ᾨ ᾠ ῼ ῳ ΐ ΰ ᾯ",  # iota subscript / adscript
        "Ἀθῆναι Ὀδυσσεύς",
        "ς σ Σ ϲ Ϲ",
    ],
    "cyrillic": [
        "Съешь же ещё этих мягких французских булок",
        "ЁЖИК ёжик Й й",
        "Ї ї Ґ ґ Є є І і",
        "Ђ ђ Љ љ Њ њ Ћ ћ Џ џ",
        "и\u0306 е\u0308",
    ],
    "armenian_georgian": [
        "Բարեւ աշխարհ",
        "ﬓ ﬔ ﬕ ﬖ ﬗ",
        "გამარჯობა სამყარო",
        "Ა Ბ Გ ᲐᲑᲒ",
    ],
    "rtl": [
        "مرحبا بالعالم، كيف حالك اليوم؟",
        "الْعَرَبِيَّةُ مُشَكَّلَة",  # Arabic harakat (Mn)
        "ﻻ ﻷ ﷲ ﷺ",  # presentation forms
        "١٢٣ ٤٥٦ ۷۸۹",
        "שָׁלוֹם עוֹלָם",
        "שלום עולם, מה שלומך?",
        "\u200fRTL mark\u200e LTR mark \u202eoverride\u202c",
        "\u08d4\u08d5 \u08e0 arabic marks newer than the Rust tables",
        "ܫܠܡܐ ܥܠܡܐ",  # Syriac
    ],
    "indic": [
        "नमस्ते दुनिया, आप कैसे हैं?",
        "हिन्दी क्षत्रिय ज्ञान",
        "क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़",  # nukta forms (composition exclusions)
        "বাংলা ভাষা",
        "தமிழ் மொழி",
        "తెలుగు",
        "ಕನ್ನಡ",
        "മലയാളം",
        "ગુજરાતી",
        "ਪੰਜਾਬੀ",
        "සිංහල",
        "ଓଡ଼ିଆ",
    ],
    "southeast_asian": [
        "สวัสดีชาวโลก วันนี้อากาศดีมาก",
        "ภาษาไทย ๑๒๓",
        "ພາສາລາວ",
        "ភាសាខ្មែរ",
        "မြန်မာဘာသာ",
        "ᬩᬲᬩᬮᬶ \u1b44",
    ],
    "cjk": [
        "我们今天去公园散步，然后吃了北京烤鸭。",
        "繁體中文與简体中文",
        "東京は日本の首都です。",
        "ひらがな カタカナ ｶﾀｶﾅ ガ ｶﾞ",
        "漢字かな交じり文",
        "한국어 문장도 잘 처리되어야 합니다.",
        "\u1112\u1161\u11ab\u1100\u1173\u11af",  # Korean as conjoining jamo
        "ㄱㄴㄷ ㅏㅑㅓ",  # compatibility jamo
        "豈 更 車 賈 滑",  # compatibility ideographs U+F900..
        "\U00020000\U0002a6d6 \U0002a700\U0002b734 \U0002b740\U0002b81d",  # extensions B-D
        "\U0002b820\U0002cea1 \U0002ceb0\U0002ebe0 \U00030000\U0003134a",  # extensions E-G
        "\U0002f800\U0002fa1d",  # compatibility supplement
        "〇〡〢 ⺀⺁ ⼀⼁ ㆐㆑ ㇀",  # CJK symbols, radicals, kanbun, strokes
        "中文abc混合123",
        "「引用」『二重』【括弧】〔亀甲〕",
        "\u302e\u302f \u302a\u302b",  # Hangul tone marks / ideographic tone marks
        "𠀀𪜀𫝀",
    ],
    "emoji": [
        "Emoji time 😀👍🏽 and a family 👨\u200d👩\u200d👧\u200d👦",
        "🏳️\u200d🌈 🏴\u200d☠️ 👩🏿\u200d🔬",
        "🇺🇸🇫🇷🇯🇵 flags",
        "🥰🫠🪿🫨 newer emoji",
        "❤️ ❤ ☺️ ✌🏻",
        "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # tag sequence
        "text😀text😀😀",
        "a\U0001f3fbb",  # lone skin-tone modifier
    ],
    "invisible": [
        "Zero\u200bwidth\u200cnon\u200djoiner",
        "\ufeffBOM at start",
        "BOM\ufeffin middle",
        "soft\u00adhyphen",
        "word\u2060joiner \u2061\u2062\u2063\u2064",
        "variation\ufe0fselector\ufe0e",
        "\u180emongolian vowel separator",
        "\u034fgrapheme joiner",
        "\u115f\u1160 hangul fillers \u3164",
        "\U000e0001\U000e0020 tags",
    ],
    "controls": [
        "tab\tnew\nline\rcarriage\r\nend",
        "vertical\x0btab\x0cform feed",
        "nul\x00byte",
        "bell\x07escape\x1bdelete\x7f",
        "next\x85line \x80\x9f c1",
        "replacement\ufffdchar",
        "\x01literal escape\x01\x02\x03\x04\x05",
        "\x01[MASK]\x01 \x02[CLS]\x03",
        "line\u2028separator paragraph\u2029separator",
    ],
    "spaces": [
        "non\u00a0breaking",
        "en\u2002em\u2003thin\u2009hair\u200a",
        "\u2000\u2001\u2004\u2005\u2006\u2007\u2008",
        "ideographic\u3000space",
        "ogham\u1680space",
        "narrow\u202fnbsp medium\u205fmath",
        "mongolian\u180eseparator",
        "   leading and trailing   ",
        "multiple     spaces\t\t\ttabs\n\n\nnewlines",
    ],
    "private_use_unassigned": [
        "private\ue000use\uf8ff",
        "\U000f0000\U0010fffd plane 15 and 16",
        "unassigned\u0378\u0379 \u0530 \u05ff",
        "\U0001fffe\U0001ffff noncharacters \ufdd0\ufdef \ufffe\uffff",
        "\U000e0080 unassigned tag area",
        "\u0e00 \u0e5c unassigned thai",
    ],
    "punctuation": [
        "¿Dónde está? ¡Allí!",
        "«guillemets» „German“ ‚single‘ “curly” ‘quotes’",
        "em—dash en–dash minus−sign figure‒dash",
        "ellipsis… bullet• middle·dot prime′ double″",
        "§ ¶ † ‡ ※ ‰ ‱ ⁂",
        "⸘interrobang‽ ⁇ ⁈ ⁉",
        "⸀⸁⸂ ⹂ ⹃ ⹄ ⹏ ⹒",  # supplemental punctuation, some newer than the Rust tables
        "、。〃〈〉《》",
        "﹏﹐﹑ ＿ ＠ ＃",
        "١٫٥ ٬ ؟ ، ؛",
        "word.word,word;word:word!word?",
        "𝄞 𝅘𝅥𝅮 music",
        "𝕳𝖊𝖑𝖑𝖔 𝓦𝓸𝓻𝓵𝓭 ℌ𝔢𝔩𝔩𝔬",  # mathematical alphanumerics
        "⁰¹²³⁴ ₀₁₂₃₄ ⅰⅱⅲ Ⅰ Ⅱ Ⅲ ① ② ⓐ Ⓐ",
        "∀x∈ℝ: x²≥0 ∑∫∂√∞ ≤≥≠",
        "$ + < = > ^ ` | ~ ¢ £ ¥ € ₹",
    ],
    "special_tokens": [
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "[PAD]",
        "[UNK]",
        "hello[MASK]world",
        "[cls] [mask] [Mask] lowercase specials do not match",
        "[CLS][SEP][MASK][PAD][UNK]",
        "[[MASK]] [[CLS] [SEP]]",
        "[MASK",
        "MASK]",
        "[ MASK ]",
        "x[UNK]y [PAD]z",
        "ﾠ[MASK]ﾠ\u00a0[SEP]\u3000",
        "café[MASK]NAÏVE",
        "中[MASK]文",
        "[MASK]\u0301 accent after a special token",
    ],
    "unknown_words": [
        "☃ ☄ ★",
        "xyzzy☃plugh",
        "𓀀𓁐 hieroglyphs",
        "ꙮ",
        "ᚠᚢᚦᚨᚱᚲ runes",
        "ⴰⵣⵓⵍ tifinagh",
        "ᏣᎳᎩ cherokee",
    ],
    "empty_and_whitespace": [
        "",
        " ",
        "\t",
        "\n\r\n",
        "\u00a0\u3000\u2003",
        "\x00\x0b\x0c\ufffd",
        "\u200b\u200c\u200d\ufeff",
    ],
}

_LONG_WORD_SIZES = (99, 100, 101, 150)

HARD_STRINGS["long"] = [
    *("a" * size for size in _LONG_WORD_SIZES),
    *("é" * size for size in _LONG_WORD_SIZES),  # 100 characters but 200 bytes
    *("中" * size for size in (100, 101)),  # each ideograph is its own word
    "x" * 99 + "\u0301",  # 99 letters plus a mark that accent stripping removes
    "x" * 100 + "\u0301",
    "İ" * 60,  # lowercasing doubles the length: 120 characters
    "ﬁ" * 101,
    "a" * 1000 + " tail",
    "word " * 2000,  # 10 000 characters, far beyond max_length
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 180,
    "中文" * 5000,
    "[MASK]" * 700,
]

ALL_HARD_STRINGS: list[str] = [text for group in HARD_STRINGS.values() for text in group]
