"""What ``init()`` does with awkward input (issue 9, item 13): lone surrogates, a config object
whose ``repr()`` raises, a config of a million entries, bools, and names holding TABs or
zero-width characters — through the read API, the app (Pilot) and ``tracker-tui ls``."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from app_helpers import app_for, settle
from rich.console import Console
from textual.widgets import DataTable

import tracker
from tracker._values import MAX_CONFIG_ENTRIES
from tracker.tui.screens.detail import DetailScreen
from tracker.tui.widgets.run_table import RunTable

LONE = "\ud800"  # what os.fsdecode / surrogateescape gives for a stray byte


@pytest.mark.parametrize("field", ["name", "project", "notes", "group", "job_type", "tags", "config value",
                                   "config key", "nested config"])
def test_a_lone_surrogate_is_stored_as_U_FFFD_with_a_warning(tmp_path, field):
    text = f"bad{LONE}x"
    kw = {"name": {"name": text}, "project": {"project": text}, "notes": {"notes": text},
          "group": {"group": text}, "job_type": {"job_type": text}, "tags": {"tags": ["ok", text]},
          "config value": {"config": {"path": text}}, "config key": {"config": {text: 1}},
          "nested config": {"config": {"data": {"files": [text]}}}}[field]
    with pytest.warns(tracker.TrackerWarning, match="lone surrogate"):
        run = tracker.init(dir=tmp_path, capture_git=False, **kw)
    run.log({"x": 1.0})
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    fixed = "bad\ufffdx"
    got = {"name": r.name, "project": r.project, "notes": r.notes, "group": r.group, "job_type": r.job_type,
           "tags": r.tags and r.tags[-1], "config value": r.config.get("path"),
           "config key": next(iter(r.config), None), "nested config": r.config.get("data", {}).get("files", [None])[0]}
    assert got[field] == fixed
    assert r.state == "finished" and r.history(pandas=False)[0]["x"] == 1.0


def test_a_config_object_whose_repr_raises_is_stored_as_a_placeholder(tmp_path):
    class Opaque:
        __slots__ = ()

        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    class BadKey:
        __slots__ = ()

        def __str__(self) -> str:
            raise ValueError("no str either")

        __repr__ = __str__

    with pytest.warns(tracker.TrackerWarning, match="repr"):
        run = tracker.init(dir=tmp_path, capture_git=False, config={"model": Opaque(), BadKey(): 1, "lr": 0.1})
    run.config.update({"later": Opaque()})
    run.finish()
    cfg = tracker.Api(tmp_path).run(run.id).config
    assert cfg["lr"] == 0.1
    assert cfg["model"] == cfg["later"] == "<Opaque object: repr() raised RuntimeError>"
    assert "<BadKey object: str() raised ValueError>" in cfg
    assert isinstance(run.config["model"], Opaque)  # the process keeps the object


def test_a_huge_config_is_capped_with_a_warning_and_kept_whole_in_the_process(tmp_path):
    big = {f"k{i}": i for i in range(1_000_000)}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run = tracker.init(dir=tmp_path, capture_git=False, config={"lr": 0.1, "table": big})
    msgs = [str(w.message) for w in rec if issubclass(w.category, tracker.TrackerWarning)]
    assert any(f"more than {MAX_CONFIG_ENTRIES:,} entries" in m for m in msgs), msgs
    assert len(run.config["table"]) == 1_000_000
    run.finish()
    cfg = tracker.Api(tmp_path).run(run.id).config
    assert cfg["lr"] == 0.1
    table = cfg["table"]
    assert MAX_CONFIG_ENTRIES - 2 <= len(table) <= MAX_CONFIG_ENTRIES + 1
    assert table["k0"] == 0 and table["…"] == f"[{1_000_000 - len(table) + 1:,} more entries not stored]"


def test_bools_read_back_as_bools_everywhere(tmp_path):
    run = tracker.init(dir=tmp_path, capture_git=False, config={"use_amp": True, "n": 1})
    run.log({"loss": 0.5, "is_best": True, "count": 1})
    run.log({"loss": 0.4, "is_best": False, "count": 0})
    run.log({"loss": math.nan, "is_best": True, "count": 2})  # a NaN: the entry is stored value by value
    run.log({"loss": 0.3, "is_best": False, "count": 3})
    run.summary["converged"] = True
    run.finish()
    r = tracker.Api(tmp_path).run(run.id)
    hist = r.history(pandas=False)
    assert [h["is_best"] for h in hist] == [True, False, True, False]
    assert {type(h["is_best"]) for h in hist} == {bool} and {type(h["count"]) for h in hist} == {int}
    assert math.isnan(hist[2]["loss"])
    assert r.summary["is_best"] is False and r.summary["converged"] is True and r.summary["count"] == 3
    assert r.config["use_amp"] is True and r.config["n"] == 1
    assert [v for _, _, k, v in r.points(["is_best"])] == [True, False, True, False]
    assert r.metric_stats()["is_best"]["last"] is False


async def test_bools_show_as_bools_in_the_runs_table_and_the_detail_view(tmp_path):
    run = tracker.init(project="p", name="b", dir=tmp_path, capture_git=False)
    run.log({"is_best": True, "loss": 0.5})
    run.finish()
    app = app_for(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        assert table.rows[0].cells["m:is_best"] == "true"
        table.move_to(run.id)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        summary = app.screen.query_one("#summary", DataTable)
        rows = [[str(c) for c in summary.get_row_at(i)] for i in range(summary.row_count)]
        assert ["is_best", "true"] == next(r for r in rows if r[0] == "is_best")[:2], rows


# ------------------------------------------------------------------ TAB and zero-width characters
NAMES = ["plain-name", "tab\there", "zw\u200b\u200b\u200b\u200bx", "joiner\u2060\ufeffy"]


@pytest.fixture
def odd_names(tmp_path: Path) -> Path:
    for i, name in enumerate(NAMES):
        r = tracker.init(project="odd", name=name, dir=tmp_path, capture_git=False)
        r.log({"loss": 0.25 + i})
        r.finish()
    return tmp_path


def column_of(line: str, needle: str) -> int:
    """The terminal column where ``needle`` starts: every character left of it takes one cell
    (what the tests assert first: nothing zero-width or TAB is left in the line)."""
    return line.index(needle)


def assert_aligned(lines: list[str], after: str) -> None:
    assert len(lines) == len(NAMES), lines
    for line in lines:
        assert "\t" not in line and not any(c in line for c in "\u200b\u2060\ufeff"), repr(line)
    cols = {column_of(line, after) for line in lines}
    assert len(cols) == 1, f"the column after the name starts at {sorted(cols)}: {lines}"


async def test_names_with_tabs_and_zero_width_characters_keep_the_runs_table_aligned(odd_names):
    app = app_for(odd_names)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        width, height = app.size
        console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                          color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
        console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
        screen = console.export_text(styles=False)
    rows = [x for x in screen.splitlines() if "finished" in x]
    assert_aligned(rows, " 0s ")
    assert any("zw\\u200b" in x for x in rows) and any("tab here" in x for x in rows)


def test_names_with_tabs_and_zero_width_characters_keep_ls_aligned(odd_names):
    out = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(odd_names), "ls"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [x for x in out.stdout.splitlines() if " odd " in x]
    assert_aligned(rows, " odd ")
