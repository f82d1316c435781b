"""The Sweeps screen in the real app, and the importance measures it shows."""

from __future__ import annotations

import random

import pytest
from app_helpers import app_for, settle

import tracker
from tracker.store.sweeps.importance import best_so_far, importance
from tracker.tui.screens.parcoords import ParCoordsScreen
from tracker.tui.screens.sweeps import SweepsScreen

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def swept(store_dir):
    cfg = {"name": "[red]lr search[/]", "method": "grid", "metric": {"name": "loss", "goal": "minimize"},
           "parameters": {"lr": {"values": [0.001, 0.01, 0.1, 1.0]}, "seed": {"values": [1, 2, 3]}}}
    sid = tracker.sweep(cfg, project="cifar", dir=store_dir)

    def fn():
        run = tracker.init(dir=store_dir, system_interval=0, console=False)
        run.log({"loss": abs(run.config["lr"] - 0.01) * 10 + run.config["seed"] * 0.001})
        if run.config["lr"] == 1.0 and run.config["seed"] == 3:
            raise ValueError("diverged")

    tracker.agent(sid, function=fn, dir=store_dir)
    return sid


def cells(table) -> list[list[str]]:
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_sweeps_screen_shows_progress_trials_importance_and_opens_parcoords(store_dir, swept):
    app = app_for(store_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("S")
        await settle(pilot, app, rounds=5)
        screen = app.screen
        assert isinstance(screen, SweepsScreen)
        (row,) = cells(screen.query_one("#sweeps"))
        assert row[0] == "[red]lr search[/]"  # shown as written, never as markup
        assert row[1:5] == ["grid", "loss (min)", "12 / 12", "0"] and row[5] == "finished"
        trials = cells(screen.query_one("#trials"))
        assert len(trials) == 12 and trials[0][1] == "failed" and trials[0][3:5] == ["1", "3"]
        assert sum(t[1] == "finished" for t in trials) == 11
        curve = str(screen.query_one("#curve").render())
        assert "best loss so far" in curve and "0.001" in curve
        await pilot.press("i")
        imp = {r[0]: r for r in cells(screen.query_one("#importance"))}
        assert imp["lr"][1] == "12" and imp["lr"][-1] == "real"
        assert imp["seed"][-1] == "noise"
        await pilot.press("P")
        await settle(pilot, app)
        assert isinstance(app.screen, ParCoordsScreen) and app.screen.keys == ["lr", "seed"]


def test_importance_tells_a_real_effect_from_noise_with_its_floor():
    rng = random.Random(4)
    rows = []
    for _ in range(60):
        p = {"lr": rng.uniform(0, 1), "junk": rng.uniform(0, 1), "opt": rng.choice(["adam", "sgd"]),
             "u": rng.uniform(-1, 1)}
        rows.append((p, p["lr"] * 2 + (0.5 if p["opt"] == "sgd" else 0) + p["u"] ** 2 * 3 + rng.gauss(0, 0.1)))
    got = {i.param: i for i in importance(rows, ["lr", "junk", "opt", "u"])}
    assert got["lr"].real and got["lr"].rho > got["lr"].rho_floor
    assert got["opt"].rho is None and got["opt"].eta2 > got["opt"].eta2_floor  # categorical: η² only
    assert abs(got["u"].rho) < got["u"].rho_floor < got["u"].eta2  # a U shape: no rank trend, η² sees it
    assert got["u"].real and not got["junk"].real and got["junk"].n == 60
    assert importance(rows[:2], ["lr"])[0].rho is None  # too few runs: nothing claimed
    assert best_so_far([3.0, None, 5.0, 1.0], "minimize") == [3.0, 3.0, 3.0, 1.0]


async def test_a_run_stopped_by_the_sweep_says_so_with_band_and_reason_in_its_detail(store_dir):
    sid = tracker.sweep({"method": "grid", "metric": {"name": "loss"}, "parameters": {"x": {"values": [1]}}},
                        project="hb", dir=store_dir)
    from tracker.store import Store
    from tracker.store.sweeps import coord

    def fn():
        run = tracker.init(dir=store_dir, system_interval=0, console=False)
        run.log({"loss": 1.0})
        store = Store(store_dir)  # what an agent's monitor records when hyperband stops the trial
        tid = coord.trials(store, sid)[0].tid
        coord.end_trial(store, tid, "stopped", {"band": 9, "reason": "hyperband: worse than the band's threshold"})
        store.close()

    tracker.agent(sid, function=fn, dir=store_dir)
    run = tracker.Api(store_dir).sweep(sid).runs[0]
    app = app_for(store_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one("RunTable")
        row = next(r for r in table.rows if r.key == run.id)
        assert row.cells["state"] == "stopped"  # the runs table says the sweep ended it
        app.open_detail(run.id)
        await settle(pilot, app, rounds=5)
        text = str(app.screen.query_one("#overview-text").render())
        assert f"{sid}: stopped by the sweep at band 9: hyperband: worse than the band's threshold" in text
