"""The filter language's parser: tokens to a syntax tree, with errors that say what was meant."""

from __future__ import annotations

import difflib
import re
import warnings

from tracker.tui.filter.ast import (
    And,
    Compare,
    FieldMatch,
    Has,
    InList,
    Key,
    MatchAll,
    Node,
    Not,
    Or,
    Range,
    Search,
    Value,
)
from tracker.tui.filter.errors import FilterError, show
from tracker.tui.filter.lexer import Token, tokenize
from tracker.tui.filter.values import parse_number
from tracker.tui.text import sanitize

#: Nesting (parentheses and ``not``) deeper than this is refused: it keeps the recursive parser
#: and the compiled closures far from Python's recursion limit for any pasted text.
MAX_DEPTH = 100

_SHORTHANDS = {
    "tag": ("tags", "equal"), "tags": ("tags", "equal"),
    "state": ("state", "equal"), "group": ("group", "equal"), "project": ("project", "equal"),
    "job_type": ("job_type", "equal"), "job": ("job_type", "equal"), "host": ("host", "equal"),
    "id": ("id", "prefix"), "name": ("name", "contains"), "notes": ("notes", "contains"),
    "has": ("", "has"), "archived": ("archived", "equal"),
}
_SHORTHAND_NAMES = ["tag", "state", "group", "project", "job_type", "host", "id", "name", "notes",
                    "has", "archived"]
_IDENT = re.compile(r"[A-Za-z_]+")
_ORDER_DIRECTION = {"<": "up", "<=": "up", ">": "down", ">=": "down"}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "==": "==", "!=": "!="}
_STARTS_TERM = frozenset({"word", "str", "key", "(", "not"})


