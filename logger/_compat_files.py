"""The parts of the wandb surface that read back from the store: ``restore()`` of a saved file
and the ``define_metric`` summaries computed when a run finishes. Module-level ``tracker.*``
functions that act on the current run (``alert``, ``save``, ``define_metric``...) live here too.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from . import _state
from ._settings import AlertLevel

_last_alert: dict[tuple[str, str], float] = {}


def _current(what: str) -> Any:
    run = _state.current
    if run is None:
        raise RuntimeError(f"tracker: {what}() needs an active run; call tracker.init() first")
    return run


def alert(title: str, text: str = "", level: Any = AlertLevel.INFO, wait_duration: Any = None) -> None:
    """``alert()`` on the current run (see :meth:`tracker.Run.alert`)."""
    _current("alert").alert(title, text, level=level, wait_duration=wait_duration)


def throttled(run_id: str, title: str, wait_duration: Any) -> bool:
    """True when an alert with this title was sent less than ``wait_duration`` ago (wandb's
    ``wait_duration``: seconds or a ``timedelta``); records the send otherwise."""
    if wait_duration is None:
        return False
    secs = wait_duration.total_seconds() if hasattr(wait_duration, "total_seconds") else float(wait_duration)
    now = time.monotonic()
    last = _last_alert.get((run_id, title))
    if last is not None and now - last < secs:
        return True
    _last_alert[(run_id, title)] = now
    return False


def login(*args: Any, **kwargs: Any) -> bool:
    """wandb's ``login()``: there is no account here; returns True."""
    return True


def save(glob_str: Any = None, base_path: Any = None, policy: str = "live") -> list[str]:
    """``save()`` on the current run (see :meth:`tracker.Run.save`)."""
    return _current("save").save(glob_str, base_path=base_path, policy=policy)


def define_metric(name: str, step_metric: Any = None, step_sync: bool | None = None, hidden: bool | None = None,
                  summary: str | None = None, goal: str | None = None, overwrite: bool | None = None) -> dict[str, Any]:
    """``define_metric()`` on the current run (see :meth:`tracker.Run.define_metric`)."""
    return _current("define_metric").define_metric(
        name, step_metric=step_metric, step_sync=step_sync, hidden=hidden, summary=summary, goal=goal,
        overwrite=overwrite)


def mark_preempting() -> None:
    """``mark_preempting()`` on the current run; nothing when there is none."""
    if _state.current is not None:
        _state.current.mark_preempting()


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None,
            run: Any = None) -> Any:
    """Open a file saved with ``save()`` for reading: from ``run_path`` (``entity/project/id``,
    ``project/id`` or an id) or the current run. A file of another run is copied into the
    current run's files first (unless there is one and ``replace`` is false) or into ``root``.

    Raises:
        ValueError: no such file was saved with that run.
    """
    run = run if run is not None else _state.current
    if run_path is not None:
        rid = str(run_path).rstrip("/").split("/")[-1]
        if run is not None and not run.disabled:
            store_dir = Path(run._writer.store.dir)
        else:
            from tracker.store import resolve_dir

            store_dir = Path(resolve_dir(None))
        src = store_dir / "runs" / rid / "files" / name
    elif run is None or run.disabled:
        raise ValueError(f"tracker: restore({name!r}) needs run_path= or an active run that records")
    else:
        src = Path(run.files_dir) / name
    if not src.is_file():
        raise ValueError(f"tracker: restore({name!r}): no file {name!r} was saved with run {run_path or run.id}")
    dest_dir = Path(root) if root else (Path(run.files_dir) if run is not None and not run.disabled else None)
    if dest_dir is None:
        return open(src)  # noqa: SIM115 - the caller reads and closes it, like wandb's restore
    dest = dest_dir / name
    if dest.resolve() != src.resolve() and (replace or not dest.exists()):
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    return open(dest)  # noqa: SIM115


def metric_summaries(run: Any, defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The summary value each defined metric asked for, read from the store after a flush.
    Keys set with ``run.summary[k] = v`` keep the value set."""
    from tracker.store import Store

    from ._run_compat import match_metric

    run._writer.flush(float(os.environ.get("TRACKER_FINISH_TIMEOUT", "60")))
    store = Store(run._writer.store.dir, create=False)
    out: dict[str, Any] = {}
    try:
        c = store.conn
        rows = c.execute("SELECT k.name, k.kid, s.min, s.max FROM metric_summary s "
                         "JOIN keys k ON k.kid = s.kid WHERE s.rid = ?", (run._rid,)).fetchall()
        for name, kid, mn, mx in rows:
            spec = match_metric(defs, name)
            if spec is None or not spec["summary"] or name in run.summary._data:
                continue
            agg = spec["summary"][0]
            goal = str(spec.get("goal") or "minimize").lower()
            if agg == "best":
                agg = "max" if goal.startswith("max") else "min"
            if agg == "min":
                out[name] = mn
            elif agg == "max":
                out[name] = mx
            elif agg == "mean":
                (out[name],) = c.execute(
                    "SELECT avg(value) FROM metrics WHERE rid = ? AND kid = ? AND flag IS NULL "
                    "AND typeof(value) IN ('integer', 'real') AND abs(value) <= 1.7976931348623157e308",
                    (run._rid, kid)).fetchone()
            elif agg == "none":
                out[name] = None
    finally:
        store.close()
    return out


class Error(Exception):
    """wandb's base error, for ``except wandb.Error:`` in ported code (tracker raises its own
    errors: ``ValueError``, ``RuntimeError``, ``tracker.store.StoreError``)."""


def require(*args: Any, **kwargs: Any) -> None:
    """wandb's ``require("service")`` / ``require("core")``: nothing to enable here."""


def setup(*args: Any, **kwargs: Any) -> None:
    """wandb's ``setup()``: nothing to start here (the writer starts with the first run)."""


def teardown(exit_code: int | None = None) -> None:
    """wandb's ``teardown()``: finishes the current run, if any."""
    if _state.current is not None:
        _state.current.finish(exit_code or 0)


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Print a ``tracker:`` line on stderr (wandb's ``termlog``)."""
    import sys

    print(("tracker: " if prefix else "") + str(string), end="\n" if newline else "", file=sys.stderr)


def termwarn(string: str, **kwargs: Any) -> None:
    termlog("WARNING " + str(string))


def termerror(string: str, **kwargs: Any) -> None:
    termlog("ERROR " + str(string))
