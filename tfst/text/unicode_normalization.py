"""Unicode normalization (NFD, NFKD, NFC, NFKC) of whole batches, exactly as `tokenizers` does it.

`tokenizers` normalizes with the Rust crate `unicode-normalization-alignments` 0.1.12, whose tables
are Unicode 9.0 (Python's `unicodedata` is newer, so it is not the reference): marks added since
are starters there, and U+11938 neither decomposes nor composes. The tables in
`normalization_tables.npz` are probed from `tokenizers` by `tests/generate_normalization_tables.py`.

The algorithm is UAX #15 as the crate implements it, in three batched steps:

1. *Decomposition*: each code point becomes its full (recursive) canonical or compatibility
   decomposition, a table row (Hangul syllables: arithmetic, as the crate does).
2. *Canonical ordering*: each run of non-starters (combining class > 0) is stably sorted by class;
   one sort of the whole batch keyed by (run, class), skipped when nothing is out of order.
3. *Composition* (NFC, NFKC), see :meth:`UnicodeNormalization._compose`.

Placeholders of added tokens (``tfst.text.code_points``) have class 0 and compose with nothing, so
marks never reorder across them and nothing composes across them: the text on each side is
normalized as if it were a string of its own, as `tokenizers` normalizes it.
"""

from __future__ import annotations

import functools
import pathlib

import numpy as np
import tensorflow as tf

from tfst.text.code_point_maps import CodePointMap, CodePointProperty
from tfst.text.code_points import is_row_start, keep_where, previous_values, row_ids

TABLES_PATH = pathlib.Path(__file__).with_name("normalization_tables.npz")
NUM_CODE_POINTS = 0x110000
FORMS = ("NFD", "NFKD", "NFC", "NFKC")

# Hangul syllables and conjoining jamo (Unicode chapter 3.12): syllable = L, V and optional T.
HANGUL_SYLLABLE_FIRST = 0xAC00
HANGUL_LEADING_FIRST, HANGUL_LEADING_COUNT = 0x1100, 19
HANGUL_VOWEL_FIRST, HANGUL_VOWEL_COUNT = 0x1161, 21
# T index 0 means "no trailing consonant", so the trailing jamo are U+11A8.. (index 1 onward).
HANGUL_TRAILING_BASE, HANGUL_TRAILING_COUNT = 0x11A7, 28
HANGUL_SYLLABLES_PER_LEADING = HANGUL_VOWEL_COUNT * HANGUL_TRAILING_COUNT
HANGUL_SYLLABLE_COUNT = HANGUL_LEADING_COUNT * HANGUL_SYLLABLES_PER_LEADING

# Bits of the per-code-point property table; the low byte is the canonical combining class.
CLASS_MASK = 0xFF
COMPOSES_SECOND = 0x100  # the second code point of some composition pair
MAY_CHANGE = 0x200  # not known to pass the form unchanged whatever its neighbours are

# Composition pair keys: first << 21 | second (code points fit in 21 bits).
PAIR_KEY_SHIFT = 21


def decompose_hangul_syllable(code_point: int) -> list[int]:
    """The conjoining jamo (L, V and maybe T) of a precomposed Hangul syllable."""
    index = code_point - HANGUL_SYLLABLE_FIRST
    trailing = index % HANGUL_TRAILING_COUNT
    jamo = [
        HANGUL_LEADING_FIRST + index // HANGUL_SYLLABLES_PER_LEADING,
        HANGUL_VOWEL_FIRST + index % HANGUL_SYLLABLES_PER_LEADING // HANGUL_TRAILING_COUNT,
    ]
    return jamo + [HANGUL_TRAILING_BASE + trailing] if trailing else jamo


@functools.cache
def load_normalization_tables() -> dict[str, np.ndarray]:
    """The probed tables, read once per process."""
    with np.load(TABLES_PATH) as archive:
        return {name: archive[name] for name in archive.files}


def sparse_mapping(tables: dict[str, np.ndarray], name: str) -> dict[int, list[int]]:
    """A ``{name}_keys/_splits/_values`` table as code point → code points."""
    keys, splits, values = (tables[f"{name}_{part}"] for part in ("keys", "splits", "values"))
    return {
        int(key): values[splits[i] : splits[i + 1]].tolist() for i, key in enumerate(keys.tolist())
    }


