"""``init(fork_from="RUNID?_step=N")`` and ``init(resume_from=...)``: a new run that starts with
its parent's metric history up to step N and continues from step N + 1.

The parent's points up to N are **copied** into the new run through the run's own writer queue
(with their original steps and wall times), so every reader, summary and chart sees them with
no change to how the store is read. A copy, not a read-through: it costs one read of the parent's
points at ``init()`` and their space in the store. Metrics only: the parent's logged strings,
media, files and config are not copied. The link is kept in the run's meta (``fork_from`` /
``resume_from``: ``{"run": id, "step": N}``) and shown in run detail.
"""

from __future__ import annotations

import re
from itertools import count
from typing import Any

_SPEC = re.compile(r"^\s*([^?\s]+)\?_step=(\d+)\s*$")


def parse(kind: str, spec: Any) -> tuple[str, int]:
    """``"RUNID?_step=N"`` -> ``(RUNID, N)``; anything else is a ``ValueError`` naming the form."""
    m = _SPEC.match(str(spec))
    if m is None:
        raise ValueError(f"tracker: init({kind}={spec!r}): use \"RUNID?_step=N\" (the parent run's id and a step)")
    return m.group(1), int(m.group(2))


def parent_points(dir: Any, kind: str, parent: str, step: int) -> tuple[str, list[tuple[int, float, str, Any]]]:
    """The parent's full id and its points ``(step, ts, key, value)`` up to ``step``; a parent
    that is not in the store is a ``ValueError`` (raised before the new run is created)."""
    from tracker.store import Store, StoreMissing, resolve_dir
    from tracker.store.errors import StoreError

    try:
        s = Store(resolve_dir(dir), create=False)
    except StoreMissing:
        raise ValueError(f"tracker: init({kind}=...): no store at {resolve_dir(dir)}, so no run {parent!r}") from None
    try:
        try:
            rec = s.run(parent)
        except (StoreError, KeyError, LookupError) as e:
            raise ValueError(f"tracker: init({kind}=...): no run {parent!r} in {s.dir} ({e})") from None
        return rec.id, [p for p in s.points(rec.rid) if p[0] <= step]
    finally:
        s.close()


def apply(run: Any, kind: str, parent: str, step: int, points: list[tuple[int, float, str, Any]]) -> None:
    """Queue the parent's points into ``run`` (grouped per step and wall time, as logged) and
    make its next step ``step + 1``; record the link in the run's meta."""
    q = run._q
    rid = run._rid
    i = 0
    while i < len(points):
        s, ts = points[i][0], points[i][1]
        j = i
        while j < len(points) and points[j][0] == s and points[j][1] == ts:
            j += 1
        q.append((rid, s, ts, tuple(p[2] for p in points[i:j]), tuple(p[3] for p in points[i:j])))
        i = j
    run._wake.ring()
    run._max_step = max(run._max_step, step)
    run._counter = count(run._max_step + 1)
    run._enqueue_update({"meta_merge": {kind: {"run": parent, "step": step, "points": len(points)}}})
