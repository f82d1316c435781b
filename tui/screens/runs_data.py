"""The runs screen's reading side (issue 19): sparklines (all of a small project's, in table
order; a big project's row by row as rows are drawn), the column layout (metric names and
varying config keys, planned by a worker for big projects) and the filter's per-run values,
made off the event loop. :class:`RunsData` is the base of
:class:`~tracker.tui.screens.runs.RunsScreen`, which holds the state these methods use."""

from __future__ import annotations

from typing import Any

from textual import work

from tracker.store import RunRecord
from tracker.tui.messages import RunsLoaded, SparksLoaded
from tracker.tui.screens.base import TrackerScreen
from tracker.tui.screens.runs_model import RunIndex, primary_metric, runs_layout

SPARKS_EAGER_MAX = 2000
"""Up to this many runs every sparkline is read after a load (rows in view first); beyond, a
row's sparkline is read when the row is first drawn (issue 19: 10,000 runs took ~10 s of reads)."""

LAYOUT_SYNC_MAX = 2000
"""Up to this many runs the columns are planned on the event loop; beyond, by a worker."""

SPARKS_INTERVAL = 5.0
"""Low-bandwidth mode: seconds between re-reads of the sparklines of live runs."""


class RunsData(TrackerScreen):
    """Reads for the runs table; the state lives on the screen (declared here)."""

    runs: dict[str, RunRecord]
    sparks: dict[str, list[float]]
    primary: str | None
    project: str | None
    projects: list[tuple[str, int]]
    rev: int
    point_id: int
    _index: RunIndex
    _sparks_asked: set[str]
    _sparks_wanted: list[str]
    _sparks_due: set[str]
    _sparks_throttle: Any
    _data_version: int
    _keys_cache: tuple[tuple[int, int, int], tuple[list[str], list[str]]] | None
    _layout_pending: tuple[int, int, int] | None
    _layout_version: int

    def refresh_table(self, *, background: bool = False) -> None:
        """Redraw the table from the runs in memory (the screen's)."""
        raise NotImplementedError

    def _recheck_running(self) -> None:
        ids = [r.id for r in self.runs.values() if r.state == "running"]
        if ids:
            self._load_ids(ids)

    @work(thread=True, exclusive=True, group="runs-recheck", exit_on_error=False, description="recheck running")
    def _load_ids(self, ids: list[str]) -> None:
        from tracker.tui.data import Snapshot

        recs = self.tapp.reader.runs_by_id(ids)
        changed = [r for r in recs if r.state != "running"]
        if changed:
            self.post_message(RunsLoaded(self.project, Snapshot(self.projects, changed, self.rev, self.point_id,
                                                                full=False)))

    def _after_full_load(self) -> None:
        """Once the rows are on screen: freeze the long-lived runs out of full GC passes (kept
        off the keystroke path), start live updates, and prepare what a filter reads."""
        import gc

        gc.unfreeze()  # the app froze start-up as it was: collect its garbage now, off the first paint
        gc.collect()
        gc.freeze()
        self.app.start_watching()
        self._warm_index(list(self.runs.values()))

    @work(thread=True, group="runs-index", exclusive=True, exit_on_error=False, description="filter values")
    def _warm_index(self, runs: list[RunRecord]) -> None:
        """Each run's filter mapping, made off the event loop (else the first filter keystroke
        would make them: ~270 ms at 10,000 runs)."""
        flat = self._index.flat
        for r in runs:
            flat(r)
        import gc

        gc.freeze()  # long-lived like the runs (_after_full_load): kept out of full GC passes

    def _request_sparks(self, runs: list[RunRecord], *, background: bool = False) -> None:
        if background and self.tapp.low_bandwidth:  # live runs' sparklines: every SPARKS_INTERVAL
            self._sparks_due.update(r.id for r in runs)
            if self._sparks_throttle is None:
                self._sparks_throttle = self.set_timer(SPARKS_INTERVAL, self._due_sparks)
            return
        if not background and len(self.runs) > SPARKS_EAGER_MAX:
            return  # a big project: each row asks for its sparkline when first drawn (_want_spark)
        key = self._primary()
        if key and runs:
            self._sparks_asked.update(r.id for r in runs)
            self._load_sparks(runs, key)

    def _want_spark(self, run_id: str) -> None:
        """A row drawn without its sparkline: read it soon, with the other rows drawn meanwhile."""
        if run_id in self._sparks_asked:
            return
        self._sparks_asked.add(run_id)
        self._sparks_wanted.append(run_id)
        if len(self._sparks_wanted) == 1:
            self.call_later(self._load_wanted_sparks)

    def _load_wanted_sparks(self) -> None:
        ids, self._sparks_wanted = self._sparks_wanted, []
        key = self._primary()
        runs = [self.runs[i] for i in ids if i in self.runs]
        if key and runs:
            self._load_sparks(runs, key)

    def _due_sparks(self) -> None:
        self._sparks_throttle = None
        runs = [self.runs[i] for i in self._sparks_due if i in self.runs]
        self._sparks_due.clear()
        self._request_sparks(runs)

    @work(thread=True, group="sparks", exit_on_error=False, description="sparklines")
    def _load_sparks(self, runs: list[RunRecord], key: str) -> None:
        # In chunks so the first rows get their sparklines quickly.
        for i in range(0, len(runs), 100):
            chunk = runs[i : i + 100]
            self.post_message(SparksLoaded(key, self.tapp.reader.sparks(chunk, key), final=i + 100 >= len(runs)))

    def _metric_keys(self) -> list[str]:
        """Metric names of the runs in memory (counted once per change of the layout)."""
        return self._layout()[0]

    def _layout(self) -> tuple[list[str], list[str]]:
        """(metric names, varying config keys) of the runs in memory. Up to LAYOUT_SYNC_MAX runs
        computed here; for more, a worker computes them while the last ones stay in use (the
        columns of a 10,000-run project do not wait ~0.5 s on the event loop, issue 19)."""
        sig = (self._data_version, id(self.runs), len(self.runs))
        cache = self._keys_cache
        if cache is not None and cache[0] == sig:
            return cache[1]
        runs = list(self.runs.values())
        if cache is None or len(runs) <= LAYOUT_SYNC_MAX:
            self._keys_cache = (sig, runs_layout(runs))
            return self._keys_cache[1]
        if self._layout_pending != sig:
            self._layout_pending = sig
            self._compute_layout(sig, runs)
        return cache[1]

    @work(thread=True, group="runs-layout", exclusive=True, exit_on_error=False, description="plan columns")
    def _compute_layout(self, sig: tuple[int, int, int], runs: list[RunRecord]) -> None:
        out = runs_layout(runs)
        self.app.call_from_thread(self._layout_done, sig, out)

    def _layout_done(self, sig: tuple[int, int, int], out: tuple[list[str], list[str]]) -> None:
        if sig != (self._data_version, id(self.runs), len(self.runs)):
            return  # the runs changed meanwhile: a newer computation is on its way
        self._keys_cache = (sig, out)
        self._layout_pending = None
        self._layout_version += 1
        self.refresh_table()

    def _primary(self) -> str | None:
        return self.primary or primary_metric(self._metric_keys())
