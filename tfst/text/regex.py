"""The patterns of ``tokenizer.json`` (Oniguruma syntax), matched in the graph with RE2.

`tokenizers` matches ``Split`` and ``Replace`` patterns, and ``ByteLevel``'s GPT-2 pattern, with
Oniguruma: Unicode-aware ``\\p{..}``, ``\\s``, ``\\w``, ``(?i)`` and look-ahead. TensorFlow's
core string ops offer RE2 (``tf.strings.regex_replace``), whose classes are ASCII-only and which
has no look-around. This module bridges the two without approximation:

1. Every character class the pattern uses (``\\p{L}``, ``\\s``, ``[^\\r\\n]``, ``(?i)s``, each
   literal character) is a set of code points, probed from Oniguruma itself
   (``tfst.text.character_classes``). The sets cut the code points into a few *classes* whose
   members no part of the pattern can tell apart.
2. Each text is rewritten as one *symbol* per code point, its class (code point 1 for the first
   class, 2 for the second, ...), and the pattern is rewritten over those symbols: a class of
   the pattern becomes the RE2 class of its symbols. RE2 then finds exactly Oniguruma's
   matches, because both pick the leftmost match and, at one position, the first alternative
   that matches, trying greedy repetitions longest first and lazy ones shortest first (Perl's
   order); constructs where the two engines can disagree are refused (see below).
3. A look-ahead on one character, ``\\s+(?!\\S)`` being the one real tokenizers use, becomes
   part of the symbol: ``\\s+(?!\\S)`` matches whitespace whose last character is not followed
   by a non-space, which is ``\\s*`` then one *whitespace character not followed by a
   non-space*. So each symbol also says, for every look-ahead class of the pattern, whether
   the next code point (in the same word) belongs to it, and ``X{n,m}(?!C)`` becomes
   ``X{n-1,m-1}X'`` where ``X'`` holds the symbols of ``X`` whose next code point is not in
   ``C``. The sets of (start, end) pairs each side can match, and the order in which the
   backtracking engine tries them, are the same, so the leftmost-first result is too.

Refused, with a ``TokenizerSpecError`` naming the pattern and the construct: look-behind, other
look-ahead, atomic groups, possessive quantifiers, back-references, ``^ $ \\b \\G \\Z`` and other
anchors but ``\\A \\z``, ``(?x)`` and options other than ``i`` and ``m``, POSIX brackets,
properties other than general categories, unbounded repetition of something that can match
the empty string (where backtracking and RE2 treat empty iterations differently), and
case-insensitive text where Oniguruma's multi-character case folding (``(?i)ss`` matching
``ß``) could apply.

Matches are then found as `tokenizers`' ``Pattern::find_matches`` gives them
(``tokenizers/src/tokenizer/pattern.rs``): the word cut into alternating gaps and matches, where
an empty match right where the previous match ended is skipped (Oniguruma's ``find_iter``, as
RE2's global replace does). The split behaviors of ``NormalizedString::split``
(``tokenizers/src/tokenizer/normalizer.rs``) and ``NormalizedString::replace`` are applied to
those pieces for the whole batch at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfst.text.code_point_maps import CodePointProperty
from tfst.text.code_points import (
    expand,
    index_in_row,
    is_added_token,
    is_row_end,
    is_row_start,
    keep_where,
    next_values,
    previous_values,
    row_ids,
    rows_and_indices,
    split_words,
    texts_as_words,
)
from tfst.text.regex_sets import SURROGATES, CodePointSet
from tfst.text.regex_syntax import (
    Alternation,
    Anchor,
    Chars,
    Concat,
    LookAhead,
    Parser,
    Repeat,
    check_tree,
)
from tfst.text.spec import TokenizerSpecError, option
from tfst.text.unicode_tables import NUM_CODE_POINTS

# The split behaviors of `tokenizers` (SplitDelimiterBehavior), as tokenizer.json spells them.
SPLIT_BEHAVIORS = ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")

# Each look-ahead class doubles the symbols; real patterns have one.
MAX_LOOKAHEAD_CLASSES = 3
# Valid UTF-8 never holds this byte, so it can frame the matches RE2 finds.
MATCH_MARK = b"\xff"


@dataclasses.dataclass(frozen=True)
class TranslatedPattern:
    """An Oniguruma pattern as RE2 over symbols, and how to turn code points into symbols.

    A code point's symbol is the code point ``1 + class * 2**lookahead_count + bits``, where
    ``class`` is ``class_of_code_point[cp]`` (``num_classes`` for a placeholder, which no class
    of the pattern holds) and ``bits`` is ``lookahead_bits[class of the next code point in the
    word]`` (``num_classes`` past the end): bit j says whether that next code point is in the
    j-th look-ahead class.
    """

    source: str
    re2: str
    class_of_code_point: np.ndarray
    num_classes: int
    lookahead_count: int
    lookahead_bits: np.ndarray


def translate_pattern(pattern: str, where: str, literal: bool = False) -> TranslatedPattern:
    """Translate a `tokenizers` pattern (``literal``: a ``String`` pattern, matched as is)."""
    parser = Parser(pattern, where)
    if literal:
        tree = Concat([Chars(CodePointSet.of(ord(char)), ord(char)) for char in pattern])
    else:
        tree = parser.parse()
        check_tree(parser, tree)

    all_chars: list[Chars] = []
    lookahead_sets: list[CodePointSet] = []

    def collect(item) -> None:
        if isinstance(item, Chars):
            all_chars.append(item)
        elif isinstance(item, LookAhead):
            all_chars.append(item.chars)
            if item.chars.code_points not in lookahead_sets:
                lookahead_sets.append(item.chars.code_points)
        elif isinstance(item, (Concat, Alternation)):
            for part in item.items if isinstance(item, Concat) else item.branches:
                collect(part)
        elif isinstance(item, Repeat):
            collect(item.item)

    collect(tree)
    if len(lookahead_sets) > MAX_LOOKAHEAD_CLASSES:
        raise parser.error(f"more than {MAX_LOOKAHEAD_CLASSES} different look-ahead classes", 0)
    distinct_sets = list(dict.fromkeys(chars.code_points for chars in all_chars))
    class_of_code_point, membership = _partition(distinct_sets)
    num_classes = membership.shape[0]
    set_index = {code_points: index for index, code_points in enumerate(distinct_sets)}
    lookahead_count = len(lookahead_sets)
    width = 1 << lookahead_count
    num_keys = (num_classes + 1) * width
    if num_keys >= SURROGATES[0]:
        raise parser.error("the pattern distinguishes too many character classes", 0)

    lookahead_bits = np.zeros(num_classes + 1, dtype=np.int32)
    for bit, code_points in enumerate(lookahead_sets):
        lookahead_bits[:num_classes] |= (
            membership[:, set_index[code_points]].astype(np.int32) << bit
        )

    def symbol_class(chars: Chars, required: dict[int, int]) -> str:
        classes = np.flatnonzero(membership[:, set_index[chars.code_points]])
        bits = np.arange(width)
        allowed = np.ones(width, dtype=bool)
        for bit, value in required.items():
            allowed &= ((bits >> bit) & 1) == value
        keys = (classes[:, None] * width + bits[allowed][None, :]).reshape(-1)
        return _re2_class(np.sort(keys) + 1)

    def emit(item) -> str:
        if isinstance(item, Chars):
            return symbol_class(item, {})
        if isinstance(item, Anchor):
            return item.re2
        if isinstance(item, LookAhead):
            raise misplaced_lookahead()
        if isinstance(item, Alternation):
            return "(?:" + "|".join(emit(branch) for branch in item.branches) + ")"
        if isinstance(item, Repeat):
            return _re2_repeat(emit(item.item), item.minimum, item.maximum, item.lazy)
        return emit_concat(item.items)

    def emit_concat(items: list) -> str:
        out, index = [], 0
        while index < len(items):
            item = items[index]
            index += 1
            lookaheads = []
            while index < len(items) and isinstance(items[index], LookAhead):
                lookaheads.append(items[index])
                index += 1
            if not lookaheads:
                out.append(emit(item))
                continue
            required: dict[int, int] = {}  # look-ahead bit → required value; -1: conflicting
            for lookahead in lookaheads:
                bit = lookahead_sets.index(lookahead.chars.code_points)
                wanted = int(not lookahead.negative)
                required[bit] = wanted if required.get(bit, wanted) == wanted else -1
            if isinstance(item, Chars):
                out.append(symbol_class(item, required))
            elif isinstance(item, Repeat) and isinstance(item.item, Chars) and item.minimum >= 1:
                # X{n,m}(?!C) is X{n-1,m-1} followed by an X whose next code point is not in C.
                maximum = None if item.maximum is None else item.maximum - 1
                out.append(_re2_repeat(emit(item.item), item.minimum - 1, maximum, item.lazy))
                out.append(symbol_class(item.item, required))
            else:
                raise misplaced_lookahead()
        return "".join(out)

    def misplaced_lookahead() -> TokenizerSpecError:
        return parser.error(
            "a look-ahead is supported only right after a single character class or its "
            "repetition (at least once), as in \\s+(?!\\S)",
            0,
        )

    return TranslatedPattern(
        source=pattern,
        re2=emit(tree),
        class_of_code_point=class_of_code_point,
        num_classes=num_classes,
        lookahead_count=lookahead_count,
        lookahead_bits=lookahead_bits,
    )


def _partition(sets: list[CodePointSet]) -> tuple[np.ndarray, np.ndarray]:
    """Cut the code points into classes no set tells apart.

    Returns each code point's class (U+0000's is 0) and a ``[classes, sets]`` bool matrix
    saying which set holds which class.
    """
    cuts = np.unique(
        np.concatenate([[0, NUM_CODE_POINTS]] + [s.starts for s in sets] + [s.ends for s in sets])
    )
    segment_starts, segment_lengths = cuts[:-1], np.diff(cuts)
    if not sets:
        return np.zeros(NUM_CODE_POINTS, dtype=np.int32), np.zeros((1, 0), dtype=bool)
    signature = np.stack([s.contains(segment_starts) for s in sets], axis=1)
    unique, first, inverse = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # number classes by first appearance: U+0000's class is 0
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    class_of_segment = rank[inverse.reshape(-1)].astype(np.int32)
    return np.repeat(class_of_segment, segment_lengths), unique[order]


def _re2_class(symbols: np.ndarray) -> str:
    """An RE2 class matching the given (sorted) symbol code points; one matching nothing if empty."""
    if len(symbols) == 0:
        return "[^\\x00-\\x{10FFFF}]"
    breaks = np.flatnonzero(np.diff(symbols) != 1)
    starts = symbols[np.concatenate([[0], breaks + 1])]
    ends = symbols[np.concatenate([breaks, [len(symbols) - 1]])]
    ranges = (
        f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}"
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    )
    return "[" + "".join(ranges) + "]"


def _re2_repeat(body: str, minimum: int, maximum: int | None, lazy: bool) -> str:
    if maximum == 0:
        return ""
    if (minimum, maximum) == (1, 1):
        return body
    suffix = {(0, 1): "?", (0, None): "*", (1, None): "+"}.get((minimum, maximum))
    if suffix is None and maximum == minimum:
        suffix = f"{{{minimum}}}"
    elif suffix is None:
        suffix = f"{{{minimum},}}" if maximum is None else f"{{{minimum},{maximum}}}"
    return f"(?:{body}){suffix}" + ("?" if lazy else "")


class PatternMatcher(tf.Module):
    """Finds a pattern's matches in a batch of words, as `tokenizers`' ``find_matches`` does."""

    def __init__(self, translated: TranslatedPattern, where: str):
        super().__init__(name="pattern")
        self.source = translated.source
        self.re2 = translated.re2
        self._classes = CodePointProperty(translated.class_of_code_point)
        self._lookahead_bits = tf.constant(translated.lookahead_bits)
        self._placeholder_class = translated.num_classes
        self._width = 1 << translated.lookahead_count
        try:
            tf.strings.regex_replace([""], translated.re2, MATCH_MARK)
        except (tf.errors.InvalidArgumentError, ValueError) as error:
            raise TokenizerSpecError(
                f"{where}: pattern {translated.source!r} cannot be matched with RE2: {error}"
            ) from None

    def find_matches(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[words, (code points)]`` → ``[words, (pieces)]`` int64 piece lengths.

        Each word is cut into ``2m + 1`` pieces for ``m`` matches: gaps at even positions and
        matches (possibly empty) at odd ones, covering the word in order. Placeholders are
        never matched.
        """
        code_points = words.values
        classes = tf.where(
            is_added_token(code_points), self._placeholder_class, self._classes(code_points)
        )
        if self._width > 1:
            following = next_values(classes, self._placeholder_class)
            following = tf.where(is_row_end(words), self._placeholder_class, following)
            classes = classes * self._width + tf.gather(self._lookahead_bits, following)
        symbols = words.with_values(classes + 1)
        marked = tf.strings.regex_replace(
            tf.strings.unicode_encode(symbols, "UTF-8"),
            self.re2,
            MATCH_MARK + b"\\0" + MATCH_MARK,
        )
        pieces = tf.strings.split(marked, sep=MATCH_MARK)
        return pieces.with_values(
            tf.cast(tf.strings.length(pieces.values, unit="UTF8_CHAR"), tf.int64)
        )


