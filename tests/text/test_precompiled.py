"""Precompiled normalizer vs `tokenizers.normalizers.Precompiled` on the same charsmaps."""

from __future__ import annotations

import base64
import functools
import struct

import numpy as np
import pytest
import tensorflow as tf
from generate_grapheme_tables import build_grapheme_properties
from hypothesis import given, settings
from hypothesis import strategies as st
from sentencepiece_models import (
    charsmap_from_rules,
    hard_multilingual_strings,
    ragged_code_points,
    rule_charsmap,
)
from tokenizers import normalizers

from tfst.text.code_points import ADDED_TOKEN_BASE, decode_utf8
from tfst.text.grapheme_clusters import (
    CATEGORY_MASK,
    INCB_EXTEND,
    INCB_LINKER,
    JOINS_NEXT,
    JOINS_PREVIOUS,
    OTHER,
    GraphemeClusters,
    load_grapheme_properties,
)
from tfst.text.normalizers import Precompiled, normalizer_from_json
from tfst.text.precompiled_charsmap import read_precompiled_charsmap
from tfst.text.spec import TokenizerSpecError

RULES = ["nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf"]

# Code points for generated text: one or more of every grapheme category and Indic conjunct
# class, the charsmap's multi-code-point keys (decomposed accents, kana voicing marks), controls.
INTERESTING = (
    "aAeEx \t\r\n\x00\x01\x1e\x7f"
    "\u0301\u0308\u0316\u0327\u200b\u200c\u200d\u2060\ufe0f\ufeff"
    "\u00e9\u00c5\ufb01\uff21\uff76\uff9e\u2163\u3392\u00bd"
    "\u304b\u3099\u309a\u30ab\u0915\u094d\u0958\u093f\u0903\u0600\u0e33\u0e40"
    "\u1100\u1161\u11a8\uac00\uac01\u00a9\u00ae\u2764"
    "\U0001f468\U0001f469\U0001f3fd\U0001f1eb\U0001f1f7\U000e0067\U0001d15e"
)


@functools.cache
def compiled(charsmap: bytes):
    """Precompiled on one charsmap, in a tf.function over raw strings (built once)."""
    normalizer = Precompiled(charsmap)
    reference = normalizers.Precompiled(charsmap)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def normalize(strings):
        return tf.strings.unicode_encode(normalizer.normalize(decode_utf8(strings)), "UTF-8")

    def run(texts: list[str]) -> tuple[list[str], list[str]]:
        output = normalize(tf.constant(texts, tf.string)).numpy().tolist() if texts else []
        return [text.decode() for text in output], [reference.normalize_str(t) for t in texts]

    return run


PROBE_CONTEXT = "x\u0301\u0915\u094d\u00a9\u200d\u1100\u1161\u11a8\uac00\uac01\r"


@functools.cache
def identity_charsmap(code_points: tuple[int, ...]) -> bytes:
    """A rule mapping each of these code points to itself: then `tokenizers` rewrites a grapheme
    cluster shorter than 6 bytes that starts with one of them to that code point alone, which
    shows where its clusters end."""
    # SentencePiece cannot hold a rule for NUL, which `tokenizers` never looks up anyway.
    return charsmap_from_rules(tuple((chr(cp), chr(cp)) for cp in code_points if cp))


def _text_code_points() -> list[int]:
    return [cp for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000]


def test_grapheme_table_is_what_the_generator_builds():
    """Drift check: the checked-in grapheme_break.npz is tests/generate_grapheme_tables.py's."""
    np.testing.assert_array_equal(load_grapheme_properties(), build_grapheme_properties())


@pytest.mark.parametrize("rule", RULES)
def test_precompiled_matches_tokenizers_on_hard_strings(rule):
    ours, theirs = compiled(rule_charsmap(rule))(hard_multilingual_strings())
    assert ours == theirs


def _can_join(text: str) -> bool:
    """Whether some code point of ``text`` can join a neighbour's cluster, by the two lists of
    `GraphemeClusters`."""
    properties = load_grapheme_properties()
    return any(
        properties[ord(ch)] & CATEGORY_MASK in JOINS_NEXT + JOINS_PREVIOUS
        or properties[ord(ch)] & (INCB_EXTEND | INCB_LINKER)
        for ch in text
    )


