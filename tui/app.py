"""The Textual app: built by :func:`make_app` from a store directory (STYLE.md H10).

The event loop never touches SQLite: screens ask thread workers, which read through
:class:`~tracker.tui.data.StoreReader` and post messages back. A cheap periodic check of
``PRAGMA data_version`` (in a worker) rings :class:`StoreChanged` when another process commits.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from tracker.tui.data import StoreReader
from tracker.tui.messages import StoreChanged
from tracker.tui.screens.runs import RunsScreen
from tracker.tui.text import sanitize


def default_keymap_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tracker-tui" / "keymap.yaml"


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], str | None]:
    """``{binding id: "key1,key2"}`` from a YAML file; a bad file is reported, not fatal."""
    path = path or default_keymap_path()
    if not path.exists():
        return {}, None
    try:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            return {}, f"{path}: expected a mapping of binding id to keys"
        return {str(k): str(v) for k, v in data.items()}, None
    except Exception as e:  # YAML or I/O error: tell the user, start with default keys
        return {}, f"{path}: {e}"


class TrackerApp(App[None]):
    """tracker-tui: runs, details, comparisons, charts and parallel coordinates."""

    TITLE = "tracker-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Keys", id="app.help"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette"),
    ]

    def __init__(self, reader: StoreReader, *, poll_interval: float | None = None,
                 refresh_hz: float | None = None, clock: Callable[[], float] = time.time,
                 ascii_only: bool | None = None, keymap: dict[str, str] | None = None,
                 keymap_error: str | None = None, live_mode: str | None = None,
                 low_bandwidth: bool | None = None, images: str | None = None) -> None:
        """Args:
            reader: the store to show.
            poll_interval: ``None`` watches file events (polling if they are unavailable);
                seconds: poll that often; ``0``: no live updates (tests, screenshots).
            refresh_hz: most screen refreshes per second from live data (default 4 over SSH,
                i.e. when ``SSH_CONNECTION`` is set, or with ``low_bandwidth``; else 10).
            low_bandwidth: coalesce background redraws (values of runs off the cursor every
                2 s, sparklines every 5 s) while keys are answered at once; ``None``: on over
                SSH (``SSH_CONNECTION`` or ``SSH_TTY`` set).
            images: how the Media tab draws images: ``halfblock`` (default), ``kitty`` or
                ``sixel`` (textual-image, imported here — before the app owns the terminal —
                and only for those); ``None`` reads ``TRACKER_IMAGES``.
        """
        super().__init__()
        self.reader = reader
        self.poll_interval = poll_interval
        if low_bandwidth is None:
            low_bandwidth = bool(os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"))
        self.low_bandwidth = low_bandwidth
        if refresh_hz is None:
            refresh_hz = 4.0 if os.environ.get("SSH_CONNECTION") or low_bandwidth else 10.0
        self.refresh_hz = max(0.2, float(refresh_hz))
        self.watcher: Any = None
        self._watching = False
        self._changed_flag = False
        self.clock = clock
        if ascii_only is None:
            enc = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
            ascii_only = not enc.startswith("utf8")
        self.ascii_only = ascii_only
        self.live_mode = live_mode or ("off" if poll_interval == 0 else "starting")
        self._keymap = keymap or {}
        self._keymap_error = keymap_error
        self.brush_expr = ""
        from tracker.tui.media.graphics import resolve

        self.images, self._images_error = resolve(images)
        self.parcoords_state: Any = None

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this terminal, writing through :func:`tracker.tui.wire.compact_sgr`
        (a row of same-styled cells costs one SGR sequence, not one per cell); partial updates
        of a line start where the change is (:func:`tracker.tui.wire.crop_partial_updates`)."""
        from tracker.tui.wire import compacting, crop_partial_updates

        crop_partial_updates()
        driver: type[Driver] = compacting(super().get_driver_class())
        return driver

    @property
    def _background_screens(self) -> list[Screen[Any]]:
        """Screens below the top one that show through it: none when the top screen is opaque.

        Textual's list always holds the screen below the top one (down to the first opaque
        one), whatever the top screen is. A screen in that list repaints the top screen wherever
        it changes itself, and after one such repaint it asks for another after every message it
        handles: the runs screen under the charts (or Textual's blank default screen under the
        runs screen) turned each live refresh into a full-screen repaint, ~200 KB/s over SSH
        (bench/ssh_bandwidth.py). A covered screen now waits, as Textual lets every deeper
        screen wait, and is repainted when it is shown again; a translucent top screen (help,
        pickers) still shows the screen below it live.
        """
        stack = self._screen_stack
        if stack and stack[-1].styles.background.a == 1:
            return []
        return super()._background_screens

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        if self._keymap_error:
            self.notify(self._keymap_error, title="keymap not loaded", severity="warning", markup=False)
        if self._images_error:
            self.notify(self._images_error, title="images", severity="warning", markup=False, timeout=10)
        # What start-up created (modules, classes, styles) lives as long as the app: out of the
        # cyclic GC's way, the full passes that reading 1,000 runs triggers are much shorter.
        gc.freeze()
        self.push_screen(RunsScreen())
        if self.poll_interval != 0:
            # The watcher starts once the first rows are on screen (RunsScreen calls
            # start_watching), so importing and starting it does not delay them; at the
            # latest after 2 s.
            self.set_timer(2.0, self.start_watching)
            # Live data is applied at most refresh_hz times a second, however fast it comes.
            self.set_interval(1.0 / self.refresh_hz, self._flush_changes)

    def start_watching(self) -> None:
        """Start live updates (once; not at all with ``poll_interval=0``)."""
        if self.poll_interval == 0 or self._watching:
            return
        self._watching = True
        self._start_watcher()

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def _start_watcher(self) -> None:
        from tracker.store.watch import StoreWatcher

        w = StoreWatcher(self.reader.dir, self._on_store_change, poll=self.poll_interval).start()
        self.watcher = w
        self._changed_flag = True  # catch up with commits made before the watcher started
        mode = w.mode + (f" ({w.reason})" if w.reason and w.mode != "watch" and w.reason != "requested" else "")
        self.call_from_thread(self._set_live_mode, mode)

    def _set_live_mode(self, mode: str) -> None:
        self.live_mode = mode
        rs = self.runs_screen()
        if rs is not None and rs.is_mounted:
            rs._show_status()

    def _on_store_change(self) -> None:
        """Watcher thread: only raise a flag (coalesced by _flush_changes on the event loop)."""
        self._changed_flag = True

    def _flush_changes(self) -> None:
        if self._changed_flag:
            self._changed_flag = False
            self.broadcast_changed()

    def broadcast_changed(self) -> None:
        """Tell every screen on the stack that the store changed (they re-read what they show)."""
        for screen in self.screen_stack:
            screen.post_message(StoreChanged())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.report_worker_error(event.worker)

    def report_worker_error(self, worker: Worker[Any]) -> None:
        """Tell the user a background task failed (workers run with ``exit_on_error=False``:
        without this a failed read would vanish). Screens forward their workers here."""
        if worker.state != WorkerState.ERROR:
            return
        err = worker.error
        what = worker.group if worker.group != "default" else worker.name
        text = f"{type(err).__name__}: {err}" if err is not None else "unknown error"
        self.notify(sanitize(text), title=f"{sanitize(what)} failed", severity="error", markup=False, timeout=10)

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.reader.close()

    # ------------------------------------------------------------------ screenshots
    def screenshot_dir(self) -> Path:
        """Where the palette's Screenshot goes: beside the store, else the current directory
        (Textual's default, ``~/Downloads``, is missing on a headless box)."""
        store_dir = Path(self.reader.dir)
        if store_dir.is_dir() and os.access(store_dir, os.W_OK):
            return store_dir
        return Path.cwd()

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Save an SVG of the screen and say where it went (or why it could not be saved)."""
        folder = path or str(self.screenshot_dir())
        try:
            saved = self.save_screenshot(filename, folder, time_format)
        except OSError as e:
            self.notify(sanitize(str(e)), title="Screenshot not saved", severity="error", markup=False)
            return None
        self.notify(sanitize(saved), title="Screenshot saved", markup=False)
        return saved

    # ------------------------------------------------------------------ navigation
    def runs_screen(self) -> RunsScreen | None:
        for s in self.screen_stack:
            if isinstance(s, RunsScreen):
                return s
        return None

    def open_detail(self, run_id: str) -> None:
        from tracker.tui.screens.detail import DetailScreen

        self.push_screen(DetailScreen(run_id))

    def open_artifacts(self) -> None:
        from tracker.tui.screens.artifacts import ArtifactsScreen

        self.push_screen(ArtifactsScreen())

    def open_compare(self, run_ids: list[str]) -> None:
        from tracker.tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(run_ids))

    def open_charts(self, run_ids: list[str], metric: str | None) -> None:
        from tracker.tui.screens.charts import ChartsScreen

        self.push_screen(ChartsScreen(run_ids, metric))

    def open_parcoords(self, runs: list[Any], config_keys: list[str], metric: str | None) -> None:
        from tracker.tui.screens.parcoords import ParCoordsScreen

        self.push_screen(ParCoordsScreen(runs, config_keys, metric))

    def open_sweeps(self, project: str | None) -> None:
        from tracker.tui.screens.sweeps import SweepsScreen

        self.push_screen(SweepsScreen(project))

    def apply_brush_expr(self, expr: str) -> None:
        """Put the parallel-coordinates brushes into the runs filter (replacing the previous ones)."""
        rs = self.runs_screen()
        if rs is None:
            return
        # The filter bar's value, not rs.filter_text: that one lags until Input.Changed is handled,
        # and a held key would splice a new brush onto a text that still lacks the previous one.
        text = rs.query_one("#filter", Input).value
        old = self.brush_expr
        if old and old in text:
            text = text.replace(f" and ({old})", "").replace(f"({old}) and ", "").replace(f"({old})", "").replace(old, "")
        text = text.strip()
        if expr:
            text = f"{text} and ({expr})" if text else f"({expr})"
        self.brush_expr = expr
        rs.set_filter_text(text)

    # ------------------------------------------------------------------ keys, help, palette
    def action_help(self) -> None:
        from tracker.tui.widgets.help import HelpScreen

        self.push_screen(HelpScreen.for_screen(self, self.screen, self._keymap))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        name = getattr(screen, "HELP_TITLE", type(screen).__name__.replace("Screen", "")).lower()
        for node in [screen, *screen.query("*")]:
            # Ours only, base classes too (the runs screen's d / U come from a mixin).
            ours = [c for c in type(node).__mro__ if c.__module__.startswith("tracker.")]
            for b in [b for c in ours for b in c.__dict__.get("BINDINGS", [])]:
                if not isinstance(b, Binding) or not b.id or not b.description:
                    continue
                action = b.action

                def run(node: Any = node, action: str = action) -> None:
                    self.call_later(self.run_action, action, node)

                yield SystemCommand(f"{name}: {b.description}", f"{b.key}  ({b.id})", run)


def make_app(store_dir: str | os.PathLike[str] | None = None, **kw: Any) -> TrackerApp:
    """Build the app for a store directory (``None``: ``$TRACKER_DIR`` or ``~/.tracker``)."""
    if "keymap" not in kw:
        keymap, err = load_keymap()
        kw["keymap"], kw["keymap_error"] = keymap, err
    return TrackerApp(StoreReader(store_dir), **kw)