def pattern_from_json(spec: Any, where: str) -> PatternMatcher:
    """The matcher for a ``{"String": ...}`` or ``{"Regex": ...}`` pattern of tokenizer.json."""
    if (
        not isinstance(spec, Mapping)
        or len(spec) != 1
        or next(iter(spec)) not in ("String", "Regex")
    ):
        raise TokenizerSpecError(
            f'{where}: expected {{"String": ...}} or {{"Regex": ...}}, got {spec!r:.100}'
        )
    kind = next(iter(spec))
    pattern = option(spec, kind, str, where)
    return PatternMatcher(translate_pattern(pattern, where, literal=kind == "String"), where)


def _is_odd(index: tf.Tensor) -> tf.Tensor:
    """Whether each piece's index in its word is odd: pieces go gap, match, gap, ..., so
    whether it is a match (a bit test: int64 modulo is slow)."""
    return tf.equal(tf.bitwise.bitwise_and(index, 1), 1)


def split_on_matches(
    words: tf.RaggedTensor, matcher: PatternMatcher, behavior: str, invert: bool
) -> tf.RaggedTensor:
    """Cut the words of ``[texts, (words), (code points)]`` as ``NormalizedString::split`` does
    with a pattern (``invert``: with ``Invert(pattern)``, gaps and matches swapped)."""
    lengths = matcher.find_matches(words.values)
    odd = _is_odd(index_in_row(lengths))
    # find_matches gives no empty gap (between two matches, or before a match at the start).
    present = odd | (lengths.values > 0)
    lengths = keep_where(lengths, present)
    first = is_row_start(lengths)
    is_match = tf.boolean_mask(odd, present) != invert
    previous_is_match = previous_values(is_match, False) & ~first
    if behavior in ("Removed", "Isolated"):
        starts_word = tf.ones_like(is_match)
    elif behavior == "Contiguous":
        starts_word = is_match != previous_is_match
    elif behavior == "MergedWithPrevious":
        starts_word = ~(is_match & ~previous_is_match & ~first)
    else:  # MergedWithNext
        starts_word = ~(previous_is_match & ~is_match)
    # A piece that starts a word cuts before the code point at its offset; empty pieces cut too.
    total = tf.size(words.flat_values, out_type=tf.int64)
    offsets = tf.cumsum(lengths.values, exclusive=True)
    cuts = tf.math.unsorted_segment_max(
        tf.cast(starts_word, tf.int32), tf.minimum(offsets, total), total + 1
    )[:-1]
    keep = None
    if behavior == "Removed":
        keep = ~tf.gather(is_match, expand(lengths.values)[0])
    return split_words(words, cuts > 0, keep)


