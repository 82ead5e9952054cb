"""The message log's filter expression: `type != update and code >= 400`, `type in (subscribe, forward)`,
`address = comm://a.example/3f*`, `node = rt1 or dir = drop`, `not text ~ away`, bare words for free text.

Fields: type, address (from, to or resource), from, to, direction (dir), node (where it was seen),
code, id, text. Operators: `=` `!=` (address-like fields take `*` wildcards), `<` `<=` `>` `>=` (code, id),
`~` (contains), `in (…)` and `not in (…)`; `and`, `or`, `not` and parentheses; words side by side are
joined by `and`. A row without a code fails every comparison of `code` but `!=`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from ui.models.log_row import CODE, DIRECTION, ID, RAW, RESOURCE, SENDER, TO, TYPE, WHERE, LogRow
from ui.naming import Namer

Test = Callable[[LogRow], bool]

FIELDS = {"type": "type", "address": "address", "addr": "address", "from": "from", "to": "to",
          "direction": "direction", "dir": "direction", "node": "node", "where": "node", "code": "code",
          "id": "id", "text": "text"}
OPERATORS = ("!=", "<=", ">=", "==", "=", "<", ">", "~")
TOKEN = re.compile(r'\s*(?:(\()|(\))|(,)|(!=|<=|>=|==|=|<|>|~)|"((?:[^"\\]|\\.)*)"|([^\s(),!=<>~"]+))')


class FilterError(ValueError):
    """A filter expression that cannot be read; the message says where and why."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(f"cannot read {text[position:].strip()!r}")
        position = match.end()
        lparen, rparen, comma, op, quoted, word = match.groups()
        if lparen:
            out.append(("(", lparen))
        elif rparen:
            out.append((")", rparen))
        elif comma:
            out.append((",", comma))
        elif op:
            out.append(("op", op))
        elif quoted is not None:
            out.append(("value", quoted.replace('\\"', '"')))
        else:
            out.append(("word", word))
    return out


def _pattern(value: str) -> Callable[[str], bool]:
    """Case-insensitive whole-value match with `*` wildcards."""
    lowered = value.lower()
    if "*" not in lowered and "?" not in lowered:
        return lambda s: s.lower() == lowered
    regex = re.compile(fnmatch.translate(lowered))
    return lambda s: regex.match(s.lower()) is not None


