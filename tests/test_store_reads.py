"""Reads the TUI relies on: block-downsampled series, incremental run/point reads."""

from __future__ import annotations

import math

import tracker
from tracker.store import Store


def test_long_series_come_back_as_block_extremes(tmp_path):
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    n = 50_000
    for i in range(n):
        v = math.sin(i / 500) + (5.0 if i == 31_337 else 0.0)
        run.log({"loss": math.nan if i % 10_000 == 5 else v})
    run.log({"loss": math.inf})
    run.finish()
    s = Store(tmp_path, create=False)
    rid = s.run(run.id).rid
    sd = s.series(rid, "loss")
    assert sd.downsampled and sd.total == n + 1
    assert sd.nonfinite == 6  # 5 NaN + 1 Inf, never drawn
    assert len(sd.values) <= 2 * (n // 1024 + 2)
    assert max(sd.values) == math.sin(31_337 / 500) + 5.0  # the spike survives downsampling
    assert min(sd.values) == min(math.sin(i / 500) for i in range(n) if i % 10_000 != 5)
    assert all(map(math.isfinite, sd.values)) and sd.steps == sorted(sd.steps)
    zoom = s.series(rid, "loss", step_range=(2, 5_099))
    assert not zoom.downsampled and zoom.steps[0] == 2 and zoom.steps[-1] == 5_099
    assert zoom.total == 5_098 and zoom.nonfinite == 1 and len(zoom.values) == 5_098
    assert math.isnan(zoom.values[zoom.steps.index(5)])  # handed over, so the chart can mark it
    assert s.series(rid, "nope").total == 0


def test_blocks_continue_across_batches_and_processes(tmp_path):
    for _ in range(3):  # three resumes, each appending 700 points: blocks must stay exact
        run = tracker.init(project="p", dir=tmp_path, id="fixedid1", resume="allow", capture_git=False)
        for _ in range(700):
            run.log({"x": float(run.step)})
        run.finish()
    s = Store(tmp_path, create=False)
    rows = s.conn.execute("SELECT blk, n, min_step, max_step, fmin, fmax FROM metric_blocks ORDER BY blk").fetchall()
    assert sum(r[1] for r in rows) == 2100
    assert [r[1] for r in rows] == [1024, 1024, 52]
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [(0, 1023, 0.0, 1023.0), (1024, 2047, 1024.0, 2047.0),
                                                        (2048, 2099, 2048.0, 2099.0)]


def test_incremental_reads_see_only_what_changed(tmp_path):
    a = tracker.init(project="p", dir=tmp_path, capture_git=False)
    a.log({"loss": 1.0})
    a.finish()
    s = Store(tmp_path, create=False)
    rev, pid = s.max_rev(), s.max_point_id()
    assert s.runs_changed(rev) == [] and s.points_after(pid) == []
    b = tracker.init(project="p", dir=tmp_path, capture_git=False)
    b.log({"loss": 0.5, "acc": 0.7}, step=3)
    b.finish()
    changed = s.runs_changed(rev)
    assert [r.id for r in changed] == [b.id] and changed[0].state == "finished"
    assert changed[0].metrics["acc"].last == 0.7
    pts = s.points_after(pid)
    assert sorted((k, st, v) for _, _, k, st, _, v in pts) == [("acc", 3, 0.7), ("loss", 3, 0.5)]
    assert s.conn.in_transaction is False  # readers never keep a transaction open


def test_sparkline_sample_of_a_bool_metric_holds_its_values(tmp_path):
    # bools are stored with their own flag so they read back as True/False; the sparkline sample must
    # still see them as the 1/0 they are, not as missing points
    run = tracker.init(project="p", dir=tmp_path, capture_git=False)
    for i in range(20):
        run.log({"converged": i >= 10, "loss": 1.0 / (i + 1)})
    run.finish()
    s = Store(tmp_path, create=False)
    rid = s.run(run.id).rid
    got = s.sample(rid, "converged", n=4)
    assert got and got[0] == 0 and got[-1] == 1
    assert len(s.sample(rid, "loss", n=4)) == 4
