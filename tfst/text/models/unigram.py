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
Rust's order: a loop over end positions, all words of the batch at once (sorted by length, so
each step only touches the words still running), each step one vectorized max over the
candidate pieces (three ops: add, max, write into a window). Everything else is parallel: the
candidate pieces at every position (walks down a trie of the pieces, all positions at once), the
choice of each position's best piece from the sums the loop saw, and pointer doubling to walk the
best path back from each word's end.

Cost is linear: a word of n characters costs at most n * (longest piece) trie lookups (a walk
ends where no piece goes on, mostly after a few characters; all walks step together in a
``tf.while_loop`` that ends with the last one) and n loop steps.
The first ``PREFIX_STEPS`` steps are unrolled in the graph, on exactly the words still running
(most words end there); longer words continue in a ``tf.while_loop`` of ``LOOP_STEPS`` unrolled
steps per iteration, to keep TensorFlow's per-iteration overhead down.

Most words of real text are one piece. When the model is built, the pieces with the best scores
go through the same dynamic program in Python, and those that are their own best segmentation
make a table; a word found in it is that piece, and skips all of the above.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfst.text.code_points import previous_values, rows_and_indices, utf8_bytes, utf8_lengths
from tfst.text.models.base import WHOLE_WORD_CANDIDATES, TokenizerModel, split_unless_whole
from tfst.text.spec import TokenizerSpecError, option

