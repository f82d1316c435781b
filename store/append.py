"""The batch write: one logger batch of points, run updates and events in one transaction.

Points are inserted as rows of ``metrics``; the batch's summary per (run, metric) — last value
by logging order, min, max, count, non-finite count — and the ``metric_blocks`` rows its points
fall into are computed here, column-wise, and merged into their tables, so readers never scan
points for them. The first NaN/±Inf of each metric raises an automatic alert.
"""

from __future__ import annotations

import json
import sqlite3
from array import array
from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

from .models import FLAG_BOOL, FLAG_NAN, FLAG_NEG_ZERO, FlaggedKeys
from .schema import BLOCK, BLOCK_MERGE, SUMMARY_MERGE

#: Run-row columns a batch may update.
UPDATABLE = frozenset(
    {
        "state", "exit_code", "finished_at", "config", "summary", "meta", "git_commit", "git_branch",
        "git_dirty", "tags", "notes", "name", "group_name", "job_type", "heartbeat_at",
    }
)

Group = tuple[int, tuple[int, ...]]  # (rid, metric key ids of one logged key set)
Event = tuple[int | None, float, str, str]


class KeyIds:
    """Interned metric-key ids, cached per connection.

    Ids created inside a batch are held apart until its transaction commits: a rolled-back
    batch must not poison the cache.
    """

    def __init__(self) -> None:
        self._kid: dict[str, int] = {}
        self._tuples: dict[tuple[str, ...], tuple[int, ...]] = {}
        self._pending: dict[str, int] = {}
        self._new_tuples: dict[tuple[str, ...], tuple[int, ...]] = {}

    def begin(self) -> None:
        self._pending.clear()
        self._new_tuples.clear()

    def ids(self, c: sqlite3.Connection, keys: tuple[str, ...]) -> tuple[int, ...]:
        kids = self._tuples.get(keys) or self._new_tuples.get(keys)
        if kids is None:
            kids = self._new_tuples[keys] = tuple(self._one(c, k) for k in keys)
        return kids

    def _one(self, c: sqlite3.Connection, key: str) -> int:
        kid = self._kid.get(key) or self._pending.get(key)
        if kid is None:
            c.execute("INSERT OR IGNORE INTO keys (name) VALUES (?)", (key,))
            kid = int(c.execute("SELECT kid FROM keys WHERE name = ?", (key,)).fetchone()[0])
            self._pending[key] = kid
        return kid

    def commit(self) -> None:
        self._kid.update(self._pending)
        self._tuples.update(self._new_tuples)
        self.begin()


