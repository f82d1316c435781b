"""What wandb-style scripts record besides metrics (issue 10), for the app:

- ``define_metric(name, step_metric=...)``: the metric's default x axis on the charts screen
  (:func:`step_metrics`, :func:`x_metric_for`, :func:`against`);
- strings logged with ``log({"k": "text"})`` and files kept with ``tracker.save()``: the **Text**
  tab of run detail (:func:`attach_text_tab`), added when the run has either.

Everything read here comes from the store and is untrusted: drawn through ``sanitize`` into
``rich.text.Text``, never parsed as markup.
"""

from __future__ import annotations

import bisect
import fnmatch
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from tracker.tui.charts import Series
from tracker.tui.text import sanitize

#: At most this many logged strings are shown (the newest), each cut to this many characters.
MAX_TEXTS = 2000
MAX_TEXT_CHARS = 2000


def _events(store_dir: Any, run_id: str, kinds: set[str]) -> list[tuple[float, str, dict[str, Any]]]:
    """``(ts, kind, data)`` of the run's events of these kinds (own connection: callable from
    any worker thread)."""
    from tracker.store import Store

    s = Store(store_dir, create=False)
    try:
        rec = s.run(run_id)
        return [(ts, k, d) for _i, _r, ts, k, d in s.events(rec.rid) if k in kinds and isinstance(d, dict)]
    finally:
        s.close()


def step_metrics(store_dir: Any, run_ids: Sequence[str]) -> dict[str, str]:
    """``{metric name or glob: step_metric}`` from the runs' ``define_metric`` calls (the first
    run that defines a name wins). A run or store that cannot be read adds nothing."""
    out: dict[str, str] = {}
    for rid in run_ids:
        try:
            events = _events(store_dir, rid, {"define_metric"})
        except Exception:  # the store went away / the run vanished: no default x axis
            continue
        for _ts, _k, d in events:
            name, step = d.get("name"), d.get("step_metric")
            if isinstance(name, str) and isinstance(step, str) and step and name not in out:
                out[name] = step
    return out


def x_metric_for(defs: dict[str, str], metric: str, logged: Sequence[str]) -> str | None:
    """The step_metric defined for ``metric`` (its exact name first, then a glob), when that
    x metric was logged and is not the metric itself."""
    x = defs.get(metric)
    if x is None:
        x = next((v for k, v in defs.items() if any(c in k for c in "*?[") and fnmatch.fnmatchcase(metric, k)), None)
    return x if x is not None and x != metric and x in logged else None


def against(y: Series, x: Series) -> Series:
    """``y`` drawn against the values of ``x`` of the same run: each point's x is the last value
    of the x metric logged at its step or before (wandb's step_sync). Points before the first x
    value, and x values that are not finite, are left out. ``steps`` is dropped (it would win
    over ``xs``); wall times are kept for the time modes."""
    xsteps = list(x.steps if x.steps is not None else x.xs)
    order = sorted(range(len(xsteps)), key=xsteps.__getitem__)
    ks = [xsteps[i] for i in order]
    kv = [float(x.ys[i]) for i in order]
    ysteps = list(y.steps if y.steps is not None else y.xs)
    xs: list[float] = []
    ys: list[float] = []
    ts: list[float] = []
    for i, s in enumerate(ysteps):
        j = bisect.bisect_right(ks, s) - 1
        if j < 0 or not math.isfinite(kv[j]):
            continue
        xs.append(kv[j])
        ys.append(y.ys[i])
        if y.timestamps is not None:
            ts.append(y.timestamps[i])
    return Series(y.label, xs, ys, y.color_index, None, ts if y.timestamps is not None else None, y.skipped)


# ---------------------------------------------------------------------- run detail: Text tab
def _texts_and_files(store_dir: Any, run_id: str) -> tuple[list[tuple[int, str, str]], list[tuple[str, int]]]:
    texts: list[tuple[int, str, str]] = []
    for _ts, _k, d in _events(store_dir, run_id, {"text"}):
        values = d.get("values")
        if isinstance(values, dict):
            texts.extend((int(d.get("step", 0) or 0), str(k), str(v)) for k, v in values.items())
    root = Path(store_dir, "runs", run_id, "files")
    files = []
    if root.is_dir():
        files = [(p.relative_to(root).as_posix(), p.stat().st_size) for p in sorted(root.rglob("*")) if p.is_file()]
    return texts, files


def render_text_tab(texts: list[tuple[int, str, str]], files: list[tuple[str, int]]) -> Text:
    """The Text tab's content: saved files (name, size), then the logged strings by step."""
    t = Text()
    t.append(f"files saved with tracker.save() ({len(files)})\n", style="bold")
    for name, size in files:
        t.append("  ")
        t.append(sanitize(name))
        t.append(f"  {size:,} B\n", style="dim")
    if not files:
        t.append("  none\n", style="dim")
    shown = texts[-MAX_TEXTS:]
    t.append(f"\ntext logged with log() ({len(texts)}" + (f", the last {len(shown)} shown" if len(shown) < len(texts)
                                                           else "") + ")\n", style="bold")
    for step, key, value in shown:
        t.append(f"  {step:>7}  ", style="dim")
        t.append(sanitize(key), style="bold")
        t.append("  ")
        cut = value[:MAX_TEXT_CHARS]
        t.append(sanitize(cut) + ("…" if len(value) > len(cut) else ""))
        t.append("\n")
    if not texts:
        t.append("  none\n", style="dim")
    return t


def attach_text_tab(screen: Any, store_dir: Any, run_id: str) -> None:
    """Add a Text tab to ``screen``'s TabbedContent when the run logged strings or saved files
    (read in a thread)."""

    def check() -> None:
        try:
            texts, files = _texts_and_files(store_dir, run_id)
        except Exception:  # store gone / run not found: no tab, the screen says why
            return
        if texts or files:
            screen.app.call_from_thread(add, render_text_tab(texts, files))

    def add(content: Text) -> None:
        if screen.query("#texts"):
            screen.query_one("#texts-body", Static).update(content)
            return
        pane = TabPane("Text", VerticalScroll(Static(content, id="texts-body"), id="texts-scroll"), id="texts")
        screen.query_one(TabbedContent).add_pane(pane)

    screen.run_worker(check, thread=True, group="detail-texts", exclusive=True, exit_on_error=False)
