"""`tracker-tui ls` and `tracker-tui export`, run as real subprocesses against a real store."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import pytest

import tracker

HOSTILE = "[/]\x1b]52;c;aGk=\x07\x1b[2J\u202eevil[bold red]x"


def cli(*args: str, store: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracker.tui.cli", "--store", store, *args],
        capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def populated(tmp_path):
    store = str(tmp_path / "store")
    a = tracker.init(project="vision", name="resnet-a", config={"lr": 0.1}, dir=store, capture_git=False)
    for i in range(5):
        a.log({"loss": 1.0 / (i + 1), "acc": i / 10})
    a.log({"loss": math.nan})
    a.finish()
    b = tracker.init(project="nlp", name=HOSTILE, dir=store, capture_git=False)
    b.log({"loss": math.inf}, step=3)
    b.finish(exit_code=2)
    return store, a, b


def test_ls_piped_is_plain_table_with_states(populated):
    store, a, b = populated
    out = cli("ls", store=store)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["STATE", "ID", "NAME"]
    assert "\x1b" not in out.stdout  # no colour codes when piped
    body = "\n".join(lines[1:])
    assert a.id in body and "resnet-a" in body and "finished" in body
    assert b.id in body and "failed" in body


def test_ls_never_passes_escape_sequences_from_names(populated):
    store, _, b = populated
    out = cli("ls", store=store)
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u202e" not in out.stdout
    assert "\\x1b]52;c;aGk=\\x07" in out.stdout  # shown literally
    assert "[/]" in out.stdout


def test_ls_project_filter_and_json(populated):
    store, a, b = populated
    out = cli("ls", "--project", "vision", "--json", store=store)
    runs = json.loads(out.stdout)  # strict JSON: NaN would not parse in most tools
    assert [r["id"] for r in runs] == [a.id]
    assert runs[0]["summary"]["loss"] == "nan"
    assert runs[0]["summary"]["acc"] == 0.4
    assert runs[0]["config"] == {"lr": 0.1}
    all_runs = json.loads(cli("ls", "--json", store=store).stdout)
    assert [r["id"] for r in all_runs] == [b.id, a.id]  # newest first
    assert all_runs[0]["name"] == HOSTILE  # JSON carries the exact name; json escapes controls


def test_export_csv_and_jsonl(populated, tmp_path):
    store, a, b = populated
    out = cli("export", a.id, b.id, "--format", "csv", store=store)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["_step"] for r in rows if r["run_id"] == a.id] == ["0", "1", "2", "3", "4", "5"]
    assert rows[5]["loss"] == "nan" and rows[0]["loss"] == "1.0"
    assert [r["loss"] for r in rows if r["run_id"] == b.id] == ["inf"]
    dest = tmp_path / "h.jsonl"
    out = cli("export", a.id[:5], "--format", "jsonl", "--keys", "acc", "-o", str(dest), store=store)
    assert out.returncode == 0, out.stderr
    recs = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [r["_step"] for r in recs] == [0, 1, 2, 3, 4]
    assert all(set(r) == {"run_id", "_step", "_timestamp", "acc"} for r in recs)


def test_errors_are_clear(populated, tmp_path):
    store, *_ = populated
    out = cli("export", "zzzzzz", store=store)
    assert out.returncode == 1 and "no run matches 'zzzzzz'" in out.stderr and "Traceback" not in out.stderr
    out = cli("ls", store=str(tmp_path / "missing"))
    assert out.returncode == 1 and "no store at" in out.stderr
    assert not (tmp_path / "missing").exists()  # readers never create a store


def test_no_subcommand_lists(populated):
    store, a, _ = populated
    out = cli(store=store)
    assert out.returncode == 0 and a.id in out.stdout
