"""Odd inputs to ``encode`` and to the exported SavedModel (both tokenizer ops).

Each input either gives the embeddings sentence-transformers gives (within 1e-5, on the real
all-MiniLM-L6-v2) or is refused with a TypeError/ValueError naming the bad item's position and
type. Memory is measured in subprocesses (peak RSS, VmHWM reset through /proc/self/clear_refs),
so the test process's own allocations do not blur the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_builders import MINILM_FOLDER, build_sentence_folder
from tokenizer_helpers import layer_from_folder

MILLION = 1_000_000
MB = 2**20
OPS = ["tensorflow_text", "core"]
TEXTS = ["A man is eating food.", "Ünïcödé and CJK 中文字", "Short", "Another, longer sentence."]
# Texts sentence-transformers embeds too; each is compared as a batch of its own.
PARITY_BATCHES = {
    "empty_string": [""],
    "whitespace_only": [" ", "\t\n\r ", "\u00a0\u3000\u2028\u200b"],
    "empty_among_texts": ["", "a sentence", "   ", "another one"],
    "controls_only": ["\x00\x01\x7f\ufeff"],
}
# A million characters each, far beyond max_seq_length: truncated, as sentence-transformers does.
LONG_TEXTS = {
    "prose": ("The quick brown fox jumps over the lazy dog. " * 25_000)[:MILLION],
    "cjk": "".join(chr(0x4E00 + index % 2000) for index in range(MILLION)),
    "one_word": "a" * MILLION,
}
# Invalid UTF-8 the SavedModel reads as U+FFFD, exactly like bytes.decode("utf-8", "replace").
INVALID_UTF8 = [
    b"\xff",
    b"caf\xc3",
    b"caf\xc3 au lait",
    b"\xed\xa0\x80 encoded surrogate",
    b"\xc0\x80 overlong NUL",
    b"\xf4\x90\x80\x80 beyond U+10FFFF",
    b"cut emoji \xf0\x9f\x98 here",
    b"\xe2\x82[CLS] truncated sequence before a special token",
    b"[SE\xffP] broken special token",
    b"\x01\x03[MASK]\x01\x04 the tokenizer's own escape bytes",
    b"\x80" * 1000 + b" continuation bytes",
    b"ab\xc3\x01\x05cd",
]


@pytest.fixture(scope="module")
def long_references(minilm_reference):
    return {kind: minilm_reference.encode(text) for kind, text in LONG_TEXTS.items()}


@pytest.fixture(scope="module")
def servings(minilm, tmp_path_factory):
    """``serving_default`` of the exported model, per tokenizer ops, loaded back with TensorFlow."""
    folder = tmp_path_factory.mktemp("inputs_export")
    loaded = {
        ops: tf.saved_model.load(str(minilm.export(folder / ops, tokenizer_ops=ops))) for ops in OPS
    }
    # The signatures need their loaded object alive.
    return {ops: (model, model.signatures["serving_default"]) for ops, model in loaded.items()}


def _serve(servings, ops, texts) -> np.ndarray:
    _, serve = servings[ops]
    return serve(sentences=tf.constant(texts, tf.string))["sentence_embedding"].numpy()


# --- inputs sentence-transformers also embeds ---------------------------------------------------


@pytest.mark.parametrize("case", sorted(PARITY_BATCHES))
def test_encode_matches_sentence_transformers(minilm, minilm_reference, case):
    texts = PARITY_BATCHES[case]
    expected = minilm_reference.encode(texts)
    np.testing.assert_allclose(minilm.encode(texts), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("ops", OPS)
@pytest.mark.parametrize("case", sorted(PARITY_BATCHES))
def test_saved_model_matches_sentence_transformers(servings, minilm_reference, case, ops):
    texts = PARITY_BATCHES[case]
    expected = minilm_reference.encode(texts)
    np.testing.assert_allclose(_serve(servings, ops, texts), expected, atol=1e-5, rtol=0)


def test_single_empty_string_gives_a_vector(minilm, minilm_reference):
    vector = minilm.encode("")
    assert vector.shape == (384,)
    np.testing.assert_allclose(vector, minilm_reference.encode(""), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", sorted(LONG_TEXTS))
def test_million_character_text_is_truncated_like_sentence_transformers(
    minilm, long_references, kind
):
    vector = minilm.encode(LONG_TEXTS[kind])
    np.testing.assert_allclose(vector, long_references[kind], atol=1e-5, rtol=0)


@pytest.mark.parametrize("ops", OPS)
@pytest.mark.parametrize("kind", sorted(LONG_TEXTS))
def test_million_character_text_through_the_saved_model(servings, long_references, kind, ops):
    embedding = _serve(servings, ops, [LONG_TEXTS[kind]])
    np.testing.assert_allclose(embedding[0], long_references[kind], atol=1e-5, rtol=0)


def test_numpy_array_of_strings_matches_sentence_transformers(minilm, minilm_reference):
    texts = np.array(TEXTS)  # items are np.str_
    expected = minilm_reference.encode(texts)
    np.testing.assert_allclose(minilm.encode(texts), expected, atol=1e-5, rtol=0)


def test_tuple_matches_sentence_transformers(minilm, minilm_reference):
    texts = tuple(TEXTS)
    expected = minilm_reference.encode(texts)
    np.testing.assert_allclose(minilm.encode(texts), expected, atol=1e-5, rtol=0)


def test_generator_gives_the_embeddings_of_the_list(minilm, minilm_reference):
    """sentence-transformers refuses generators; tfst reads them like the list they yield."""
    embeddings = minilm.encode(text for text in TEXTS)
    np.testing.assert_array_equal(embeddings, minilm.encode(TEXTS))
    np.testing.assert_allclose(embeddings, minilm_reference.encode(TEXTS), atol=1e-5, rtol=0)


# --- tfst's own choices -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "empty", [[], (), np.array([], dtype=str), iter([])], ids=["list", "tuple", "array", "iterator"]
)
def test_empty_batch_gives_zero_rows_of_the_embedding_width(minilm, empty):
    # sentence-transformers 6.2 returns np.array([]) (shape (0,), float64) here; tfst keeps the
    # embedding width so that np.concatenate / vstack of results never special-cases it.
    embeddings = minilm.encode(empty)
    assert embeddings.shape == (0, 384)
    assert embeddings.dtype == np.float32


@pytest.mark.parametrize("ops", OPS)
def test_saved_model_empty_batch_gives_zero_rows(servings, ops):
    assert _serve(servings, ops, tf.constant([], tf.string)).shape == (0, 384)


def test_utf8_bytes_give_the_embeddings_of_the_text(minilm):
    """tf.string tensors hold bytes, so encode(tensor.numpy()) must work; sentence-transformers
    refuses bytes."""
    np.testing.assert_array_equal(
        minilm.encode([text.encode() for text in TEXTS]), minilm.encode(TEXTS)
    )


def test_single_bytes_give_a_vector(minilm):
    np.testing.assert_array_equal(minilm.encode(TEXTS[1].encode()), minilm.encode(TEXTS[1]))


def test_numpy_bytes_array_and_string_tensor_give_the_embeddings_of_the_texts(minilm):
    expected = minilm.encode(TEXTS)
    np.testing.assert_array_equal(minilm.encode(np.array([t.encode() for t in TEXTS])), expected)
    np.testing.assert_array_equal(minilm.encode(tf.constant(TEXTS)), expected)


def test_tokenize_accepts_what_encode_accepts(minilm):
    expected = minilm.tokenize(TEXTS)["input_ids"].numpy()
    for texts in (tuple(TEXTS), np.array(TEXTS), [t.encode() for t in TEXTS], iter(TEXTS)):
        np.testing.assert_array_equal(minilm.tokenize(texts)["input_ids"].numpy(), expected)


def test_tokenize_refuses_a_bare_string(minilm):
    """sentence-transformers' tokenize("abc") tokenizes each character as a text."""
    with pytest.raises(TypeError, match="got one str; wrap it in a list"):
        minilm.tokenize("a whole sentence")


