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
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfst.text import character_classes
from tfst.text.character_classes import (
    CATEGORY_GROUPS,
    GENERAL_CATEGORIES,
    ONIG_CLASS_WORD,
    ONIG_DIGIT,
    ONIG_HEX_DIGIT,
    ONIG_SPACE,
    ONIG_WORD,
)
from tfst.text.code_point_maps import CodePointProperty
from tfst.text.code_points import (
    is_added_token,
    is_row_end,
    is_row_start,
    keep_where,
    split_words,
    texts_as_words,
)
from tfst.text.spec import TokenizerSpecError, option
from tfst.text.unicode_tables import NUM_CODE_POINTS

# The split behaviors of `tokenizers` (SplitDelimiterBehavior), as tokenizer.json spells them.
SPLIT_BEHAVIORS = ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")

# RE2 caps counted repetition at 1000.
MAX_REPEAT = 1000
# Each look-ahead class doubles the symbols; real patterns have one.
MAX_LOOKAHEAD_CLASSES = 3
# Valid UTF-8 never holds this byte, so it can frame the matches RE2 finds.
MATCH_MARK = b"\xff"
SURROGATES = (0xD800, 0xE000)


class CodePointSet:
    """A set of code points as sorted, disjoint, non-touching ``[start, end)`` ranges."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray):
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)

    @classmethod
    def from_ranges(cls, ranges: Sequence[tuple[int, int]]) -> CodePointSet:
        """The union of ``[start, end)`` ranges given in any order."""
        pairs = np.asarray(sorted(ranges), dtype=np.int64).reshape(-1, 2)
        if not len(pairs):
            return cls(pairs[:, 0], pairs[:, 1])
        starts, ends = pairs[:, 0], np.maximum.accumulate(pairs[:, 1])
        # Ranges that overlap or touch the run before them join it; a run ends where the next
        # range starts past everything so far.
        gap_after = np.concatenate([starts[1:] > ends[:-1], [True]])
        gap_before = np.concatenate([[True], gap_after[:-1]])
        return cls(starts[gap_before], ends[gap_after])

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> CodePointSet:
        edges = np.diff(mask.astype(np.int8), prepend=0, append=0)
        return cls(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))

    @classmethod
    def of(cls, *code_points: int) -> CodePointSet:
        return cls.from_ranges([(cp, cp + 1) for cp in code_points])

    def union(self, other: CodePointSet) -> CodePointSet:
        return CodePointSet.from_ranges(
            list(zip(self.starts.tolist(), self.ends.tolist(), strict=True))
            + list(zip(other.starts.tolist(), other.ends.tolist(), strict=True))
        )

    def complement(self) -> CodePointSet:
        bounds = np.concatenate([[0], np.stack([self.starts, self.ends], 1).reshape(-1)])
        bounds = np.concatenate([bounds, [NUM_CODE_POINTS]]).reshape(-1, 2)
        bounds = bounds[bounds[:, 0] < bounds[:, 1]]
        return CodePointSet(bounds[:, 0], bounds[:, 1])

    def intersection(self, other: CodePointSet) -> CodePointSet:
        return self.complement().union(other.complement()).complement()

    def contains(self, code_points: np.ndarray) -> np.ndarray:
        code_points = np.asarray(code_points, dtype=np.int64)
        if not len(self.starts):
            return np.zeros(code_points.shape, dtype=bool)
        index = np.searchsorted(self.starts, code_points, side="right") - 1
        return (index >= 0) & (code_points < self.ends[np.maximum(index, 0)])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CodePointSet)
            and np.array_equal(self.starts, other.starts)
            and np.array_equal(self.ends, other.ends)
        )

    def __hash__(self) -> int:
        return hash((self.starts.tobytes(), self.ends.tobytes()))


ALL_CODE_POINTS = CodePointSet.from_ranges([(0, NUM_CODE_POINTS)])


@functools.cache
def _flag_set(flag: int) -> CodePointSet:
    return CodePointSet.from_mask(character_classes.flag_mask(flag))


@functools.cache
def _category_set(categories: tuple[str, ...]) -> CodePointSet:
    return CodePointSet.from_mask(character_classes.general_category_mask(*categories))


def _property_key(name: str) -> str:
    """Oniguruma compares property names ignoring case, spaces, hyphens and underscores."""
    return re.sub(r"[ _-]", "", name).lower()


CATEGORY_LONG_NAMES = {
    "Other": "C", "Control": "Cc", "Format": "Cf", "Unassigned": "Cn", "Private_Use": "Co",
    "Surrogate": "Cs", "Letter": "L", "Cased_Letter": "LC", "Lowercase_Letter": "Ll",
    "Modifier_Letter": "Lm", "Other_Letter": "Lo", "Titlecase_Letter": "Lt",
    "Uppercase_Letter": "Lu", "Mark": "M", "Combining_Mark": "M", "Spacing_Mark": "Mc",
    "Enclosing_Mark": "Me", "Nonspacing_Mark": "Mn", "Number": "N", "Decimal_Number": "Nd",
    "Letter_Number": "Nl", "Other_Number": "No", "Punctuation": "P",
    "Connector_Punctuation": "Pc", "Dash_Punctuation": "Pd", "Close_Punctuation": "Pe",
    "Final_Punctuation": "Pf", "Initial_Punctuation": "Pi", "Other_Punctuation": "Po",
    "Open_Punctuation": "Ps", "Symbol": "S", "Currency_Symbol": "Sc", "Modifier_Symbol": "Sk",
    "Math_Symbol": "Sm", "Other_Symbol": "So", "Separator": "Z", "Line_Separator": "Zl",
    "Paragraph_Separator": "Zp", "Space_Separator": "Zs",
}  # fmt: skip

# Property name (as _property_key spells it) → the general categories it covers.
PROPERTY_CATEGORIES: dict[str, tuple[str, ...]] = {
    **{_property_key(name): (name,) for name in GENERAL_CATEGORIES},
    **{_property_key(name): members for name, members in CATEGORY_GROUPS.items()},
}
PROPERTY_CATEGORIES.update(
    {
        _property_key(long): PROPERTY_CATEGORIES[_property_key(short)]
        for long, short in CATEGORY_LONG_NAMES.items()
    }
)

_CONTROL_ESCAPES = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "v": 0x0B, "a": 0x07, "e": 0x1B}
_TYPE_ESCAPES = {"d": ONIG_DIGIT, "w": ONIG_WORD, "s": ONIG_SPACE, "h": ONIG_HEX_DIGIT}
_INTERVAL = re.compile(r"\{(\d*)(,(\d*))?\}")


# The pattern as a tree. `Chars` is one character from a set; `literal` is set when the pattern
# wrote a single character, which Oniguruma may fold together with its neighbours under (?i).
@dataclasses.dataclass(eq=False)
class Chars:
    code_points: CodePointSet
    literal: int | None = None
    ignore_case: bool = False


@dataclasses.dataclass(eq=False)
class Concat:
    items: list


@dataclasses.dataclass(eq=False)
class Alternation:
    branches: list


@dataclasses.dataclass(eq=False)
class Repeat:
    item: Any
    minimum: int
    maximum: int | None  # None: unbounded
    lazy: bool


@dataclasses.dataclass(eq=False)
class LookAhead:
    chars: Chars
    negative: bool


@dataclasses.dataclass(eq=False)
class Anchor:
    re2: str  # \A or \z


@dataclasses.dataclass(frozen=True)
class _InlineOptions:
    ignore_case: bool
    dotall: bool


class _Parser:
    """Recursive descent over the subset of Oniguruma's syntax tfst can reproduce exactly."""

    def __init__(self, pattern: str, where: str):
        self.pattern = pattern
        self.where = where
        self.position = 0

    def error(self, message: str, position: int | None = None) -> TokenizerSpecError:
        at = self.position if position is None else position
        return TokenizerSpecError(
            f"{self.where}: pattern {self.pattern!r}: {message} (at character {at}); "
            "tfst reproduces Oniguruma patterns only where RE2 can match them exactly"
        )

    def peek(self, ahead: int = 0) -> str:
        index = self.position + ahead
        return self.pattern[index] if index < len(self.pattern) else ""

    def parse(self):
        node = self.alternation(ignore_case=False, dotall=False)
        if self.position < len(self.pattern):
            raise self.error("unmatched ')'")
        return node

    def alternation(self, ignore_case: bool, dotall: bool):
        branches = [self.sequence(ignore_case, dotall)]
        while self.peek() == "|":
            self.position += 1
            branches.append(self.sequence(ignore_case, dotall))
        return branches[0] if len(branches) == 1 else Alternation(branches)

    def sequence(self, ignore_case: bool, dotall: bool):
        items = []
        while self.position < len(self.pattern) and self.peek() not in "|)":
            start = self.position
            char = self.peek()
            if char == "(":
                atom = self.group(ignore_case, dotall)
                if atom is None:  # a comment
                    continue
                if isinstance(atom, _InlineOptions):
                    # Oniguruma applies (?i) to the rest of the enclosing group, alternatives
                    # included: a(?i)b|c is a(?i:b|c).
                    items.append(self.alternation(atom.ignore_case, atom.dotall))
                    break
            elif char == "[":
                atom = self.bracket_class(ignore_case)
            elif char == ".":
                self.position += 1
                atom = Chars(ALL_CODE_POINTS if dotall else CodePointSet.of(0x0A).complement())
            elif char == "\\":
                atom = self.escape(in_class=False)
                if isinstance(atom, tuple):
                    atom = self.literal_or_set(*atom, ignore_case)
            elif char in "^$":
                raise self.error(f"the anchor {char!r} (line start or end) is not supported")
            elif char in "*+?" or (char == "{" and self.interval(start)):
                raise self.error(f"{char!r} has nothing to repeat")
            else:
                self.position += 1
                atom = self.literal_or_set(CodePointSet.of(ord(char)), ord(char), ignore_case)
            items.append(self.quantified(atom, start))
        return items[0] if len(items) == 1 else Concat(items)

    def literal_or_set(self, code_points: CodePointSet, literal: int | None, ignore_case: bool):
        if literal is None:
            # Oniguruma does not case-fold \p{..}, \w, \d, \s outside brackets: (?i)\p{Lu}
            # still matches only upper case.
            return Chars(code_points)
        if not ignore_case:
            return Chars(code_points, literal)
        code_points = _fold_closure(code_points)
        _refuse_multi_char_fold(self, code_points)
        return Chars(code_points, literal, ignore_case=True)

    def group(self, ignore_case: bool, dotall: bool):
        start = self.position
        self.position += 1
        if self.peek() != "?":
            return self.group_body(ignore_case, dotall, start)
        self.position += 1
        kind = self.peek()
        if kind == "#":
            end = self.pattern.find(")", self.position)
            if end < 0:
                raise self.error("unterminated comment", start)
            self.position = end + 1
            return None
        if kind == ":":
            self.position += 1
            return self.group_body(ignore_case, dotall, start)
        if kind in "=!":
            self.position += 1
            body = self.group_body(ignore_case, dotall, start)
            if not isinstance(body, Chars):
                raise self.error(
                    "a look-ahead is supported only on a single character class, as in (?!\\S)",
                    start,
                )
            return LookAhead(body, negative=kind == "!")
        if kind == "<" and self.peek(1) not in "=!":
            name = re.compile(r"<[A-Za-z_][A-Za-z0-9_]*>").match(self.pattern, self.position)
            if name is None:
                raise self.error("malformed group name", start)
            self.position = name.end()
            return self.group_body(ignore_case, dotall, start)
        if kind == "<":
            raise self.error("look-behind is not supported", start)
        options = re.compile(r"[a-zA-Z-]*").match(self.pattern, self.position).group()
        self.position += len(options)
        if self.peek() not in ":)" or not options:
            raise self.error(f"the group '(?{kind}' is not supported", start)
        enabled = True
        for letter in options:
            if letter == "-":
                enabled = False
            elif letter == "i":
                ignore_case = enabled
            elif letter == "m":  # Oniguruma's (?m) lets '.' match a newline
                dotall = enabled
            else:
                raise self.error(f"the option {letter!r} is not supported (only i and m)", start)
        if self.peek() == ")":
            self.position += 1
            return _InlineOptions(ignore_case, dotall)
        self.position += 1
        return self.group_body(ignore_case, dotall, start)

    def group_body(self, ignore_case: bool, dotall: bool, start: int):
        body = self.alternation(ignore_case, dotall)
        if self.peek() != ")":
            raise self.error("unterminated group", start)
        self.position += 1
        return body

    def quantified(self, atom, start: int):
        quantifier = self.quantifier()
        if quantifier is None:
            return atom
        if isinstance(atom, (LookAhead, Anchor)):
            raise self.error("a quantifier on a look-ahead or an anchor is not supported", start)
        if self.quantifier(probe=True):
            raise self.error("a quantifier on a quantifier is not supported")
        return Repeat(atom, *quantifier)

    def interval(self, position: int) -> re.Match | None:
        """The ``{n}``, ``{n,}``, ``{n,m}`` or ``{,m}`` at ``position``; Oniguruma reads any
        other ``{`` (``{}``, ``{,}``, ``{x``) as literal text."""
        interval = _INTERVAL.match(self.pattern, position)
        if interval and (interval.group(1) or interval.group(3)):
            return interval
        return None

    def quantifier(self, probe: bool = False) -> tuple[int, int | None, bool] | None:
        """The quantifier at the current position, consumed (``probe``: only whether one is)."""
        char = self.peek()
        interval = self.interval(self.position) if char == "{" else None
        if interval is None and (not char or char not in "?*+"):
            return None
        if probe:
            return (0, 0, False)
        if interval is None:
            self.position += 1
            minimum, maximum = {"?": (0, 1), "*": (0, None), "+": (1, None)}[char]
        else:
            self.position = interval.end()
            minimum = int(interval.group(1) or 0)
            maximum = minimum if interval.group(2) is None else interval.group(3)
            maximum = None if maximum == "" else int(maximum)
            if max(minimum, maximum or 0) > MAX_REPEAT:
                raise self.error(f"repetition counts above {MAX_REPEAT} are not supported")
            if maximum is not None and maximum < minimum:
                raise self.error("a repetition's maximum is below its minimum")
        lazy = self.peek() == "?"
        if lazy and interval is not None and interval.group(2) is None:
            raise self.error("'{n}?' is not supported")
        if self.peek() == "+":
            raise self.error("possessive quantifiers are not supported")
        self.position += lazy
        return minimum, maximum, lazy

    def escape(self, in_class: bool):
        """``\\x`` at the current position: ``(set, literal code point or None)``, or an Anchor."""
        start = self.position
        self.position += 1
        char = self.peek()
        if not char:
            raise self.error("trailing backslash", start)
        self.position += 1
        if char in _CONTROL_ESCAPES:
            return self.code_point(_CONTROL_ESCAPES[char], start)
        if char == "x":
            braced = re.compile(r"\{([0-9a-fA-F]{1,8})\}|([0-9a-fA-F]{1,2})")
            digits = braced.match(self.pattern, self.position)
            if digits is None:
                raise self.error("\\x needs hexadecimal digits", start)
            self.position = digits.end()
            return self.code_point(int(digits.group(1) or digits.group(2), 16), start)
        if char == "u":
            digits = re.compile(r"[0-9a-fA-F]{4}").match(self.pattern, self.position)
            if digits is None:
                raise self.error("\\u needs four hexadecimal digits", start)
            self.position = digits.end()
            return self.code_point(int(digits.group(), 16), start)
        if char.lower() in _TYPE_ESCAPES:
            flag = _TYPE_ESCAPES[char.lower()]
            if flag == ONIG_WORD and in_class:
                flag = ONIG_CLASS_WORD  # Oniguruma's \w differs inside brackets (¹²³¼½¾)
            code_points = _flag_set(flag)
            return (code_points.complement() if char.isupper() else code_points), None
        if char in "pP":
            return self.property(negated=char == "P", start=start), None
        if char in "Az" and not in_class:
            return Anchor("\\" + char)
        if char.isascii() and not char.isalnum():
            return CodePointSet.of(ord(char)), ord(char)
        raise self.error(f"the escape '\\{char}' is not supported", start)

    def code_point(self, value: int, start: int) -> tuple[CodePointSet, int]:
        if value >= NUM_CODE_POINTS or SURROGATES[0] <= value < SURROGATES[1]:
            raise self.error(f"U+{value:04X} is not a Unicode scalar value", start)
        return CodePointSet.of(value), value

    def property(self, negated: bool, start: int) -> CodePointSet:
        braced = re.compile(r"\{(\^?)([^}]*)\}").match(self.pattern, self.position)
        if braced is None:
            raise self.error("\\p and \\P need a braced property name, as in \\p{L}", start)
        self.position = braced.end()
        categories = PROPERTY_CATEGORIES.get(_property_key(braced.group(2)))
        if categories is None:
            raise self.error(
                f"the property {braced.group(2)!r} is not supported; supported are the "
                "general categories (L, Lu, Letter, Uppercase_Letter, N, P, ...)",
                start,
            )
        code_points = _category_set(categories)
        return code_points.complement() if negated != bool(braced.group(1)) else code_points

    def bracket_class(self, ignore_case: bool) -> Chars:
        start = self.position
        code_points, negated, nested = self.class_body()
        if ignore_case:
            if nested:
                raise self.error(
                    "nested or intersected classes under (?i) are not supported", start
                )
            # A bracket class folds all its members, properties included, before negation:
            # (?i)[^\p{Lu}] matches neither 'A' nor 'a'.
            code_points = _fold_closure(code_points)
            _refuse_multi_char_fold(self, code_points, start)
        return Chars(code_points.complement() if negated else code_points)

    def class_body(self) -> tuple[CodePointSet, bool, bool]:
        """``[...]`` at the current position: (its members before negation, negated, nested)."""
        start = self.position
        self.position += 1
        negated = self.peek() == "^"
        self.position += negated
        operands: list[list[CodePointSet]] = []
        members: list[CodePointSet] = []
        nested = False
        first = True
        while True:
            char = self.peek()
            if not char:
                raise self.error("unterminated character class", start)
            if char == "]" and not first:
                self.position += 1
                break
            first = False
            if char == "[":
                if self.peek(1) == ":":
                    raise self.error("POSIX bracket expressions are not supported")
                inner, inner_negated, _ = self.class_body()
                members.append(inner.complement() if inner_negated else inner)
                nested = True
                continue
            if self.pattern.startswith("&&", self.position):
                self.position += 2
                operands.append(members)
                members = []
                nested = True
                continue
            item_start = self.position
            code_points, literal = self.class_atom()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                if literal is None:
                    raise self.error("a range must start with a single character", item_start)
                self.position += 1
                _, last = self.class_atom()
                if last is None:
                    raise self.error("a range must end with a single character", item_start)
                if last < literal:
                    raise self.error("a range ends before it starts", item_start)
                code_points = CodePointSet.from_ranges([(literal, last + 1)])
                if self.peek() == "-" and self.peek(1) not in ("]", ""):
                    raise self.error("'-' right after a range is ambiguous; escape it")
            members.append(code_points)
        operands.append(members)
        if any(not operand for operand in operands):
            raise self.error("an empty operand of '&&'", start)
        result = ALL_CODE_POINTS
        for operand in operands:
            union = operand[0]
            for code_points in operand[1:]:
                union = union.union(code_points)
            result = result.intersection(union)
        return result, negated, nested

    def class_atom(self) -> tuple[CodePointSet, int | None]:
        if self.peek() == "\\":
            escaped = self.escape(in_class=True)
            if isinstance(escaped, Anchor):
                raise self.error("an anchor inside a character class")
            return escaped
        char = self.peek()
        self.position += 1
        return CodePointSet.of(ord(char)), ord(char)


