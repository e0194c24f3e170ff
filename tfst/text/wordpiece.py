"""BERT WordPiece tokenization as a Keras layer, id-for-id with Hugging Face's fast tokenizer.

Raw strings go in; `input_ids`, `attention_mask` and `token_type_ids` come out, exactly as
`AutoTokenizer.from_pretrained(folder)(texts, padding=True, truncation="longest_first",
max_length=max_length)` returns them for a BERT folder. Everything in `call` is TensorFlow ops,
so the layer runs eagerly, in a `tf.function`, in a SavedModel and in `tf.data` pipelines.

The pipeline mirrors the `tokenizers` one:

1. special tokens ("[MASK]", ...) are found in the raw text, before any normalization;
2. the BertNormalizer (clean_text, handle_chinese_chars, strip_accents, lowercase) maps each code
   point through precomputed tables (`tfst.text.unicode_tables`, probed from `tokenizers`), then
   puts combining marks in canonical order and drops nonspacing marks when stripping accents;
3. the BertPreTokenizer splits on whitespace and isolates punctuation;
4. WordPiece, greedy longest-match-first: whole-word vocabulary hits come from one table lookup,
   the other words go through `tfst.text.core_wordpiece` (`ops="core"`, the default) or
   tensorflow-text's WordpieceTokenizer (`ops="tensorflow_text"`); as in HF, a word longer than
   `max_chars_per_word` characters (not bytes) becomes a single unknown token;
5. `[CLS] ... [SEP]`, truncated to `max_length` and padded to the longest row of the batch.

Steps 1-3 and 5 use core TensorFlow ops only (regex_replace, unicode_decode, gathers, cumulative
sums, one sort), and so does step 4 by default: the whole graph is core TensorFlow (TF Serving,
TF Java and other runtimes without tensorflow-text's custom ops load it as it is) and
tensorflow-text, ~110 MB of memory once imported, is not imported. `ops="tensorflow_text"` gives
the same ids through tensorflow-text's custom op. The vocabulary is read from a text file by a
`tf.lookup` table, so `tf.saved_model.save` stores it as the asset `vocabulary.txt`.

Invalid UTF-8 bytes (which a Python `str` cannot carry to HF) are read as U+FFFD. An empty batch
gives (0, 0) outputs; HF raises on one.
"""

from __future__ import annotations

import os
import re
import tempfile
import weakref
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfst.text import unicode_tables
from tfst.text.core_wordpiece import CoreWordpiece
from tfst.text.unicode_tables import (
    PROPERTY_MARK,
    PROPERTY_PUNCTUATION,
    PROPERTY_RANK_MASK,
    PROPERTY_WHITESPACE,
    SELF,
)

DEFAULT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Implementations of the WordPiece step; see the module docstring.
WORDPIECE_OPS = ("tensorflow_text", "core")

# Special tokens are marked in the raw bytes as ESCAPE + tag, after every literal ESCAPE has been
# doubled up as ESCAPE + LITERAL_TAG, so no input text can forge a marker.
ESCAPE = "\x01"
LITERAL_TAG = "\x02"
OPEN_TAG = "\x03"
CLOSE_TAG = "\x04"
MARKERS = (ESCAPE, LITERAL_TAG, OPEN_TAG, CLOSE_TAG)
FIRST_SPECIAL_TAG = 5
# Code points at and above this stand for special tokens after decoding (past Unicode's range).
SPECIAL_BASE = unicode_tables.NUM_CODE_POINTS
# Written in place of code points that are replaced later, so `unicode_encode` accepts them.
PLACEHOLDER = ord("?")


def read_vocabulary(path: str | os.PathLike) -> list[str]:
    """Tokens of a vocab.txt, one per line, as transformers' `load_vocab` reads them."""
    try:
        with open(path, encoding="utf-8") as file:
            return [line.rstrip("\n") for line in file]
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not a UTF-8 vocabulary file: {error}") from None


def _check_vocabulary(tokens: Sequence[str]) -> None:
    """Reject what a one-token-per-line file or a token → id table cannot hold."""
    seen: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if not isinstance(token, str) or "\n" in token or "\r" in token:
            raise ValueError(f"vocabulary entry {index} must be a one-line string, got {token!r}")
        if token in seen:
            raise ValueError(
                f"vocabulary token {token!r} appears twice (entries {seen[token]} and {index})"
            )
        seen[token] = index


