"""Oniguruma's pattern syntax, the subset tfst reproduces exactly, parsed into a tree of
code-point sets (``Chars``), sequences, alternations, repetitions and one-character look-aheads;
every construct outside it is refused here, naming the pattern and the construct (see
``tfst.text.regex`` for the list and the reasons)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from tfst.text import character_classes
from tfst.text.character_classes import (
    ONIG_CLASS_WORD,
    ONIG_DIGIT,
    ONIG_HEX_DIGIT,
    ONIG_SPACE,
    ONIG_WORD,
)
from tfst.text.regex_sets import (
    ALL_CODE_POINTS,
    PROPERTY_CATEGORIES,
    SURROGATES,
    CodePointSet,
    category_set,
    flag_set,
    property_key,
)
from tfst.text.spec import TokenizerSpecError
from tfst.text.unicode_tables import NUM_CODE_POINTS

# RE2 caps counted repetition at 1000.
MAX_REPEAT = 1000

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


class Parser:
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
            code_points = flag_set(flag)
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
        categories = PROPERTY_CATEGORIES.get(property_key(braced.group(2)))
        if categories is None:
            raise self.error(
                f"the property {braced.group(2)!r} is not supported; supported are the "
                "general categories (L, Lu, Letter, Uppercase_Letter, N, P, ...)",
                start,
            )
        code_points = category_set(categories)
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


def _refuse_multi_char_fold(parser: Parser, code_points: CodePointSet, start: int | None = None):
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


def check_tree(parser: Parser, node) -> None:
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