class _Parser:
    def __init__(self, text: str, namer: Namer) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.namer = namer

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.at + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def keyword(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token[0] == "word" and token[1].lower() == word

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("the expression ends too soon")
        self.at += 1
        return token

    def parse(self) -> Test | None:
        if not self.tokens:
            return None
        test = self.either()
        if self.peek() is not None:
            raise FilterError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return test

    def either(self) -> Test:
        tests = [self.both()]
        while self.keyword("or"):
            self.at += 1
            tests.append(self.both())
        return tests[0] if len(tests) == 1 else (lambda row: any(t(row) for t in tests))

    def both(self) -> Test:
        tests = [self.unary()]
        while True:
            if self.keyword("and"):
                self.at += 1
            elif self.peek() is None or self.peek()[0] == ")" or self.keyword("or"):  # type: ignore[index]
                break
            tests.append(self.unary())
        return tests[0] if len(tests) == 1 else (lambda row: all(t(row) for t in tests))

    def unary(self) -> Test:
        if self.keyword("not"):
            self.at += 1
            inner = self.unary()
            return lambda row: not inner(row)
        token = self.take()
        if token[0] == "(":
            inner = self.either()
            if self.take()[0] != ")":
                raise FilterError("a '(' is not closed")
            return inner
        if token[0] not in ("word", "value"):
            raise FilterError(f"unexpected {token[1]!r}")
        name = FIELDS.get(token[1].lower()) if token[0] == "word" else None
        following = self.peek()
        if name is not None and following is not None and (following[0] == "op" or self.keyword("in")
                                                          or (self.keyword("not") and self.keyword("in", 1))):
            return self.comparison(name)
        needle = token[1].lower()
        return lambda row: needle in row[RAW].lower()

    def values(self) -> list[str]:
        if self.take()[0] != "(":
            raise FilterError("`in` takes a list: type in (update, delete)")
        found: list[str] = []
        while True:
            kind, value = self.take()
            if kind not in ("word", "value"):
                raise FilterError(f"unexpected {value!r} in a list")
            found.append(value)
            kind, value = self.take()
            if kind == ")":
                return found
            if kind != ",":
                raise FilterError("a list is (a, b, c)")

    def comparison(self, name: str) -> Test:
        if self.keyword("in") or self.keyword("not"):
            negate = self.keyword("not")
            self.at += 2 if negate else 1
            choices = [self.field_test(name, "=", v) for v in self.values()]
            if negate:
                return lambda row: not any(t(row) for t in choices)
            return lambda row: any(t(row) for t in choices)
        op = self.take()[1]
        kind, value = self.take()
        if kind not in ("word", "value"):
            raise FilterError(f"{name} {op} needs a value")
        return self.field_test(name, op, value)

    def field_test(self, name: str, op: str, value: str) -> Test:
        if name == "code" or name == "id":
            return self.number_test(name, op, value)
        if op in ("<", "<=", ">", ">="):
            raise FilterError(f"{name} is not a number: use = != ~ or in")
        if name == "text":
            needle = value.lower()
            contains: Test = lambda row: needle in row[RAW].lower()  # noqa: E731
            return (lambda row: not contains(row)) if op == "!=" else contains
        if op == "~":
            needle = value.lower()
            match: Callable[[str], bool] = lambda s: needle in s.lower()  # noqa: E731
        else:
            match = _pattern(value)
        test = self.string_test(name, match)
        return (lambda row: not test(row)) if op == "!=" else test

    def string_test(self, name: str, match: Callable[[str], bool]) -> Test:
        if name == "type":
            return lambda row: match(row[TYPE])
        if name == "direction":
            return lambda row: match(row[DIRECTION])
        if name == "from":
            return lambda row: match(row[SENDER]) or match(self.namer.short(row[SENDER]))
        if name == "to":
            return lambda row: match(row[TO]) or match(self.namer.short(row[TO]))
        if name == "address":
            return lambda row: (match(row[SENDER]) or match(row[TO]) or (bool(row[RESOURCE]) and match(row[RESOURCE]))
                                or match(self.namer.short(row[SENDER])) or match(self.namer.short(row[TO])))
        short = self.namer.short

        def seen_at(row: LogRow) -> bool:  # node: the runtime or node where the row was seen, by any name
            where = row[WHERE]
            name = short(where)
            return match(where) or match(name) or match(name.removeprefix("node ")) or match(where.rsplit("/", 1)[-1])
        return seen_at

    @staticmethod
    def number_test(name: str, op: str, value: str) -> Test:
        try:
            number = int(value)
        except ValueError:
            raise FilterError(f"{name} compares with a number, not {value!r}") from None
        column = CODE if name == "code" else ID
        compare: dict[str, Callable[[int], bool]] = {
            "=": lambda n: n == number, "==": lambda n: n == number, "!=": lambda n: n != number,
            "<": lambda n: n < number, "<=": lambda n: n <= number, ">": lambda n: n > number,
            ">=": lambda n: n >= number, "~": lambda n: value in str(n)}
        check = compare[op]

        def test(row: LogRow) -> bool:
            raw = row[column]
            if raw is None or raw == "":
                return op == "!="
            try:
                return check(int(raw))
            except (TypeError, ValueError):
                return op == "!="
        return test


def parse_filter(text: str, namer: Namer | None = None) -> Test | None:
    """The test a log row must pass (None: every row passes); raises FilterError."""
    return _Parser(text, namer or Namer()).parse()