def _fold_closure(code_points: CodePointSet) -> CodePointSet:
    """The set plus every code point Oniguruma's (?i) matches with one of its members."""
    folding, representatives = character_classes.case_fold_pairs()
    hit = np.unique(representatives[code_points.contains(folding)])
    added = folding[np.isin(representatives, hit)]
    return code_points.union(CodePointSet.of(*added.tolist()))


def _refuse_multi_char_fold(parser: _Parser, code_points: CodePointSet, start: int | None = None):
    """Refuse a (?i) set holding a character Oniguruma also matches with several (ß, ss)."""
    sources, _ = character_classes.multi_char_folds()
    inside = np.asarray(sorted(sources), dtype=np.int64)
    inside = inside[code_points.contains(inside)]
    if len(inside):
        raise parser.error(
            f"under (?i), U+{inside[0]:04X} ({chr(inside[0])}) matches several characters "
            "(multi-character case folding is not supported)",
            start,
        )


def _check_tree(parser: _Parser, node) -> None:
    """Refuse what RE2 would match differently: multi-character case folding across literals,
    and unbounded repetition of something that can match the empty string."""
    _, targets = character_classes.multi_char_folds()
    orbits = character_classes.case_fold_orbits()
    folded_pairs = {(orbits[target[0]], orbits[target[1]]) for target in targets}

    def check_pair(before: Chars, after: Chars) -> None:
        if not (before.ignore_case or after.ignore_case):
            return
        if (orbits[before.literal], orbits[after.literal]) in folded_pairs:
            raise parser.error(
                f"under (?i), {chr(before.literal) + chr(after.literal)!r} can match a single "
                "character (multi-character case folding is not supported)",
                0,
            )

    def walk(item) -> tuple[list[Chars], list[Chars], bool]:
        """(literals that can start a match of item, literals that can end one, nullable)."""
        if isinstance(item, Chars):
            edge = [item] if item.literal is not None else []
            return edge, edge, False
        if isinstance(item, (LookAhead, Anchor)):
            return [], [], True
        if isinstance(item, Alternation):
            parts = [walk(branch) for branch in item.branches]
            return (
                [chars for part in parts for chars in part[0]],
                [chars for part in parts for chars in part[1]],
                any(part[2] for part in parts),
            )
        if isinstance(item, Repeat):
            first, last, nullable = walk(item.item)
            if item.maximum is None or item.maximum > 1:
                if nullable:
                    raise parser.error(
                        "repeating a part that can match the empty string is not supported", 0
                    )
                for before in last:
                    for after in first:
                        check_pair(before, after)
            return first, last, nullable or item.minimum == 0
        parts = [walk(part) for part in item.items]
        first, nullable = [], True
        for index, (part_first, _, part_nullable) in enumerate(parts):
            if nullable:
                first += part_first
            nullable = nullable and part_nullable
            following_nullable = True
            for later_first, _, later_nullable in parts[index + 1 :]:
                if not following_nullable:
                    break
                for before in parts[index][1]:
                    for after in later_first:
                        check_pair(before, after)
                following_nullable = later_nullable
        last, trailing_nullable = [], True
        for _, part_last, part_nullable in reversed(parts):
            if trailing_nullable:
                last += part_last
            trailing_nullable = trailing_nullable and part_nullable
        return first, last, nullable

    walk(node)


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
    parser = _Parser(pattern, where)
    if literal:
        tree = Concat([Chars(CodePointSet.of(ord(char)), ord(char)) for char in pattern])
    else:
        tree = parser.parse()
        _check_tree(parser, tree)

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
            following = tf.concat([classes[1:], [self._placeholder_class]], axis=0)
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


