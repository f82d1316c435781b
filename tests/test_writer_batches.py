"""One bad entry never costs the rest of its writer batch (issue 9, item 2).

Each test drives a real child process that logs into a real store with a long flush interval, so
that everything it does (points, config and summary updates, an alert, a console line and
``finish()``) lands in ONE writer batch, together with the bad entry. Nothing is mocked.
"""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import child_env, ro_conn, script

PY = sys.executable

ONE_BATCH = """
    import json, sys
    import tracker

    store, mode = sys.argv[1], sys.argv[2]
    run = tracker.init(project="batch", dir=store, capture_git=False, flush_interval=60,
                       system_interval=None)
    for s in range(5):
        run.log({"loss": 1.0 / (s + 1), "acc": s / 10})
    if mode == "bad-key":
        run.log({"loss": 0.1, "acc": 0.9, "bad\\ud800key": 3.0})  # a lone surrogate in a key
        run.alert("checkpoint saved", "epoch 1")
    else:  # bad-event: a lone surrogate in an alert's title reaches the writer
        run.log({"loss": 0.1, "acc": 0.9})
        run.alert("checkpoint \\udcff saved", "epoch 1")
    run.config.update({"lr": 0.5})
    run.summary["best"] = 0.9
    print("console line of the batch", flush=True)
    run.finish()
    print(json.dumps({"id": run.id, "state": run.state}), file=sys.__stdout__, flush=True)
"""


def _run_child(tmp_path, mode: str) -> tuple[dict, str, object]:
    s = script(tmp_path, "one_batch.py", ONE_BATCH)
    store = tmp_path / "store"
    p = subprocess.run([PY, str(s), str(store), mode], capture_output=True, text=True,
                       env=child_env(TRACKER_CONSOLE="1"),
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    rep = json.loads(p.stdout.strip().splitlines()[-1])
    import tracker

    return rep, p.stderr, tracker.Api(store).run(rep["id"])


def _assert_batch_kept(run, store) -> None:
    assert run.state == "finished", f"the run reads {run.state!r}: the batch's finish() was lost"
    assert run.exit_code == 0
    assert run.config.get("lr") == 0.5
    assert run.summary.get("best") == 0.9
    assert any(line.startswith("console line of the batch") for line in run.console())
    titles = [a["title"] for a in run.alerts()]
    assert len(titles) == 1 and titles[0].startswith("checkpoint") and titles[0].endswith("saved"), titles
    hist = run.history(["loss", "acc"], pandas=False)
    assert [h["_step"] for h in hist] == list(range(6))
    assert hist[5]["loss"] == 0.1 and hist[5]["acc"] == 0.9
    conn = ro_conn(store)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_bad_metric_key_is_dropped_at_log_time_with_a_warning_and_the_batch_is_kept(tmp_path):
    rep, err, run = _run_child(tmp_path, "bad-key")
    assert rep["state"] == "finished"
    _assert_batch_kept(run, tmp_path / "store")
    # The warning names the key (escaped: a lone surrogate cannot be printed) and says what happened.
    warns = [line for line in err.splitlines() if "\\ud800" in line]
    assert warns and "dropped" in warns[0], err
    assert "bad" not in "".join(run.keys())
    # The rest of that log() call was stored.
    assert run.metric_stats()["loss"]["count"] == 6


def test_a_bad_event_in_a_batch_keeps_every_other_entry(tmp_path):
    rep, err, run = _run_child(tmp_path, "bad-event")
    assert rep["state"] == "finished"
    _assert_batch_kept(run, tmp_path / "store")
    # The alert itself is kept, its unencodable character replaced, and the user is told.
    assert run.alerts()[0]["title"] == "checkpoint ? saved"
    assert "replaced" in err, err
