"""sentence-transformers' ``WhitespaceTokenizer`` as a Keras layer: words of a vocabulary by id.

The tokenizer of the ``WordEmbeddings`` and ``BoW`` modules is a few lines of Python, reproduced
here exactly, on whole batches. For each text (lowercased first with ``str.lower()`` when
``do_lower_case``), each word of ``text.split()`` is looked up three ways, and the first that
decides wins:

1. the word as it is: a stop word is dropped, a vocabulary word gives its id;
2. stripped of ASCII punctuation at both ends (``str.strip(string.punctuation)``): likewise
   (sentence-transformers skips the vocabulary for an empty result, but step 3 then looks the
   same empty string up);
3. that, lowercased with ``str.lower()``: likewise;

a word none of them decides is dropped. A word listed twice in the vocabulary has its last
index, as the Python dictionary built from it has. ``tfst.text.python_text`` does what
``str.split``, ``str.lower`` and ``str.strip`` do. The configuration is sentence-transformers'
``whitespacetokenizer_config.json``: ``vocab``, ``stop_words``, ``do_lower_case``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfst.text.code_points import decode_utf8, encode_utf8, keep_where
from tfst.text.python_text import PythonText

# A length limit that never truncates (BoW has none).
UNLIMITED = 2**31 - 1
_DROPPED = -1


@keras.saving.register_keras_serializable(package="tfst")
class WhitespaceTokenizer(keras.layers.Layer):
    """Strings → vocabulary ids of their words, as sentence-transformers' WhitespaceTokenizer.

    Args:
        vocab: the words; a word's id is its (last) index.
        stop_words: words that are dropped (looked up before the vocabulary at each step).
        do_lower_case: lowercase the whole text (``str.lower()``) before splitting it.
        max_length: most ids kept per text (the first ones); may be reassigned at any time.

    Called on a 1-D string batch it returns ``input_ids`` and ``attention_mask``,
    ``[batch, width]`` int32, padded with id 0 to the longest text but at least one column wide,
    as sentence-transformers' ``WordEmbeddings`` pads.
    """

    def __init__(
        self,
        vocab,
        stop_words=(),
        do_lower_case: bool = False,
        max_length: int = UNLIMITED,
        **kwargs,
    ):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        # Accept Python lists of strings in `__call__`; Keras would try to make them floats.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.vocab = tuple(vocab)
        self.stop_words = tuple(stop_words)
        self.do_lower_case = bool(do_lower_case)
        # Strings with no UTF-8 form (lone surrogates from JSON escapes) match no text.
        ids = {word: index for index, word in enumerate(self.vocab) if _has_utf8(word)}
        self._vocabulary = _string_table(ids, _DROPPED)
        self._stop_words = _string_table(
            {word: 1 for word in self.stop_words if _has_utf8(word)}, 0
        )
        self._python_text = PythonText()
        self._max_length = tf.Variable(1, dtype=tf.int64, trainable=False, name="max_length")
        self.max_length = max_length
        # Eager calls run one traced graph, as the tokenizer.json tokenizer does.
        traced = tf.function(
            self._tokenize, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False
        )
        self._tokenize_eagerly = lambda strings: traced(strings)
        self.built = True

    def vocabulary_size(self) -> int:
        """Ids the tokenizer can emit."""
        return len(self.vocab)

    @property
    def max_length(self) -> int:
        """Most ids per text; read by ``call`` from a ``tf.Variable``."""
        return int(self._max_length.numpy())

    @max_length.setter
    def max_length(self, value: int) -> None:
        if int(value) < 0:
            raise ValueError(f"max_length must be >= 0, got {value}")
        self._max_length.assign(int(value))

    def call(self, strings) -> dict[str, tf.Tensor]:
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        if strings.shape.rank != 1:
            raise ValueError(f"expected a 1-D batch of strings, got shape {strings.shape}")
        if tf.executing_eagerly():
            return self._tokenize_eagerly(strings)
        return self._tokenize(strings)

    def _tokenize(self, strings: tf.Tensor) -> dict[str, tf.Tensor]:
        strings = tf.ensure_shape(strings, [None])
        ids = self.token_ids(strings)
        kept = tf.minimum(ids.row_lengths(), self._max_length)
        ids = tf.RaggedTensor.from_row_lengths(
            tf.gather(
                ids.values, tf.ragged.range(ids.row_starts(), ids.row_starts() + kept).values
            ),
            kept,
            validate=False,
        )
        width = tf.maximum(tf.reduce_max(tf.concat([kept, [0]], axis=0)), 1)
        input_ids = ids.to_tensor(default_value=0, shape=tf.stack([ids.nrows(), width]))
        attention_mask = tf.sequence_mask(kept, width, dtype=tf.int32)
        return {"input_ids": tf.cast(input_ids, tf.int32), "attention_mask": attention_mask}

    def token_ids(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """``[texts]`` → ``[texts, (ids)]`` int64: every kept word's id, none truncated."""
        texts = decode_utf8(strings)
        if self.do_lower_case:
            texts = self._python_text.lower(texts)
        words = self._python_text.split(texts)
        as_is = words.values
        stripped = self._python_text.strip_punctuation(as_is)
        lowered = self._python_text.lower(stripped)
        decided = tf.fill([tf.size(as_is.row_lengths())], tf.constant(_DROPPED, tf.int64))
        undecided = tf.ones_like(decided, tf.bool)
        for candidate in (as_is, stripped, lowered):
            text = encode_utf8(candidate)
            stop = tf.equal(self._stop_words.lookup(text), 1)
            word_id = self._vocabulary.lookup(text)
            found = word_id != _DROPPED
            decided = tf.where(undecided & ~stop & found, word_id, decided)
            undecided &= ~stop & ~found
        return keep_where(words.with_values(decided), decided != _DROPPED)

    def compute_output_spec(self, strings) -> dict[str, keras.KerasTensor]:
        shape = (strings.shape[0], None)
        return {name: keras.KerasTensor(shape, "int32") for name in ("input_ids", "attention_mask")}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            vocab=list(self.vocab),
            stop_words=list(self.stop_words),
            do_lower_case=self.do_lower_case,
            max_length=self.max_length,
        )
        return config


def _has_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string_table(values: dict[str, int], default: int) -> tf.lookup.StaticHashTable:
    """String → int64 table; a word not in ``values`` reads ``default``."""
    keys = [word.encode("utf-8") for word in values]
    numbers = list(values.values())
    if not keys:
        # A table cannot be empty; this key is not UTF-8, so no word ever matches it.
        keys, numbers = [b"\xff"], [default]
    keys = tf.constant(keys, dtype=tf.string)
    numbers = tf.constant(numbers, dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, numbers), default)