class Batch:
    """One ``Store.append`` call's work inside its write transaction."""

    def __init__(self, c: sqlite3.Connection, keys: KeyIds, now: float) -> None:
        self.c = c
        self.keys = keys
        self.now = now
        self.rows: list[tuple[Any, ...]] = []
        # Entries grouped by (run, key set) so the summary is computed column-wise in C: per group
        # four columns, one item per entry (row index after its points, step, ts, values).
        self.groups: dict[Group, tuple[list[int], list[int], list[float], list[Any]]] = {}
        self.special: set[Group] = set()  # groups holding a NaN or ±Inf
        self.last_steps: dict[int, int] = {}
        self.nonfinite_first: dict[tuple[int, int], tuple[str, int, float, float]] = {}
        self.alert_events: list[tuple[int, float, str, str]] = []

    def write(self, entries: Sequence[tuple[Any, ...]], updates: Sequence[tuple[int, dict[str, Any]]],
              events: Sequence[Event]) -> int:
        self.add_entries(entries)
        if self.rows:
            self.c.executemany(
                "INSERT INTO metrics (rid, kid, step, ts, value, flag) VALUES (?, ?, ?, ?, ?, ?)", self.rows
            )
            self.merge_summaries()
        touched = self.update_runs(updates)
        self.insert_events([*events, *self.alert_events], touched)
        return len(self.rows)

    def add_entries(self, entries: Sequence[tuple[Any, ...]]) -> None:
        """Turn ``(rid, step, ts, keys, values)`` entries into ``metrics`` rows and groups.

        Consecutive entries of one run with the same key set (the usual training loop) are
        turned into rows with a few C-level zip/chain calls per segment instead of Python work
        per entry; NaN/±Inf/-0.0 take the per-entry path.
        """
        n = len(entries)
        i = 0
        while i < n:
            rid, _, _, keys, _ = entries[i]
            j = i + 1
            while j < n and entries[j][3] is keys and entries[j][0] == rid:
                j += 1
            kids = self.keys.ids(self.c, keys)
            seg = entries[i:j]
            i = j
            if not self._add_plain_segment(rid, kids, seg, type(keys) is FlaggedKeys):
                self._add_entries_one_by_one(rid, keys, kids, seg)

    def _group(self, g: Group) -> tuple[list[int], list[int], list[float], list[Any]]:
        grp = self.groups.get(g)
        if grp is None:
            grp = self.groups[g] = ([], [], [], [])
        return grp

    def _add_plain_segment(self, rid: int, kids: tuple[int, ...], seg: Sequence[tuple[Any, ...]],
                           bools: bool = False) -> bool:
        """Add a segment of finite values without -0.0 in bulk; False if it has others.
        ``bools``: its entries hold bools (``FlaggedKeys``), which get ``FLAG_BOOL``."""
        _, steps, tss, _, valss = zip(*seg)
        flat = list(chain.from_iterable(valss))
        total = sum(flat)
        if total - total or (0 in flat and _has_neg_zero(flat)):
            return False
        k = len(kids)
        rows = self.rows
        base = len(rows)
        flags = [FLAG_BOOL if t is bool else None for t in map(type, flat)] if bools else repeat(None)
        if k == 1:  # one point per entry (an importer's tfevents shape): the columns as they are
            rows.extend(zip(repeat(rid), repeat(kids[0]), steps, tss, flat, flags))
        else:
            rows.extend(zip(repeat(rid), kids * len(seg), chain.from_iterable(zip(*([steps] * k))),
                            chain.from_iterable(zip(*([tss] * k))), flat, flags))
        orders, gsteps, gtss, gvals = self._group((rid, kids))
        orders.extend(range(base + k, base + k * len(seg) + 1, k))
        gsteps.extend(steps)
        gtss.extend(tss)
        gvals.extend(valss)
        self.last_steps[rid] = steps[-1]
        return True

    def _add_entries_one_by_one(self, rid: int, keys: tuple[str, ...], kids: tuple[int, ...],
                                seg: Sequence[tuple[Any, ...]]) -> None:
        """Per entry: flag NaN / -0.0 for SQLite, note each metric's first non-finite value."""
        g = (rid, kids)
        orders, gsteps, gtss, gvals = self._group(g)
        rows = self.rows
        for _, step, ts, _, vals in seg:
            fv = _flagged(vals)
            rows.extend(zip(repeat(rid), kids, repeat(step), repeat(ts), *zip(*fv)))
            sv = sum(vals)
            if sv - sv:  # a NaN or ±Inf: this group's columns need filtering
                self.special.add(g)
                for key, kid, v in zip(keys, kids, vals):
                    if v - v != 0 and (rid, kid) not in self.nonfinite_first:
                        self.nonfinite_first[(rid, kid)] = (key, step, ts, v)
            orders.append(len(rows))
            gsteps.append(step)
            gtss.append(ts)
            gvals.append(vals)
            self.last_steps[rid] = step

    def merge_summaries(self) -> None:
        """Merge the batch's summaries and blocks; raise the first-NaN/Inf alerts."""
        counts: dict[tuple[int, int], int] = {}
        had_nonfinite: set[tuple[int, int]] = set()
        for rid in self.last_steps:
            for kid, cnt, nf in self.c.execute(
                "SELECT kid, count, nonfinite FROM metric_summary WHERE rid = ?", (rid,)
            ):
                counts[(rid, kid)] = cnt
                if nf:
                    had_nonfinite.add((rid, kid))
        for (rid, kid), (key, step, ts, v) in self.nonfinite_first.items():
            if (rid, kid) in had_nonfinite:
                continue  # only the first NaN/Inf of each metric raises an alert
            word = "NaN" if v != v else ("+Inf" if v > 0 else "-Inf")
            alert = {"title": f"{key} is {word}", "level": "WARN", "step": step, "auto": "nonfinite",
                     "text": f"first non-finite value of {key!r}, at step {step}"}
            self.alert_events.append((rid, ts, "alert", json.dumps(alert)))
        summary_rows, block_rows = batch_summary(self.groups, self.special, counts)
        self.c.executemany(SUMMARY_MERGE, summary_rows)
        self.c.executemany(BLOCK_MERGE, block_rows)

    def update_runs(self, updates: Sequence[tuple[int, dict[str, Any]]]) -> set[int]:
        """Last step and heartbeat of runs that logged; then the queued run-row updates."""
        c, now = self.c, self.now
        touched = set(self.last_steps)
        for rid, step in self.last_steps.items():
            c.execute(
                """UPDATE runs SET last_step = ?, heartbeat_at = ?, updated_at = ?,
                   rev = (SELECT max(rev) + 1 FROM runs) WHERE rid = ?""",
                (step, now, now, rid),
            )
        for rid, fields in updates:
            cols = [k for k in fields if k in UPDATABLE]
            sets = [f"{col} = ?" for col in cols]
            params = [fields[col] for col in cols]
            if "meta_merge" in fields:  # merge keys into the meta JSON object
                sets.append("meta = json_patch(coalesce(meta, '{}'), ?)")
                params.append(json.dumps(fields["meta_merge"]))
            if not sets:
                continue
            c.execute(
                f"UPDATE runs SET {', '.join(sets)}, updated_at = ?, "
                "rev = (SELECT max(rev) + 1 FROM runs) WHERE rid = ?",
                params + [now, rid],
            )
            touched.add(rid)
        return touched

    def insert_events(self, events: list[Event], touched: set[int]) -> None:
        if not events:
            return
        self.c.executemany("INSERT INTO events (rid, ts, kind, data) VALUES (?, ?, ?, ?)", events)
        # An alert is a visible change of its run: readers re-read runs by revision.
        for rid in {e[0] for e in events if e[2] == "alert" and e[0] is not None} - set(self.last_steps):
            self.c.execute("UPDATE runs SET rev = (SELECT max(rev) + 1 FROM runs) WHERE rid = ?", (rid,))