# `tokenizers`' K_UNK_PENALTY: the unknown piece scores this much below the worst piece.
UNKNOWN_PENALTY = 10.0
# Dynamic-programming steps before the loop, each on exactly the words still running.
PREFIX_STEPS = 16
# Dynamic-programming steps unrolled per while-loop iteration after them (rounded to a multiple
# of the longest piece). TensorFlow's per-iteration and per-op overhead dominates a long word
# (one 10,000-character CJK word, 2 shared cores: about 250 ms with 1 step, 90-150 ms with 8,
# 60-100 ms with 32; 64 is no faster).
LOOP_STEPS = 32
# A trie key is a node's key prefix plus a code point (< 2**21), a prefix being the node's
# number shifted left by NODE_SHIFT bits. The flag marks a word's first code point: no key holds
# it, so a walk that reaches the next word ends there.
WORD_START_FLAG = 2**21
NODE_SHIFT = 22
# Sums of scores are only bit-exact if TensorFlow keeps subnormal results, and it flushes them to
# zero. Scores that are 0 or at least this large are multiples of 2**-1022, and so is every sum.
SMALLEST_EXACT_SCORE = 2.0**-970
# A cell that holds no candidate holds the lowest float64 (the segment max's empty value), which
# must lose to every real sum: scores up to this size keep any word's sums far from it.
LARGEST_SCORE = 2.0**900


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
        huge = np.abs(scores) > LARGEST_SCORE
        if huge.any():
            raise TokenizerSpecError(
                f"{where}: vocab score {scores[huge][0]!r} is too large in magnitude for exact "
                f"sums; tfst supports scores up to {LARGEST_SCORE!r}"
            )
        # A repeated piece means its last id, in the lookup and in the scores (`token_to_ids`).
        id_of_piece = {piece: piece_id for piece_id, piece in enumerate(self._pieces)}
        # The empty piece never matches (the trie only reports a key after reading a byte).
        matchable = {piece: piece_id for piece, piece_id in id_of_piece.items() if piece}
        self.longest_piece = max(map(len, matchable), default=1)
        self.unk_id = int(unk_id)
        self.byte_fallback = bool(byte_fallback)
        self._unknown_score = float(scores.min()) - UNKNOWN_PENALTY
        self._piece_ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(matchable) or [""]),
                tf.constant(list(matchable.values()) or [-1], tf.int64),
            ),
            default_value=-1,
        )
        keys, children, node_scores, self._last_piece_node = _prefix_trie(
            matchable, scores, self._unknown_score
        )
        self._trie = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.int64), tf.constant(children, tf.int64)
            ),
            default_value=0,
        )
        self._node_scores = tf.constant(node_scores, tf.float64)
        self._byte_piece_ids = tf.constant(
            [id_of_piece.get(f"<0x{byte:02X}>", -1) for byte in range(256)], tf.int64
        )
        whole = _whole_piece_words(matchable, scores, self._unknown_score, self.longest_piece)
        self._whole_words = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(whole) or [""]),  # a table needs a key; "" maps to -1
                tf.constant(list(whole.values()) or [-1], tf.int64),
            ),
            default_value=-1,
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
        # A word found whole (a frequent piece whose best path is itself, `_whole_piece_words`)
        # is that piece; the others go through the dynamic program.
        return split_unless_whole(words, self._whole_words, self._best_pieces)

    def _best_pieces(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """The ids of every word's best segmentation (its pieces, and fused unknowns)."""
        code_points = words.values
        word_length = words.row_lengths()
        word_of, index_in_word = rows_and_indices(words)
        position = tf.range(tf.size(code_points, out_type=tf.int64))
        schedule = _Schedule(word_length, word_of, index_in_word, self.longest_piece)
        # A candidate's cell: the row of its end, the column of the position before its start.
        column = tf.truncatemod(index_in_word + (self.longest_piece - 1), self.longest_piece)
        cell_row = schedule.row * self.longest_piece
        blocks, cell_pieces = self._candidates(
            code_points, index_in_word, cell_row, column, schedule.row_count * self.longest_piece
        )
        piece_length = tf.gather(self._best_lengths(blocks, schedule), schedule.row)
        on_path = _best_path(piece_length, position, index_in_word, word_of, word_length)
        token_end = tf.where(on_path)[:, 0]
        token_start = token_end - tf.gather(piece_length, token_end) + 1
        token_id = tf.gather(
            cell_pieces, tf.gather(cell_row, token_end) + tf.gather(column, token_start)
        )
        return self._tokens(token_start, token_end, token_id, code_points, word_of, words.nrows())

    def _candidates(self, code_points, index_in_word, cell_row, column, cell_count):
        """The score of every piece that can start at each position, found by walking the trie.

        Returns the dense ``[schedule rows, longest]`` float64 scores the best-path loop reads, each
        candidate in the row of its end position (``cell_row``: the row's first cell) and in the
        column of the position before its start (``_Schedule``), and the piece id of each of the
        ``cell_count`` cells, flat (-1 where a one-character candidate is the unknown piece). A walk
        starts at every position and takes one character per step while some piece goes on, so it
        meets exactly the pieces `tokenizers`' trie search finds. Cells of prefixes that are no
        piece and cells no walk reaches hold the lowest float64 (the segment max of -inf or of
        nothing): they lose to the one-character candidate every position has (``LARGEST_SCORE``
        keeps real sums far above them), or start before their word, where the loop's window holds
        -inf, or lie in rows of words that have ended."""
        longest = self.longest_piece
        code_points = tf.cast(code_points, tf.int64)
        # Read one past the last position by walks at the end of the batch: a word start.
        flagged = tf.concat(
            [
                code_points
                + tf.where(tf.equal(index_in_word, 0), tf.constant(WORD_START_FLAG, tf.int64), 0),
                [WORD_START_FLAG],
            ],
            axis=0,
        )
        # Every position starts a walk, and its first step has a candidate even where no piece
        # starts: the root (no child) and one-character nodes that are no piece score as the
        # unknown piece (``_prefix_trie``).
        first = self._trie.lookup(code_points)

        def step(start, end, node):
            """One more character for every walk; the walks that go on, at their new nodes."""
            end += 1
            child = self._trie.lookup(node + tf.gather(flagged, end))
            going_on = tf.where(child > 0)[:, 0]
            return (
                tf.gather(start, going_on),
                tf.gather(end, going_on),
                tf.gather(child, going_on),
            )

        going_on = tf.where(first > 0)[:, 0]
        start, end, node = _walk_on(
            step, (going_on, going_on, tf.gather(first, going_on)), longest - 1
        )
        node = tf.concat([first, node], axis=0)
        node_number = tf.bitwise.right_shift(node, NODE_SHIFT)
        score = tf.gather(self._node_scores, node_number)
        # The first steps start and end at their own position; the later ones are gathered.
        cell = tf.concat(
            [cell_row + column, tf.gather(cell_row, end) + tf.gather(column, start)], axis=0
        )
        # A segment max puts each score and piece in its cell (cells are distinct): ScatterNd
        # costs several times more per update.
        blocks = tf.math.unsorted_segment_max(score, cell, cell_count)
        pieces = tf.math.unsorted_segment_max(
            _piece_of_nodes(node_number, self._last_piece_node), cell, cell_count
        )
        return tf.reshape(blocks, [-1, longest]), pieces

    def _best_lengths(self, blocks, schedule):
        """For every schedule row, the length of the piece on the best path to its end.

        The best scores are summed in Rust's order (see the module docstring): a loop over end
        positions, every word of the batch at once. The window holds the best scores of the
        ``longest`` positions before the current end, position q in column q mod longest; a
        word starts with 0 at position -1 and nothing before it. Each step adds its block of
        scores, takes the best, and writes it over the column of the position that leaves the
        window. Of the pieces with the best sum, the longest wins (Rust keeps the first of equal
        candidates, and candidates come longest first)."""
        longest = self.longest_piece
        prefix_steps, loop_steps = schedule.prefix_steps, schedule.loop_steps
        window = tf.broadcast_to(
            np.where(np.arange(longest) == longest - 1, 0.0, -np.inf),
            tf.stack([schedule.prefix_running[0], longest]),
        )
        columns = np.arange(longest)
        # Column j holds the piece that starts after the position j mod longest, so its length
        # depends on the end's place in the window cycle, known at each step.
        phase = np.arange(longest)[:, None]
        length_of_column = ((phase - columns[None, :] - 1) % longest + 1).astype(np.int32)

        def step(window, block, index):
            sums = window + block
            best = tf.reduce_max(sums, axis=1, keepdims=True)
            return tf.where(columns[None, :] == index % longest, best, window), sums, best

        def best_length(sums, best, lengths):
            return tf.reduce_max(tf.where(tf.equal(sums, best), lengths, 0), axis=-1)

        # Row counts shrink step by step in the prefix steps, where most words end.
        prefix_blocks = tf.split(
            blocks[: schedule.prefix_rows], schedule.prefix_running, num=prefix_steps
        )
        sizes = tf.unstack(
            tf.stack(
                [schedule.prefix_running, tf.fill([prefix_steps], tf.constant(longest, tf.int64))],
                axis=1,
            ),
            num=prefix_steps,
        )
        origin = tf.zeros([2], tf.int64)
        prefix_lengths = []
        for index in range(prefix_steps):
            if index:
                window = tf.slice(window, origin, sizes[index])
            window, sums, best = step(window, prefix_blocks[index], index)
            prefix_lengths.append(best_length(sums, best, length_of_column[index % longest]))

        # Then blocks of `loop_steps` steps over the words still running at the block's start.
        loop_blocks = tf.TensorArray(
            tf.float64,
            size=schedule.iterations,
            infer_shape=False,
            element_shape=[None, longest],
        ).split(blocks[schedule.prefix_rows :], loop_steps * schedule.loop_running)
        loop_phases = (prefix_steps + np.arange(loop_steps)) % longest
        loop_lengths = length_of_column[loop_phases][:, None, :]

        def loop_block(index, window, results):
            running = schedule.loop_running[index]
            block = tf.unstack(
                tf.reshape(loop_blocks.read(index), [loop_steps, -1, longest]), num=loop_steps
            )
            window = window[:running]
            all_sums, all_best = [], []
            for offset in range(loop_steps):
                window, sums, best = step(window, block[offset], prefix_steps + offset)
                all_sums.append(sums)
                all_best.append(best)
            lengths = best_length(tf.stack(all_sums), tf.stack(all_best), loop_lengths)
            return index + 1, window, results.write(index, tf.reshape(lengths, [-1]))

        _, _, results = tf.while_loop(
            lambda index, *_: index < schedule.iterations,
            loop_block,
            (
                tf.constant(0),
                window,
                tf.TensorArray(
                    tf.int32, size=schedule.iterations, infer_shape=False, element_shape=[None]
                ),
            ),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, longest]), None),
        )
        return tf.cast(tf.concat([*prefix_lengths, results.concat()], axis=0), tf.int64)

    def _tokens(self, token_start, token_end, token_id, code_points, word_of, word_count):
        """The ids of the pieces on the best paths (``token_id``, -1 for the unknown piece), with
        runs of unknown pieces fused."""
        token_word = tf.gather(word_of, token_end)
        # A character that starts no one-character piece was the unknown piece.
        token_id = tf.where(token_id < 0, tf.constant(self.unk_id, tf.int64), token_id)
        is_unknown = tf.equal(token_id, self.unk_id)
        fused = (
            is_unknown
            & previous_values(is_unknown, False)
            & tf.equal(token_word, previous_values(token_word, -1))
        )
        # Groups: a token, or a run of unknown tokens fused into one.
        first_token = tf.where(~fused)[:, 0]
        group_of_token = tf.cumsum(tf.cast(~fused, tf.int64)) - 1
        group_id = tf.gather(token_id, first_token)
        group_unknown = tf.gather(is_unknown, first_token)
        group_start = tf.gather(token_start, first_token)
        group_end = tf.math.segment_max(token_end, group_of_token)
        # An unknown group whose text is a piece becomes that piece (`token_to_ids.get(&string)`):
        # only unknown groups are spelled out and looked up.
        unknown_group = tf.where(group_unknown)[:, 0]
        unknown_start = tf.gather(group_start, unknown_group)
        unknown_text = tf.strings.unicode_encode(
            tf.gather(
                code_points,
                tf.ragged.range(unknown_start, tf.gather(group_end, unknown_group) + 1),
            ),
            "UTF-8",
        )
        fused_id = tf.gather(
            tf.concat([[-1], self._piece_ids.lookup(unknown_text)], axis=0),
            tf.where(group_unknown, tf.cumsum(tf.cast(group_unknown, tf.int64)), 0),
        )
        group_id = tf.where(group_unknown & (fused_id >= 0), fused_id, group_id)
        if not self.byte_fallback:
            return tf.RaggedTensor.from_value_rowids(
                group_id, tf.gather(token_word, first_token), word_count, validate=False
            )

        # Output per character, so that byte pieces come out in text order: the first character
        # of a group carries its id, or each character of a spelled-out group its UTF-8 bytes.
        position = tf.range(tf.size(code_points, out_type=tf.int64))
        group = tf.searchsorted(group_start, position, side="right", out_type=tf.int64) - 1
        byte_count = utf8_lengths(code_points)
        byte_index = tf.range(4)[None, :]
        byte_ids = tf.gather(self._byte_piece_ids, utf8_bytes(code_points))
        spelled = group_unknown & (fused_id < 0)
        all_known = tf.reduce_all((byte_ids >= 0) | (byte_index >= byte_count[:, None]), axis=1)
        spelled &= tf.math.segment_min(tf.cast(all_known, tf.int32), group) > 0
        uses_bytes = tf.gather(spelled, group)
        is_group_start = tf.equal(position, tf.gather(group_start, group))
        emitted = tf.where(uses_bytes, byte_count, tf.cast(is_group_start, tf.int32))
        values = tf.where(uses_bytes[:, None], byte_ids, tf.gather(group_id, group)[:, None])
        return tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(values, byte_index < emitted[:, None]),
            tf.math.unsorted_segment_sum(tf.cast(emitted, tf.int64), word_of, word_count),
            validate=False,
        )


