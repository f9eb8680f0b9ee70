"""Label and field selectors with kube's grammar, matching rules and error messages.

`?labelSelector=` and `?fieldSelector=` come from every list and watch, so a selector kubectl
accepts against kube-apiserver must parse here the same way, and a bad one must fail with the
same 400 message (kube's labels.Parse and fields.ParseSelector).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kapisup.apimachinery.errors import Cause, bad_request, field_invalid
from kapisup.apimachinery.validation import is_qualified_name, is_valid_label_value

# --- label selectors -------------------------------------------------------------------------

EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"

# The order kube lists them in its "expected: ..." message.
BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")


class SelectorError(ValueError):
    """A selector that cannot be parsed; its text is kube's error message."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """One `key op values` term; values are kept sorted and unique, as kube's string set does."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have, want = labels[self.key], self.values[0]
            if not _INTEGER.match(have) or not _INTEGER.match(want):
                return False
            return int(have) > int(want) if op == GREATER_THAN else int(have) < int(want)
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(self.values)})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{','.join(self.values)}"


def new_requirement(key: str, operator: str, values: Iterable[str]) -> Requirement:
    """Kube's NewRequirement: validates key, value count and values; raises SelectorError."""
    values = list(values)
    causes: list[Cause] = []
    for message in is_qualified_name(key):
        causes.append(field_invalid("key", key, message))
    if operator in (IN, NOT_IN):
        if not values:
            causes.append(field_invalid("values", values,
                                        "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(values) != 1:
            causes.append(field_invalid("values", values,
                                        "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if values:
            causes.append(field_invalid(
                "values", values, "values set must be empty for exists and does not exist"))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            causes.append(field_invalid(
                "values", values, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for index, value in enumerate(values):
            if not _INTEGER.match(value):
                causes.append(field_invalid(
                    f"values[{index}]", value,
                    "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        supported = ", ".join(f'"{o}"' for o in (*BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST))
        causes.append(Cause("FieldValueNotSupported", "operator",
                            f'Unsupported value: "{operator}": supported values: {supported}'))
    for index, value in enumerate(values):
        for message in is_valid_label_value(value):
            causes.append(field_invalid(f"values[{index}][{key}]", value, message))
    if causes:
        raise SelectorError(_aggregate(causes))
    return Requirement(key, operator, tuple(sorted(set(values))))


def _aggregate(causes: list[Cause]) -> str:
    """Kube's aggregate error text: one message alone, several as `[a, b]` without repeats."""
    messages = list(dict.fromkeys(str(c) for c in causes))
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


class LabelSelector:
    """An AND of requirements, sorted by key; no requirements selects everything."""

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False):
        self.requirements: list[Requirement] = sorted(requirements, key=lambda r: r.key)
        self._nothing = nothing

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def select_nothing(cls) -> LabelSelector:
        """A nil metav1.LabelSelector: matches no object at all."""
        return cls(nothing=True)

    @property
    def empty(self) -> bool:
        return not self._nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The one value `key` must have (`=`, `==` or a one-value `in`), else None."""
        for requirement in self.requirements:
            if requirement.key == key:
                if requirement.operator in (EQUALS, DOUBLE_EQUALS, IN) and \
                        len(requirement.values) == 1:
                    return requirement.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"LabelSelector({str(self)!r})"


# Tokens of kube's label selector lexer.
_END, _CLOSE, _COMMA, _NOT, _DOUBLE_EQ, _EQ, _GT, _ID, _IN, _LT, _NOT_EQ, _NOT_IN, _OPEN, \
    _ERROR = range(14)
_SYMBOLS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DOUBLE_EQ, "=": _EQ, ">": _GT,
            "in": _IN, "<": _LT, "!=": _NOT_EQ, "notin": _NOT_IN, "(": _OPEN}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATOR_OF = {_IN: IN, _EQ: EQUALS, _DOUBLE_EQ: DOUBLE_EQUALS, _GT: GREATER_THAN,
                _LT: LESS_THAN, _NOT_IN: NOT_IN, _NOT_EQ: NOT_EQUALS}


def _lex(text: str) -> list[tuple[int, str]]:
    """Split a selector into (token, literal) pairs ending with the end-of-string token."""
    tokens: list[tuple[int, str]] = []
    pos, size = 0, len(text)
    while True:
        while pos < size and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= size:
            tokens.append((_END, ""))
            return tokens
        if text[pos] in _SPECIAL:
            # Longest run of special characters that is still a token: `!=` but `=(` is `=`.
            best: tuple[int, str] | None = None
            end = pos
            while end < size and text[end] in _SPECIAL:
                candidate = text[pos:end + 1]
                if candidate in _SYMBOLS:
                    best = (_SYMBOLS[candidate], candidate)
                elif best is not None:
                    break
                end += 1
            if best is None:  # unreachable with kube's symbol set; kept for its message
                tokens.append((_ERROR, f"error expected: keyword found '{text[pos:end]}'"))
                pos = end
            else:
                tokens.append(best)
                pos += len(best[1])
            continue
        start = pos
        while pos < size and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        tokens.append((_SYMBOLS.get(word, _ID), word))


class _LabelParser:
    """Kube's recursive-descent parser; `in`/`notin` read as identifiers where values go."""

    def __init__(self, text: str):
        self.tokens = _lex(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[int, str]:
        token, literal = self.tokens[self.position]
        if values and token in (_IN, _NOT_IN):
            token = _ID
        return token, literal

    def consume(self, values: bool = True) -> tuple[int, str]:
        token, literal = self.lookahead(values)
        self.position += 1
        return token, literal

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self.lookahead()
            if token == _END:
                return requirements
            if token not in (_ID, _NOT):
                raise SelectorError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except SelectorError as exc:
                raise SelectorError(f"unable to parse requirement: {exc}") from None
            token, literal = self.consume()
            if token == _END:
                return requirements
            if token != _COMMA:
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            token, literal = self.lookahead()
            if token not in (_ID, _NOT):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator = ""
        token, literal = self.consume()
        if token == _NOT:
            operator = DOES_NOT_EXIST
            token, literal = self.consume()
        if token != _ID:
            raise SelectorError(f"found '{literal}', expected: identifier")
        key = literal
        problems = is_qualified_name(key)
        if problems:
            raise SelectorError(str(field_invalid("<nil>", key, "; ".join(problems))))
        if operator == DOES_NOT_EXIST:
            # `!key` takes no operator; whatever follows fails as "expected: ','" in parse().
            return new_requirement(key, DOES_NOT_EXIST, [])
        if self.lookahead()[0] in (_END, _COMMA):
            return new_requirement(key, EXISTS, [])
        token, literal = self.consume(values=False)
        if token not in _OPERATOR_OF:
            raise SelectorError(f"found '{literal}', expected: {', '.join(BINARY_OPERATORS)}")
        operator = _OPERATOR_OF[token]
        values = self.value_set() if operator in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, operator, sorted(values))

    def value_set(self) -> set[str]:
        token, literal = self.consume()
        if token != _OPEN:
            raise SelectorError(f"found '{literal}' expected: '('")
        token, literal = self.lookahead()
        if token == _CLOSE:
            self.consume()
            return {""}
        if token not in (_ID, _COMMA):
            raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self.identifiers()
        if self.consume()[0] != _CLOSE:
            raise SelectorError(f"found '{literal}', expected: ')'")
        return values

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            token, literal = self.consume()
            if token == _ID:
                values.add(literal)
                following, following_literal = self.lookahead()
                if following == _COMMA:
                    continue
                if following == _CLOSE:
                    return values
                raise SelectorError(f"found '{following_literal}', expected: ',' or ')'")
            if token == _COMMA:
                if not values:
                    values.add("")  # `(,`
                following = self.lookahead()[0]
                if following == _CLOSE:
                    values.add("")  # `,)`
                    return values
                if following == _COMMA:
                    self.consume()
                    values.add("")  # `,,`
                continue
            raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.lookahead()[0] in (_END, _COMMA):
            return {""}
        token, literal = self.consume()
        if token == _ID:
            return {literal}
        raise SelectorError(f"found '{literal}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """`?labelSelector=` text to a selector; a 400 Status with kube's message when malformed."""
    try:
        return LabelSelector(_LabelParser(text or "").parse())
    except SelectorError as exc:
        raise bad_request(str(exc)) from None


_EXPRESSION_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS,
                         "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector (matchLabels + matchExpressions): None selects nothing, {} all."""
    if selector is None:
        return LabelSelector.select_nothing()
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    requirements: list[Requirement] = []
    try:
        for key, value in match_labels.items():
            requirements.append(new_requirement(key, EQUALS, [value]))
        for expression in expressions:
            operator = expression.get("operator", "")
            if operator not in _EXPRESSION_OPERATORS:
                raise SelectorError(f'"{operator}" is not a valid label selector operator')
            requirements.append(new_requirement(expression.get("key", ""),
                                                _EXPRESSION_OPERATORS[operator],
                                                expression.get("values") or []))
    except SelectorError as exc:
        raise bad_request(str(exc)) from None
    return LabelSelector(requirements)


def format_labels(labels: Mapping[str, str] | None) -> str:
    """Kube's labels.FormatLabels: `a=1,b=2` by key, `<none>` when there are none."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


# --- field selectors -------------------------------------------------------------------------

_FIELD_OPERATORS = (NOT_EQUALS, DOUBLE_EQUALS, EQUALS)  # `!=` and `==` before `=`


def escape_field_value(value: str) -> str:
    """Kube's fields.EscapeValue: backslash before `\\`, `,` and `=`."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(value: str) -> str:
    """Kube's fields.UnescapeValue; raises SelectorError on a bad escape or a bare `,`/`=`."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    escaping = False
    for char in value:
        if escaping:
            if char not in "\\,=":
                raise SelectorError(
                    f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaping = False
        elif char == "\\":
            escaping = True
        elif char in ",=":
            # Go prints the rune with %v: its code point.
            raise SelectorError(
                f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaping:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped; escapes stay in the terms."""
    if not text:
        return []
    terms: list[str] = []
    start, escaping = 0, False
    for index, char in enumerate(text):
        if escaping:
            escaping = False
        elif char == "\\":
            escaping = True
        elif char == ",":
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The first operator in the term splits it: the field name takes no escapes."""
    for index in range(len(term)):
        for operator in _FIELD_OPERATORS:
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator):]
    return None


class FieldSelector:
    """An AND of `field=value` / `field!=value` terms; a missing field reads as ``."""

    def __init__(self, requirements: Iterable[tuple[str, str, str]] = ()):
        self.requirements: list[tuple[str, str, str]] = list(requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        for field, operator, value in self.requirements:
            have = fields.get(field, "")
            if (have == value) != (operator == EQUALS):
                return False
        return True

    def fields(self) -> set[str]:
        return {field for field, _, _ in self.requirements}

    def value_for(self, field: str) -> str | None:
        """The value an `=` term requires of `field` (to narrow a list by name or namespace)."""
        for name, operator, value in self.requirements:
            if name == field and operator == EQUALS:
                return value
        return None

    def __str__(self) -> str:
        return ",".join(f"{f}{op}{escape_field_value(v)}" for f, op, v in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def parse_field_selector(text: str) -> FieldSelector:
    """`?fieldSelector=` text to a selector; a 400 Status with kube's message when malformed."""
    requirements: list[tuple[str, str, str]] = []
    try:
        for term in sorted(_split_terms(text or "")):
            if not term:
                continue
            split = _split_term(term)
            if split is None:
                raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
            field, operator, raw = split
            value = unescape_field_value(raw)
            requirements.append((field, NOT_EQUALS if operator == NOT_EQUALS else EQUALS, value))
    except SelectorError as exc:
        raise bad_request(str(exc)) from None
    return FieldSelector(requirements)
