"""`tracker-tui artifact ...` as real subprocesses against a real store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tracker

pytestmark = pytest.mark.usefixtures("clean_env")

HOSTILE = "[bold]\x1b]52;c;aGk=\x07\x1b[2Jevil"


def cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), "artifact", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    s = tmp_path / "store"
    run = tracker.init(project="p", name="train", dir=s, capture_git=False)
    for i in range(3):
        a = tracker.Artifact("model", type="model", metadata={"epoch": i, "note": HOSTILE})
        with a.new_file("weights.bin", mode="wb") as f:
            f.write(bytes([i]) * (1000 * (i + 1)))
        if i == 2:
            with a.new_file("extra.txt") as f:
                f.write("new in v2")
        run.log_artifact(a, aliases=["best"] if i == 1 else None)
    run.finish()
    return s


def test_ls_show_and_json(store: Path) -> None:
    out = cli(store, "ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "VERSIONS", "ALIASES", "SIZE", "RUN", "UPDATED"]
    assert lines[1].split()[:5] == ["p/model", "model", "3", "latest:v2", "best:v1"]
    data = json.loads(cli(store, "ls", "--json").stdout)
    assert data[0]["aliases"] == {"latest": 2, "best": 1} and data[0]["versions"] == 3
    show = cli(store, "show", "model:best")
    assert show.returncode == 0 and "p/model:v1" in show.stdout and "weights.bin" in show.stdout
    assert "\x1b" not in show.stdout and "\x07" not in show.stdout  # metadata is untrusted text
    js = json.loads(cli(store, "show", "p/model:v2", "--json").stdout)
    assert [f["path"] for f in js["files"]] == ["extra.txt", "weights.bin"] and js["metadata"]["epoch"] == 2


def test_promote_records_who_and_moves(store: Path) -> None:
    assert cli(store, "promote", "model:v0", "production").stdout.strip() == "p/model: production -> v0"
    out = cli(store, "promote", "model:v2", "production")
    assert out.stdout.strip() == "p/model: production -> v2 (was v0)"
    assert tracker.Api(store).artifact("model:production").version == "v2"
    history = cli(store, "show", "model:v2").stdout
    assert "production -> v2 from v0  by " in history
    bad = cli(store, "promote", "model:v1", "v7")
    assert bad.returncode == 1 and "reserved" in bad.stderr and "Traceback" not in bad.stderr


def test_rm_refuses_aliased_then_prune_and_gc_free_space(store: Path) -> None:
    rm = cli(store, "rm", "model:v1")
    assert rm.returncode == 1 and "best" in rm.stderr
    prune = cli(store, "prune", "model", "--keep-last", "1", "--keep-aliased")
    assert prune.stdout.strip() == "p/model: deleted v0"
    assert [a.version for a in tracker.Api(store).artifacts("model", "p/model")] == ["v2", "v1"]
    objects = [p for p in (store / "objects").rglob("*") if p.is_file()]
    gc = cli(store, "gc", "--grace", "0")
    assert gc.stdout.strip() == "deleted 1 unreferenced file(s), 1.0 kB freed"
    assert len([p for p in (store / "objects").rglob("*") if p.is_file()]) == len(objects) - 1
    assert cli(store, "gc").stdout.startswith("deleted 0")  # default grace keeps young files
    top = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "gc", "--store", str(store), "--grace", "0"],
                         capture_output=True, text=True, timeout=60)
    assert top.returncode == 0 and top.stdout.startswith("deleted 0"), top.stderr
    assert cli(store, "rm", "model:v1", "--force").returncode == 0
    tracker.Api(store).artifact("model:latest").verify()


def test_download_and_diff(store: Path, tmp_path: Path) -> None:
    out = cli(store, "download", "model:v2", "-o", str(tmp_path / "dl"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "dl" / "weights.bin").read_bytes() == bytes([2]) * 3000
    diff = cli(store, "diff", "model:v0", "model:v2").stdout.splitlines()
    assert diff == ["--- p/model:v0", "+++ p/model:v2", "+ extra.txt  9 B", "~ weights.bin  1.0 kB -> 3.0 kB",
                    "metadata epoch: 0 -> 2"]
    missing = cli(store, "show", "nope")
    assert missing.returncode == 1 and missing.stderr.strip() == "tracker: no artifact named 'nope'"