class _Schedule:
    """Where each position's scores sit in the best-path loop's rows.

    Words are sorted by decreasing length, so the words still running at a step are a prefix of
    that order. The first ``prefix_steps`` steps have one row per running word each; after
    them, blocks of ``loop_steps`` steps (one ``tf.while_loop`` iteration each) have one row
    per word running at the block's start, step-major, and a word that ends inside the block
    leaves -inf rows. Rows are at most the positions plus ``loop_steps`` per long word.
    """

    def __init__(self, word_length, word_of, index_in_word, longest_piece):
        self.prefix_steps = PREFIX_STEPS
        # A multiple of the window width keeps each step's window column a constant.
        self.loop_steps = longest_piece * max(1, round(LOOP_STEPS / longest_piece))
        word_count = tf.size(word_length, out_type=tf.int64)
        order = tf.argsort(-word_length, stable=True)
        rank = tf.math.invert_permutation(tf.cast(order, tf.int64))
        longest_word = tf.reduce_max(tf.concat([word_length, [0]], axis=0))
        iterations = tf.maximum(
            (longest_word - self.prefix_steps + self.loop_steps - 1) // self.loop_steps, 0
        )
        steps = self.prefix_steps + iterations * self.loop_steps
        # Words longer than each step: the words still running at it.
        words_of_length = tf.math.bincount(word_length, minlength=steps, dtype=tf.int64)
        running = word_count - tf.cumsum(words_of_length[:steps])
        self.prefix_running = running[: self.prefix_steps]
        prefix_rows_before = tf.cumsum(self.prefix_running, exclusive=True)
        self.prefix_rows = tf.reduce_sum(self.prefix_running)
        self.loop_running = running[self.prefix_steps :: self.loop_steps]
        loop_rows_before = self.prefix_rows + tf.cumsum(
            self.loop_steps * self.loop_running, exclusive=True
        )
        self.row_count = self.prefix_rows + self.loop_steps * tf.reduce_sum(self.loop_running)
        self.iterations = tf.cast(iterations, tf.int32)

        word_rank = tf.gather(rank, word_of)
        in_prefix = index_in_word < self.prefix_steps
        loop_step = tf.maximum(index_in_word - self.prefix_steps, 0)
        iteration = tf.truncatediv(loop_step, self.loop_steps)  # non-negative: floor division
        # Padded by one, so positions in the prefix read something when there is no loop.
        loop_rows_before = tf.concat([loop_rows_before, [0]], axis=0)
        loop_running = tf.concat([self.loop_running, [0]], axis=0)
        self.row = word_rank + tf.where(
            in_prefix,
            tf.gather(prefix_rows_before, tf.minimum(index_in_word, self.prefix_steps - 1)),
            tf.gather(loop_rows_before, iteration)
            + (loop_step - iteration * self.loop_steps) * tf.gather(loop_running, iteration),
        )


