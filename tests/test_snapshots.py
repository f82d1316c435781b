"""Snapshots of every screen at 80x24 and 120x40 (pytest-textual-snapshot).

Deterministic: the demo store is seeded with a fixed clock, times are shown in UTC, live updates
are off, and Textual is pinned in pyproject.toml. Update after an intended UI change with
`pytest tests/test_snapshots.py --snapshot-update` and look at the report before committing.
"""

from __future__ import annotations

import pytest
from app_helpers import NOW, app_for, settle  # noqa: F401

pytestmark = pytest.mark.usefixtures("utc")

SIZES = [(80, 24), (120, 40)]


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
def test_screen(snap_compare, demo_store, screen, size):
    assert snap_compare(app_for(demo_store), terminal_size=size, run_before=SCREENS[screen])
