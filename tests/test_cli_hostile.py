"""Stored text that attacks the terminal, and stored text that is not text (issue 9, item 5).

Every command that prints stored text — ``ls``, ``diff``, ``export`` (CSV and JSON lines) and
``tail`` — runs on a real pseudo-terminal against a store whose run names, project, tags, notes,
config keys and values, metric names and console lines carry OSC 0/2 (window title), OSC 52
(clipboard), CSI 2J (clear screen), DCS and 8-bit C1 controls; none of them may reach the
terminal as a control sequence. A store holding invalid UTF-8 (written by another tool) is read
with replacement characters by every command and by the app: no crash, no traceback, no raw bytes.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_edges import env, on_pty

import tracker
from helpers import child_env

CLI = [sys.executable, "-m", "tracker.tui.cli"]
OSC_TITLE = "\x1b]0;pwned\x07"
OSC_TITLE2 = "\x1b]2;pwned2\x1b\\"
OSC_CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"
CLEAR = "\x1b[2J"
DCS = "\x1bP1$qm\x1b\\"
C1 = "\x9b31m\x9d0;c1\x07"
HOSTILE = OSC_TITLE + OSC_TITLE2 + OSC_CLIPBOARD + CLEAR + DCS + C1

#: What may never reach the terminal from stored text: OSC, DCS, SOS/PM/APC and their string
#: terminator, a clear screen, BEL, and any 8-bit C1 control.
FORBIDDEN = re.compile(r"\x1b[\]P_^X\\]|\x1b\[2J|\x07|[\x80-\x9f]")


CHILD = """
import json, sys
import tracker
store, hostile = sys.argv[1], json.loads(sys.argv[2])
for name, value in (("a", 1.0), ("b", 2.0)):
    r = tracker.init(project="p" + hostile, name=name + hostile, dir=store, capture_git=False, console=True,
                     tags=[hostile], notes=hostile, config={"k" + hostile: "v" + hostile, "lr": value})
    print("console" + hostile, flush=True)
    for step in range(3):
        r.log({"loss" + hostile: value * (step + 1), "acc": 0.5})
    r.finish()
    print("id", r.id, file=sys.stderr)
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Two runs logged by a real training process with console capture on."""
    d = tmp_path_factory.mktemp("hostile") / "s"
    p = subprocess.run([sys.executable, "-c", CHILD, str(d), json.dumps(HOSTILE)], capture_output=True, text=True,
                       timeout=120, env={**child_env(), "TRACKER_CONSOLE": "1"})
    assert p.returncode == 0, p.stderr
    ids = [line.split()[1] for line in p.stderr.splitlines() if line.startswith("id ")]
    assert any(HOSTILE in line for line in tracker.Api(d).run(ids[0]).console())  # stored as printed
    return d, ids


def assert_inert(out: str) -> None:
    bad = FORBIDDEN.findall(out)
    assert not bad, f"control sequences from the store reached the terminal: {bad!r}"


@pytest.mark.parametrize("cmd", [["ls"], ["ls", "--project", "p" + HOSTILE], ["ls", "--json"],
                                 ["diff", "A", "B"], ["diff", "A", "B", "--all"],
                                 ["export", "A", "B"], ["export", "A", "B", "--format", "jsonl"],
                                 ["tail", "A"], ["tail", "A", "--keys", "loss" + HOSTILE]])
def test_stored_escapes_never_reach_the_terminal(store, cmd):
    d, ids = store
    args = [ids[0] if a == "A" else ids[1] if a == "B" else a for a in cmd]
    status, out = on_pty([*args, "--store", str(d)])
    assert status == 0, out
    assert_inert(out)
    if cmd[0] != "ls" or "--json" in cmd:
        assert "loss" in out  # the metric (with its hostile name) was printed, made inert
    if "--json" in cmd or "jsonl" in cmd:
        assert "\\u001b]52;c;" in out  # JSON keeps the exact text, escaped
    else:
        assert "\\x1b]52;c;" in out or "\\x1b]0;" in out  # shown as visible text


# ------------------------------------------------------------------------------ invalid UTF-8
BAD = "CAST(x'6261648fff20c328' AS TEXT)"  # 'bad', two invalid bytes, a space, a broken pair


@pytest.fixture(scope="module")
def not_utf8(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Two runs, then another tool writes invalid UTF-8 into their text columns, a metric name
    and a console line."""
    d = tmp_path_factory.mktemp("bytes") / "s"
    code = ("import sys, tracker\n"
            "for i in range(2):\n"
            "    r = tracker.init(project='p', name=f'r{i}', dir=sys.argv[1], capture_git=False, console=True,"
            " config={'lr': i})\n"
            "    print('hello', flush=True)\n"
            "    [r.log({'loss': 1.0 / (s + 1), 'acc': 0.1 * i}) for s in range(3)]\n"
            "    r.finish()\n"
            "    print('id', r.id, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code, str(d)], capture_output=True, text=True, timeout=120,
                       env={**child_env(), "TRACKER_CONSOLE": "1"})
    assert p.returncode == 0, p.stderr
    ids = [line.split()[1] for line in p.stderr.splitlines() if line.startswith("id ")]
    c = sqlite3.connect(d / "tracker.db", isolation_level=None)
    c.execute(f"UPDATE runs SET name = {BAD}, notes = {BAD}, user = {BAD}, host = {BAD} WHERE id = ?", (ids[0],))
    c.execute("UPDATE runs SET tags = CAST(x'5b2262ff225d' AS TEXT), "  # ["b\xff"]
              "config = CAST(x'7b226cff72223a2022ff78227d' AS TEXT) WHERE id = ?", (ids[0],))  # {"l\xffr": "\xffx"}
    c.execute(f"UPDATE keys SET name = {BAD} WHERE name = 'acc'")
    c.execute("UPDATE events SET data = CAST(x'7b2274657874223a20226869ff227d' AS TEXT) WHERE kind = 'console'")
    c.close()
    return d, ids


