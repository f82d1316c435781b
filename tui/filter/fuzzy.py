"""Fuzzy matching for pickers: rank names and keys by how well a typed query fits them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TypeVar

_SEPARATORS = frozenset(" /._-:|\\()[]{}@#,=+")
_CONSECUTIVE = 1.5
_GAP = 0.25  # per skipped character between two matched ones
_LEAD = 0.05  # per character before the first match, capped at _LEAD_CAP
_LEAD_CAP = 1.0
_LENGTH = 0.01  # per unmatched character: "val/acc" above "val/acc_top5" for "acc"
_DP_LIMIT = 40_000  # query x text cells; beyond it (pastes) a greedy alignment is scored


def _bonuses(text: str, folded: str) -> list[float]:
    # Word starts are where people aim: "va" should prefer "val/acc" over "eval/x_a".
    same = len(text) == len(folded)  # casefold can change length; then camelCase is unknown
    out = []
    for j, ch in enumerate(folded):
        if j == 0:
            out.append(2.5)
        elif folded[j - 1] in _SEPARATORS:
            out.append(2.0)
        elif same and text[j].isupper() and text[j - 1].islower():
            out.append(1.5)
        elif ch.isdigit() and not folded[j - 1].isdigit():
            out.append(0.5)
        else:
            out.append(0.0)
    return out


def fuzzy_score(query: str, text: str) -> float | None:
    """How well ``query`` matches ``text`` as a case-insensitive subsequence.

    Matches at word starts (after ``/ . _ -`` and the like, or a camelCase hump) and runs of
    consecutive characters score higher; gaps, a late start and unmatched length cost a little.
    Whitespace in the query is ignored.

    Args:
        query: What the user typed.
        text: A candidate (run name, metric key).

    Returns:
        The score (higher is better; 0.0 for a blank query), or ``None`` if ``text`` does not
        contain the query's characters in order.
    """
    q = "".join(query.split()).casefold()
    if not q:
        return 0.0
    t = text.casefold()
    pos = -1
    for ch in q:  # cheap rejection before any scoring
        pos = t.find(ch, pos + 1)
        if pos < 0:
            return None
    n, m = len(q), len(t)
    bonus = _bonuses(text, t)
    if n * m > _DP_LIMIT:
        return _greedy_score(q, t, bonus)
    neg = -math.inf
    # prev[j]: best score of q[:i] with q[i-1] matched at t[j].
    prev = [neg] * m
    for j in range(m):
        if t[j] == q[0]:
            prev[j] = 1.0 + bonus[j] - min(j * _LEAD, _LEAD_CAP)
    for i in range(1, n):
        cur = [neg] * m
        qc = q[i]
        gap = neg  # best prev[j'] - _GAP * (j - j' - 1) over j' <= j - 2
        for j in range(i, m):
            if j >= 2:
                g = prev[j - 2] - _GAP
                gap = max(gap - _GAP, g)
            if t[j] == qc:
                best = max(prev[j - 1] + _CONSECUTIVE, gap)
                if best > neg:
                    cur[j] = best + 1.0 + bonus[j]
        prev = cur
    return max(prev) - _LENGTH * (m - n)


def _greedy_score(q: str, t: str, bonus: list[float]) -> float:
    score, last = 0.0, -1
    for ch in q:
        j = t.find(ch, last + 1)
        if last < 0:
            score += 1.0 + bonus[j] - min(j * _LEAD, _LEAD_CAP)
        elif j == last + 1:
            score += 1.0 + bonus[j] + _CONSECUTIVE
        else:
            score += 1.0 + bonus[j] - _GAP * (j - last - 1)
        last = j
    return score - _LENGTH * (len(t) - len(q))


T = TypeVar("T")


def fuzzy_filter(query: str, items: Iterable[T], key: Callable[[T], str] | None = None) -> list[T]:
    """The items whose text fuzzy-matches ``query``, best first.

    Args:
        query: What the user typed; blank keeps every item in its order.
        items: Candidates.
        key: Gives an item's text (default ``str``).

    Returns:
        The matching items, best score first; equal scores keep their input order.
    """
    text_of = key or str
    scored = []
    for idx, item in enumerate(items):
        s = fuzzy_score(query, text_of(item))
        if s is not None:
            scored.append((-s, idx, item))
    scored.sort(key=lambda e: (e[0], e[1]))
    return [item for _, _, item in scored]