# The code points of INTERESTING that join no neighbour's cluster on their own: controls other
# than CR, pictographs, Indic consonants, letters.
NON_JOINING = "".join(ch for ch in INTERESTING if not _can_join(ch))


def _leaders(charsmap: bytes) -> np.ndarray:
    """The code points that start a key of the charsmap, as `Precompiled` gives them to its
    `GraphemeClusters`."""
    leaders = np.zeros(0x110000, bool)
    leaders[[ord(key[0]) for key in read_precompiled_charsmap(charsmap, "test")]] = True
    return leaders


@pytest.mark.parametrize("rule", ["nmt_nfkc", "nfkc_cf"])
def test_precompiled_shortcut_matches_tokenizers_on_hard_strings(rule):
    """The hard strings where no code point that starts a key can join the next one's cluster,
    as one batch: it takes the per-code-point shortcut (the whole corpus, in the test above,
    takes the cluster path). Most of them qualify, combining marks, emoji and scripts included."""
    clusters = GraphemeClusters(_leaders(rule_charsmap(rule)))
    properties = load_grapheme_properties()
    # A text that starts with a mark is left out: `all_single` pairs it with the last code
    # point of the text before, which can only send the batch down the cluster path.
    strings = [
        text
        for text in hard_multilingual_strings()
        if clusters.all_single(decode_utf8(tf.constant([text])))
        and properties[ord(text[:1] or " ")] & CATEGORY_MASK not in JOINS_PREVIOUS
    ]
    assert len(strings) > 400
    assert sum(map(_can_join, strings)) > 100
    assert clusters.all_single(decode_utf8(tf.constant(strings)))
    ours, theirs = compiled(rule_charsmap(rule))(strings)
    assert ours == theirs


@functools.cache
def _cluster_functions(leaders: str | None = None):
    if leaders is not None:
        mask = np.zeros(0x110000, bool)
        mask[list(map(ord, leaders))] = True
    clusters = GraphemeClusters(None if leaders is None else mask)
    spec = tf.RaggedTensorSpec([None, None], tf.int32, row_splits_dtype=tf.int64)
    return (
        tf.function(clusters.all_single, input_signature=[spec]),
        tf.function(clusters.cluster_starts, input_signature=[spec]),
    )


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(alphabet=NON_JOINING, max_size=24), min_size=1, max_size=4))
def test_batches_without_joining_code_points_are_one_cluster_per_code_point(texts):
    """The shortcut's premise with every code point a leader: when `all_single` holds, every
    code point starts a cluster."""
    all_single, cluster_starts = _cluster_functions()
    code_points = decode_utf8(tf.constant(texts)).with_row_splits_dtype(tf.int64)
    assert all_single(code_points)
    assert tf.reduce_all(cluster_starts(code_points))


# Leaders and the code points around them, one set per way a cluster can grow past its first
# code point: a mark after a letter (GB9, GB9a), CR LF (GB3), Hangul jamo and syllables
# (GB6-GB8), a Prepend (GB9b), a flag (GB12/GB13); and clusters that go on by a conjunct (GB9c)
# or an emoji ZWJ sequence (GB11) once a mark has joined their first code point. A leader that
# can join the next code point sends every batch that holds it down the cluster path.
LEADER_SETS = [
    ("e", "x\u0301\u200d\u0903"),
    ("\r", "\n"),
    ("\u1100\uac00", "\u1161\u11a8\uac01"),
    ("\u0600", "1"),
    ("\U0001f1eb", "\U0001f1f7"),
    ("\u0915", "\u094d\u093f"),
    ("\u00a9", "\u200d\U0001f468\u0301"),
]