@pytest.mark.parametrize("cmd", [["ls"], ["ls", "--json"], ["export", "A", "B"], ["export", "A", "--format", "jsonl"],
                                 ["diff", "A", "B", "--all"], ["tail", "A"]])
def test_invalid_utf8_in_the_store_is_read_with_replacement_characters(not_utf8, cmd):
    d, ids = not_utf8
    args = [ids[0] if a == "A" else ids[1] if a == "B" else a for a in cmd]
    p = subprocess.run([*CLI, *args, "--store", str(d)], capture_output=True, env=env(), timeout=60,
                       stdin=subprocess.DEVNULL)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 0, err
    assert "Traceback" not in err and not p.stderr
    p.stdout.decode("utf-8")  # valid UTF-8 out: no raw byte from the store passed through
    out = p.stdout.decode()
    if "--json" in cmd or "jsonl" in cmd or cmd[0] == "tail":  # tail into a pipe: JSON lines
        lines = "jsonl" in cmd or cmd[0] == "tail"
        rows = [json.loads(line) for line in out.splitlines()] if lines else json.loads(out)
        text = json.dumps(rows, ensure_ascii=False)
    else:
        text = out
    assert "bad\ufffd\ufffd" in text, out[:500]


def test_invalid_utf8_on_a_terminal(not_utf8):
    d, ids = not_utf8
    for args in (["ls"], ["diff", *ids]):
        status, out = on_pty([*args, "--store", str(d)])
        assert status == 0 and "Traceback" not in out, out
        assert "bad\ufffd\ufffd" in out


def test_the_api_reads_invalid_utf8(not_utf8):
    d, ids = not_utf8
    run = tracker.Api(d).run(ids[0])
    assert run.name == "bad\ufffd\ufffd \ufffd(" and run.tags == ["b\ufffd"]
    assert run.config == {"l\ufffdr": "\ufffdx"}
    assert "bad\ufffd\ufffd \ufffd(" in run.history(pandas=False)[0]


def test_the_app_lists_a_store_with_invalid_utf8(not_utf8):
    from app_helpers import app_for, settle

    from tracker.tui.screens.base import StatusLine

    d, _ = not_utf8

    async def go() -> tuple[str, str]:
        app = app_for(d)
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            status = str(app.screen.query_one("#status", StatusLine).render())
            return status, app.export_screenshot()

    status, screen = asyncio.run(go())
    assert "2 runs" in status, status
    assert "bad\ufffd\ufffd" in screen
