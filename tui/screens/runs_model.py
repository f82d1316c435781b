"""What the runs table shows, without Textual: columns, rows, sorting, best-per-column and
groups, computed from the runs in memory (the screen owns the state and the widget)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tracker.store import RunRecord
from tracker.store.keys import is_system_metric
from tracker.store.lookup import config_lookup, missing_last_key
from tracker.tui import fmt
from tracker.tui.diff import fmt_value, lower_is_better, varying_keys
from tracker.tui.text import sanitize
from tracker.tui.widgets.run_table import Column, Row

QUALIFIERS = ("last", "best", "min", "max")
STATE_WORD = {"running": "running", "finished": "finished", "failed": "failed", "crashed": "crashed"}
PRIMARY_PREFERENCE = ("val/loss", "valid/loss", "eval/loss", "val_loss", "loss", "train/loss", "train_loss")


def metric_value(r: RunRecord, key: str, qualifier: str) -> Any:
    """The number shown (and sorted on) for a metric column."""
    st = r.metrics.get(key)
    if st is None:
        return r.summary_overrides.get(key)
    if qualifier == "last":
        ov = r.summary_overrides
        return ov[key] if key in ov else st.last
    if qualifier == "min":
        return st.min
    if qualifier == "max":
        return st.max
    return st.min if lower_is_better(key) else st.max


def gpu_summary(r: RunRecord) -> tuple[float | None, float | None]:
    """(peak GPU memory used in GiB over all GPUs, mean GPU utilisation in %) from the system
    metrics the sampler recorded; None when there are none."""
    peaks = [st.max for k, st in r.metrics.items()
             if k.startswith("system/gpu") and k.endswith(("/mem_used_gib", "/mem_used_gb")) and st.max is not None]
    utils = [st.mean for k, st in r.metrics.items()
             if k.startswith("system/gpu") and k.endswith("/util_percent") and st.mean is not None]
    return (max(peaks) if peaks else None, sum(utils) / len(utils) if utils else None)


def metric_keys(runs: Iterable[RunRecord]) -> list[str]:
    """Metric names: training metrics before the system ones the sampler records, then the ones
    most runs have first."""
    counts: dict[str, int] = {}
    for r in runs:
        for k in r.metrics:
            counts[k] = counts.get(k, 0) + 1
        for k in r.summary_overrides:
            counts[k] = counts.get(k, 0) + 1
    return sorted(counts, key=lambda k: (is_system_metric(k), -counts[k], k))


def runs_layout(runs: Sequence[RunRecord]) -> tuple[list[str], list[str]]:
    """What the columns are planned from: the metric names (:func:`metric_keys`) and the config
    keys that vary (the default config columns). Linear in the runs: at 10,000 runs ~0.5 s,
    so the runs screen computes it off the event loop for big projects."""
    return metric_keys(runs), varying_keys([r.config for r in runs], limit=5)


def primary_metric(keys: Sequence[str]) -> str | None:
    """The metric with the trend column: a validation loss if there is one."""
    for pref in PRIMARY_PREFERENCE:
        if pref in keys:
            return pref
    losses = [k for k in keys if "loss" in k.lower()]
    return losses[0] if losses else (keys[0] if keys else None)


@dataclass
class View:
    """How the user asked to see the table (sort, qualifier, chosen columns, …)."""

    sort_key: str | None = "created"
    sort_reverse: bool = True
    qualifier: str = "last"
    metric_cols: list[str] | None = None  # None: automatic
    config_cols: list[str] | None = None
    gpu_cols: bool = False


def _with_sort_column(view: View, metrics: list[str], configs: list[str]) -> tuple[list[str], list[str]]:
    """The column being sorted on is always shown, first among the metrics after the primary."""
    sk = view.sort_key or ""
    if sk.startswith("m:") and (not metrics or metrics[0] != sk[2:]):
        rest = [m for m in metrics if m != sk[2:]]
        metrics = rest[:1] + [sk[2:]] + rest[1:]
    if sk.startswith("c:") and sk[2:] not in configs:
        configs = configs + [sk[2:]]
    return metrics, configs


def plan_columns(runs: Sequence[RunRecord], keys: Sequence[str], primary: str | None,
                 view: View, varying: Sequence[str] | None = None) -> tuple[list[Column], list[str], list[str]]:
    """(columns, metric keys shown, config keys shown). ``varying``: the config keys that vary
    across ``runs`` when already known (see :func:`runs_layout`)."""
    metrics = view.metric_cols if view.metric_cols is not None else [
        k for k in keys if not k.startswith("system/")][:4]
    if primary and primary in metrics:
        metrics = [primary] + [m for m in metrics if m != primary]
    elif primary and view.metric_cols is None:
        metrics = [primary] + metrics[:3]
    if view.config_cols is not None:
        configs = view.config_cols
    else:
        configs = list(varying) if varying is not None else varying_keys([r.config for r in runs], limit=5)
    metrics, configs = _with_sort_column(view, metrics, configs)
    q = "" if view.qualifier == "last" else f" ({view.qualifier})"
    cols = [Column("sel", "", 1), Column("state", "state", 8), Column("name", "name", 18, min_width=8),
            Column("step", "step", 6, "right")]
    for i, m in enumerate(metrics):
        cols.append(Column(f"m:{m}", sanitize(m) + q, max(8, min(14, len(m) + len(q))), "right"))
        if i == 0 and m == primary:
            cols.append(Column("spark", "trend", 10))
    if view.gpu_cols:
        cols += [Column("gpu_mem_peak", "GPU mem peak", 12, "right"),
                 Column("gpu_util_mean", "GPU util mean", 13, "right")]
    for k in configs:
        cols.append(Column(f"c:{k}", sanitize(k), max(6, min(14, len(k))), "right"))
    cols += [Column("id", "id", 8), Column("created", "created", 11), Column("runtime", "runtime", 7, "right"),
             Column("group", "group", 12), Column("tags", "tags", 16)]
    return cols, metrics, configs


def build_row(r: RunRecord, metrics: Sequence[str], configs: Sequence[str], view: View, *,
              sparks: Sequence[float], now: float, ascii_only: bool) -> Row:
    """One run's cells (all text sanitised) and per-cell styles."""
    end = r.finished_at or (now if r.state == "running" else max(r.heartbeat_at or 0, r.updated_at))
    cells = {
        "state": "stopped" if r.meta.get("sweep_stop") and r.state != "running"  # ended by its sweep
        else STATE_WORD.get(r.state, sanitize(r.state)),
        "name": ("! " if r.alerts else "") + sanitize(r.name),  # "!" is one cell everywhere; ⚠ is not
        "step": "" if r.last_step is None else str(r.last_step),
        "id": r.id,
        "created": fmt.when(r.created_at, now),
        "runtime": fmt.duration(end - r.created_at),
        "group": sanitize(r.group or ""),
        "tags": sanitize(",".join(r.tags)),
        "spark": fmt.sparkline(sparks, 10, ascii_only),
    }
    styles = {"state": f"runtable--state-{r.state}" if r.state in STATE_WORD else ""}
    if r.alerts:
        styles["name"] = "runtable--alert"
    for m in metrics:
        cells[f"m:{m}"] = sanitize(fmt.num(metric_value(r, m, view.qualifier)))
    if view.gpu_cols:
        peak, util = gpu_summary(r)
        cells["gpu_mem_peak"] = "" if peak is None else f"{peak:.1f} GiB"
        cells["gpu_util_mean"] = "" if util is None else f"{util:.0f}%"
    for k in configs:
        v = config_lookup(r.config, k)
        cells[f"c:{k}"] = "" if v is None and k not in r.config else sanitize(fmt_value(v))
    return Row(r.id, cells, styles)