_NEG_ZERO = array("d", [-0.0]).tobytes()


def _has_neg_zero(flat: list[Any]) -> bool:
    """Is there a -0.0 among these numbers? (C-level: a byte search in their float64 image.)"""
    try:
        buf = array("d", flat).tobytes()
    except (OverflowError, TypeError):
        return True  # let the per-entry path decide
    at = buf.find(_NEG_ZERO)
    while at != -1:
        if at % 8 == 0:
            return True
        at = buf.find(_NEG_ZERO, at + 1)
    return False


def _flag(v: Any) -> int | None:
    if type(v) is bool:
        return FLAG_BOOL
    if v != v:
        return FLAG_NAN
    if v == 0 and type(v) is float and str(v)[0] == "-":
        return FLAG_NEG_ZERO
    return None


def _flagged(vals: Sequence[Any]) -> list[tuple[Any, int | None]]:
    out: list[tuple[Any, int | None]] = []
    for v in vals:
        f = _flag(v)
        out.append((None if f == FLAG_NAN else 0.0 if f == FLAG_NEG_ZERO else v, f))
    return out


def _column_blocks(rid: int, kid: int, col: Sequence[Any], steps: list[int], tss: list[float],
                   start: int, special: bool) -> list[tuple[Any, ...]]:
    """``metric_blocks`` rows for one series' new points, continuing from its stored count
    ``start``: blocks of BLOCK consecutive points, finite values only in the value columns."""
    out = []
    n = len(col)
    a = 0
    while a < n:
        blk, off = divmod(start + a, BLOCK)
        b = min(n, a + BLOCK - off)
        vals = col[a:b]
        fv = [x for x in vals if x - x == 0] if special else vals
        st = steps[a:b]
        tt = tss[a:b]
        out.append((rid, kid, blk, b - a, min(st), max(st), min(tt), max(tt),
                    min(fv) if fv else None, max(fv) if fv else None, sum(fv) if fv else None, len(fv)))
        a = b
    return out


def batch_summary(groups: dict[Group, tuple[list[int], list[int], list[float], list[Any]]], special: set[Group],
                  counts: dict[tuple[int, int], int]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Per (run, metric) of one batch: the summary row (last value by logging order, min, max,
    count, non-finite count) and the ``metric_blocks`` rows its points fall into.

    Works column-wise (C-level ``zip``/``min``/``max``/``sum`` over slices), not point by point.
    NaN is left out of min/max (as SQLite's min() leaves out NULL); ±Inf is kept there, but
    blocks (what charts draw) keep finite values only.
    """
    out: dict[tuple[int, int], list[Any]] = {}
    blocks: list[tuple[Any, ...]] = []
    for (rid, kids), (orders, steps, tss, valss) in groups.items():
        cols = list(zip(*valss))
        order, step, ts, last_vals = orders[-1], steps[-1], tss[-1], valss[-1]
        is_special = (rid, kids) in special
        for j, kid in enumerate(kids):
            col = cols[j]
            n = len(col)
            nonfinite = n - sum(1 for v in col if v - v == 0) if is_special else 0
            stat = [v for v in col if v == v] if is_special else col
            mn = min(stat) if stat else None
            mx = max(stat) if stat else None
            v = last_vals[j]
            flag = _flag(v)
            start = counts.get((rid, kid), 0)
            blocks += _column_blocks(rid, kid, col, steps, tss, start, is_special)
            counts[(rid, kid)] = start + n
            cur = out.get((rid, kid))
            if cur is None:
                out[(rid, kid)] = [order, None if flag == FLAG_NAN else v, flag, step, ts, mn, mx, n, nonfinite]
                continue
            if order > cur[0]:
                cur[0:5] = [order, None if flag == FLAG_NAN else v, flag, step, ts]
            if mn is not None:
                cur[5] = mn if cur[5] is None else min(cur[5], mn)
                cur[6] = mx if cur[6] is None else max(cur[6], mx)
            cur[7] += n
            cur[8] += nonfinite
    return [(rid, kid, *vals[1:]) for (rid, kid), vals in out.items()], blocks