def _piece_positions(lengths: tf.RaggedTensor) -> tuple[tf.Tensor, tf.Tensor]:
    """For the flat pieces: whether each is a match (odd position in its word) and where the
    previous piece of the same word is a match (False for a word's first piece)."""
    is_match = (
        tf.math.floormod(
            tf.range(tf.size(lengths.values, out_type=tf.int64))
            - tf.gather(lengths.row_starts(), lengths.value_rowids()),
            2,
        )
        == 1
    )
    return is_match, is_row_start(lengths)


def split_on_matches(
    words: tf.RaggedTensor, matcher: PatternMatcher, behavior: str, invert: bool
) -> tf.RaggedTensor:
    """Cut the words of ``[texts, (words), (code points)]`` as ``NormalizedString::split`` does
    with a pattern (``invert``: with ``Invert(pattern)``, gaps and matches swapped)."""
    lengths = matcher.find_matches(words.values)
    odd, _ = _piece_positions(lengths)
    # find_matches gives no empty gap (between two matches, or before a match at the start).
    present = odd | (lengths.values > 0)
    lengths = keep_where(lengths, present)
    first = is_row_start(lengths)
    is_match = tf.boolean_mask(odd, present) != invert
    previous_is_match = tf.concat([[False], is_match[:-1]], axis=0) & ~first
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
    if behavior == "Removed":
        keep = ~tf.repeat(is_match, lengths.values)
    else:
        keep = tf.ones_like(words.flat_values, dtype=tf.bool)
    return split_words(words, cuts > 0, keep)