def sort_getter(key: str, qualifier: str) -> Callable[[RunRecord], Any]:
    """The value a run is sorted on for the column or key ``key``."""
    if key == "created":
        return lambda r: r.created_at
    if key == "runtime":
        return lambda r: r.runtime
    if key == "step":
        return lambda r: r.last_step
    if key.startswith("m:"):
        return lambda r: metric_value(r, key[2:], qualifier)
    if key.startswith("c:"):
        return lambda r: config_lookup(r.config, key[2:])
    if key in ("gpu_mem_peak", "gpu_util_mean"):
        i = 0 if key == "gpu_mem_peak" else 1
        return lambda r: gpu_summary(r)[i]
    if key == "tags":
        return lambda r: ",".join(r.tags)
    return lambda r: getattr(r, key, None)


def sort_runs(runs: Iterable[RunRecord], view: View) -> list[RunRecord]:
    """Sorted as the view asks; runs without the value always last, whatever the direction."""
    getter = sort_getter(view.sort_key or "created", view.qualifier)
    keyed = [(missing_last_key(getter(r)), r) for r in runs]
    present = [kr for kr in keyed if kr[0][0] < 2]
    missing = [r for k, r in keyed if k[0] >= 2]
    present.sort(key=lambda kr: kr[0], reverse=view.sort_reverse)
    return [r for _, r in present] + missing