def split_on_code_points(
    words: tf.RaggedTensor, is_delimiter: tf.Tensor, behavior: str
) -> tf.RaggedTensor:
    """Cut the words of ``[texts, (words), (code points)]`` on single code points, as
    ``NormalizedString::split`` does with a ``char`` predicate: every delimiter code point is a
    match of its own (``is_delimiter`` is aligned with ``words.flat_values``)."""
    previous = previous_values(is_delimiter, False) & ~is_row_start(words.values)
    if behavior in ("Removed", "Isolated"):
        starts = is_delimiter | previous
    elif behavior == "Contiguous":
        starts = is_delimiter != previous
    elif behavior == "MergedWithPrevious":
        starts = previous
    else:  # MergedWithNext
        starts = is_delimiter
    return split_words(words, starts, ~is_delimiter if behavior == "Removed" else None)


def replace_matches(
    texts: tf.RaggedTensor, matcher: PatternMatcher, content: Sequence[int]
) -> tf.RaggedTensor:
    """``[texts, (code points)]`` with every match replaced by ``content`` (code points), as
    ``NormalizedString::replace`` does, in each piece between placeholders on its own."""
    text_words = texts_as_words(texts)
    words = text_words.values
    lengths = matcher.find_matches(words)
    piece_word, piece_index = rows_and_indices(lengths)
    word_is_placeholder = is_added_token(tf.gather(words.values, words.row_starts()))
    is_match = _is_odd(piece_index) & ~tf.gather(word_is_placeholder, piece_word)

    content_length = tf.constant(len(content), tf.int64)
    output_lengths = tf.where(is_match, content_length, lengths.values)
    output_piece, offset = expand(output_lengths)
    from_content = tf.gather(is_match, output_piece)
    source = tf.gather(tf.cumsum(lengths.values, exclusive=True), output_piece) + offset
    values = tf.where(
        from_content,
        tf.gather(
            tf.constant([*content, 0], tf.int32),
            tf.where(from_content, offset, tf.zeros_like(offset)),
        ),
        tf.gather(words.values, tf.where(from_content, tf.zeros_like(source), source)),
    )
    word_lengths = tf.math.unsorted_segment_sum(output_lengths, piece_word, lengths.nrows())
    text_lengths = tf.math.unsorted_segment_sum(word_lengths, row_ids(text_words), texts.nrows())
    return tf.RaggedTensor.from_row_lengths(values, text_lengths, validate=False)