def split_on_code_points(
    words: tf.RaggedTensor, is_delimiter: tf.Tensor, behavior: str
) -> tf.RaggedTensor:
    """Cut the words of ``[texts, (words), (code points)]`` on single code points, as
    ``NormalizedString::split`` does with a ``char`` predicate: every delimiter code point is a
    match of its own (``is_delimiter`` is aligned with ``words.flat_values``)."""
    previous = tf.concat([[False], is_delimiter[:-1]], axis=0) & ~is_row_start(words.values)
    if behavior in ("Removed", "Isolated"):
        starts = is_delimiter | previous
    elif behavior == "Contiguous":
        starts = is_delimiter != previous
    elif behavior == "MergedWithPrevious":
        starts = previous
    else:  # MergedWithNext
        starts = is_delimiter
    keep = ~is_delimiter if behavior == "Removed" else tf.ones_like(is_delimiter)
    return split_words(words, starts, keep)


def replace_matches(
    texts: tf.RaggedTensor, matcher: PatternMatcher, content: Sequence[int]
) -> tf.RaggedTensor:
    """``[texts, (code points)]`` with every match replaced by ``content`` (code points), as
    ``NormalizedString::replace`` does, in each piece between placeholders on its own."""
    text_words = texts_as_words(texts)
    words = text_words.values
    lengths = matcher.find_matches(words)
    odd, _ = _piece_positions(lengths)
    word_is_placeholder = is_added_token(tf.gather(words.values, words.row_starts()))
    is_match = odd & ~tf.gather(word_is_placeholder, lengths.value_rowids())

    content_length = tf.constant(len(content), tf.int64)
    output_lengths = tf.where(is_match, content_length, lengths.values)
    output_piece = tf.repeat(tf.range(tf.size(output_lengths, out_type=tf.int64)), output_lengths)
    offset = tf.range(tf.size(output_piece, out_type=tf.int64)) - tf.gather(
        tf.cumsum(output_lengths, exclusive=True), output_piece
    )
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
    word_lengths = tf.math.unsorted_segment_sum(
        output_lengths, lengths.value_rowids(), lengths.nrows()
    )
    text_lengths = tf.math.unsorted_segment_sum(
        word_lengths, text_words.value_rowids(), texts.nrows()
    )
    return tf.RaggedTensor.from_row_lengths(values, text_lengths, validate=False)
