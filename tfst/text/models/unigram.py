"""SentencePiece Unigram: each word split into the pieces with the best total score.

The semantics are those of `tokenizers` (``models/unigram/model.rs``, ``encode_optimized`` and
``tokenize``), which differ from SentencePiece's own in places that change ids:

- every vocabulary piece can match, control pieces like ``<s>`` and ``<unk>`` included;
- a character that starts no one-character piece may also be covered by the unknown piece, at
  ``min(score) - 10``; consecutive unknown pieces (by id, so a literal ``<unk>`` piece too) are
  fused into one token, which becomes the id of the fused text if that is a piece, else its
  ``<0xNN>`` byte pieces (``byte_fallback``, when all of them exist), else the unknown id;
- the best path is found left to right: the score of the best path to each end position is the
  best of ``best[start] + score(piece)`` over the pieces ending there, in float64, and on a tie
  the piece that starts first (the longest) wins, because a later candidate must be strictly
  greater to replace the current one.

That last point fixes the algorithm. The sums are rounded float64 additions made in order along
each path, and ties (exact or created by rounding) are common in repetitive text ("hahaha", "!!!",
runs of one ideograph). Any reassociation (a max-plus scan, blocks combined by doubling) rounds
differently and breaks some ties the other way, so the best scores here are computed in exactly
Rust's order: a ``tf.while_loop`` over end positions, all words of the batch at once (sorted by
length, so the loop only touches words still running), each step one vectorized max over the
candidate pieces. Everything else is parallel: one hash-table lookup of every candidate piece
(bounded by the longest piece), the choice of each position's best piece from the final scores,
and pointer doubling to walk the best path back from each word's end.

Cost is linear: a word of n characters costs n * (longest piece) candidates and n loop steps,
unrolled by ``STEPS_PER_ITERATION`` to keep TensorFlow's per-iteration overhead down.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfst.text.code_points import row_ids, utf8_bytes, utf8_lengths
from tfst.text.models.base import TokenizerModel
from tfst.text.spec import TokenizerSpecError, option

# `tokenizers`' K_UNK_PENALTY: the unknown piece scores this much below the worst piece.
UNKNOWN_PENALTY = 10.0
# Dynamic-programming steps unrolled per while-loop iteration. TensorFlow's per-iteration and
# per-op overhead dominates a long word (one 10,000-character CJK word, 2 shared cores: about
# 250 ms with 1 step, 90-150 ms with 8, 60-100 ms with 32; 64 is no faster), while a batch of
# short words pays for the padding of one iteration (32 steps) at most.
STEPS_PER_ITERATION = 32
# Sums of scores are only bit-exact if TensorFlow keeps subnormal results, and it flushes them to
# zero. Scores that are 0 or at least this large are multiples of 2**-1022, and so is every sum.
SMALLEST_EXACT_SCORE = 2.0**-970


class Unigram(TokenizerModel):
    """The Unigram model of a ``tokenizer.json``.

    Args:
        vocab: ``(piece, score)`` pairs, the piece of id i at position i.
        unk_id: id of the unknown piece.
        byte_fallback: spell unknown text with ``<0xNN>`` pieces when they all exist.

    Scores should be read from the JSON text as `tokenizers` reads them
    (``tfst.text.spec.serde_json_float``): a score one ulp off can break a tie the other way.
    """

    type_name = "Unigram"
    min_tokens_per_word = 1

    def __init__(
        self,
        vocab: Sequence[tuple[str, float]],
        unk_id: int,
        byte_fallback: bool = False,
        where: str = "Unigram",
    ):
        super().__init__(name="unigram")
        self._pieces = tuple(piece for piece, _ in vocab)  # a tuple: not tracked by TensorFlow
        scores = np.asarray([score for _, score in vocab], dtype=np.float64)
        if not self._pieces:
            raise TokenizerSpecError(f"{where}: vocab is empty; Unigram needs at least <unk>")
        if not 0 <= unk_id < len(self._pieces):
            raise TokenizerSpecError(
                f"{where}: unk_id {unk_id} is not an id of the {len(self._pieces)}-piece vocab"
            )
        if not np.isfinite(scores).all():
            raise TokenizerSpecError(f"{where}: vocab scores must be finite numbers")
        tiny = (scores != 0) & (np.abs(scores) < SMALLEST_EXACT_SCORE)
        if tiny.any():
            raise TokenizerSpecError(
                f"{where}: vocab score {scores[tiny][0]!r} is too close to 0 for exact sums "
                "(TensorFlow flushes subnormal numbers to zero); tfst supports scores that are 0 "
                f"or at least {SMALLEST_EXACT_SCORE!r} in magnitude"
            )
        # A repeated piece means its last id, in the lookup and in the scores (`token_to_ids`).
        id_of_piece = {piece: piece_id for piece_id, piece in enumerate(self._pieces)}
        # The empty piece never matches (the trie only reports a key after reading a byte).
        matchable = {piece: piece_id for piece, piece_id in id_of_piece.items() if piece}
        self.longest_piece = max(map(len, matchable), default=1)
        self.unk_id = int(unk_id)
        self.byte_fallback = bool(byte_fallback)
        unknown_score = float(scores.min()) - UNKNOWN_PENALTY
        self._scores = tf.constant(np.append(scores, unknown_score))
        self._unknown_score_index = len(self._pieces)
        self._piece_ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(matchable) or [""]),
                tf.constant(list(matchable.values()) or [-1], tf.int64),
            ),
            default_value=-1,
        )
        self._byte_piece_ids = tf.constant(
            [id_of_piece.get(f"<0x{byte:02X}>", -1) for byte in range(256)], tf.int64
        )

    @classmethod
    def from_json(cls, spec, where):
        vocab = option(spec, "vocab", list, where)
        entries = []
        for index, entry in enumerate(vocab):
            if (
                not isinstance(entry, list)
                or len(entry) != 2
                or not isinstance(entry[0], str)
                or isinstance(entry[1], bool)
                or not isinstance(entry[1], (int, float))
            ):
                raise TokenizerSpecError(
                    f"{where}: vocab[{index}] must be [piece, score], got {entry!r:.100}"
                )
            entries.append((entry[0], float(entry[1])))
        unk_id = option(spec, "unk_id", (int, type(None)), where, None)
        if unk_id is None:
            # `tokenizers` then fails on the first unknown character; tfst cannot raise mid-graph.
            raise TokenizerSpecError(
                f"{where}: unk_id is null; tfst supports Unigram models with an unknown piece"
            )
        byte_fallback = option(spec, "byte_fallback", bool, where, False)
        return cls(entries, unk_id, byte_fallback, where)

    def vocabulary(self) -> list[str]:
        return list(self._pieces)

    def tokenize(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        code_points = words.values
        word_length = words.row_lengths()
        word_of = row_ids(words)
        position = tf.range(tf.size(code_points, out_type=tf.int64))
        index_in_word = position - tf.gather(words.row_starts(), word_of)
        # All words as one UTF-8 string, so every candidate piece is a substring of it.
        text = tf.strings.unicode_encode(
            tf.RaggedTensor.from_row_splits(code_points, tf.stack([0, tf.size(position)])), "UTF-8"
        )[0]
        byte_lengths = tf.cast(utf8_lengths(code_points), tf.int64)
        byte_end = tf.cumsum(byte_lengths)
        byte_start = byte_end - byte_lengths

        scores, piece_ids = self._candidates(
            text, byte_start, byte_end, tf.gather(word_length, word_of) - index_in_word
        )
        best = self._best_path_scores(scores, index_in_word, word_of, word_length)
        piece_length, piece_id = self._best_pieces(best, scores, piece_ids, position, index_in_word)
        on_path = _best_path(piece_length, position, index_in_word, word_of, word_length)
        return self._tokens(
            on_path,
            piece_length,
            piece_id,
            code_points,
            word_of,
            words.nrows(),
            text,
            byte_start,
            byte_end,
        )

    def _candidates(self, text, byte_start, byte_end, remaining):
        """Every piece that can end at each position: ``[positions, longest]`` float64 scores
        (-inf where none) and int64 ids, column ``longest - length`` for a piece of ``length``
        characters, so column k holds the piece starting ``longest - k`` positions earlier."""
        longest = self.longest_piece
        count = tf.minimum(remaining, longest)
        candidates_end = tf.cumsum(count)
        candidate = tf.range(tf.reduce_sum(count))
        start = tf.searchsorted(candidates_end, candidate, side="right", out_type=tf.int64)
        length = candidate - tf.gather(candidates_end - count, start) + 1
        end = start + length - 1
        begin = tf.gather(byte_start, start)
        piece_id = self._piece_ids.lookup(
            tf.strings.substr(text, begin, tf.gather(byte_end, end) - begin)
        )
        # A character that starts no one-character piece can be the unknown piece.
        unknown = (length == 1) & (piece_id < 0)
        score_index = tf.where(unknown, tf.constant(self._unknown_score_index, tf.int64), piece_id)
        piece_id = tf.where(unknown, tf.constant(self.unk_id, tf.int64), piece_id)
        found = piece_id >= 0
        cell = tf.stack([end, longest - length], axis=1)[found]
        shape = tf.stack([tf.size(remaining, out_type=tf.int64), longest])
        scores = tf.tensor_scatter_nd_update(
            tf.fill(shape, tf.constant(-np.inf, tf.float64)),
            cell,
            tf.gather(self._scores, score_index[found]),
        )
        piece_ids = tf.tensor_scatter_nd_update(
            tf.fill(shape, tf.constant(-1, tf.int64)), cell, piece_id[found]
        )
        return scores, piece_ids

    def _best_path_scores(self, scores, index_in_word, word_of, word_length):
        """The best path score to each position's end, summed in Rust's order (see the module
        docstring): a loop over end positions, every word of the batch at once."""
        longest = self.longest_piece
        steps = STEPS_PER_ITERATION
        word_count = tf.size(word_length)
        # Words by decreasing length: at step t the running words are the first running[t].
        order = tf.argsort(-word_length, stable=True)
        rank = tf.math.invert_permutation(tf.cast(order, tf.int64))
        longest_word = tf.reduce_max(tf.concat([word_length, [0]], axis=0))
        iterations = tf.maximum((longest_word + steps - 1) // steps, 1)
        shorter_or_equal = tf.cumsum(
            tf.math.bincount(word_length, minlength=iterations * steps, dtype=tf.int64)
        )
        # Each iteration runs the words still running at its first step, on a dense block of
        # [steps, running words] rows; a word that ends inside it sees -inf rows after its end.
        running = tf.cast(word_count, tf.int64) - shorter_or_equal[::steps][:iterations]
        rows_before = tf.cumsum(steps * running, exclusive=True)
        iteration = index_in_word // steps
        row = (
            tf.gather(rows_before, iteration)
            + (index_in_word - iteration * steps) * tf.gather(running, iteration)
            + tf.gather(rank, word_of)
        )
        row_count = tf.reduce_sum(steps * running)
        blocks = tf.tensor_scatter_nd_update(
            tf.fill(tf.stack([row_count, longest]), tf.constant(-np.inf, tf.float64)),
            row[:, None],
            scores,
        )

        def step_block(index, window, results):
            size = running[index]
            block = tf.reshape(
                blocks[rows_before[index] : rows_before[index] + steps * size], [steps, -1, longest]
            )
            window = window[:size]
            news = []
            for step in range(steps):
                new = tf.reduce_max(window + block[step], axis=1)
                window = tf.concat([window[:, 1:], new[:, None]], axis=1)
                news.append(new)
            return index + 1, window, results.write(index, tf.reshape(tf.stack(news), [-1]))

        # The window holds the best scores at the `longest` positions before the current end;
        # a word starts with 0 at its start and nothing before it.
        start_window = tf.concat(
            [
                tf.fill(tf.stack([running[0], longest - 1]), tf.constant(-np.inf, tf.float64)),
                tf.zeros(tf.stack([running[0], 1]), tf.float64),
            ],
            axis=1,
        )
        _, _, results = tf.while_loop(
            lambda index, *_: index < tf.cast(iterations, tf.int32),
            step_block,
            (
                tf.constant(0),
                start_window,
                tf.TensorArray(
                    tf.float64,
                    size=tf.cast(iterations, tf.int32),
                    infer_shape=False,
                    element_shape=[None],
                ),
            ),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, longest]), None),
        )
        return tf.gather(results.concat(), row)

    def _best_pieces(self, best, scores, piece_ids, position, index_in_word):
        """The length and id of the piece on the best path to each position's end: of the pieces
        with the best sum, the longest (Rust keeps the first of equal candidates)."""
        longest = self.longest_piece
        column = tf.range(longest, dtype=tf.int64)
        # Best score at the start of the piece of each column: at the word start 0, before it none.
        start_index = index_in_word[:, None] + 1 - longest + column[None, :]
        earlier = tf.gather(best, tf.maximum(position[:, None] - longest + column[None, :], 0))
        start_best = tf.where(
            start_index > 0,
            earlier,
            tf.where(
                start_index == 0, tf.constant(0.0, tf.float64), tf.constant(-np.inf, tf.float64)
            ),
        )
        sums = start_best + scores
        is_best = tf.equal(sums, tf.reduce_max(sums, axis=1, keepdims=True))
        best_column = tf.reduce_min(
            tf.where(is_best, column[None, :], tf.constant(longest, tf.int64)), axis=1
        )
        piece_length = longest - best_column
        piece_id = tf.gather(piece_ids, best_column, batch_dims=1)
        return piece_length, piece_id

    def _tokens(
        self,
        on_path,
        piece_length,
        piece_id,
        code_points,
        word_of,
        word_count,
        text,
        byte_start,
        byte_end,
    ):
        """The ids of the pieces on the best paths, with runs of unknown pieces fused."""
        token_end = tf.where(on_path)[:, 0]
        token_id = tf.gather(piece_id, token_end)
        token_word = tf.gather(word_of, token_end)
        token_start = token_end - tf.gather(piece_length, token_end) + 1
        is_unknown = tf.equal(token_id, self.unk_id)
        fused = is_unknown & tf.concat(
            [[False], is_unknown[:-1] & tf.equal(token_word[1:], token_word[:-1])], axis=0
        )
        # Groups: a token, or a run of unknown tokens fused into one.
        first_token = tf.where(~fused)[:, 0]
        group_of_token = tf.cumsum(tf.cast(~fused, tf.int64)) - 1
        group_id = tf.gather(token_id, first_token)
        group_unknown = tf.gather(is_unknown, first_token)
        group_start = tf.gather(token_start, first_token)
        group_end = tf.math.segment_max(token_end, group_of_token)
        # A fused run whose text is a piece becomes that piece (`token_to_ids.get(&string)`).
        begin = tf.gather(byte_start, group_start)
        fused_id = self._piece_ids.lookup(
            tf.strings.substr(text, begin, tf.gather(byte_end, group_end) - begin)
        )
        group_id = tf.where(group_unknown & (fused_id >= 0), fused_id, group_id)

        # Output per character, so that byte pieces come out in text order: the first character
        # of a group carries its id, or each character of a spelled-out group its UTF-8 bytes.
        position = tf.range(tf.size(code_points, out_type=tf.int64))
        group = tf.searchsorted(group_start, position, side="right", out_type=tf.int64) - 1
        byte_count = utf8_lengths(code_points)
        byte_index = tf.range(4)[None, :]
        byte_ids = tf.gather(self._byte_piece_ids, utf8_bytes(code_points))
        if self.byte_fallback:
            spelled = group_unknown & (fused_id < 0)
            all_known = tf.reduce_all((byte_ids >= 0) | (byte_index >= byte_count[:, None]), axis=1)
            spelled &= tf.math.segment_min(tf.cast(all_known, tf.int32), group) > 0
            uses_bytes = tf.gather(spelled, group)
        else:
            uses_bytes = tf.zeros_like(position, tf.bool)
        is_group_start = tf.equal(position, tf.gather(group_start, group))
        emitted = tf.where(uses_bytes, byte_count, tf.cast(is_group_start, tf.int32))
        values = tf.where(uses_bytes[:, None], byte_ids, tf.gather(group_id, group)[:, None])
        return tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(values, byte_index < emitted[:, None]),
            tf.math.unsorted_segment_sum(tf.cast(emitted, tf.int64), word_of, word_count),
            validate=False,
        )


def _best_path(piece_length, position, index_in_word, word_of, word_length):
    """Which positions end a piece of their word's best path, found from each word's last
    position by pointer doubling over the "end of the previous piece" links."""
    previous = tf.where(index_in_word >= piece_length, position - piece_length, position)
    is_last = tf.equal(index_in_word, tf.gather(word_length, word_of) - 1)
    on_path = tf.cast(is_last, tf.int32)
    count = tf.size(position)
    longest_word = tf.reduce_max(tf.concat([word_length, [1]], axis=0))

    def double(covered, on_path, previous):
        reached = tf.math.unsorted_segment_max(on_path, previous, count)
        return covered * 2, tf.maximum(on_path, reached), tf.gather(previous, previous)

    # After r rounds every position within 2**r - 1 links of a word end is marked.
    _, on_path, _ = tf.while_loop(
        lambda covered, *_: covered < longest_word,
        double,
        (tf.constant(1, tf.int64), on_path, previous),
    )
    return on_path > 0