@pytest.mark.parametrize(("leaders", "others"), LEADER_SETS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_shortcut_leaves_every_leader_a_cluster_of_its_own(leaders, others, data):
    """The shortcut's premise for a charsmap whose keys start with these leaders: when
    `all_single` holds, no cluster that starts with a leader goes on past it. And the output,
    from whichever path the batch takes, is `tokenizers'` (an identity rule on each leader
    collapses a short cluster it starts to the leader alone, so a wrong shortcut shows)."""
    alphabet = leaders + others + "a \n"
    texts = data.draw(st.lists(st.text(alphabet=alphabet, max_size=12), min_size=1, max_size=4))
    all_single, cluster_starts = _cluster_functions(leaders)
    code_points = decode_utf8(tf.constant(texts)).with_row_splits_dtype(tf.int64)
    if all_single(code_points):
        starts = np.append(cluster_starts(code_points).numpy(), True)
        values = code_points.values.numpy()
        assert all(starts[index + 1] for index in np.flatnonzero(np.isin(values, _ords(leaders))))
    ours, theirs = compiled(identity_charsmap(tuple(_ords(leaders))))(texts)
    assert ours == theirs


def _ords(text: str) -> list[int]:
    return sorted(map(ord, text))


@pytest.mark.parametrize("rule", RULES)
@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(alphabet=INTERESTING, max_size=24), min_size=1, max_size=8))
def test_precompiled_matches_tokenizers_on_generated_text(rule, texts):
    ours, theirs = compiled(rule_charsmap(rule))(texts)
    assert ours == theirs


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.text(max_size=16), min_size=1, max_size=8))
def test_precompiled_matches_tokenizers_on_any_unicode(texts):
    texts = [text.encode("utf-8", "replace").decode() for text in texts]
    ours, theirs = compiled(rule_charsmap("nmt_nfkc"))(texts)
    assert ours == theirs


def _probes(ch: str) -> str:
    """Short clusters around one code point, one per rule of UAX #29 it can take part in,
    separated by line feeds (which always break clusters)."""
    return "\n".join(
        [
            f"x{ch}x",  # GB9, GB9a (joins after x), GB9b (x joins after it)
            f"{ch}\u0301",  # GB4 (a control breaks before a mark)
            f"\u0915\u094d{ch}\u0301",  # GB9c: a consonant after a linker
            f"\u0915{ch}\u0915\u0301",  # GB9c: a linker between consonants
            f"\u0915\u094d{ch}\u0915\u0301",  # GB9c: InCB=Extend between linker and consonant
            f"{ch}\u094d\u0915\u0301",  # GB9c: the consonant before a linker
            f"\u00a9\u200d{ch}\u0301",  # GB11: an emoji after a ZWJ
            f"\u00a9{ch}\u200d\u00a9\u0301",  # GB11: Extend between emoji and ZWJ
            f"{ch}\u200d\u00a9\u0301",  # GB11: the emoji before a ZWJ
            f"\u1100{ch}\u0301",  # GB6
            f"{ch}\u1161\u0301",  # GB6, GB7: an L or LV before a vowel
            f"{ch}\u11a8\u0301",  # GB7, GB8: an LV or LVT before a trailing consonant
            f"\uac00{ch}\u0301",  # GB7
            f"\uac01{ch}\u0301",  # GB8
            f"\r{ch}",  # GB3
        ]
    )


def _check_probes(code_points: list[int]) -> None:
    run = compiled(identity_charsmap(tuple(sorted({*code_points, *map(ord, PROBE_CONTEXT)}))))
    for start in range(0, len(code_points), 100_000):
        texts = [_probes(chr(cp)) for cp in code_points[start : start + 100_000]]
        ours, theirs = run(texts)
        wrong = [
            text
            for text, mine, reference in zip(texts, ours, theirs, strict=True)
            if mine != reference
        ]
        assert not wrong, f"{len(wrong)} probes differ, first {wrong[0]!r}"


def test_grapheme_clusters_match_tokenizers_for_code_points_with_a_property():
    """Each probe shows where `tokenizers` (the Rust unicode-segmentation crate) puts cluster
    boundaries, for every code point that is not plain "Other" and a sample of the rest."""
    properties = load_grapheme_properties()
    _check_probes(
        [
            cp
            for index, cp in enumerate(_text_code_points())
            if properties[cp] != OTHER or index % 97 == 0
        ]
    )


