"""Issue 9 (severe 1): SIGTERM / SIGHUP arriving while log() is inside the writer's wake-up must
never hang the process. The handler runs on the main thread between two bytecodes of whatever
was running — also inside ``threading.Event.set()`` with its lock held — so the handler (and the
writer it waits for) must not need any lock the interrupted code can hold. Randomised trials of a
flat-out log() loop, each killed at a random moment, each required to end by the signal with its
run marked failed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest

import tracker
from helpers import child_env

TRIALS = int(os.environ.get("TRACKER_SIGNAL_TRIALS", "12"))
LOOP = textwrap.dedent("""
    import sys, tracker
    run = tracker.init(project="sig", dir=sys.argv[1], capture_git=False)
    print(run.id, flush=True)
    i = 0
    while True:  # flat out: the signal lands inside log() most of the time
        run.log({"a": i, "b": 1.0}, step=i)
        i += 1
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_flat_out_log_loop_never_hangs(tmp_path, sig):
    rng = random.Random(int(sig))
    hung = []
    for trial in range(TRIALS):
        store = tmp_path / f"s{trial}"
        p = subprocess.Popen([sys.executable, "-c", LOOP, str(store)], stdout=subprocess.PIPE, text=True,
                             env=child_env(), start_new_session=True)
        assert p.stdout is not None
        run_id = p.stdout.readline().strip()
        try:
            p.wait(rng.uniform(0.05, 0.6))  # let it log flat out for a random while
        except subprocess.TimeoutExpired:
            pass
        p.send_signal(sig)
        try:
            code = p.wait(30)
        except subprocess.TimeoutExpired:
            hung.append(trial)
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            continue
        assert code == -sig, (trial, code)  # died by the signal, as without tracker
        r = tracker.Api(store).run(run_id)
        assert r.state == "failed" and r.meta.get("signal") == signal.Signals(sig).name, (trial, r.state)
    assert not hung, f"hung in trials {hung} of {TRIALS} (a lock taken in the signal handler)"
