"""In-graph checks of token ids that come from outside tfst's tokenizer.

The exported ``from_token_ids`` / ``from_token_ids_int32`` signatures and
``SentenceTransformer.forward_features`` take ids and masks from the caller. Unchecked, bad
values give wrong numbers without an error: a negative id is read from the end of the embedding
table (sentence-transformers raises ``IndexError``), a mask value of 2 gives NaN, and on a GPU an
id past the table reads zeros. The contract, enforced here with ``tf.debugging`` assertions that
raise ``tf.errors.InvalidArgumentError`` saying what is wrong, before the encoder runs:

- ``input_ids`` and ``attention_mask`` have the same ``[batch, seq]`` shape (and
  ``token_type_ids`` too, when given);
- every id is in ``[0, vocab_size)``, every token type in ``[0, type_vocab_size)``;
- every mask value is 0 or 1, and every text has at least one 1 (a text with no token to attend
  to has no embedding);
- ``seq`` is at most the positions the encoder has (``usable_positions()``).

Strings never need this: tfst's tokenizer makes valid ids by construction, so the strings path
skips these checks.
"""

from __future__ import annotations

import tensorflow as tf


def checked_token_id_features(features: dict, encoder) -> dict:
    """``features`` with ``input_ids``, ``attention_mask`` (and ``token_type_ids``) that the
    encoder can only read after they have passed the checks of the module docstring."""
    input_ids = tf.convert_to_tensor(features["input_ids"])
    attention_mask = tf.convert_to_tensor(features["attention_mask"])
    positions = encoder.usable_positions()
    checks = [
        tf.debugging.assert_equal(
            tf.shape(attention_mask),
            tf.shape(input_ids),
            message="attention_mask must have the shape of input_ids",
        ),
        tf.debugging.assert_non_negative(input_ids, message="input_ids must not be negative"),
        tf.debugging.assert_less(
            input_ids,
            tf.cast(encoder.vocab_size, input_ids.dtype),
            message=f"input_ids must be less than the vocabulary size {encoder.vocab_size}",
        ),
        _assert_every_row(
            tf.reduce_all((attention_mask == 0) | (attention_mask == 1), axis=-1),
            "attention_mask values must be 0 or 1; rows with other values:",
        ),
        _assert_every_row(
            tf.reduce_any(attention_mask == 1, axis=-1),
            "every text needs at least one attention_mask value of 1; rows without:",
        ),
        tf.debugging.assert_less_equal(
            tf.shape(input_ids)[-1],
            positions,
            message=f"sequences may have at most {positions} tokens (the encoder's positions)",
        ),
    ]
    checked = dict(features)
    type_vocab_size = getattr(encoder, "type_vocab_size", None)
    if features.get("token_type_ids") is not None and type_vocab_size is not None:
        token_type_ids = tf.convert_to_tensor(features["token_type_ids"])
        checks += [
            tf.debugging.assert_equal(
                tf.shape(token_type_ids),
                tf.shape(input_ids),
                message="token_type_ids must have the shape of input_ids",
            ),
            tf.debugging.assert_non_negative(
                token_type_ids, message="token_type_ids must not be negative"
            ),
            tf.debugging.assert_less(
                token_type_ids,
                tf.cast(type_vocab_size, token_type_ids.dtype),
                message=f"token_type_ids must be less than type_vocab_size {type_vocab_size}",
            ),
        ]
        with tf.control_dependencies(checks):
            checked["token_type_ids"] = tf.identity(token_type_ids)
    with tf.control_dependencies(checks):
        checked["input_ids"] = tf.identity(input_ids)
        checked["attention_mask"] = tf.identity(attention_mask)
    return checked


def _assert_every_row(row_passes: tf.Tensor, message: str):
    """An assertion that every row passes; its message lists the rows that do not."""
    return tf.debugging.Assert(
        tf.reduce_all(row_passes), [message, tf.where(~row_passes)[:, 0]], summarize=10
    )