@pytest.mark.slow
def test_grapheme_clusters_match_tokenizers_for_every_code_point():
    """The same probes for all 1.1M code points (about two minutes)."""
    _check_probes(_text_code_points())


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(alphabet=INTERESTING, max_size=24), min_size=1, max_size=8))
def test_grapheme_clusters_match_tokenizers_in_context(texts):
    """Clusters of whole generated strings (regional indicator pairs, emoji sequences, Hangul
    syllables, conjuncts, prepended marks), shown by the identity charsmap."""
    ours, theirs = compiled(identity_charsmap(tuple(sorted(map(ord, INTERESTING)))))(texts)
    assert ours == theirs


SHORTEST_KEY_RULES = (
    ("a", "A"),
    ("ab", "X"),  # never used: "a" is a shorter key, and "a", "b" are separate clusters
    ("e\u0301", "\u00c9"),
    ("e\u0301\u0316", "Q"),  # longer than the shortest matching key "e" + U+0301
    ("\u0301", "'"),
    ("\u200b", ""),
    ("\r", "R"),
    ("\ufb01", "fi"),
    ("\u304b\u3099", "\u304c"),
    ("x\u200d", "Z"),
)


SHORTEST_KEY_ALPHABET = "abex\r\n\u0301\u0316\u200b\u200d\ufb01\u304b\u3099\U0001f600"


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.text(alphabet=SHORTEST_KEY_ALPHABET, max_size=20), min_size=1, max_size=8))
def test_shortest_matching_key_replaces_the_whole_cluster(texts):
    ours, theirs = compiled(charsmap_from_rules(SHORTEST_KEY_RULES))(texts)
    assert ours == theirs


def test_the_shortest_key_drops_the_rest_of_its_cluster():
    ours, theirs = compiled(charsmap_from_rules(SHORTEST_KEY_RULES))(
        ["e\u0301\u0316", "\r\n", "a\u0301b", "ab"]
    )
    assert ours == theirs == ["\u00c9", "R", "Ab", "Ab"]


@pytest.mark.parametrize(
    "pieces",
    [
        [["e", "\u0301x"], ["\r", "\n"], ["", "a"], ["\u00a9\u200d", "\u00a9\u0301"]],
        [["ab", "\ufb01x"], ["\r", "a"], ["", ""]],  # no joining code point: the shortcut
    ],
)
def test_placeholders_pass_unchanged_and_cut_the_text(pieces):
    """An added token's placeholder is kept, and the text on each side is normalized as a
    separate string (no cluster, and so no rule, reaches across it)."""
    normalizer = Precompiled(charsmap_from_rules(SHORTEST_KEY_RULES))
    reference = normalizers.Precompiled(charsmap_from_rules(SHORTEST_KEY_RULES))
    placeholder = ADDED_TOKEN_BASE + 3
    texts = ragged_code_points(
        [[*map(ord, left), placeholder, *map(ord, right)] for left, right in pieces]
    )
    expected = [
        [*map(ord, reference.normalize_str(left)), placeholder]
        + list(map(ord, reference.normalize_str(right)))
        for left, right in pieces
    ]
    assert normalizer.normalize(texts).to_list() == expected


def test_int32_row_splits_are_taken_by_both_paths():
    """A charsmap without single-code-point rules leaves the shortcut's texts unchanged, so
    both branches must agree on the row-splits dtype whatever the input's."""
    rules = (("e\u0301", "\u00c9"),)
    normalizer = Precompiled(charsmap_from_rules(rules))
    reference = normalizers.Precompiled(charsmap_from_rules(rules))

    @tf.function(
        input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, row_splits_dtype=tf.int32)]
    )
    def normalize(texts):
        return tf.strings.unicode_encode(normalizer.normalize(texts), "UTF-8")

    for texts in (["abe", "ok"], ["e\u0301", "x"]):
        code_points = decode_utf8(tf.constant(texts)).with_row_splits_dtype(tf.int32)
        output = [text.decode() for text in normalize(code_points).numpy().tolist()]
        assert output == [reference.normalize_str(text) for text in texts]


