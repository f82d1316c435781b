"""Issue 19: ``tracker.Api().runs()`` is lazy (pages of runs, like wandb's ``Runs``) and
``tracker-tui ls --json`` streams: neither holds every run's config at once."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from helpers_10k import fill

import tracker
from helpers import child_env
from tracker.store import Store

pytestmark = pytest.mark.usefixtures("clean_env")

PAD = 20_000  # bytes of config per run: 2,000 runs hold 40 MB of config between them


@pytest.fixture(scope="module")
def fat_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fill(tmp_path_factory.mktemp("fat"), 2000, pad=PAD)


def peak_mb(fn) -> tuple[object, float]:
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_len_index_slice_and_iteration_never_hold_every_config(fat_store):
    api = tracker.Api(fat_store)
    n, mb = peak_mb(lambda: len(api.runs("big")))
    assert n == 2000 and mb < 2  # row ids only
    runs = api.runs("big")
    first, mb = peak_mb(lambda: (runs[0].name, runs[-1].name, runs[1234].name))
    assert first == ("run-1999", "run-0", "run-765") and mb < 8
    sl, mb = peak_mb(lambda: [r.name for r in runs[10:13]])
    assert sl == ["run-1989", "run-1988", "run-1987"] and mb < 8
    seeds, mb = peak_mb(lambda: [r.config["seed"] for r in api.runs("big")])
    assert seeds == list(range(1999, -1, -1))
    assert mb < 12  # a page of 50 runs (~1 MB of config) at a time, not 40 MB
    with pytest.raises(IndexError):
        runs[2000]


def test_lazy_runs_agree_with_filters_and_order(tmp_path):
    fill(tmp_path, 300)
    api = tracker.Api(tmp_path)
    runs = api.runs("big", per_page=7)
    assert [r.name for r in runs] == [f"run-{i}" for i in range(299, -1, -1)]
    failed = api.runs("big", filters={"state": "failed"}, per_page=7)
    assert len(failed) == 6 and [r.name for r in failed] == [f"run-{i}" for i in (299, 249, 199, 149, 99, 49)]
    by_loss = api.runs("big", order="summary.loss", per_page=7)
    assert [r.name for r in by_loss[:3]] == ["run-299", "run-298", "run-297"]
    asc = api.runs("big", filters={"config.optimizer": "sgd"}, order="created_at", per_page=7)
    assert [r.name for r in asc[:3]] == ["run-2", "run-5", "run-8"] and len(asc) == 100
    assert api.runs("nope") == [] and not api.runs("nope")


def test_runs_are_fixed_when_first_read_while_new_ones_arrive_and_deleted_ones_are_skipped(tmp_path):
    fill(tmp_path, 120)
    runs = tracker.Api(tmp_path).runs("big", per_page=10)
    it = iter(runs)
    got = [next(it).name for _ in range(15)]
    fill(tmp_path, 30, start=120)  # a sweep goes on logging while a script pages through
    store = Store(tmp_path)
    try:
        with store.conn:
            store.conn.execute("DELETE FROM runs WHERE name = 'run-50'")
    finally:
        store.close()
    got += [r.name for r in it]
    assert got == [f"run-{i}" for i in range(119, -1, -1) if i != 50]
    assert len(runs) == 120  # as when first read
    assert len(tracker.Api(tmp_path).runs("big")) == 149


def test_ls_json_streams_the_same_array(fat_store, tmp_path):
    fill(tmp_path, 5)
    out = subprocess.run([sys.executable, "-c", "import sys; from tracker.tui.cli import main; sys.exit(main(sys.argv[1:]))", "--store", str(tmp_path), "ls", "--json"],
                         capture_output=True, text=True, env=child_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["name"] for r in rows] == [f"run-{i}" for i in range(4, -1, -1)]
    assert rows[0]["config"]["seed"] == 4 and rows[0]["summary"]["loss"] == pytest.approx(1 / 5 + 0.01 * 0.1353, rel=1e-3)
    # 2,000 runs of 20 KB configs: the process's Python memory stays small (a page of runs at
    # a time; the whole list of dicts peaked at ~57 MB); RSS would also count SQLite's cache
    code = ("import tracemalloc, sys\ntracemalloc.start()\nfrom tracker.tui.cli import main\n"
            "rc = main(sys.argv[1:])\nprint(tracemalloc.get_traced_memory()[1], file=sys.stderr)\nsys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code, "--store", str(fat_store), "ls", "--json"],
                         capture_output=True, text=True, env=child_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 2000
    peak = int(out.stderr.strip().splitlines()[-1])
    assert peak < 25 * 2**20, peak
