"""One masking policy (tracker._mask) for every place a run stores text that could hold a secret:
the command line, config, summary, notes, tags, alerts (and the alert hook's JSON), the git diff
and the captured console. Each test reads the real store (and its raw bytes) written by a real
run, most of them in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from helpers import child_env, script, wait_for
from tracker._mask import mask_argv, mask_text

SK = "sk-proj-Abcdefghijklmnop1234567890"
GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")

# (text, the secret in it) -- after masking the secret must be gone and the rest readable
IN_TEXT = [
    ("--db-url=postgres://u:PassW0rdUrl@h/db", "PassW0rdUrl"),
    ("connecting to mysql://root:Hunter2Url@db:3306/x ok", "Hunter2Url"),
    (f"OPENAI_API_KEY={SK}", SK),
    (f"export GITHUB_TOKEN={GHP}", GHP),
    ("token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz used", "github_pat_11ABCDEFG0123456789"),
    ("slack xoxb-123456789012-abcdefghijklmnop and xoxp-123456789012-qrstuvwxyzabc", "xoxb-123456789012"),
    ("user token xoxp-123456789012-qrstuvwxyzabc", "xoxp-123456789012"),
    ("aws AKIAIOSFODNN7EXAMPLE in text", "AKIAIOSFODNN7EXAMPLE"),
    ("hub hf_abcdefghijklmnopqrstuvwxyz12 ok", "hf_abcdefghijklmnopqrstuvwxyz12"),
    (f"jwt {JWT} end", JWT[:40]),
    ("curl -H 'Authorization: Bearer abc.def-GHI_jkl123' https://api", "abc.def-GHI_jkl123"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
    ("requests.get(u, headers={'Authorization': 'token gho_zzzzzzzzzzzzzzzzzzzzzzzz'})", "gho_zzzzzzzzzzzz"),
    ("dsn: host=db user=u password=LibpqPw9 dbname=x", "LibpqPw9"),
    ("https://api.example/v1?api_key=QueryKey77&x=1", "QueryKey77"),
    ("sentry https://abcdef0123456789abcdef0123456789@o1.ingest.sentry.io/5", "abcdef0123456789abcdef012345"),
    ('{"password": "two words"}', "two words"),
    ("+  db_pass: yamlPw42", "yamlPw42"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
     "b3BlbnNzaC1rZXktdjEAAAAA"),
]
#: Text that looks a little like a secret but is not one: left exactly as it is.
NOT_SECRET_TEXT = [
    "Epoch 3/10:  45%|████▌     | 4500/10000 [01:23<01:42, 53.91it/s, loss=0.234]",
    "step=1200 loss=0.2345 max_tokens=512 num_tokens=99 key_dim=64 tokenizer=bert pass_rate=0.5",
    "ssh://git@github.com/org/x.git and git@github.com:org/x.git",
    "if token == expected: return",
    "task: sk-learn baseline",
    "https://example.com/path?page=2",
]


@pytest.mark.parametrize(("text", "secret"), IN_TEXT, ids=[t[:24] for t, _ in IN_TEXT])
def test_the_policy_masks_every_documented_shape_in_free_text(text, secret):
    out = mask_text(text)
    assert secret not in out, out
    assert "••••" in out


@pytest.mark.parametrize("text", NOT_SECRET_TEXT)
def test_the_policy_leaves_ordinary_text_alone(text):
    assert mask_text(text) == text


def test_command_line_flags_and_hydra_overrides():
    argv = ["train.py", "-p", "ShortPw1", "--pass", "PassPw1", "--password", "LongPw1", "--token", "TokPw1",
            "db.password=HydraPw1", "wandb.api_key=WandbKey1", "+db.auth=PlusAuth1", "--pw=EqPw1",
            "--db-url=postgres://u:UrlPw1@h", "--lr=0.1", "trainer.max_tokens=512", "-p", "--verbose"]
    out = mask_argv(argv)
    joined = " ".join(out)
    for s in ("ShortPw1", "PassPw1", "LongPw1", "TokPw1", "HydraPw1", "WandbKey1", "PlusAuth1", "EqPw1", "UrlPw1"):
        assert s not in joined, s
    # the flags stay readable, and what is not a secret is untouched
    assert out[:2] == ["train.py", "-p"] and "--token" in out and "db.password=••••" in out
    assert out[-4:] == ["--lr=0.1", "trainer.max_tokens=512", "-p", "--verbose"]


def db_bytes(store: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(store.iterdir()) if p.name.startswith("tracker.db"))


CHILD = """
    import json, sys, time, tracker
    run = tracker.init(project="sec", dir=sys.argv[1])
    print("loading with OPENAI_API_KEY={sk} from postgres://u:ConsolePw5@db/x", flush=True)
    print("Authorization: Bearer ConsoleBearer123", file=sys.stderr, flush=True)
    print("epoch 1 loss=0.5", flush=True)
    deadline = time.time() + 15  # the git facts are read in the background
    while time.time() < deadline and not tracker.Api(sys.argv[1]).run(run.id).git["commit"]:
        time.sleep(0.02)
    run.finish()
    print(json.dumps({{"id": run.id}}), flush=True)
