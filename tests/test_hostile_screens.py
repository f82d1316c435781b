"""Hostile text on every screen (issue 20): names, config, tags and metric keys that carry Rich
markup, terminal escapes (OSC 52 clipboard, window title, clear screen, C1 CSI) and bidi overrides
are shown as visible, literal text on each screen the user visits — and no control character
reaches what the app draws. Asserted on what is on screen, screen by screen, not only "still
running"."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from app_helpers import settle
from rich.console import Console

import tracker
from tracker.tui.app import make_app

# (what is logged, how it must read on screen)
HOSTILE = [
    ("osc52\x1b]52;c;aGVsbG8=\x07", "osc52\\x1b]52;c;aGVsbG8=\\x07"),
    ("title\x1b]0;PWNED\x07", "title\\x1b]0;PWNED\\x07"),
    ("clear\x1b[2J", "clear\\x1b[2J"),
    ("c1\x9b31m", "c1\\x9b31m"),
    ("bidi\u202eevil", "bidi\\u202eevil"),
    ("[bold red]mk", "[bold red]mk"),
    ("[@click=app.quit]q", "[@click=app.quit]q"),
]
CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in "\n"] + ["\x7f", "\x9b", "\x9d", "\u202e", "\u2066"]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    d = tmp_path / "hostile"
    for i, (name, _) in enumerate(HOSTILE):
        r = tracker.init(project="hostile", name=name, dir=d, capture_git=False, tags=[name],
                         config={"lr": 0.1 * (i + 1), "opt": name})
        for step in range(3):
            r.log({"loss": 1.0 / (i + step + 1), f"m/{name}": float(step)})
        r.finish()
    return d


def screen_text(app) -> str:
    """The characters the app draws now, as the terminal would get them (no styles)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


def check(app, where: str, *must_show: str) -> str:
    text = screen_text(app)
    bad = sorted({repr(c) for c in CONTROLS if c in text})
    assert not bad, f"{where}: control characters reached the screen: {bad}"
    for literal in must_show:
        assert literal in text, f"{where}: {literal!r} is not shown literally"
    return text


async def test_every_screen_shows_hostile_text_literally_and_inertly(store, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    app = make_app(store, keymap={}, poll_interval=0)
    shown = [s[:17] for _, s in HOSTILE]  # the name column shows 17 characters, then an ellipsis
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, app)
        check(app, "runs", *shown)
        assert app.is_running

        await pilot.press("a", "c")  # select all, compare
        await settle(pilot, app)
        check(app, "compare", "clear\\x1b[2J", "[bold red]mk")

        await pilot.press("v")  # their charts: the legend names them
        await settle(pilot, app)
        check(app, "charts", "clear\\x1b[2J")

        await pilot.press("escape", "escape")
        await settle(pilot, app)
        await pilot.press("enter")  # detail of the first run
        await settle(pilot, app)
        name = app.screen.run.name if hasattr(app.screen, "run") else None
        text = check(app, "detail overview")
        assert any(s in text for s in shown), "detail overview names no run"
        await pilot.press("2")  # config: the hostile value
        await settle(pilot, app)
        text = check(app, "detail config")
        assert any(s in text for s in shown), (name, "config value not shown")
        for tab in ("3", "4", "5"):
            await pilot.press(tab)
            await settle(pilot, app)
            check(app, f"detail tab {tab}")

        await pilot.press("escape", "m")  # the metric picker lists the hostile metric keys
        await settle(pilot, app)
        text = check(app, "metric picker")
        assert any(f"m/{s}" in text for s in shown), "metric picker shows no hostile key"
        await pilot.press("escape", "P")
        await settle(pilot, app)
        check(app, "parallel coordinates")
        await pilot.press("escape", "slash", *"tag:clear*")
        await settle(pilot, app)
        check(app, "filtered runs", "clear\\x1b[2J")
        await pilot.press("escape", "question_mark")
        await settle(pilot, app)
        check(app, "help")
        assert app.is_running