# --- refused inputs -----------------------------------------------------------------------------

REFUSED = {
    "none": (None, TypeError, r"sentences must be a str, or a list.*got NoneType"),
    "int": (5, TypeError, r"got int"),
    "float": (2.5, TypeError, r"got float"),
    "dict": ({"text": "a"}, TypeError, r"got dict"),
    "set": ({"a", "b"}, TypeError, r"got set"),
    "none_item": (["a", None], TypeError, r"sentences\[1\] is a NoneType"),
    "int_item": (["a", "b", 7], TypeError, r"sentences\[2\] is a int"),
    "float_item": ([1.5], TypeError, r"sentences\[0\] is a float"),
    "nested_list": ([["a", "b"]], TypeError, r"sentences\[0\] is a list"),
    "text_pair_tuple": ([("query", "document")], TypeError, r"sentences\[0\] is a tuple"),
    "dict_item": (["a", {"text": "b"}], TypeError, r"sentences\[1\] is a dict"),
    "bytearray_item": ([bytearray(b"a")], TypeError, r"sentences\[0\] is a bytearray"),
    "none_in_generator": (
        (t for t in ["a", "b", None]),
        TypeError,
        r"sentences\[2\] is a NoneType",
    ),
    "object_array_with_none": (
        np.array(["a", None], dtype=object),
        TypeError,
        r"sentences\[1\] is a NoneType",
    ),
    "2d_array": (np.array([["a", "b"]]), TypeError, r"1-D array, got shape \(1, 2\)"),
    "0d_array": (np.array("a"), TypeError, r"1-D array, got shape \(\)"),
    "2d_string_tensor": (tf.constant([["a"]]), TypeError, r"1-D array, got shape \(1, 1\)"),
    "int_tensor": (tf.constant([1, 2]), TypeError, r"sentences\[0\] is a int32"),
    "invalid_utf8_bytes": (
        [b"fine", b"caf\xc3("],
        ValueError,
        r"sentences\[1\] is not valid UTF-8 \(invalid continuation byte at byte 3\)",
    ),
    "invalid_utf8_single_bytes": (
        b"\xff",
        ValueError,
        r"sentences\[0\] is not valid UTF-8 \(invalid start byte at byte 0\)",
    ),
    "lone_surrogate": (
        ["fine", "a\ud800b"],
        ValueError,
        r"sentences\[1\] has no UTF-8 form \(surrogates not allowed at character 1\)",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_bad_input_is_refused_naming_position_and_type(minilm, case):
    value, error, message = REFUSED[case]
    with pytest.raises(error, match=message):
        minilm.encode(value)


# --- what the SavedModel does with what encode refuses -----------------------------------------


@pytest.mark.parametrize("ops", OPS)
def test_saved_model_reads_invalid_utf8_as_replacement_characters(servings, minilm_reference, ops):
    expected = minilm_reference.encode([b.decode("utf-8", "replace") for b in INVALID_UTF8])
    np.testing.assert_allclose(_serve(servings, ops, INVALID_UTF8), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("ops", OPS)
@pytest.mark.parametrize(
    "sentences",
    [tf.constant("one text"), tf.constant([["a", "b"]])],
    ids=["scalar", "matrix"],
)
def test_saved_model_refuses_other_ranks_instead_of_flattening(servings, ops, sentences):
    _, serve = servings[ops]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Shape of tensor sentences"):
        serve(sentences=sentences)
    assert serve(sentences=tf.constant(["still serving"]))["sentence_embedding"].shape == (1, 384)


@pytest.mark.parametrize("ops", OPS)
def test_saved_model_refuses_numbers(servings, ops):
    _, serve = servings[ops]
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a string tensor"):
        serve(sentences=tf.constant([1.5]))


@pytest.fixture(scope="module")
def replacement_reference():
    import transformers

    return transformers.AutoTokenizer.from_pretrained(str(MINILM_FOLDER))


@pytest.fixture(scope="module")
def tokenizers_by_ops():
    return {ops: layer_from_folder(MINILM_FOLDER, ops=ops) for ops in OPS}


_random_bytes = st.one_of(
    st.binary(max_size=40),
    st.lists(
        st.one_of(
            st.text(max_size=6).map(lambda text: text.encode("utf-8", "surrogatepass")),
            st.sampled_from([b"\x80", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xed\xa0\x80"]),
            st.sampled_from([b"[CLS]", b"[MASK]", b" ", b"\x01", b"\x03", b"word"]),
        ),
        max_size=10,
    ).map(b"".join),
)


@settings(
    max_examples=int(os.environ.get("TFST_FUZZ_EXAMPLES", "100")),
    deadline=None,
    derandomize="TFST_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batch=st.lists(_random_bytes, min_size=1, max_size=4))
def test_random_bytes_give_the_ids_of_their_replacement_decoding(
    tokenizers_by_ops, replacement_reference, batch
):
    texts = [b.decode("utf-8", "replace") for b in batch]
    expected = replacement_reference(texts, padding=True)["input_ids"]
    for ops, tokenizer in tokenizers_by_ops.items():
        ids = tokenizer(tf.constant(batch, tf.string))["input_ids"].numpy().tolist()
        assert ids == expected, (ops, batch)


# --- memory -------------------------------------------------------------------------------------

# Peak RSS growth of one call: freed memory goes back to the system (malloc_trim) and VmHWM is
# reset to the current RSS first, so calls measured one after another do not hide each other.
MEASURE = textwrap.dedent(
    """
    import ctypes, gc, json, sys
    import tfst

    def status(field):
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    def measure(call):
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        before = status("VmRSS")
        result = call()
        return status("VmHWM") - before, result
    """
)
LONG_TEXT_SCRIPT = MEASURE + textwrap.dedent(
    """
    model = tfst.load(sys.argv[1])
    model.encode("warm up")
    growth = {}
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        growth[path], _ = measure(lambda: model.encode(text))
        del text
    print(json.dumps(growth))
    """
)
STREAM_SCRIPT = MEASURE + textwrap.dedent(
    """
    WORDS = "the of and to in a is that for it as was with be by on not he this are".split()

    def sentences(count):
        # 1-40 whole-vocabulary words: every padded length also occurs in the warm-up.
        return (
            " ".join(WORDS[(i + j) % len(WORDS)] for j in range(i % 40 + 1)) for i in range(count)
        )

    model = tfst.load(sys.argv[1])
    count = int(sys.argv[2])
    text_bytes = sum(sys.getsizeof(text) for text in sentences(count))
    reports = {}
    for batch_size in map(int, sys.argv[3:]):
        # TensorFlow's oneDNN kernels and the allocator grow to a plateau over the first
        # thousands of calls (a second pass grows ~1% more); a warm-up pass keeps that out.
        model.encode(sentences(10_000), batch_size=batch_size)
        growth, embeddings = measure(
            lambda: model.encode(sentences(count), batch_size=batch_size)
        )
        assert embeddings.shape == (count, model.get_embedding_dimension())
        reports[batch_size] = {"growth": growth, "output": embeddings.nbytes, "texts": text_bytes}
        del embeddings
    print(json.dumps(reports))
    """
)


def _measure_in_subprocess(script: str, *arguments: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", script, *arguments], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_million_character_texts_take_bounded_memory(tmp_path):
    """Measured, in this order: ~37 MB (prose), ~14 MB (one word), 130-170 MB (CJK: each
    character is a word, spaced out by the normalizer); CJK took ~220 MB while every word went
    through WordPiece, before the words truncation would drop were dropped first."""
    paths = []
    for kind in ("prose", "one_word", "cjk"):
        paths.append(str(tmp_path / kind))
        Path(paths[-1]).write_text(LONG_TEXTS[kind], encoding="utf-8")
    growth = _measure_in_subprocess(LONG_TEXT_SCRIPT, str(MINILM_FOLDER), *paths)
    assert all(value < 256 * MB for value in growth.values()), growth


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return build_sentence_folder(tmp_path_factory.mktemp("tiny_inputs") / "model")


def test_hundred_thousand_sentences_stream_in_memory_flat_in_batch_size(tiny_folder):
    """Growth is the texts, the output and encode's per-row bookkeeping (row views, then the
    stacked copy), about 3x (texts + output), plus the batch's own working memory; measured
    ~90 MB at batch size 128 and ~110 MB at 1024 for 12 MB of texts and 12 MB of output."""
    reports = _measure_in_subprocess(STREAM_SCRIPT, str(tiny_folder), "100000", "1024", "128")
    for report in reports.values():
        assert report["growth"] < 3 * (report["output"] + report["texts"]) + 96 * MB, reports