class Parser:
    """Recursive descent: or > and (also implicit) > not > term."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0
        self.keys: list[str] = []

    # -- token helpers

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "end":
            self.i += 1
        return t

    def enter(self, t: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"nested too deeply (more than {MAX_DEPTH} parentheses or nots)",
                              t.start)

    def unexpected(self, t: Token) -> FilterError:
        k = t.kind
        if k == ")":
            return FilterError("unmatched ')'", t.start)
        if k == "]":
            return FilterError("unmatched ']'", t.start)
        if k == "[":
            return FilterError("unexpected '[': square brackets only hold the list after 'in'",
                               t.start)
        if k == ",":
            return FilterError("unexpected ',': commas separate the values of 'in (A, B)' and "
                               "'tag:A,B'", t.start)
        if k == "op":
            return FilterError(f"unexpected '{t.text}': a comparison needs a key on its left",
                               t.start)
        if k in ("in", "between"):
            return FilterError(f"expected a key before {show(t.text)}", t.start)
        return FilterError(f"unexpected {show(t.text)}", t.start)

    # -- grammar

    def parse(self) -> Node:
        if self.peek().kind == "end":
            return MatchAll()
        node = self.parse_or(None)
        t = self.peek()
        if t.kind != "end":  # a stray ) ] , or operator: and/or/terms were all consumed
            raise self.unexpected(t)
        return node

    def parse_or(self, after: str | None) -> Node:
        items = [self.parse_and(after)]
        while self.peek().kind == "or":
            op = self.take()
            items.append(self.parse_and(op.text))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, after: str | None) -> Node:
        items = [self.parse_unary(after)]
        while True:
            t = self.peek()
            if t.kind == "and":
                self.take()
                items.append(self.parse_unary(t.text))
            elif t.kind in _STARTS_TERM:  # "resnet cifar" means "resnet and cifar"
                items.append(self.parse_unary(None))
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self, after: str | None) -> Node:
        t = self.peek()
        if t.kind == "not":
            self.take()
            self.enter(t)
            node = Not(self.parse_unary(t.text))
            self.depth -= 1
            return node
        return self.parse_primary(after)

    def parse_primary(self, after: str | None) -> Node:
        t = self.peek()
        k = t.kind
        if k == "(":
            self.take()
            self.enter(t)
            nxt = self.peek()
            if nxt.kind == "end":
                raise FilterError("unclosed parenthesis", t.start)
            if nxt.kind == ")":
                raise FilterError("empty parentheses: expected an expression after '('",
                                  nxt.start)
            node = self.parse_or("(")
            close = self.peek()
            if close.kind == "end":
                raise FilterError("unclosed parenthesis", t.start)
            if close.kind != ")":
                raise self.unexpected(close)
            self.take()
            self.depth -= 1
            return node
        if k in ("word", "str", "key"):
            return self.parse_term()
        if k == "end":
            raise FilterError(f"expected an expression after {show(after or '')}", t.start)
        if k in ("and", "or"):
            if after:
                raise FilterError(f"expected an expression after {show(after)}, found "
                                  f"{show(t.text)}", t.start)
            raise FilterError(f"expected an expression before {show(t.text)}", t.start)
        raise self.unexpected(t)

    def parse_term(self) -> Node:
        a = self.take()
        t = self.peek()
        if t.kind == "op":
            return self.parse_comparison(a)
        if t.kind in ("in", "between"):
            self.take()
            return self.parse_in(a, t, False) if t.kind == "in" else self.parse_between(a, t, False)
        # "x not in (...)": only the word not, since "x !in" reads like a typo.
        if (t.kind == "not" and t.text.casefold() == "not"
                and self.peek(1).kind in ("in", "between")):
            self.take()
            kw = self.take()
            if kw.kind == "in":
                return self.parse_in(a, kw, True)
            return self.parse_between(a, kw, True)
        if a.kind == "key":
            raise FilterError(f"expected an operator after the key {show(a.text)}", t.start)
        if a.kind == "word":
            node = self.parse_shorthand(a)
            if node is not None:
                return node
        return Search(a.value)

    def parse_comparison(self, a: Token) -> Node:
        op = self.take()
        b = self.operand_after(op)
        t = self.peek()
        if t.kind == "op":
            d1, d2 = _ORDER_DIRECTION.get(op.value), _ORDER_DIRECTION.get(t.value)
            if d1 and d1 == d2:
                self.take()
                c = self.operand_after(t)
                if a.kind == "key" or c.kind == "key":
                    bad = a if a.kind == "key" else c
                    raise FilterError("a range is written 'lo <= key <= hi' with the key in the "
                                      "middle and values outside", bad.start)
                key = self.key(b, "the middle of a range must be a key, as in '0 <= lr <= 1'")
                if d1 == "up":
                    lo, lo_op, hi, hi_op = a, op, c, t
                else:
                    lo, lo_op, hi, hi_op = c, t, a, op
                return Range(key, self.bound(lo, lo_op), lo_op.value.endswith("="),
                             self.bound(hi, hi_op), hi_op.value.endswith("="))
            if d1 and d2:
                raise FilterError("the two comparisons of a range must point the same way, as "
                                  "in 'lo <= key <= hi'", t.start)
            raise FilterError(f"unexpected '{t.text}' after a comparison", t.start)
        if a.kind == "word" and parse_number(a.value) is not None:
            flipped = f"{b.text} {_FLIPPED.get(op.value, op.value)} {a.text}"
            raise FilterError(f"put the key on the left: {show(flipped, 60)}", a.start)
        key = self.key(a, "")
        value = self.value(b, op)
        o = "=" if op.value == "==" else op.value
        regex = None
        if o in ("<", "<=", ">", ">="):
            self.check_orderable(value, op.text)
        elif o in ("~", "!~"):
            regex = _compile_regex(value, b)
        return Compare(key, o, value, regex)

    def parse_in(self, a: Token, kw: Token, negate: bool) -> Node:
        key = self.key(a, f"expected a key before '{kw.text}'")
        opener = self.peek()
        if opener.kind not in ("(", "["):
            raise FilterError(f"expected '(' after '{kw.text}', as in 'x in (A, B)'", opener.start)
        self.take()
        closer = ")" if opener.kind == "(" else "]"
        what = "parenthesis" if closer == ")" else "bracket"
        values: list[Value] = []
        while True:
            t = self.peek()
            if t.kind == closer:
                self.take()
                break
            if t.kind == "end":
                raise FilterError(f"unclosed {what}", opener.start)
            if t.kind not in ("word", "str"):
                raise FilterError(f"expected a value in the list, found {show(t.text)}", t.start)
            values.append(self.literal(self.take()))
            t = self.peek()
            if t.kind == ",":
                self.take()
            elif t.kind == "end":
                raise FilterError(f"unclosed {what}", opener.start)
            elif t.kind != closer:
                raise FilterError(f"expected ',' or '{closer}' in the list, found {show(t.text)}",
                                  t.start)
        return InList(key, tuple(values), negate)

    def parse_between(self, a: Token, kw: Token, negate: bool) -> Node:
        key = self.key(a, f"expected a key before '{kw.text}'")
        lo = self.bound(self.operand_after(kw), kw)
        t = self.peek()
        if t.kind != "and":
            raise FilterError("expected 'and' after the lower bound, as in 'x between 1 and 2'",
                              t.start)
        self.take()
        hi = self.bound(self.operand_after(t), t)
        return Range(key, lo, True, hi, True, negate)

    def parse_shorthand(self, a: Token) -> Node | None:
        w = a.value
        colon = w.find(":")
        if colon <= 0:
            return None
        prefix = w[:colon]
        spec = _SHORTHANDS.get(prefix.casefold())
        if spec is None:
            if _IDENT.fullmatch(prefix) is None:  # "12:30" is just text to search for
                return None
            close = difflib.get_close_matches(prefix.casefold(), _SHORTHAND_NAMES, n=1)
            hint = f"did you mean '{close[0]}:'? " if close else ""
            raise FilterError(f"unknown shorthand {show(prefix + ':')} ({hint}known: "
                              f"{' '.join(n + ':' for n in _SHORTHAND_NAMES)}; quote text to "
                              f"search for it)", a.start)
        values: list[tuple[str, int]] = []
        if colon + 1 < len(w):
            values.append((w[colon + 1:], a.start + colon + 1))
        else:  # tag:"my tag" or tag: resnet
            t = self.peek()
            if t.kind not in ("word", "str"):
                raise FilterError(f"expected a value after {show(w)}", t.start)
            self.take()
            values.append((t.value, t.start))
        while self.peek().kind == ",":
            comma = self.take()
            t = self.peek()
            if t.kind not in ("word", "str"):
                raise FilterError("expected a value after ','", t.start if t.kind != "end"
                                  else comma.end)
            self.take()
            values.append((t.value, t.start))
        field, mode = spec
        if mode == "has":
            return Has(tuple(self.key_from(v, pos) for v, pos in values))
        return FieldMatch(field, tuple(v for v, _ in values), mode)

    # -- operands

    def operand_after(self, op: Token) -> Token:
        t = self.peek()
        if t.kind in ("word", "str", "key"):
            self.take()
            nxt = self.peek()
            if t.kind == "word" and nxt.kind in ("(", "[") and nxt.start == t.end:
                # "name ~ res(net)" would otherwise read as "name ~ res and net": refuse it.
                what = "a regular expression" if op.value in ("~", "!~") else "text"
                example = sanitize(t.text[:20]) + nxt.text
                raise FilterError(f"quote {what} that holds '{nxt.text}', e.g. \"{example}…\"",
                                  nxt.start)
            return t
        if t.kind == "end":
            raise FilterError(f"expected a value after '{op.text}'", t.start)
        hint = ""
        if op.value in ("~", "!~") and t.kind in ("(", "["):
            hint = " (quote a regular expression that holds spaces or ( ) [ ] |)"
        elif t.kind in ("(", "["):
            hint = " (lists go after 'in')"
        raise FilterError(f"expected a value after '{op.text}', found {show(t.text)}{hint}",
                          t.start)

    def key(self, t: Token, number_message: str) -> Key:
        if t.kind == "word" and parse_number(t.value) is not None:
            raise FilterError(number_message, t.start)
        return self.key_from(t.value, t.start)

    def key_from(self, text: str, pos: int) -> Key:
        if not text:
            raise FilterError("empty key", pos)
        source, name = "auto", text
        for prefix in ("summary.", "config."):
            if text.startswith(prefix):
                if len(text) == len(prefix):
                    raise FilterError(f"expected a key after '{prefix}'", pos + len(prefix))
                source, name = prefix[:-1], text[len(prefix):]
                break
        self.keys.append(text)
        return Key(text, source, name)

    def value(self, t: Token, op: Token) -> Value:
        if t.kind == "key":
            raise FilterError(f"expected a value after '{op.text}', found the key "
                              f"{show(t.text)}: comparing two keys is not supported", t.start)
        return self.literal(t)

    def bound(self, t: Token, op: Token) -> Value:
        v = self.value(t, op)
        self.check_orderable(v, op.text)
        return v

    @staticmethod
    def check_orderable(v: Value, op: str) -> None:
        if v.kind in ("bool", "null"):
            raise FilterError(f"'{op}' needs a number or text, not {show(v.text)}", v.pos)

    @staticmethod
    def literal(t: Token) -> Value:
        if t.kind == "str":
            return Value("str", t.value, t.value, parse_number(t.value), t.start)
        word = t.value
        low = word.casefold()
        if low in ("true", "false"):
            return Value("bool", low == "true", word, None, t.start)
        if low in ("null", "none"):
            return Value("null", None, word, None, t.start)
        n = parse_number(word)
        if n is not None:
            return Value("num", n, word, n, t.start)
        return Value("str", word, word, None, t.start)


def _compile_regex(value: Value, tok: Token) -> re.Pattern[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarning for "[[" must not escape as an error
            return re.compile(value.text, re.IGNORECASE)
    except Exception as e:  # re.error, and RecursionError/OverflowError for absurd patterns
        pos = tok.start
        offset = getattr(e, "pos", None)
        # Point into the pattern when the written text maps 1:1 onto it (no escapes).
        if isinstance(offset, int):
            if tok.kind == "word":
                pos = tok.start + offset
            elif tok.text[1:-1] == value.text:
                pos = tok.start + 1 + offset
        msg = getattr(e, "msg", None) or type(e).__name__
        raise FilterError(f"invalid regular expression: {sanitize(str(msg))}", pos) from None


def parse(text: str) -> Node:
    """Parse a filter expression into its syntax tree.

    Args:
        text: What the user typed; blank text gives :class:`MatchAll`.

    Returns:
        The root node.

    Raises:
        FilterError: The text is not a valid filter (the only exception for any string).
    """
    if not isinstance(text, str):
        raise TypeError(f"filter text must be str, not {type(text).__name__}")
    return Parser(text).parse()