"""


@pytest.fixture
def dirty_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                        *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    (repo / ".env").write_text("DEBUG=1\n")
    git("add", ".env")
    git("commit", "-q", "-m", "init")
    (repo / ".env").write_text(f"DEBUG=1\nOPENAI_API_KEY={SK}\nDB_PASSWORD=DiffPw77\nDB_URL=postgres://a:DiffUrl8@h\n")
    return repo


def run_child(tmp_path: Path, repo: Path, store: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, str]:
    path = script(tmp_path, "train_secrets.py", CHILD.format(sk=SK))
    p = subprocess.run([sys.executable, str(path), str(store), *args], cwd=repo, capture_output=True, text=True,
                       timeout=60, env=child_env(TRACKER_CONSOLE="1", **env))
    assert p.returncode == 0, p.stderr
    return p, json.loads(p.stdout.splitlines()[-1])["id"]


ARGS = ("--db-url=postgres://u:ArgvUrlPw3@h/db", "db.password=HydraPw3", "wandb.api_key=WandbKey3",
        "-p", "ShortPw3", "--pass", "PassPw3", "--lr=0.1")
ARG_SECRETS = ("ArgvUrlPw3", "HydraPw3", "WandbKey3", "ShortPw3", "PassPw3")
TEXT_SECRETS = (SK, "DiffPw77", "DiffUrl8", "ConsolePw5", "ConsoleBearer123")


def test_argv_git_diff_and_console_are_stored_masked(tmp_path, dirty_repo):
    store = tmp_path / "s"
    p, run_id = run_child(tmp_path, dirty_repo, store, *ARGS)
    assert SK in p.stdout and "ConsoleBearer123" in p.stderr  # the terminal still sees what was printed
    r = tracker.Api(store).run(run_id)
    assert r.argv[-1] == "--lr=0.1" and "db.password=••••" in r.argv and r.argv[-3] == "--pass"
    diff = r.git["diff"]
    assert "+OPENAI_API_KEY=••••7890" in diff and "+DB_PASSWORD=••••" in diff and "+DEBUG=1" not in diff
    assert "postgres://a:••••@h" in diff
    console = "\n".join(r.console())
    assert "OPENAI_API_KEY=••••7890" in console and "Bearer ••••" in console and "epoch 1 loss=0.5" in console
    raw = db_bytes(store)
    leaked = [s for s in (*ARG_SECRETS, *TEXT_SECRETS) if s.encode() in raw]
    assert leaked == []


def test_opting_out_keeps_argv_diff_and_console_as_they_were(tmp_path, dirty_repo):
    store = tmp_path / "s"
    _, run_id = run_child(tmp_path, dirty_repo, store, *ARGS, TRACKER_MASK_SECRETS="0")
    r = tracker.Api(store).run(run_id)
    assert list(ARGS) == r.argv[-len(ARGS):]
    assert f"+OPENAI_API_KEY={SK}" in r.git["diff"]
    assert any(SK in line for line in r.console())


def test_config_summary_notes_tags_and_alerts_are_stored_masked(tmp_path, monkeypatch):
    box = tmp_path / "hook.jsonl"
    monkeypatch.setenv("TRACKER_ALERT_CMD", f"cat >> {box}; echo >> {box}")
    store = tmp_path / "s"
    cfg = {"auth": "CfgAuth1", "pw": "CfgPw1", "pass": "CfgPass1", "token": "CfgTok1",
           "headers": {"Authorization": "Bearer CfgBearer1"}, "dsn": "postgresql://app:CfgDsn1@db/x",
           "pass_rate": 0.5, "max_tokens": 512}
    run = tracker.init(project="sec", dir=store, capture_git=False, config=cfg,
                       notes="tried again with postgres://u:NotesPw1@h", tags=["base", f"key={GHP}"])
    run.summary["deploy_token"] = "SummaryTok1"
    run.summary["note"] = f"pushed with {GHP}"
    run.summary["best_pass"] = 0.75  # a metric under a secret-looking name: numbers stay numbers
    run.alert("leak", f"request failed: Authorization: Bearer AlertBearer1 {SK}", level="ERROR")
    run.finish()
    r = tracker.Api(store).run(run.id)
    assert r.config["auth"] == r.config["pw"] == r.config["pass"] == r.config["token"] == "••••"
    assert r.config["headers"]["Authorization"].startswith("••••")
    assert r.config["dsn"] == "postgresql://app:••••@db/x"
    assert (r.config["pass_rate"], r.config["max_tokens"]) == (0.5, 512)
    assert r.notes == "tried again with postgres://u:••••@h" and r.tags == ["base", "key=••••Q7r8"]
    assert r.summary["deploy_token"] == "••••" and r.summary["best_pass"] == 0.75
    (alert,) = r.alerts()
    assert alert["text"] == "request failed: Authorization: Bearer •••• ••••7890"  # short: no last 4
    got = wait_for(lambda: box.exists() and [json.loads(x) for x in box.read_text().splitlines() if x.strip()],
                   10, "the alert hook's JSON")
    assert got[0]["text"] == alert["text"]
    assert run.config.auth == "CfgAuth1" and run.summary["deploy_token"] == "SummaryTok1"  # the process keeps them
    raw = db_bytes(store)
    leaked = [s for s in ("CfgAuth1", "CfgPw1", "CfgPass1", "CfgTok1", "CfgBearer1", "CfgDsn1", "NotesPw1", GHP,
                          "SummaryTok1", "AlertBearer1", SK) if s.encode() in raw]
    assert leaked == []


def test_opting_out_keeps_notes_tags_summary_and_alerts(tmp_path):
    store = tmp_path / "s"
    run = tracker.init(project="sec", dir=store, capture_git=False, mask_secrets=False,
                       notes="postgres://u:NotesPw1@h", tags=[f"key={GHP}"])
    run.summary["deploy_token"] = "SummaryTok1"
    run.alert("leak", f"Bearer {SK}")
    run.finish()
    r = tracker.Api(store).run(run.id)
    assert r.notes == "postgres://u:NotesPw1@h" and r.tags == [f"key={GHP}"]
    assert r.summary["deploy_token"] == "SummaryTok1" and r.alerts()[0]["text"] == f"Bearer {SK}"


def test_set_tags_later_is_masked_too(tmp_path):
    run = tracker.init(project="sec", dir=tmp_path, capture_git=False)
    run.set_tags(["x", f"pat {GHP}"])
    run.finish()
    assert tracker.Api(tmp_path).run(run.id).tags == ["x", "pat ••••Q7r8"]


@pytest.mark.parametrize("how", ["uncaught", "with-block"])
def test_the_error_of_a_failed_run_is_stored_masked(tmp_path, how):
    """The exception message becomes the run's error and its "run failed" alert text."""
    code = ("import sys, tracker\n"
            "run = tracker.init(project='sec', dir=sys.argv[1], capture_git=False)\n"
            "print(run.id, flush=True)\n"
            "if sys.argv[2] == 'with-block':\n"
            "    with run:\n"
            "        raise ConnectionError('cannot reach postgres://trainer:ExcPw9xyz@db:5432/runs')\n"
            "raise ConnectionError('cannot reach postgres://trainer:ExcPw9xyz@db:5432/runs')\n")
    store = tmp_path / "s"
    p = subprocess.run([sys.executable, "-c", code, str(store), how], capture_output=True, text=True, timeout=60,
                       env=child_env())
    assert p.returncode == 1 and "ExcPw9xyz" in p.stderr  # the terminal still gets the traceback as it was
    r = tracker.Api(store).run(p.stdout.split()[0])
    assert r.state == "failed"
    (alert,) = r.alerts()
    assert alert["text"] == "ConnectionError: cannot reach postgres://trainer:••••@db:5432/runs"
    assert b"ExcPw9xyz" not in db_bytes(store)
