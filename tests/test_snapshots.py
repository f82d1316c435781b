"""Snapshots of every screen at 80x24 and 120x40 (pytest-textual-snapshot).

Deterministic: the demo store is seeded with a fixed clock, times are shown in UTC, live updates
are off, and Textual is pinned in pyproject.toml. Update after an intended UI change with
`pytest tests/test_snapshots.py --snapshot-update` and look at the report before committing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers import settle_workers
from tracker.tui.app import make_app
from tracker.tui.demo import seed

NOW = 1_790_000_000.0
SIZES = [(80, 24), (120, 40)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("snap") / "store"
    seed(d, now=NOW)
    return d


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    time.tzset()


def app(store: Path):
    return make_app(store, keymap={}, poll_interval=0, clock=lambda: NOW, ascii_only=False)


async def settle(pilot) -> None:
    for _ in range(3):
        await settle_workers(pilot.app)
        await pilot.pause()


def keys(*groups):
    """A run_before that presses each group of keys, settling after each (pickers must be up
    before anything is typed into them)."""

    async def run(pilot) -> None:
        await settle(pilot)
        for g in groups:
            await pilot.press(*g)
            await settle(pilot)

    return run


CIFAR = (["p"], [*"cifar", "enter"])
SCREENS = {
    "runs": keys(*CIFAR),
    "runs_sorted_filtered": keys(*CIFAR, ["s"], [*"val/acc", "enter"], ["slash", *"optimizer = adamw"]),
    "groups": keys(*CIFAR, ["z"], ["enter"]),
    "compare": keys(["space", "space", "space"], ["c"]),
    "compare_metrics": keys(["space", "space"], ["c"], ["2"]),
    "charts": keys(["space", "space"], ["v"], ["right_square_bracket", "right_square_bracket"]),
    "detail": keys(["enter"]),
    "detail_config": keys(["enter"], ["2"]),
    "detail_charts": keys(["enter"], ["3"]),
    "detail_system": keys(*CIFAR, ["enter"], ["4"]),
    "detail_console": keys(*CIFAR, ["enter"], ["5"]),
    "compare_code": keys(*CIFAR, ["space", "space"], ["c"], ["3"]),
    "parcoords": keys(*CIFAR, ["P"], ["right", "down", "down", "b", "plus"]),
    "help": keys(["question_mark"]),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, demo, screen, size):
    assert snap_compare(app(demo), terminal_size=size, run_before=SCREENS[screen])