def best_per_column(runs: Sequence[RunRecord], metrics: Sequence[str], qualifier: str,
                    values: Callable[[RunRecord], Sequence[Any]] | None = None) -> dict[str, str]:
    """Metric key -> id of the run with the best finite value (when two or more have one).
    ``values(run)``: the run's values of ``metrics`` (default: read with :func:`metric_value`)."""
    if values is None:
        def values(r: RunRecord) -> list[Any]:
            return [metric_value(r, m, qualifier) for m in metrics]
    best: dict[str, str] = {}
    rows = [(r.id, values(r)) for r in runs]
    num = (int, float)
    for j, m in enumerate(metrics):
        finite = [(v, rid) for rid, vals in rows if type(v := vals[j]) in num and v - v == 0]
        if len(finite) > 1:
            vs = [v for v, _ in finite]
            b = min(vs) if lower_is_better(m) else max(vs)
            best[m] = finite[vs.index(b)][1]  # the first run with it, in table order
    return best


FILTER_FIELDS = ("name", "id", "project", "group", "job_type", "state", "host", "notes", "tags")


def flat_run(r: RunRecord) -> dict[str, Any]:
    """What a filter reads from a run, as one plain mapping (its ``summary`` built once)."""
    d = {f: getattr(r, f) for f in FILTER_FIELDS}
    d["summary"] = r.summary
    d["config"] = r.config
    d["archived"] = r.archived
    return d


class RunIndex:
    """Per-run values a keystroke reads, computed once per run (record) rather than once per
    keystroke: the mapping the filter reads, the metric columns' values, and the whole sorted
    order (a filter then keeps that order: filtering a sorted list is the same as sorting the
    filtered one, the sort being stable). Issue 19: at 10,000 runs a filter keystroke had
    rebuilt every run's summary dict and re-sorted everything (~300 ms)."""

    def __init__(self) -> None:
        self._flat: dict[str, tuple[RunRecord, dict[str, Any]]] = {}
        self._vals: dict[str, tuple[RunRecord, tuple[Any, ...], tuple[Any, ...]]] = {}
        self._order: tuple[tuple[Any, ...], list[RunRecord]] | None = None

    def flat(self, r: RunRecord) -> dict[str, Any]:
        hit = self._flat.get(r.id)
        if hit is None or hit[0] is not r:
            hit = self._flat[r.id] = (r, flat_run(r))
        return hit[1]

    def values(self, metrics: Sequence[str], qualifier: str) -> Callable[[RunRecord], tuple[Any, ...]]:
        """``run -> its values of the metric columns``, remembered per run record."""
        sig = (tuple(metrics), qualifier)
        cache = self._vals

        def get(r: RunRecord) -> tuple[Any, ...]:
            hit = cache.get(r.id)
            if hit is None or hit[0] is not r or hit[1] != sig:
                hit = cache[r.id] = (r, sig, tuple(metric_value(r, m, qualifier) for m in metrics))
            return hit[2]

        return get

    def sorted(self, version: Any, runs: Iterable[RunRecord], view: View) -> list[RunRecord]:
        """Every run in ``view``'s order; re-sorted only when ``version`` (of the runs) or the
        sort changes."""
        key = (version, view.sort_key, view.sort_reverse, view.qualifier)
        if self._order is None or self._order[0] != key:
            self._order = (key, sort_runs(runs, view))
        return self._order[1]

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the values of runs no longer in memory."""
        keep = set(keep)
        for d in (self._flat, self._vals):
            for k in list(d):  # a copy: a worker may be filling the index meanwhile
                if k not in keep:
                    d.pop(k, None)


def group_rows(runs: Sequence[RunRecord], expanded: set[str], ascii_only: bool,
               run_row: Callable[[RunRecord], Row]) -> list[Row]:
    """Rows with runs gathered under one line per ``group`` (members shown when expanded)."""
    groups: dict[str, list[RunRecord]] = {}
    for r in runs:
        groups.setdefault(r.group or "", []).append(r)
    rows: list[Row] = []
    for g, members in groups.items():
        if not g:
            rows += [run_row(r) for r in members]
            continue
        open_ = g in expanded
        states: dict[str, int] = {}
        for r in members:
            states[r.state] = states.get(r.state, 0) + 1
        summary = " ".join(f"{n} {s}" for s, n in sorted(states.items()))
        arrow = ("v " if open_ else "> ") if ascii_only else ("▾ " if open_ else "▸ ")
        rows.append(Row(f"group:{g}", {"name": arrow + sanitize(g), "state": f"{len(members)} runs",
                                       "tags": summary}, kind="group"))
        if open_:
            for r in members:
                rows.append(_indented(run_row(r)))
    return rows


def _indented(row: Row) -> Row:
    """A group member's row one level in (cached rows stay as they are; built when drawn)."""

    def build() -> tuple[dict[str, str], dict[str, str]]:
        return row.cells, row.styles

    return Row(row.key, kind=row.kind, depth=1, build=build)