def _walk_on(step, walks, steps):
    """Takes up to ``steps`` more trie steps, in a loop that ends when no walk goes on, and
    returns the walks that went on at each step, concatenated (not ``walks`` themselves)."""

    def body(index, walks, found):
        walks = step(*walks)
        found = [part.write(index, value) for part, value in zip(found, walks, strict=True)]
        return index + 1, walks, found

    _, _, found = tf.while_loop(
        lambda index, walks, _: (index < steps) & (tf.size(walks[0]) > 0),
        body,
        (
            tf.constant(0),
            walks,
            [
                tf.TensorArray(tf.int64, size=0, dynamic_size=True, element_shape=[None])
                for _ in walks
            ],
        ),
    )
    return tuple(part.concat() for part in found)


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


def _whole_piece_words(
    pieces: dict[str, int], scores: np.ndarray, unknown_score: float, longest: int
) -> dict[str, int]:
    """Word → id of the pieces, of the ``WHOLE_WORD_CANDIDATES`` with the best scores, that are
    their own best segmentation: as words they give that one piece.

    Each candidate goes through `tokenizers`' dynamic program in Python, in its order: end
    positions filled from each start in turn, a candidate replacing the best only if strictly
    greater, the unknown piece after the pieces at a character that starts no one-character
    piece; float64 sums, as Python's floats are. The word is its own piece when the best path
    to its end starts at 0. (Some 10 to 30 µs a piece.)"""
    single = {piece for piece in pieces if len(piece) == 1}
    ids = np.fromiter(pieces.values(), np.int64, len(pieces))
    words = list(pieces)
    # The best scores first, then the lowest ids.
    candidates = np.lexsort((ids, -scores[ids]))[:WHOLE_WORD_CANDIDATES]
    scores = scores.tolist()  # Python floats: indexing a numpy array is several times slower
    whole = {}
    for word in map(words.__getitem__, candidates.tolist()):
        length = len(word)
        best: list[float] = [0.0] + [-np.inf] * length
        start_of: list[int | None] = [0] + [None] * length
        for start in range(length):
            for end in range(start + 1, min(length, start + longest) + 1):
                piece_id = pieces.get(word[start:end])
                if piece_id is None:
                    continue
                score = best[start] + scores[piece_id]
                if start_of[end] is None or score > best[end]:
                    best[end], start_of[end] = score, start
            if word[start] not in single:
                score = best[start] + unknown_score
                if start_of[start + 1] is None or score > best[start + 1]:
                    best[start + 1], start_of[start + 1] = score, start
        if start_of[length] == 0:
            whole[word] = pieces[word]
    return whole


