"""The tokenizer as a Keras layer: a ``tokenizer.json`` pipeline compiled to TensorFlow ops.

Raw strings (or pairs of them) go in; ``input_ids``, ``attention_mask`` and ``token_type_ids``
come out, exactly as the Hugging Face `tokenizers` library encodes them with the same
``tokenizer.json``, truncation to ``max_length`` and padding to the longest row, i.e. what
sentence-transformers gets from ``tokenizer(texts, padding=True, truncation="longest_first",
max_length=max_seq_length)``. The stages are `tokenizers`' own:

1. added tokens with ``normalized: false`` are found in the raw text (``tfst.text.added_tokens``);
2. the normalizer rewrites the pieces between them (``tfst.text.normalizers``), then added tokens
   with ``normalized: true`` are found in the normalized pieces;
3. the pre-tokenizer cuts the text into words (``tfst.text.pre_tokenizers``);
4. the model turns each word into ids (``tfst.text.models``); added tokens have their own ids;
5. truncation (room left for the special tokens; ``longest_first`` for pairs), then the
   post-processor's special tokens and type ids (``tfst.text.processors``), then padding.

Every step is core TensorFlow (unless a WordPiece model is asked for ``ops="tensorflow_text"``), so
the layer runs eagerly, in a ``tf.function``, in ``tf.data`` and in a SavedModel served anywhere.
Work per text is bounded by its length: when the model gives every word at least one id, only the
words that can reach the truncated output of a single text are split into pieces (pairs are
encoded whole: their truncation compares whole lengths). An empty batch gives ``(0, 0)``
outputs; invalid UTF-8 reads as U+FFFD.
"""

from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any

import keras
import tensorflow as tf

from tfst.text.added_tokens import AddedToken, AddedVocabulary
from tfst.text.code_points import ADDED_TOKEN_BASE, is_added_token, merge_inner, texts_as_words
from tfst.text.models import model_from_json
from tfst.text.models.wordpiece import WORDPIECE_OPS, WordPiece
from tfst.text.normalizers import normalizer_from_json
from tfst.text.pre_tokenizers import pre_tokenizer_from_json
from tfst.text.processors import post_processor_from_json, process
from tfst.text.spec import TokenizerSpecError, option

OUTPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
SIDES = ("right", "left")
MAX_TEXT_BYTES = 1 << 23
"""Longest text a call takes, in UTF-8 bytes (8 MiB). Tokenizing keeps tens of bytes of
intermediate tensors per character; without a bound one 40-million-character text ends the
process in ``std::bad_alloc``. A longer text fails the call with an ``InvalidArgumentError``."""