def code_point_set(tables: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A table listing code points, as one bool per code point."""
    members = np.zeros(NUM_CODE_POINTS, dtype=bool)
    members[tables[name]] = True
    return members


class UnicodeNormalization(tf.Module):
    """One of NFD, NFKD, NFC, NFKC on ``[texts, (code points)]`` int32, as `tokenizers` does it.

    Args:
        form: ``"NFD"``, ``"NFKD"``, ``"NFC"`` or ``"NFKC"``.
    """

    def __init__(self, form: str):
        if form not in FORMS:
            raise ValueError(f"unknown normalization form {form!r}; expected one of {FORMS}")
        super().__init__(name=form.lower())
        self.form = form
        self.composes = form in ("NFC", "NFKC")
        tables = load_normalization_tables()
        decomposition = sparse_mapping(tables, "nfkd" if form in ("NFKD", "NFKC") else "nfd")
        self._decomposition = CodePointMap(decomposition)

        pairs = tables["composition_pairs"].astype(np.int64)
        keys = pairs[:, 0] << PAIR_KEY_SHIFT | pairs[:, 1]
        order = np.argsort(keys)
        self._pair_keys = tf.constant(keys[order][np.newaxis, :])
        self._pair_results = tf.constant(tables["composition_results"][order])

        classes = np.zeros(NUM_CODE_POINTS, dtype=np.int32)
        classes[tables["combining_class_keys"]] = tables["combining_class_values"]
        composes_second = np.zeros(NUM_CODE_POINTS, dtype=bool)
        composes_second[tables["composition_pairs"][:, 1]] = True
        composes_second[HANGUL_VOWEL_FIRST : HANGUL_VOWEL_FIRST + HANGUL_VOWEL_COUNT] = True
        trailing = slice(HANGUL_TRAILING_BASE + 1, HANGUL_TRAILING_BASE + HANGUL_TRAILING_COUNT)
        composes_second[trailing] = True
        if self.composes:
            # The quick check of UAX #15: a text made only of starters that no pair takes as
            # second and that the form leaves alone one by one is left alone as a whole (the
            # generator checks that no decomposition of such a code point starts with a mark or
            # with a code point that composes second, so nothing can reorder or compose across).
            changed = code_point_set(tables, "nfkc_changed" if form == "NFKC" else "nfc_changed")
            may_change = changed | (classes != 0) | composes_second
        else:
            may_change = classes != 0
            may_change[list(decomposition)] = True
            may_change[HANGUL_SYLLABLE_FIRST : HANGUL_SYLLABLE_FIRST + HANGUL_SYLLABLE_COUNT] = True
        self._properties = CodePointProperty(
            classes
            | np.where(composes_second, COMPOSES_SECOND, 0)
            | np.where(may_change, MAY_CHANGE, 0)
        )
        # Each composition appends one code point to the composite's full canonical decomposition,
        # so a starter takes part in at most (longest decomposition of a composite - 1) of them.
        nfd = sparse_mapping(tables, "nfd")
        longest = max(len(nfd[result]) for result in tables["composition_results"].tolist())
        self.max_compositions_per_starter = max(longest, 3) - 1  # 3: Hangul L + V + T

    def __call__(self, texts: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[texts, (code points)]`` → the same texts in this normalization form."""
        texts = texts.with_row_splits_dtype(tf.int64)
        properties = self._properties(texts.values)
        may_change = tf.reduce_any(tf.bitwise.bitwise_and(properties, MAY_CHANGE) != 0)
        values, row_splits = tf.cond(
            may_change,
            lambda: self._normalize(texts),
            lambda: (texts.values, texts.row_splits),
        )
        return tf.RaggedTensor.from_row_splits(values, row_splits, validate=False)

    def _normalize(self, texts: tf.RaggedTensor) -> tuple[tf.Tensor, tf.Tensor]:
        texts = _decompose_hangul_syllables(self._decomposition(texts))
        texts, properties = _canonical_order(texts, self._properties(texts.values))
        if self.composes:
            texts = self._compose(texts, properties)
        return texts.values, texts.row_splits

    def _compose(self, texts: tf.RaggedTensor, properties: tf.Tensor) -> tf.RaggedTensor:
        """Canonical composition of decomposed, canonically ordered texts, as the crate does it.

        The crate walks each text keeping one *composee* (the last starter, or what it has
        composed into) and offers it each following code point C: C is absorbed when the pair
        composes and C is not blocked, i.e. when the code points kept since the composee are none
        or marks of a class below C's (a starter C is blocked by any kept code point).

        Here every composee works in parallel. Only starters that no pair takes as second code
        point are composees: the others (Hangul V and T, some Indic vowel signs) are never first
        in a pair either (the generator checks it), so when one is not absorbed it absorbs
        nothing and blocks what follows. Placeholders are composees that compose with nothing,
        so nothing composes across them. A composee owns the code points up to the next one. Each round, every composee finds the first of its code points, from where it
        stopped, that would compose with its current value if all code points before it were
        kept; it absorbs it and goes on after it. The rounds are bounded because each composition
        lengthens the composite's full decomposition by one code point: after
        ``max_compositions_per_starter`` rounds (3: Greek U+1F82 is four code points) no composee
        can compose again, and a round without a composition leaves a composee as it was.
        Only code points that some pair takes as second are looked at in the rounds.
        """
        values = texts.values
        size = tf.size(values)
        classes = tf.bitwise.bitwise_and(properties, CLASS_MASK)
        is_starter = tf.equal(classes, 0)
        composes_second = tf.not_equal(tf.bitwise.bitwise_and(properties, COMPOSES_SECOND), 0)
        is_composee = is_starter & ~composes_second
        row_start = tf.cast(tf.gather(texts.row_starts(), row_ids(texts)), tf.int32)
        composee_position = _positions(is_composee)
        owner = _last_at_or_before(is_composee, composee_position, row_start)
        starter_position = _positions(is_starter)
        last_starter = tf.gather(
            tf.concat([[-1], starter_position], axis=0),
            1 + _last_at_or_before(is_starter, starter_position, row_start),
        )

        # The candidates, and what the crate checks each of them against.
        candidate = composes_second & (owner >= 0)
        candidate_position = _positions(candidate)
        candidate_owner = tf.boolean_mask(owner, candidate)
        candidate_code_point = tf.boolean_mask(values, candidate)
        candidate_class = tf.boolean_mask(classes, candidate)
        candidate_is_mark = candidate_class > 0
        candidate_last_starter = tf.boolean_mask(last_starter, candidate)
        previous_class = tf.gather(classes, tf.maximum(candidate_position - 1, 0))

        composite = tf.gather(values, composee_position)  # what each composee has become
        cursor = composee_position + 1  # the first code point it has not decided on
        last_kept_class = tf.zeros_like(composee_position)  # of the last mark kept, 0 if none
        absorbed = tf.zeros_like(candidate_position, dtype=tf.bool)
        for _ in range(self.max_compositions_per_starter):
            start = tf.gather(cursor, candidate_owner)
            kept_class = tf.gather(last_kept_class, candidate_owner)
            at_start = tf.equal(candidate_position, start)
            blocking_class = tf.where(at_start, kept_class, previous_class)
            unblocked = tf.where(
                candidate_is_mark,
                (candidate_position >= start)
                & (candidate_last_starter < start)
                & (candidate_class > blocking_class),
                at_start & tf.equal(kept_class, 0),
            )
            result = self._compose_pairs(
                tf.gather(composite, candidate_owner), candidate_code_point
            )
            composes = unblocked & (result >= 0)
            first = tf.math.unsorted_segment_min(
                tf.where(composes, candidate_position, size),
                candidate_owner,
                tf.size(composee_position),
            )
            wins = composes & tf.equal(candidate_position, tf.gather(first, candidate_owner))
            winner = tf.boolean_mask(candidate_owner, wins)[:, tf.newaxis]
            composite = tf.tensor_scatter_nd_update(
                composite, winner, tf.boolean_mask(result, wins)
            )
            cursor = tf.tensor_scatter_nd_update(
                cursor, winner, tf.boolean_mask(candidate_position + 1, wins)
            )
            last_kept_class = tf.tensor_scatter_nd_update(
                last_kept_class, winner, tf.boolean_mask(blocking_class, wins)
            )
            absorbed |= wins

        values = tf.tensor_scatter_nd_update(values, composee_position[:, tf.newaxis], composite)
        absorbed_position = tf.boolean_mask(candidate_position, absorbed)
        removed = tf.scatter_nd(
            absorbed_position[:, tf.newaxis], tf.ones_like(absorbed_position), [size]
        )
        return keep_where(texts.with_values(values), tf.equal(removed, 0))

    def _compose_pairs(self, first: tf.Tensor, second: tf.Tensor) -> tf.Tensor:
        """The composite of each (first, second) pair, -1 where the pair does not compose."""
        keys = tf.bitwise.left_shift(tf.cast(first, tf.int64), PAIR_KEY_SHIFT) | tf.cast(
            second, tf.int64
        )
        found_at = tf.minimum(
            tf.searchsorted(self._pair_keys, keys[tf.newaxis, :])[0],
            tf.size(self._pair_results) - 1,
        )
        in_table = tf.equal(tf.gather(self._pair_keys[0], found_at), keys)
        composite = tf.where(in_table, tf.gather(self._pair_results, found_at), -1)

        leading = first - HANGUL_LEADING_FIRST
        vowel = second - HANGUL_VOWEL_FIRST
        is_leading_vowel = (
            (leading >= 0)
            & (leading < HANGUL_LEADING_COUNT)
            & (vowel >= 0)
            & (vowel < HANGUL_VOWEL_COUNT)
        )
        syllable = HANGUL_SYLLABLE_FIRST + (
            leading * HANGUL_SYLLABLES_PER_LEADING + vowel * HANGUL_TRAILING_COUNT
        )
        composite = tf.where(is_leading_vowel, syllable, composite)

        syllable_index = first - HANGUL_SYLLABLE_FIRST
        trailing = second - HANGUL_TRAILING_BASE
        is_syllable_trailing = (
            (syllable_index >= 0)
            & (syllable_index < HANGUL_SYLLABLE_COUNT)
            & tf.equal(syllable_index % HANGUL_TRAILING_COUNT, 0)
            & (trailing > 0)
            & (trailing < HANGUL_TRAILING_COUNT)
        )
        return tf.where(is_syllable_trailing, first + trailing, composite)


def _decompose_hangul_syllables(texts: tf.RaggedTensor) -> tf.RaggedTensor:
    """Each precomposed Hangul syllable becomes its two or three conjoining jamo."""
    values = texts.values
    index = values - HANGUL_SYLLABLE_FIRST
    is_syllable = (index >= 0) & (index < HANGUL_SYLLABLE_COUNT)

    def decompose():
        has_trailing = is_syllable & tf.not_equal(index % HANGUL_TRAILING_COUNT, 0)
        lengths = 1 + tf.cast(is_syllable, tf.int32) + tf.cast(has_trailing, tf.int32)
        ends = tf.cumsum(lengths)
        source = tf.repeat(tf.range(tf.size(values)), lengths)
        offset = tf.range(tf.size(source)) - tf.gather(ends - lengths, source)
        syllable = tf.gather(index, source)
        jamo = tf.where(
            tf.equal(offset, 0),
            HANGUL_LEADING_FIRST + syllable // HANGUL_SYLLABLES_PER_LEADING,
            tf.where(
                tf.equal(offset, 1),
                HANGUL_VOWEL_FIRST
                + syllable % HANGUL_SYLLABLES_PER_LEADING // HANGUL_TRAILING_COUNT,
                HANGUL_TRAILING_BASE + syllable % HANGUL_TRAILING_COUNT,
            ),
        )
        decomposed = tf.where(tf.gather(is_syllable, source), jamo, tf.gather(values, source))
        row_ends = tf.concat([[0], tf.cast(ends, tf.int64)], axis=0)
        return decomposed, tf.gather(row_ends, texts.row_splits)

    values, row_splits = tf.cond(
        tf.reduce_any(is_syllable), decompose, lambda: (values, texts.row_splits)
    )
    return tf.RaggedTensor.from_row_splits(values, row_splits, validate=False)


def _canonical_order(
    texts: tf.RaggedTensor, properties: tf.Tensor
) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """Stably sort each run of non-starters by combining class (runs end at rows' ends);
    ``properties`` (aligned with the code points, class in the low byte) follow them.

    The sort runs only when some mark follows one of a higher class, which text rarely has.
    """
    classes = tf.bitwise.bitwise_and(properties, CLASS_MASK)
    starts_run = tf.equal(classes, 0) | is_row_start(texts)
    previous_class = previous_values(classes, 0)
    out_of_order = tf.reduce_any(~starts_run & (previous_class > classes))

    def reorder():
        run = tf.cumsum(tf.cast(starts_run, tf.int64))
        order = tf.argsort(run * (CLASS_MASK + 1) + tf.cast(classes, tf.int64), stable=True)
        return tf.gather(texts.values, order), tf.gather(properties, order)

    values, properties = tf.cond(out_of_order, reorder, lambda: (texts.values, properties))
    return texts.with_values(values), properties


def _positions(flags: tf.Tensor) -> tf.Tensor:
    """The int32 positions where ``flags`` is true, in order."""
    return tf.cast(tf.where(flags)[:, 0], tf.int32)


def _last_at_or_before(
    flags: tf.Tensor, flagged_positions: tf.Tensor, row_start: tf.Tensor
) -> tf.Tensor:
    """For each position, the index in ``flagged_positions`` (where ``flags`` is true, in order)
    of the last one at or before it in its row, or -1 if there is none."""
    index = tf.cumsum(tf.cast(flags, tf.int32)) - 1
    position = tf.gather(tf.concat([[-1], flagged_positions], axis=0), index + 1)
    return tf.where(position >= row_start, index, -1)