@keras.saving.register_keras_serializable(package="tfst")
class WordPieceTokenizer(keras.layers.Layer):
    """Tokenize raw strings for a BERT model exactly as Hugging Face's fast tokenizer does.

    Args:
        vocabulary: the tokens (id = position) or the path of a vocab.txt.
        lowercase: lowercase the text (Rust `char::to_lowercase`: no final sigma, no NFKC).
        strip_accents: drop nonspacing marks after NFD; `None` follows `lowercase`, like HF.
        tokenize_chinese_chars: make each CJK ideograph a word of its own.
        clean_text: delete control, format and private-use characters, NUL and U+FFFD, and turn
            \\t \\n \\r and other Unicode spaces into spaces.
        special_tokens: strings matched literally in the raw input and emitted as their own id
            (HF "added tokens"); defaults to [PAD] [UNK] [CLS] [SEP] [MASK].
        cls_token, sep_token, pad_token, unk_token: the tokens framing, padding and replacing.
        max_length: most ids per row, [CLS] and [SEP] included; may be reassigned at any time.
        max_chars_per_word: longer words become one unknown token.
        suffix_indicator: prefix of word-continuation pieces.
        ops: "core" (default) splits words with core TensorFlow ops only, so no custom op is
            needed to serve it; "tensorflow_text" with tensorflow-text's WordpieceTokenizer
            (same ids).

    `max_length` lives in a `tf.Variable` that `call` reads, so assigning `layer.max_length = 128`
    takes effect on the next call, also in functions that were already traced. The variable is
    not a Keras weight (it stays out of `layer.weights`); SavedModels store its current value.

    `get_config` carries the vocabulary itself, so `from_config` and `.keras` files need no side
    file and the lookup table is built in `__init__` like every other resource.

    Example:

    >>> tokenizer = WordPieceTokenizer("vocab.txt", max_length=128)
    >>> tokenizer(["Hello world!"])["input_ids"]  # [[101, 7592, 2088, 999, 102]]
    """

    def __init__(
        self,
        vocabulary: Sequence[str] | str | os.PathLike | None = None,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        clean_text: bool = True,
        special_tokens: Sequence[str] | None = None,
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        unk_token: str = "[UNK]",
        max_length: int = 512,
        max_chars_per_word: int = 100,
        suffix_indicator: str = "##",
        ops: str = "core",
        **kwargs,
    ) -> None:
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        # Accept Python lists of strings in `__call__`; Keras would try to make them float tensors.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        if vocabulary is None:
            raise ValueError("WordPieceTokenizer needs a vocabulary: a list of tokens or a path")
        if ops not in WORDPIECE_OPS:
            raise ValueError(f"ops must be one of {WORDPIECE_OPS}, got {ops!r}")
        self.ops = ops
        # Where errors about missing tokens point the user.
        self._vocabulary_source = "the vocabulary"
        if isinstance(vocabulary, (str, os.PathLike)):
            self._vocabulary_source = os.fspath(vocabulary)
            vocabulary = read_vocabulary(vocabulary)
        self._vocabulary = list(vocabulary)
        _check_vocabulary(self._vocabulary)
        self._token_ids = {token: index for index, token in enumerate(self._vocabulary)}

        self.lowercase = bool(lowercase)
        self.strip_accents = None if strip_accents is None else bool(strip_accents)
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.clean_text = bool(clean_text)
        self.special_tokens = list(
            DEFAULT_SPECIAL_TOKENS if special_tokens is None else special_tokens
        )
        self.cls_token, self.sep_token = cls_token, sep_token
        self.pad_token, self.unk_token = pad_token, unk_token
        self.max_chars_per_word = int(max_chars_per_word)
        self.suffix_indicator = suffix_indicator
        for name in ("cls_token", "sep_token", "pad_token", "unk_token"):
            self._require_in_vocabulary(getattr(self, name), name)
        for token in self.special_tokens:
            self._require_in_vocabulary(token, "special token")
            if not token or any(marker in token for marker in MARKERS):
                raise ValueError(
                    f"special token {token!r} must be non-empty, without U+0001..U+0004"
                )

        self._tables = unicode_tables.build_normalizer_tables(
            clean_text=self.clean_text,
            handle_chinese_chars=self.tokenize_chinese_chars,
            strip_accents=self.lowercase if self.strip_accents is None else self.strip_accents,
            lowercase=self.lowercase,
        )
        self._constants = self._make_constants()
        self._max_length = tf.Variable(2, dtype=tf.int32, trainable=False, name="max_length")
        self.max_length = max_length
        # The table is an attribute of its own so SavedModels track it (and its asset) directly.
        self._vocabulary_table, self._wordpiece = self._make_wordpiece()
        # Eager calls run one traced graph: op-by-op dispatch of ~100 small ops is ~20x slower.
        # Held in a lambda because a tf.function attribute would be exported with the layer.
        traced = tf.function(self._tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
        self._tokenize_eagerly = lambda strings: traced(strings)
        self.built = True

    def _require_in_vocabulary(self, token: str, role: str) -> None:
        if token not in self._token_ids:
            raise ValueError(
                f"{role} {token!r} is not in {self._vocabulary_source}; the tokenizer needs "
                "every token its configuration names (cls, sep, pad, unk and special tokens)"
            )

    def _make_constants(self) -> dict[str, tf.Tensor]:
        tables = self._tables
        row_lengths = np.diff(tables.row_splits)
        # The literal tokens a word stands for: the unknown token, then each special token.
        word_texts = [self.unk_token, *self.special_tokens]
        return {
            "mapping_blocks": tf.constant(tables.mapping.blocks),
            "mapping_pages": tf.constant(tables.mapping.pages),
            "row_starts": tf.constant(tables.row_splits[:-1]),
            "row_lengths": tf.constant(row_lengths),
            "row_values": tf.constant(tables.row_values),
            "property_blocks": tf.constant(tables.properties.blocks),
            "property_pages": tf.constant(tables.properties.pages),
            "word_texts": tf.constant(word_texts),
        }

    def _make_wordpiece(self):
        """The vocabulary table (read from a file, so SavedModels keep it as an asset) and the
        splitter of words that are not whole vocabulary entries."""
        directory = tempfile.mkdtemp(prefix="tfst_vocabulary_")
        path = os.path.join(directory, "vocabulary.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as file:
            file.writelines(f"{token}\n" for token in self._vocabulary)
        initializer = tf.lookup.TextFileInitializer(
            path,
            key_dtype=tf.string,
            key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
            value_dtype=tf.int64,
            value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
        )
        table = tf.lookup.StaticHashTable(initializer, default_value=-1)
        weakref.finalize(self, _remove_vocabulary_file, directory, path)
        if self.ops == "core":
            wordpiece = CoreWordpiece(
                self._vocabulary,
                unknown_id=self.token_to_id(self.unk_token),
                max_word_length=self.max_chars_per_word,
                suffix_indicator=self.suffix_indicator,
            )
            return table, wordpiece
        # Imported only here, so that ops="core" runs where tensorflow-text is not installed.
        import tensorflow_text as tf_text

        longest_token = max(len(token) for token in self._vocabulary)
        wordpiece = tf_text.WordpieceTokenizer(
            table,
            suffix_indicator=self.suffix_indicator,
            # Words over max_chars_per_word characters are replaced before this op runs, so this
            # byte bound only needs to admit every remaining word (and the special tokens).
            max_bytes_per_word=4 * max(self.max_chars_per_word, longest_token),
            max_chars_per_token=longest_token,
            token_out_type=tf.int64,
            unknown_token=self.unk_token,
        )
        return table, wordpiece

    @property
    def max_length(self) -> int:
        """Most ids per row including [CLS] and [SEP]; read by `call` from a `tf.Variable`."""
        return int(self._max_length.numpy())

    @max_length.setter
    def max_length(self, value: int) -> None:
        if int(value) < 2:
            raise ValueError(f"max_length must leave room for [CLS] and [SEP] (>= 2), got {value}")
        self._max_length.assign(int(value))

    def vocabulary_size(self) -> int:
        return len(self._vocabulary)

    def get_vocabulary(self) -> list[str]:
        return list(self._vocabulary)

    def token_to_id(self, token: str) -> int:
        if token not in self._token_ids:
            raise KeyError(f"token {token!r} is not in the vocabulary")
        return self._token_ids[token]

    def id_to_token(self, token_id: int) -> str:
        if not 0 <= token_id < len(self._vocabulary):
            raise KeyError(
                f"id {token_id} is outside the vocabulary (size {len(self._vocabulary)})"
            )
        return self._vocabulary[token_id]

    def call(self, strings) -> dict[str, tf.Tensor]:
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        if strings.shape.rank != 1:
            raise ValueError(f"expected a 1-D batch of strings, got shape {strings.shape}")
        if tf.executing_eagerly():
            return self._tokenize_eagerly(strings)
        return self._tokenize(strings)

    def _tokenize(self, strings: tf.Tensor) -> dict[str, tf.Tensor]:
        # A restored SavedModel signature checks its input's dtype but not its shape: without
        # this runtime check a scalar or a matrix would be read as one flattened batch.
        strings = tf.ensure_shape(strings, [None])
        code_points = self._decode(strings)
        normalized, properties = self._normalize(code_points)
        words = self._pre_tokenize(normalized, properties)
        # Every word gives at least one piece, so only the first max_length - 2 words can reach
        # the output: dropping the rest here keeps WordPiece's time and memory bounded on very
        # long texts (a million CJK characters are a million words).
        words = _first_words(words, tf.cast(self._max_length - 2, tf.int64))
        pieces = self._word_pieces(words)
        outputs = self._frame(pieces)
        for output in outputs.values():
            output.set_shape([strings.shape[0], None])  # the scatter in _frame hides the rank
        return outputs

    def _decode(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """Code points per string, each special token occurrence as one SPECIAL_BASE + k."""
        if not self.special_tokens:
            return tf.strings.unicode_decode(strings, "UTF-8", errors="replace")
        # One pass finds all special tokens leftmost-longest, as HF's Aho-Corasick matcher does:
        # RE2 prefers earlier alternatives at the leftmost position, so list the longest first.
        by_length = sorted(self.special_tokens, key=len, reverse=True)
        pattern = "|".join(re.escape(token) for token in by_length)
        strings = tf.strings.regex_replace(strings, ESCAPE, ESCAPE + LITERAL_TAG)
        strings = tf.strings.regex_replace(
            strings, pattern, rf"{ESCAPE}{OPEN_TAG}\0{ESCAPE}{CLOSE_TAG}"
        )
        for index, token in enumerate(self.special_tokens):
            marked = re.escape(f"{ESCAPE}{OPEN_TAG}{token}{ESCAPE}{CLOSE_TAG}")
            strings = tf.strings.regex_replace(
                strings, marked, ESCAPE + chr(FIRST_SPECIAL_TAG + index)
            )
        code_points = tf.strings.unicode_decode(strings, "UTF-8", errors="replace")
        flat = code_points.flat_values
        is_escape = tf.equal(flat, ord(ESCAPE))
        tag = tf.concat([flat, [0]], axis=0)[1:]
        special = SPECIAL_BASE + tag - FIRST_SPECIAL_TAG
        flat = tf.where(is_escape, tf.where(tag == ord(LITERAL_TAG), flat, special), flat)
        is_tag = tf.concat([[False], is_escape], axis=0)[:-1]
        return _keep_where(code_points.with_flat_values(flat), ~is_tag)

    def _lookup(self, name: str, code_points: tf.Tensor) -> tf.Tensor:
        """Two-level table lookup; code points past Unicode (special tokens) read U+0000's entry."""
        code_points = tf.where(code_points < SPECIAL_BASE, code_points, 0)
        block = tf.gather(
            self._constants[f"{name}_blocks"],
            tf.bitwise.right_shift(code_points, unicode_tables.PAGE_BITS),
        )
        return tf.gather(
            self._constants[f"{name}_pages"],
            block + tf.bitwise.bitwise_and(code_points, unicode_tables.PAGE_MASK),
        )

    def _normalize(self, code_points: tf.RaggedTensor) -> tuple[tf.RaggedTensor, tf.Tensor]:
        """BertNormalizer: each code point becomes its table row; then canonical mark order."""
        constants = self._constants
        flat = code_points.flat_values
        is_special = flat >= SPECIAL_BASE
        row = tf.where(is_special, 0, self._lookup("mapping", flat))
        lengths = tf.gather(constants["row_lengths"], row)
        source = tf.repeat(tf.range(tf.size(flat)), lengths)
        ends = tf.cumsum(lengths)
        offset = tf.range(tf.size(source)) - tf.gather(ends - lengths, source)
        values = tf.gather(
            constants["row_values"],
            tf.gather(tf.gather(constants["row_starts"], row), source) + offset,
        )
        values = tf.where(values == SELF, tf.gather(flat, source), values)
        row_splits = tf.gather(tf.concat([[0], ends], axis=0), code_points.row_splits)
        normalized = tf.RaggedTensor.from_row_splits(
            values, tf.cast(row_splits, tf.int64), validate=False
        )

        properties = tf.where(
            values >= SPECIAL_BASE, PROPERTY_PUNCTUATION, self._lookup("property", values)
        )
        if self._tables.reorder_marks:
            normalized, properties = _canonical_order_without_marks(normalized, properties)
        return normalized, properties

    def _pre_tokenize(self, normalized: tf.RaggedTensor, properties: tf.Tensor) -> tf.RaggedTensor:
        """BertPreTokenizer: [batch, (words), (code points)]."""
        is_space = _has(properties, PROPERTY_WHITESPACE)
        is_isolated = _has(properties, PROPERTY_PUNCTUATION)
        is_row_start = _is_row_start(normalized)
        after_break = tf.concat([[True], is_space | is_isolated], axis=0)[:-1]
        starts_word = ~is_space & (is_row_start | after_break | is_isolated)
        keep = ~is_space
        kept_values = tf.boolean_mask(normalized.flat_values, keep)
        kept_starts = tf.boolean_mask(starts_word, keep)
        word_splits = tf.concat(
            [tf.where(kept_starts)[:, 0], [tf.size(kept_values, out_type=tf.int64)]], 0
        )
        words = tf.RaggedTensor.from_row_splits(kept_values, word_splits, validate=False)
        words_per_row = tf.math.unsorted_segment_sum(
            tf.cast(starts_word, tf.int64), normalized.value_rowids(), normalized.nrows()
        )
        return tf.RaggedTensor.from_row_lengths(words, words_per_row, validate=False)

    def _word_pieces(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """WordPiece ids per string, [batch, (pieces)]."""
        characters = words.values
        first_code_point = tf.gather(characters.flat_values, characters.row_starts())
        # Which literal token a word is replaced by: 0 = unknown, 1 + k = special token k.
        replacement = tf.where(
            first_code_point >= SPECIAL_BASE,
            first_code_point - SPECIAL_BASE + 1,
            tf.where(characters.row_lengths() > self.max_chars_per_word, 0, -1),
        )
        encodable = tf.where(
            characters.flat_values >= SPECIAL_BASE, PLACEHOLDER, characters.flat_values
        )
        text = tf.strings.unicode_encode(characters.with_flat_values(encodable), "UTF-8")
        replaced = tf.gather(self._constants["word_texts"], tf.maximum(replacement, 0))
        text = tf.where(replacement >= 0, replaced, text)
        pieces = self._split_words(text)
        return tf.RaggedTensor.from_row_splits(pieces, words.row_splits, validate=False).merge_dims(
            1, 2
        )

    def _split_words(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Greedy longest-match-first pieces per word, [words, (pieces)].

        Most words are whole vocabulary entries (one piece, the longest match); one vectorized
        table lookup settles them, and only the rest go through the slower WordPiece splitter.
        """
        whole_word_id = self._vocabulary_table.lookup(text)
        is_whole = whole_word_id >= 0
        whole = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(whole_word_id, is_whole),
            tf.ones([tf.reduce_sum(tf.cast(is_whole, tf.int64))], tf.int64),
            validate=False,
        )
        split = self._wordpiece.tokenize(tf.boolean_mask(text, ~is_whole))
        # Row of each word in [whole rows; split rows].
        whole_count = tf.cumsum(tf.cast(is_whole, tf.int64))
        split_count = tf.cumsum(tf.cast(~is_whole, tf.int64))
        row = tf.where(is_whole, whole_count - 1, whole_count[-1:] + split_count - 1)
        return tf.gather(tf.concat([whole, split], axis=0), row)

    def _frame(self, pieces: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """[CLS] pieces [SEP], truncated to max_length and padded to the longest row."""
        kept = pieces[:, : tf.cast(self._max_length - 2, tf.int64)]
        batch_size = kept.nrows()
        row_splits = tf.concat([[0], tf.cumsum(kept.row_lengths() + 2)], axis=0)
        # Each row's pieces move right by one [CLS] for it and a [CLS] and [SEP] per earlier row.
        body = tf.range(tf.size(kept.flat_values, out_type=tf.int64)) + 2 * kept.value_rowids() + 1
        ends = tf.concat([row_splits[:-1], row_splits[1:] - 1], axis=0)
        frame_ids = tf.repeat(
            tf.constant(
                [self.token_to_id(self.cls_token), self.token_to_id(self.sep_token)], tf.int64
            ),
            tf.fill([2], batch_size),
        )
        values = tf.scatter_nd(
            tf.concat([body, ends], axis=0)[:, None],
            tf.concat([kept.flat_values, frame_ids], axis=0),
            row_splits[-1:],
        )
        framed = tf.RaggedTensor.from_row_splits(values, row_splits, validate=False)
        input_ids = tf.cast(
            framed.to_tensor(default_value=self.token_to_id(self.pad_token)), tf.int32
        )
        attention_mask = tf.sequence_mask(
            framed.row_lengths(), tf.shape(input_ids)[1], dtype=tf.int32
        )
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": tf.zeros_like(input_ids),
        }

    def compute_output_spec(self, strings) -> dict[str, keras.KerasTensor]:
        shape = (strings.shape[0], None)
        return {name: keras.KerasTensor(shape, dtype="int32") for name in OUTPUT_NAMES}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            vocabulary=self.get_vocabulary(),
            lowercase=self.lowercase,
            strip_accents=self.strip_accents,
            tokenize_chinese_chars=self.tokenize_chinese_chars,
            clean_text=self.clean_text,
            special_tokens=list(self.special_tokens),
            cls_token=self.cls_token,
            sep_token=self.sep_token,
            pad_token=self.pad_token,
            unk_token=self.unk_token,
            max_length=self.max_length,
            max_chars_per_word=self.max_chars_per_word,
            suffix_indicator=self.suffix_indicator,
            ops=self.ops,
        )
        return config


OUTPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def _has(properties: tf.Tensor, bit: int) -> tf.Tensor:
    return tf.not_equal(tf.bitwise.bitwise_and(properties, bit), 0)


def _is_row_start(ragged: tf.RaggedTensor) -> tf.Tensor:
    position = tf.range(tf.size(ragged.flat_values, out_type=tf.int64))
    return tf.equal(position, tf.gather(ragged.row_starts(), ragged.value_rowids()))


def _canonical_order_without_marks(
    normalized: tf.RaggedTensor, properties: tf.Tensor
) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """NFD's canonical ordering (stable sort of each run of marks by class), then drop Mn.

    A run starts at each starter (class 0) and at each row start; keying by (run, class) and
    sorting stably reorders marks inside runs only. Unicode reorders marks before the Mn filter,
    so this matters for the marks the filter keeps (e.g. U+1D165..U+1D172, and Arabic marks that
    the Rust tables, predating Unicode 9, do not class as Mn). The sort runs only when some mark
    follows one of a higher class, which plain text rarely has.
    """
    rank = tf.cast(tf.bitwise.bitwise_and(properties, PROPERTY_RANK_MASK), tf.int64)
    starts_run = (rank == 0) | _is_row_start(normalized)
    previous_rank = tf.concat([[0], rank], axis=0)[:-1]
    out_of_order = tf.reduce_any(~starts_run & (previous_rank > rank))
    run = tf.cumsum(tf.cast(starts_run, tf.int64))
    order = tf.cond(
        out_of_order,
        lambda: tf.argsort(run * (PROPERTY_RANK_MASK + 1) + rank, stable=True),
        lambda: tf.range(tf.size(rank)),
    )
    values = tf.gather(normalized.flat_values, order)
    properties = tf.gather(properties, order)
    keep = ~_has(properties, PROPERTY_MARK)
    return _keep_where(normalized.with_flat_values(values), keep), tf.boolean_mask(properties, keep)


def _first_words(words: tf.RaggedTensor, limit: tf.Tensor) -> tf.RaggedTensor:
    """The first ``limit`` words of each row of a [batch, (words), (characters)] tensor."""
    kept = tf.minimum(words.row_lengths(), limit)
    starts = words.row_starts()
    indices = tf.ragged.range(starts, starts + kept).flat_values
    return tf.RaggedTensor.from_row_lengths(tf.gather(words.values, indices), kept, validate=False)


def _keep_where(ragged: tf.RaggedTensor, keep: tf.Tensor) -> tf.RaggedTensor:
    """The values of a [batch, (n)] ragged tensor where `keep` (aligned with them) is true."""
    kept_before = tf.concat([[0], tf.cumsum(tf.cast(keep, tf.int64))], axis=0)
    return tf.RaggedTensor.from_row_splits(
        tf.boolean_mask(ragged.flat_values, keep),
        tf.gather(kept_before, ragged.row_splits),
        validate=False,
    )


def _remove_vocabulary_file(directory: str, path: str) -> None:
    os.remove(path)
    os.rmdir(directory)
