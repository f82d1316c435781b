"""``tracker-tui import --follow``: a wandb offline run and a TensorBoard log still being written
reach the store while they grow (a real follower subprocess; the writer here appends the real
tool's bytes, or events of our own writer, piece by piece)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from import_helpers import fixture, tb_scalar_event, tfrecords

import tracker
from helpers import child_env, wait_for


def follower(store, *paths):
    return subprocess.Popen([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), "import", *map(str, paths),
                             "--follow", "--interval", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())


def count(store):
    if not (store / "tracker.db").exists():
        return 0
    api = tracker.Api(store)
    return api.store.count_points() if api.store else 0


def one_run(store):
    runs = tracker.Api(store).runs()
    return runs[0] if len(runs) == 1 else None


def test_follow_a_growing_wandb_run_until_its_exit(tmp_path):
    src = fixture(tmp_path, "wandb")
    real = next(p for p in (src / "wandb").glob("offline-run-*/run-*.wandb") if b"resnet-a" in p.read_bytes())
    data = real.read_bytes()
    live = tmp_path / "live" / "wandb" / real.parent.name
    live.mkdir(parents=True)
    f = live / real.name
    f.write_bytes(data[: len(data) // 3])
    direct = tmp_path / "direct"
    subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(direct), "import", str(real)],
                   check=True, capture_output=True, env=child_env())
    want = count(direct)
    store = tmp_path / "store"
    p = follower(store, tmp_path / "live")
    try:
        first = wait_for(lambda: count(store), 30, "the first third imported")
        assert one_run(store).state == "running"
        with open(f, "ab") as fh:  # the run writes on, in two pieces (the first ends mid-record)
            fh.write(data[len(data) // 3: 2 * len(data) // 3])
        wait_for(lambda: count(store) > first, 30, "the second third imported")
        with open(f, "ab") as fh:
            fh.write(data[2 * len(data) // 3:])
        wait_for(lambda: (r := one_run(store)) is not None and r.state == "failed", 30, "the exit record")
        assert count(store) == want
        r = one_run(store)
        assert r.exit_code == 3 and len(r.console()) == 5
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "stopped following" in out and f"{want:,} new points" in out.splitlines()[-1] + out
    assert "Traceback" not in err


def test_follow_a_tfevents_file_and_a_run_that_appears(tmp_path):
    logs = tmp_path / "logs"
    (logs / "a").mkdir(parents=True)
    fa = logs / "a" / "events.out.tfevents.1.host"
    t0 = time.time()
    fa.write_bytes(tfrecords([tb_scalar_event("loss", i, 1.0 / (i + 1), t0 + i) for i in range(10)]))
    store = tmp_path / "store"
    p = follower(store, logs)
    try:
        wait_for(lambda: count(store) == 10, 30, "the first 10 events")
        with open(fa, "ab") as fh:
            fh.write(tfrecords([tb_scalar_event("loss", i, float("nan") if i == 12 else 0.5, t0 + i)
                                for i in range(10, 15)]))
        wait_for(lambda: count(store) == 15, 30, "5 appended events")
        (logs / "b").mkdir()
        (logs / "b" / "events.out.tfevents.2.host").write_bytes(tfrecords([tb_scalar_event("acc", 0, 0.75, t0)]))
        wait_for(lambda: count(store) == 16, 30, "the run that appeared")
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    runs = {r.name: r for r in tracker.Api(store).runs()}
    assert set(runs) == {"a", "b"}
    loss = [v for _, _, _, v in runs["a"].points()]
    assert len(loss) == 15 and loss[12] != loss[12]  # NaN kept
    assert runs["b"].summary["acc"] == 0.75
    assert "+5 points" in out and "new" in out
    json.dumps(out)  # printable text only