def test_charsmap_rules_decode_to_the_rules_it_was_built_from():
    rules = read_precompiled_charsmap(charsmap_from_rules(SHORTEST_KEY_RULES), "test")
    assert rules == {key: value for key, value in SHORTEST_KEY_RULES if len(key.encode()) <= 5}


def test_saved_model_round_trip(tmp_path):
    module = tf.Module()
    module.normalizer = Precompiled(rule_charsmap("nmt_nfkc"))
    module.normalize = tf.function(
        lambda strings: tf.strings.unicode_encode(
            module.normalizer.normalize(decode_utf8(strings)), "UTF-8"
        ),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    texts = ["ﬁ ｶﾞ e\u0301 ①", ""]
    reference = normalizers.Precompiled(rule_charsmap("nmt_nfkc"))
    output = loaded.normalize(tf.constant(texts)).numpy().tolist()
    assert [text.decode() for text in output] == [reference.normalize_str(t) for t in texts]


def _spec(charsmap: bytes) -> dict:
    return {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()}


def _one_key_trie(key: bytes, replacements: bytes, value: int = 0) -> bytes:
    """A hand-made double array holding one key whose replacement starts at ``value``."""
    units = [0] * 1024 * (len(key) + 2)
    units[0] = 1024 << 10  # the root's children start at offset 1024
    base = 1024
    for depth, byte in enumerate(key):
        position = base ^ byte
        base = 1024 * (depth + 2)
        has_leaf = 1 << 8 if depth == len(key) - 1 else 0
        units[position] = ((position ^ base) << 10) | has_leaf | byte
    units[base] = (1 << 31) | value
    header = struct.pack("<I", 4 * len(units))
    return header + struct.pack(f"<{len(units)}I", *units) + replacements


def test_hand_made_trie_is_read_as_tokenizers_reads_it():
    charsmap = _one_key_trie("é".encode(), b"E\0")
    assert read_precompiled_charsmap(charsmap, "test") == {"é": "E"}
    assert normalizers.Precompiled(charsmap).normalize_str("xé") == "xE"


@pytest.mark.parametrize(
    "charsmap, message",
    [
        (b"\x01\x00", "too few for its header"),
        (struct.pack("<I", 4000) + b"\0" * 40, "4000-byte trie"),
        (struct.pack("<I", 0), "0-byte trie"),
        (_one_key_trie(b"\xc3", b"E\0"), "not whole UTF-8 characters"),
        (_one_key_trie("é".encode(), b"\xff\0"), "not UTF-8"),
        (_one_key_trie("é".encode(), "ü".encode(), value=1), "inside a character"),
    ],
)
def test_unreadable_charsmaps_are_refused(charsmap, message):
    with pytest.raises(TokenizerSpecError, match=message) as error:
        normalizer_from_json(_spec(charsmap), "tokenizer.json, normalizer")
    assert "tokenizer.json, normalizer: precompiled_charsmap" in str(error.value)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"type": "Precompiled"}, "missing 'precompiled_charsmap'"),
        ({"type": "Precompiled", "precompiled_charsmap": None}, "must be a string"),
        ({"type": "Precompiled", "precompiled_charsmap": "not base64!"}, "not base64"),
    ],
)
def test_bad_options_are_refused(spec, message):
    with pytest.raises(TokenizerSpecError, match=message):
        normalizer_from_json(spec, "normalizer")


def test_regional_indicators_pair_up():
    """GB12/GB13 cannot change what Precompiled outputs (a cluster holding a regional indicator
    is never shorter than 6 bytes unless it is the indicator alone), so check the clusters."""
    flags = "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea\U0001f1ee"  # FR, DE, then a lone I
    texts = ragged_code_points([list(map(ord, flags)), list(map(ord, "a" + flags[:3]))])
    starts = GraphemeClusters().cluster_starts(texts).numpy().tolist()
    assert starts == [True, False, True, False, True] + [True, True, False, True]