@keras.saving.register_keras_serializable(package="tfst")
class Tokenizer(keras.layers.Layer):
    """Tokenize raw strings (or pairs) exactly as Hugging Face `tokenizers` does.

    Args:
        tokenizer_json: the parsed ``tokenizer.json`` (normalizer, pre_tokenizer, model,
            post_processor, added_tokens; its own truncation and padding are ignored, as
            sentence-transformers overrides them).
        pad_token_id: the id padded rows are filled with.
        special_tokens: the named special tokens (``{"cls_token": "[CLS]", ...}``), as the
            tokenizer config names them; kept for saving and for callers that need one.
        return_token_type_ids: whether the model gets the post-processor's type ids; when not
            (transformers' ``model_input_names`` without ``token_type_ids``) they are all 0,
            which is what a model given none uses.
        max_length: most ids per row, special tokens included; may be reassigned at any time.
        truncation_side, padding_side: ``right`` (default) or ``left``, as transformers'
            ``truncation_side`` / ``padding_side``.
        split_special_tokens: tokenize special tokens' text like any other text.
        ops: ``core`` (default), or ``tensorflow_text`` for tensorflow-text's WordPiece op
            (same ids; WordPiece models only; needs the tensorflow-text extra).
        source: where the JSON came from, for error messages.

    ``max_length`` lives in a ``tf.Variable`` that ``call`` reads, so ``layer.max_length = 128``
    takes effect on the next call, also in functions already traced. It is not a Keras weight.
    ``get_config`` carries the whole ``tokenizer.json``, so ``.keras`` files need no side file.

    Example:

    >>> tokenizer = Tokenizer(json.load(open("tokenizer.json")), pad_token_id=0, max_length=128)
    >>> tokenizer(["Hello world!"])["input_ids"]  # [[101, 7592, 2088, 999, 102]]
    >>> tokenizer(["query"], ["a document"])["token_type_ids"]  # [[0, 0, 0, 1, 1, 1]]
    """

    def __init__(
        self,
        tokenizer_json: dict[str, Any],
        pad_token_id: int = 0,
        special_tokens: dict[str, str] | None = None,
        return_token_type_ids: bool = True,
        max_length: int = 512,
        truncation_side: str = "right",
        padding_side: str = "right",
        split_special_tokens: bool = False,
        ops: str = "core",
        source: str = "tokenizer.json",
        **kwargs,
    ):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        # Accept Python lists of strings in `__call__`; Keras would try to make them floats.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        for name, value in (("truncation_side", truncation_side), ("padding_side", padding_side)):
            if value not in SIDES:
                raise ValueError(f"{name} must be one of {SIDES}, got {value!r}")
        if ops not in WORDPIECE_OPS:
            raise ValueError(f"ops must be one of {WORDPIECE_OPS}, got {ops!r}")
        if not isinstance(tokenizer_json, dict):
            raise TokenizerSpecError(f"{source}: expected a JSON object")
        # Read-only mappings: Keras and TensorFlow would track (and walk) a plain dict.
        self.tokenizer_json = MappingProxyType(tokenizer_json)
        self.pad_token_id = int(pad_token_id)
        self.special_tokens = dict(special_tokens or {})
        self.return_token_type_ids = bool(return_token_type_ids)
        self.truncation_side, self.padding_side = truncation_side, padding_side
        self.split_special_tokens = bool(split_special_tokens)
        self.ops = ops
        self.source = source

        self.normalizer = _optional(tokenizer_json, "normalizer", normalizer_from_json, source)
        self.pre_tokenizer = _optional(
            tokenizer_json, "pre_tokenizer", pre_tokenizer_from_json, source
        )
        self.post_processor = _optional(
            tokenizer_json, "post_processor", post_processor_from_json, source
        )
        self.model = model_from_json(
            option(tokenizer_json, "model", dict, source), f"{source}, model"
        )
        if ops != "core":
            if not isinstance(self.model, WordPiece):
                raise ValueError(
                    f'ops="{ops}" is available for WordPiece models only; this tokenizer\'s '
                    f"model is {type(self.model).type_name}"
                )
            self.model = self.model.with_ops(ops)
        added = option(tokenizer_json, "added_tokens", list, source, [])
        self.added_tokens = [
            AddedToken.from_json(entry, f"{source}, added_tokens[{index}]")
            for index, entry in enumerate(added)
        ]
        self.added_vocabulary = AddedVocabulary(
            self.added_tokens, self.normalizer, split_special_tokens=self.split_special_tokens
        )
        token_ids = {token: index for index, token in enumerate(self.model.vocabulary())}
        token_ids.update({token.content: token.id for token in self.added_tokens})
        self._token_ids = MappingProxyType(token_ids)
        self._max_length = tf.Variable(1, dtype=tf.int32, trainable=False, name="max_length")
        # Not ``self.max_length = ...``: in the constructor that assignment does not reach the
        # property setter (Keras' attribute handling takes it), so the check would not run.
        self._set_max_length(max_length)
        # Eager calls run one traced graph: op-by-op dispatch of hundreds of small ops is slow.
        # Held in lambdas because a tf.function attribute would be exported with the layer.
        # Traced without AutoGraph: the stages are plain TensorFlow ops, and converting their
        # code cost seconds on the first call.
        single = tf.function(
            self._tokenize, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False
        )
        pair = tf.function(
            self._tokenize,
            input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string)],
            autograph=False,
        )
        self._tokenize_eagerly = lambda first, second=None: (
            single(first) if second is None else pair(first, second)
        )
        self.built = True

    # --- vocabulary ---------------------------------------------------------------------------

    def token_to_id(self, token: str) -> int:
        """The id of a model or added token; KeyError if it has none."""
        if token not in self._token_ids:
            raise KeyError(f"token {token!r} is not in the vocabulary")
        return self._token_ids[token]

    def vocabulary_size(self) -> int:
        """Ids the tokenizer can emit: model vocabulary plus added tokens beyond it."""
        return max([len(self._token_ids)] + [token.id + 1 for token in self.added_tokens])

    def special_token_count(self, pair: bool = False) -> int:
        """Ids the post-processor adds to one text (or a pair)."""
        if self.post_processor is None:
            return 0
        return self.post_processor.special_token_count(pair)

    @property
    def max_length(self) -> int:
        """Most ids per row, special tokens included; read by ``call`` from a ``tf.Variable``."""
        return int(self._max_length.numpy())

    @max_length.setter
    def max_length(self, value: int) -> None:
        self._set_max_length(value)

    def _set_max_length(self, value: int) -> None:
        value = int(value)
        needed = self.special_token_count(pair=False)
        if value < max(needed, 1):
            raise ValueError(
                f"max_length must leave room for the {needed} special tokens and at least one "
                f"more, got {value}"
            )
        self._max_length.assign(value)

    # --- the graph ----------------------------------------------------------------------------

    def call(self, strings, pairs=None) -> dict[str, tf.Tensor]:
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        if strings.shape.rank != 1:
            raise ValueError(f"expected a 1-D batch of strings, got shape {strings.shape}")
        if pairs is not None:
            pairs = tf.convert_to_tensor(pairs, dtype=tf.string)
            if pairs.shape.rank != 1:
                raise ValueError(f"expected a 1-D batch of second texts, got shape {pairs.shape}")
        if tf.executing_eagerly():
            return self._tokenize_eagerly(strings, pairs)
        return self._tokenize(strings, pairs)

    def _tokenize(self, strings: tf.Tensor, pairs: tf.Tensor | None = None) -> dict:
        # A restored SavedModel signature checks its input's dtype but not its shape: without
        # this runtime check a scalar or a matrix would be read as one flattened batch.
        strings = _within_length_limit(tf.ensure_shape(strings, [None]))
        pair = pairs is not None
        room = tf.maximum(self._max_length - self.special_token_count(pair), 0)
        # A pair's longest_first truncation compares the two texts' whole lengths (the longer
        # keeps the odd id), so pairs are encoded whole, as `tokenizers` does; only single texts
        # skip the words truncation cannot reach.
        second = None
        if pair:
            pairs = _within_length_limit(tf.ensure_shape(pairs, [None]))
            check = tf.debugging.assert_equal(
                tf.size(strings), tf.size(pairs), message="texts and pairs differ in number"
            )
            # Everything after waits for the check, or a shape error further on could win the
            # race and hide which input was wrong.
            with tf.control_dependencies([check]):
                strings, pairs = tf.identity(strings), tf.identity(pairs)
            second = self.encode_ids(pairs)
        first = self.encode_ids(strings, None if pair else room)
        first, second = self._truncate(first, second, tf.cast(room, tf.int64))
        encoding = process(self.post_processor, first, second)
        type_ids = encoding.type_ids
        if not self.return_token_type_ids:
            type_ids = type_ids.with_values(tf.zeros_like(type_ids.values))
        outputs = self._pad(encoding.ids, type_ids)
        for output in outputs.values():
            output.set_shape([strings.shape[0], None])
        return outputs

    def words(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """Each text's words after added tokens, normalizer and pre-tokenizer (steps 1 to 3 of
        the module docstring), ``[texts, (words), (code points)]`` int32: what the model stage
        splits, before truncation drops the words it cannot reach. An added token is a word of
        one placeholder code point (``ADDED_TOKEN_BASE`` + its index in ``added_tokens``),
        which takes its own id instead of going through the model."""
        texts = self.added_vocabulary.split_raw(strings)
        if self.normalizer is not None:
            texts = self.normalizer.normalize(texts)
        texts = self.added_vocabulary.split_normalized(texts)
        words = texts_as_words(texts)
        if self.pre_tokenizer is not None:
            words = self.pre_tokenizer.pre_tokenize(words)
        return words

    def encode_ids(self, strings: tf.Tensor, room: tf.Tensor | None = None) -> tf.RaggedTensor:
        """Ids of each text before truncation and special tokens, ``[texts, (ids)]`` int64.

        With ``room`` (ids that truncation will keep), only the words that can reach them are
        split, when the model gives every word at least one id.
        """
        words = self.words(strings)
        if room is not None and self.model.min_tokens_per_word >= 1:
            words = _words_within(words, tf.cast(room, tf.int64), self.truncation_side)
        return self._word_ids(words)

    def _word_ids(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """Model ids for text words, the added token's id for placeholder words."""
        word_code_points = words.values
        first = tf.gather(
            tf.concat([word_code_points.values, [0]], axis=0), word_code_points.row_starts()
        )
        placeholder = is_added_token(first)
        model_ids = self.model.tokenize(tf.gather(word_code_points, tf.where(~placeholder)[:, 0]))
        added_ids = tf.gather(
            self.added_vocabulary.ids, tf.boolean_mask(first, placeholder) - ADDED_TOKEN_BASE
        )
        added_rows = tf.RaggedTensor.from_row_lengths(
            added_ids, tf.ones_like(added_ids), validate=False
        )
        text_count = tf.cumsum(tf.cast(~placeholder, tf.int64))
        added_count = tf.cumsum(tf.cast(placeholder, tf.int64))
        row = tf.where(~placeholder, text_count - 1, text_count[-1:] + added_count - 1)
        pieces = tf.gather(tf.concat([model_ids, added_rows], axis=0), row)
        return merge_inner(words.row_splits, pieces)

    def _truncate(self, first, second, room):
        """`tokenizers`' truncation to ``room`` ids (``longest_first`` for pairs)."""
        if second is None:
            return self._keep(first, tf.fill([first.nrows()], room)), None
        length1, length2 = first.row_lengths(), second.row_lengths()
        shorter = tf.minimum(length1, length2)
        longer_kept = tf.where(shorter > room, shorter, tf.maximum(shorter, room - shorter))
        both_cut = shorter + longer_kept > room
        shorter_kept = tf.where(both_cut, room // 2, shorter)
        longer_kept = tf.where(both_cut, room // 2 + room % 2, longer_kept)
        swapped = length1 > length2
        fits = length1 + length2 <= room
        keep1 = tf.where(fits, length1, tf.where(swapped, longer_kept, shorter_kept))
        keep2 = tf.where(fits, length2, tf.where(swapped, shorter_kept, longer_kept))
        return self._keep(first, keep1), self._keep(second, keep2)

    def _keep(self, ids: tf.RaggedTensor, counts: tf.Tensor) -> tf.RaggedTensor:
        """The first (right truncation) or last (left) ``counts`` ids of each row."""
        kept = tf.minimum(ids.row_lengths(), counts)
        starts = ids.row_starts()
        if self.truncation_side == "left":
            starts = ids.row_limits() - kept
        indices = tf.ragged.range(starts, starts + kept).flat_values
        return tf.RaggedTensor.from_row_lengths(
            tf.gather(ids.values, indices), kept, validate=False
        )

    def _pad(self, ids: tf.RaggedTensor, type_ids: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """Dense ``[batch, longest row]`` outputs, padded on ``padding_side``."""
        lengths = ids.row_lengths()
        input_ids = ids.to_tensor(default_value=self.pad_token_id)
        token_type_ids = type_ids.to_tensor(default_value=0)
        width = tf.shape(input_ids, out_type=tf.int64)[1]
        attention_mask = tf.sequence_mask(lengths, width, dtype=tf.int32)
        if self.padding_side == "left":
            # Move each row right by its padding: position j reads j - padding.
            source = tf.range(width)[tf.newaxis, :] - (width - lengths)[:, tf.newaxis]
            real = source >= 0
            source = tf.maximum(source, 0)
            input_ids = tf.where(
                real,
                tf.gather(input_ids, source, batch_dims=1),
                tf.cast(self.pad_token_id, tf.int64),
            )
            token_type_ids = tf.where(real, tf.gather(token_type_ids, source, batch_dims=1), 0)
            attention_mask = tf.cast(real, tf.int32)
        return {
            "input_ids": tf.cast(input_ids, tf.int32),
            "attention_mask": attention_mask,
            "token_type_ids": tf.cast(token_type_ids, tf.int32),
        }

    def compute_output_spec(self, strings, pairs=None) -> dict[str, keras.KerasTensor]:
        shape = (strings.shape[0], None)
        return {name: keras.KerasTensor(shape, dtype="int32") for name in OUTPUT_NAMES}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            tokenizer_json=copy.deepcopy(dict(self.tokenizer_json)),
            pad_token_id=self.pad_token_id,
            special_tokens=dict(self.special_tokens),
            return_token_type_ids=self.return_token_type_ids,
            max_length=self.max_length,
            truncation_side=self.truncation_side,
            padding_side=self.padding_side,
            split_special_tokens=self.split_special_tokens,
            ops=self.ops,
            source=self.source,
        )
        return config


def _optional(tokenizer_json: dict, key: str, build, source: str):
    spec = tokenizer_json.get(key)
    return None if spec is None else build(spec, f"{source}, {key}")


def _words_within(words: tf.RaggedTensor, room: tf.Tensor, side: str) -> tf.RaggedTensor:
    """The first (or, truncating from the left, last) ``room`` words of each text."""
    count = words.row_lengths()
    kept = tf.minimum(count, room)
    starts = words.row_starts() if side == "right" else words.row_limits() - kept
    indices = tf.ragged.range(starts, starts + kept).flat_values
    return tf.RaggedTensor.from_row_lengths(tf.gather(words.values, indices), kept, validate=False)


def _within_length_limit(texts: tf.Tensor) -> tf.Tensor:
    """``texts``, readable only after each is checked to hold at most ``MAX_TEXT_BYTES``."""
    check = tf.debugging.assert_less_equal(
        tf.strings.length(texts),
        MAX_TEXT_BYTES,
        message=f"a text is longer than {MAX_TEXT_BYTES} UTF-8 bytes, the most tfst tokenizes "
        "in one piece; split it first",
    )
    with tf.control_dependencies([check]):
        return tf.identity(texts)
