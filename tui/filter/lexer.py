"""The filter language's lexer: text to tokens (words, quoted text and keys, operators)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracker.tui.filter.errors import FilterError

#: A bare word: anything up to space, brackets, a comma, a quote or an operator character.
WORD = re.compile(r"[^\s()\[\],\"'`=!<>~&|]+")
_SPACE = re.compile(r"\s+")
_OPCHARS = frozenset("=!<>~&|")
#: Words that are operators in any case (``AND``, ``Not``); quote a key or text spelled so.
KEYWORDS = {"and": "and", "or": "or", "not": "not", "in": "in", "between": "between"}
_TWO_CHAR_OPS = {"==": "op", "!=": "op", "<=": "op", ">=": "op", "!~": "op",
                  "&&": "and", "||": "or"}
_ONE_CHAR_OPS = {"=": "op", "<": "op", ">": "op", "~": "op", "!": "not"}
# Operators from other languages, answered with the one meant.
_TYPOS = {"=>": ">=", "=<": "<=", "<>": "!=", "=~": "~", "~=": "~", "===": "==", "!==": "!=",
          "=!": "!=", "!<": ">=", "!>": "<="}


@dataclass(frozen=True, slots=True)
class Token:
    """One token and where it sits in the text (``start``/``end``: 0-based, end exclusive)."""

    kind: str  # word str key op and or not in between ( ) [ ] , end
    text: str  # as written
    value: str  # the word, the unquoted string or key, or the operator
    start: int
    end: int


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """The unescaped content of the quoted item starting at ``text[i]``, and the index after it."""
    q = text[i]
    out: list[str] = []
    j, n = i + 1, len(text)
    while j < n:
        k = text.find(q, j)
        b = text.find("\\", j, k if k >= 0 else n)
        if b >= 0:  # only \<quote> and \\ are escapes, so "^res\d+" needs no doubling
            out.append(text[j:b])
            nxt = text[b + 1:b + 2]
            if nxt == q or nxt == "\\":
                out.append(nxt)
                j = b + 2
            else:
                out.append("\\")
                j = b + 1
            continue
        if k < 0:
            break
        out.append(text[j:k])
        return "".join(out), k + 1
    what = "key" if q == "`" else "text"
    raise FilterError(f"unclosed quote: the {what} starting here needs a closing {q}", i)


def _split_ops(run: str, start: int) -> list[Token]:
    """Tokens for a run of operator characters such as ``>=``, ``&&!`` or ``!!``."""
    if run in _TYPOS:
        raise FilterError(f"unknown operator '{run}' (did you mean '{_TYPOS[run]}'?)", start)
    out: list[Token] = []
    k = 0
    while k < len(run):
        piece = run[k:k + 2]
        kind = _TWO_CHAR_OPS.get(piece)
        if kind is None:
            piece = run[k]
            kind = _ONE_CHAR_OPS.get(piece)
            if kind is None:
                word = "and" if piece == "&" else "or"
                raise FilterError(f"unknown operator '{piece}' (did you mean '{piece * 2}' or "
                                  f"'{word}'? quote text or a regular expression that holds "
                                  f"it)", start + k)
        out.append(Token(kind, piece, piece, start + k, start + k + len(piece)))
        k += len(piece)
    ops = [t for t in out if t.kind == "op"]
    # At most one comparison, and nothing glued after it: "<==" or "==>" is a typo, not two ops.
    if len(ops) > 1 or (ops and out[-1].kind != "op"):
        hint = f" (did you mean '{_TYPOS[run[:2]]}'?)" if run[:2] in _TYPOS else ""
        raise FilterError(f"unknown operator '{run}'{hint}", start)
    return out


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token.

    Raises:
        FilterError: An unclosed quote or an operator the language does not have.
    """
    toks: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
        elif c in "()[],":
            toks.append(Token(c, c, c, i, i + 1))
            i += 1
        elif c in "\"'`":
            value, j = _read_quoted(text, i)
            toks.append(Token("key" if c == "`" else "str", text[i:j], value, i, j))
            i = j
        elif c in _OPCHARS:
            j = i
            while j < n and text[j] in _OPCHARS:
                j += 1
            toks.extend(_split_ops(text[i:j], i))
            i = j
        else:
            j = WORD.match(text, i).end()  # type: ignore[union-attr]
            word = text[i:j]
            if j < n and text[j] in "\"'`" and word in ("summary.", "config."):
                # summary."val loss": the prefix stays outside the quotes, as the
                # parallel-coordinates view writes it.
                value, k = _read_quoted(text, j)
                toks.append(Token("key", text[i:k], word + value, i, k))
                i = k
                continue
            toks.append(Token(KEYWORDS.get(word.casefold(), "word"), word, word, i, j))
            i = j
    toks.append(Token("end", "", "", n, n))
    return toks