def _prefix_trie(pieces: dict[str, int], scores: np.ndarray, unknown_score: float):
    """The trie of the pieces as hash-table entries, and a score per node.

    Node 0 is the root; node k's key prefix is ``k << NODE_SHIFT``, and its child by code point
    c has the key ``prefix + c`` and the child's prefix as value (0, the root, means no child).
    The node that spells the piece of id i is node i + 1, so a node's piece needs no table
    (``_piece_of_nodes``); nodes that spell no piece come after the last piece's. A node scores as
    the piece it spells, else -inf, or ``unknown_score`` if it is the root or one character long.
    """
    # Nodes by key (not by prefix string: memory stays linear in the pieces' length). Shorter
    # pieces first, so a piece's node exists only once its own turn comes.
    node_of_key = {}
    piece_nodes = max(pieces.values(), default=-1) + 2  # the root, and one node per id
    node_scores = [-np.inf] * piece_nodes
    # Nodes of one character and the root are only reached by a walk's first step, where a
    # character that starts no one-character piece can be the unknown piece.
    node_scores[0] = unknown_score
    for piece, piece_id in sorted(pieces.items(), key=lambda item: len(item[0])):
        node = 0
        for index, character in enumerate(piece):
            key = (node << NODE_SHIFT) + ord(character)
            child = node_of_key.get(key)
            if child is None:
                if index == len(piece) - 1:
                    child = piece_id + 1
                else:
                    child = len(node_scores)
                    node_scores.append(-np.inf)
                node_of_key[key] = child
                if node == 0:
                    node_scores[child] = unknown_score
            node = child
        node_scores[node] = scores[piece_id]
    keys = list(node_of_key)
    children = [node << NODE_SHIFT for node in node_of_key.values()]
    # A table needs an entry; a negative key is never looked up.
    last_piece_node = piece_nodes - 1
    return keys or [-1], children or [0], np.asarray(node_scores, np.float64), last_piece_node


def _piece_of_nodes(node_number: tf.Tensor, last_piece_node: int) -> tf.Tensor:
    """The piece id each trie node spells (``_prefix_trie``'s numbering), -1 for none."""
    return tf.where(node_number <= last_piece_node, node_number - 1, tf.constant(-1, tf.int64))
