"""A ``tracker-tui import`` killed with SIGKILL mid-import leaves a consistent store: whole
batches with the cursor that covers them, and the next import completes the run exactly."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

from import_helpers import tb_scalar_event, tfrecords

import tracker
from helpers import child_env, wait_for


def test_kill_9_mid_import_then_reimport_is_exact(tmp_path):
    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    n = 240_000  # ~10 MB: several transactions, so the kill can land between two
    t0 = time.time()
    (run / "events.out.tfevents.1.host").write_bytes(
        tfrecords([tb_scalar_event(f"m{i % 3}", i // 3, i / 7, t0 + i) for i in range(n)]))
    store = tmp_path / "store"
    p = subprocess.Popen([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), "import",
                          str(tmp_path / "logs")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env())
    def committed() -> int:
        if not (store / "tracker.db").exists():
            return 0
        c = sqlite3.connect(f"file:{store / 'tracker.db'}?mode=ro", uri=True, timeout=30)
        try:
            return int(c.execute("SELECT count(*) FROM metrics").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0
        finally:
            c.close()

    wait_for(lambda: committed() or p.poll() is not None, 120, "a first batch committed")
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    before = committed()
    c = sqlite3.connect(store / "tracker.db")
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c.close()
    assert 0 < before <= n
    out = subprocess.run([sys.executable, "-m", "tracker.tui.cli", "--store", str(store), "import",
                          str(tmp_path / "logs")], capture_output=True, text=True, env=child_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    r = tracker.Api(store).runs()[0]
    pts = r.points()
    assert len(pts) == n and len({(k, s) for s, _, k, _ in pts}) == n  # all there, none twice
    assert r.metric_stats()["m0"]["count"] == n // 3
    assert f"{n - before:,} new points" in out.stdout
