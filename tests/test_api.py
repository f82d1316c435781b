"""``tracker.init`` / ``Run`` / module-level helpers, and reading runs back with ``tracker.Api``:
resume, what is captured about the process, where the store lives and who may read it (X1),
and hostile names (X4). Real stores under tmp_path; subprocesses where a fresh process matters."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
import unicodedata
from pathlib import Path

import pytest

import tracker
from helpers import ro_conn, wait_for
from tracker.store import RunNotFound, StoreError

pytestmark = pytest.mark.usefixtures("clean_env")


def start(store_dir: Path, **kw):
    kw.setdefault("project", "api")
    kw.setdefault("capture_git", False)
    return tracker.init(dir=store_dir, **kw)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def strip_ts(hist: list[dict]) -> list[dict]:
    for h in hist:
        assert isinstance(h.pop("_timestamp"), float)
    return hist


# ------------------------------------------------------------------------------ init and Run
def test_init_returns_a_run_with_id_name_project_and_private_dir(store_dir):
    run = tracker.init(project="cifar", dir=store_dir, capture_git=False)
    assert isinstance(run.id, str) and len(run.id) == 8 and run.id.isalnum()
    assert isinstance(run.name, str) and run.name  # generated when not given
    assert run.project == "cifar"
    assert Path(run.dir) == store_dir / "runs" / run.id
    assert Path(run.dir).is_dir() and mode(run.dir) == 0o700
    run.finish()
    other = tracker.init(project="cifar", dir=store_dir, capture_git=False)
    assert other.id != run.id and other.name != run.name


def test_init_arguments_are_stored_and_read_back(store_dir):
    run = tracker.init(project="nlp", name="bert-base", config={"lr": 1e-4}, tags=["baseline", "v2"],
                       group="sweep-7", job_type="train", notes="first try", dir=store_dir, capture_git=False)
    run.log({"loss": 1.0})
    run.finish()
    r = tracker.Api(store_dir).run(run.id)
    assert (r.id, r.name, r.project, r.group, r.job_type, r.notes) == (
        run.id, "bert-base", "nlp", "sweep-7", "train", "first try")
    assert list(r.tags) == ["baseline", "v2"]
    assert r.config == {"lr": 1e-4}
    assert r.state == "finished"


def test_module_level_helpers_act_on_the_current_run(store_dir):
    assert tracker.run is None and tracker.config is None and tracker.summary is None
    with pytest.raises(RuntimeError, match="init"):
        tracker.log({"loss": 1.0})
    tracker.finish()  # no run: nothing to do

    run = start(store_dir, config={"lr": 0.1})
    assert tracker.run is run
    assert tracker.config is run.config and tracker.config.lr == 0.1
    assert tracker.summary is run.summary
    tracker.log({"loss": 2.0})
    tracker.log({"loss": 1.0}, step=5)
    tracker.summary["best"] = 1.0
    tracker.config.update({"bs": 8})
    tracker.finish()
    assert tracker.run is None

    r = tracker.Api(store_dir).run(run.id)
    assert r.state == "finished"
    assert strip_ts(r.history(pandas=False)) == [{"_step": 0, "loss": 2.0}, {"_step": 5, "loss": 1.0}]
    assert r.summary["best"] == 1.0 and r.config == {"lr": 0.1, "bs": 8}


def test_context_manager_finishes_the_run(store_dir):
    with start(store_dir) as run:
        run.log({"loss": 1.0})
    assert tracker.run is None
    r = tracker.Api(store_dir).run(run.id)
    assert r.state == "finished" and r.exit_code == 0 and r.finished_at is not None


def test_context_manager_marks_the_run_failed_on_an_exception(store_dir):
    with pytest.raises(ZeroDivisionError):
        with start(store_dir) as run:
            run.log({"loss": 1.0})
            _ = 1 / 0
    r = tracker.Api(store_dir).run(run.id)
    assert r.state == "failed" and r.exit_code == 1
    assert "ZeroDivisionError" in r.meta.get("error", "")
    assert strip_ts(r.history(pandas=False)) == [{"_step": 0, "loss": 1.0}]  # logged points kept


def test_finish_with_nonzero_exit_code_is_failed_for_readers(store_dir):
    run = start(store_dir)
    run.finish(exit_code=2)
    r = tracker.Api(store_dir).run(run.id)
    assert r.state == "failed" and r.exit_code == 2
    run.finish(exit_code=0)  # idempotent: the first finish stands
    assert tracker.Api(store_dir).run(run.id).state == "failed"


def test_run_state_in_process_matches_the_stored_state_after_a_failure(store_dir):
    run = start(store_dir)
    assert run.state == "running"
    run.finish(exit_code=1)
    assert tracker.Api(store_dir).run(run.id).state == "failed"
    assert run.state == "failed"


def test_summary_override_wins_over_the_last_logged_value(store_dir):
    run = start(store_dir)
    for v in [3.0, 1.0, 2.0]:
        run.log({"val/acc": v, "loss": v})
    run.summary["val/acc"] = 3.0        # e.g. the best, not the last
    run.summary["note_only"] = "best at step 0"
    run.summary.update({"temp": 1})
    del run.summary["temp"]
    run.finish()
    r = tracker.Api(store_dir).run(run.id)
    assert r.summary == {"val/acc": 3.0, "loss": 2.0, "note_only": "best at step 0"}
    assert r.metric_stats()["val/acc"]["last"] == 2.0  # stats still describe what was logged


# ------------------------------------------------------------------------------ tracker.Api
def make_runs(store_dir: Path) -> list:
    runs = []
    specs = [("vision", "a", {"lr": 0.1, "opt": {"name": "sgd"}}, ["base"], 0),
             ("vision", "b", {"lr": 0.001, "opt": {"name": "adam"}}, ["base", "big"], 1),
             ("nlp", "c", {"lr": 0.01}, [], 0)]
    for project, name, cfg, tags, code in specs:
        run = tracker.init(project=project, name=name, config=cfg, tags=tags, dir=store_dir, capture_git=False)
        run.log({"acc": cfg["lr"] * 10})
        run.finish(exit_code=code)
        runs.append(run)
        time.sleep(0.002)  # distinct creation times
    return runs


def test_api_runs_newest_first_with_project_filters_and_order(store_dir):
    a, b, c = make_runs(store_dir)
    api = tracker.Api(store_dir)
    assert [r.id for r in api.runs()] == [c.id, b.id, a.id]
    assert [r.id for r in api.runs(project="vision")] == [b.id, a.id]
    assert api.runs(project="nope") == []
    assert sorted(api.projects()) == ["nlp", "vision"]

    assert [r.id for r in api.runs(filters={"state": "failed"})] == [b.id]
    assert [r.id for r in api.runs(filters={"config.lr": {"$lt": 0.05}})] == [c.id, b.id]
    assert [r.id for r in api.runs(filters={"config.opt.name": "sgd"})] == [a.id]
    assert [r.id for r in api.runs(filters={"tags": "big"})] == [b.id]
    assert [r.id for r in api.runs(filters={"summary.acc": {"$gte": 0.1}})] == [c.id, a.id]
    assert [r.id for r in api.runs(filters={"name": {"$in": ["a", "c"]}, "state": "finished"})] == [c.id, a.id]

    assert [r.id for r in api.runs(order="config.lr")] == [b.id, c.id, a.id]
    assert [r.id for r in api.runs(order="-summary.acc")] == [a.id, c.id, b.id]
    assert [r.id for r in api.runs(order="created_at")] == [a.id, b.id, c.id]


def test_api_run_attributes(store_dir):
    before = time.time()
    run = tracker.init(project="p", name="attrs", tags=["t"], group="g", job_type="eval", notes="n",
                       config={"k": [1, 2]}, dir=store_dir, capture_git=False)
    run.log({"m": 1.0})
    run.finish()
    after = time.time()
    r = tracker.Api(store_dir).run(run.id)
    assert (r.id, r.name, r.project, r.group, r.job_type, list(r.tags), r.notes, r.state) == (
        run.id, "attrs", "p", "g", "eval", ["t"], "n", "finished")
    assert before - 1 <= r.created_at <= r.updated_at <= after + 1
    assert r.created_at <= r.finished_at <= after + 1
    assert r.host == socket.gethostname()
    assert r.config == {"k": [1, 2]} and r.summary == {"m": 1.0}
    # a unique prefix of the id or of the name works too
    assert tracker.Api(store_dir).run(run.id[:6]).id == run.id
    assert tracker.Api(store_dir).run("att").id == run.id


def test_history_one_row_per_step_and_key_selection(store_dir):
    run = start(store_dir)
    run.log({"loss": 1.0, "acc": 0.1})
    run.log({"loss": 0.5})
    run.log({"acc": 0.3, "lr": 1e-3})
    run.finish()
    r = tracker.Api(store_dir).run(run.id)
    hist = r.history(pandas=False)
    assert all(isinstance(h["_timestamp"], float) and h["_timestamp"] > 0 for h in hist)
    assert strip_ts(hist) == [
        {"_step": 0, "loss": 1.0, "acc": 0.1},
        {"_step": 1, "loss": 0.5},
        {"_step": 2, "acc": 0.3, "lr": 1e-3},
    ]
    assert strip_ts(r.history(keys=["acc"], pandas=False)) == [{"_step": 0, "acc": 0.1}, {"_step": 2, "acc": 0.3}]
    assert r.history(keys=[], pandas=False) == [] and r.history(keys=["missing"], pandas=False) == []
    assert sorted(r.keys()) == ["acc", "loss", "lr"]


def test_metric_stats_across_several_commits(store_dir):
    run = start(store_dir, flush_interval=0.01)
    values = [5.0, 2.0, 9.0, 4.0]
    for v in values[:2]:
        run.log({"m": v, "n": int(v)})
    # the writer commits these first: wait until a reader sees them, so there really are two commits
    conn = ro_conn(store_dir)
    wait_for(lambda: conn.execute("SELECT count(*) FROM metrics").fetchone()[0] == 4, 10, "the first commit")
    conn.close()
    for v in values[2:]:
        run.log({"m": v})
    run.finish()
    stats = tracker.Api(store_dir).run(run.id).metric_stats()
    assert stats["m"] == {"last": 4.0, "last_step": 3, "min": 2.0, "max": 9.0, "count": 4}
    assert stats["n"] == {"last": 2, "last_step": 1, "min": 2, "max": 5, "count": 2}


def test_a_reader_sees_a_live_run_while_it_trains(store_dir):
    run = start(store_dir)
    for i in range(5):
        run.log({"live": float(i)})
    api = tracker.Api(store_dir)
    deadline = time.time() + 5
    while time.time() < deadline and len(api.run(run.id).history(pandas=False)) < 5:
        time.sleep(0.02)  # the writer commits every 250 ms
    r = api.run(run.id)
    assert r.state == "running"
    assert [h["live"] for h in r.history(pandas=False)] == [0.0, 1.0, 2.0, 3.0, 4.0]
    run.finish()
    assert api.run(run.id).state == "finished"


def test_api_on_a_missing_store_reads_nothing_and_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere"
    api = tracker.Api(missing)
    assert api.runs() == [] and api.projects() == []
    with pytest.raises(RunNotFound, match="no store"):
        api.run("abcdefgh")
    assert not missing.exists()


def test_api_run_with_an_unknown_id_is_a_clear_error(store_dir):
    make_runs(store_dir)
    with pytest.raises(RunNotFound, match="zzzz9999"):
        tracker.Api(store_dir).run("zzzz9999")


# ------------------------------------------------------------------------------ resume
def test_resume_by_id_appends_after_the_highest_step(store_dir):
    first = start(store_dir, config={"lr": 0.1}, tags=["a"])
    for i in range(3):
        first.log({"loss": float(i)})
    first.log({"loss": 9.0}, step=20)
    with pytest.warns(tracker.TrackerWarning):
        first.log({"loss": 8.0}, step=7)  # last logged is not the highest
    first.finish(exit_code=1)

    again = start(store_dir, resume=first.id, config={"bs": 32})
    assert again.id == first.id and again.name == first.name
    assert tracker.Api(store_dir).run(first.id).state == "running"
    again.log({"loss": 0.5})
    again.log({"loss": 0.25})
    again.finish()

    r = tracker.Api(store_dir).run(first.id)
    assert [h["_step"] for h in r.history(pandas=False)] == [0, 1, 2, 7, 20, 21, 22]
    assert r.state == "finished" and r.exit_code == 0
    assert r.config == {"lr": 0.1, "bs": 32}
    assert r.metric_stats()["loss"] == {"last": 0.25, "last_step": 22, "min": 0.0, "max": 9.0, "count": 7}
    assert len(tracker.Api(store_dir).runs()) == 1


def test_resume_allow_with_id_creates_then_resumes(store_dir):
    a = start(store_dir, resume="allow", id="myrun-01")
    assert a.id == "myrun-01"
    a.log({"x": 1.0})
    a.finish()
    b = start(store_dir, resume="allow", id="myrun-01")
    b.log({"x": 2.0})
    b.finish()
    r = tracker.Api(store_dir).run("myrun-01")
    assert strip_ts(r.history(pandas=False)) == [{"_step": 0, "x": 1.0}, {"_step": 1, "x": 2.0}]
    assert len(tracker.Api(store_dir).runs()) == 1


def test_resume_of_an_unknown_id_is_a_clear_error_and_creates_nothing(store_dir):
    make_runs(store_dir)
    with pytest.raises(RunNotFound, match="cannot resume run 'nosuchid'"):
        start(store_dir, resume="nosuchid")
    with pytest.raises(RunNotFound, match="nosuchid"):
        start(store_dir, resume="must", id="nosuchid")
    assert tracker.run is None
    assert len(tracker.Api(store_dir).runs()) == 3


def test_reusing_an_id_without_resume_is_refused(store_dir):
    start(store_dir, id="taken-id").finish()
    with pytest.raises(StoreError, match="resume"):
        start(store_dir, id="taken-id")
    with pytest.raises(StoreError, match="already exists"):
        start(store_dir, id="taken-id", resume="never")


# ------------------------------------------------------------------------------ store location
def test_store_location_dir_then_env_then_home(tmp_path, monkeypatch):
    home, env_dir, arg_dir = tmp_path / "home", tmp_path / "env", tmp_path / "arg"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))

    r1 = tracker.init(project="loc", capture_git=False)
    r1.finish()
    assert (home / ".tracker" / "tracker.db").is_file()
    assert [r.id for r in tracker.Api().runs()] == [r1.id]

    monkeypatch.setenv("TRACKER_DIR", str(env_dir))
    r2 = tracker.init(project="loc", capture_git=False)
    r2.finish()
    r3 = tracker.init(project="loc", dir=arg_dir, capture_git=False)
    r3.finish()
    assert [r.id for r in tracker.Api().runs()] == [r2.id]  # Api follows the same order
    assert [r.id for r in tracker.Api(arg_dir).runs()] == [r3.id]
    assert [r.id for r in tracker.Api(home / ".tracker").runs()] == [r1.id]
    assert Path(r3.dir).parent.parent == arg_dir


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000])
def test_store_dir_and_database_files_are_private(store_dir, umask):
    old = os.umask(umask)
    try:
        run = start(store_dir)
        run.log({"x": 1.0})
        run.finish()
        run_dir = run.dir
    finally:
        os.umask(old)
    assert mode(store_dir) == 0o700
    names = {p.name for p in store_dir.iterdir()}
    assert {"tracker.db", "tracker.db-wal", "tracker.db-shm"} <= names
    for name in ("tracker.db", "tracker.db-wal", "tracker.db-shm"):
        assert mode(store_dir / name) == 0o600, name
    assert mode(run_dir) == 0o700


# ------------------------------------------------------------------------------ captured facts
@pytest.fixture
def git_repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                        *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    git("checkout", "-q", "-b", "exp/trunk")
    (repo / "train.txt").write_text("v1\n")
    git("add", "train.txt")
    git("commit", "-q", "-m", "init")
    return repo


def head(repo: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


CAPTURE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    import tracker

    store = sys.argv[1]
    run = tracker.init(project="cap", dir=store)
    print(json.dumps({"id": run.id, "pid": os.getpid()}), flush=True)
    run.log({"loss": 1.0})
    if os.environ.get("WAIT_FOR_GIT"):
        deadline = time.time() + 15
        while time.time() < deadline and not tracker.Api(store).run(run.id).git["commit"]:
            time.sleep(0.02)
    {ending}
    """
)


def run_script(tmp_path: Path, cwd: Path, store: Path, ending: str, *args: str, env: dict | None = None):
    script = tmp_path / "train_script.py"
    script.write_text(CAPTURE_SCRIPT.replace("{ending}", ending))
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("TRACKER_") or k in ("TRACKER_SYSTEM", "TRACKER_CONSOLE")}
    full_env.update({"USER": "capture-user", "LOGNAME": "capture-user", **(env or {})})
    p = subprocess.run([sys.executable, str(script), str(store), *args], cwd=cwd, env=full_env,
                       capture_output=True, text=True, timeout=60)
    info = json.loads(p.stdout.splitlines()[0])
    return p, info


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_process_and_git_facts_are_captured(tmp_path, git_repo, store_dir, dirty):
    if dirty:
        (git_repo / "train.txt").write_text("v2, uncommitted\n")
    t0 = time.time()
    p, info = run_script(tmp_path, git_repo, store_dir, "run.finish()", "--lr", "0.1",
                         env={"WAIT_FOR_GIT": "1"})
    t1 = time.time()
    assert p.returncode == 0, p.stderr
    r = tracker.Api(store_dir).run(info["id"])
    assert r.host == socket.gethostname()
    assert r.user == "capture-user"
    assert r.pid == info["pid"]
    assert r.argv[1:] == [str(tmp_path / "train_script.py"), str(store_dir), "--lr", "0.1"]
    assert r.python == sys.version.split()[0]
    assert os.path.realpath(r.cwd) == os.path.realpath(git_repo)
    g = r.git
    assert {k: g[k] for k in ("commit", "branch", "dirty")} == {"commit": head(git_repo), "branch": "exp/trunk",
                                                                 "dirty": dirty}
    assert os.path.realpath(g["root"]) == os.path.realpath(git_repo)
    assert ("diff" in g) == dirty and (not dirty or "train.txt" in g["diff"])
    assert t0 - 1 <= r.created_at <= r.finished_at <= t1 + 1
    assert r.state == "finished" and r.exit_code == 0


def test_no_git_facts_outside_a_repository(tmp_path, store_dir):
    outside = tmp_path / "plain"
    outside.mkdir()
    p, info = run_script(tmp_path, outside, store_dir, "time.sleep(0.3); run.finish()",
                         env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    r = tracker.Api(store_dir).run(info["id"])
    assert r.git == {"commit": None, "branch": None, "dirty": None} and r.state == "finished"


def test_git_facts_are_captured_for_a_short_run(tmp_path, git_repo, store_dir):
    p, info = run_script(tmp_path, git_repo, store_dir, "run.finish()")
    assert p.returncode == 0, p.stderr
    r = tracker.Api(store_dir).run(info["id"])
    assert r.git["commit"] == head(git_repo)


@pytest.mark.parametrize(
    "ending, code, state",
    [
        ("pass", 0, "finished"),
        ("sys.exit(3)", 3, "failed"),
        ("raise RuntimeError('boom')", 1, "failed"),
        pytest.param("exit(3)", 3, "failed"),
    ],
    ids=["falls-off-the-end", "sys.exit-3", "exception", "builtin-exit-3"],
)
def test_exit_status_is_captured_without_finish(tmp_path, store_dir, ending, code, state):
    p, info = run_script(tmp_path, tmp_path, store_dir, ending)
    assert p.returncode == code, p.stderr
    r = tracker.Api(store_dir).run(info["id"])
    assert (r.state, r.exit_code) == (state, code)
    assert r.finished_at is not None
    assert strip_ts(r.history(pandas=False)) == [{"_step": 0, "loss": 1.0}]


def test_secret_looking_arguments_are_masked_in_the_recorded_command(tmp_path, store_dir):
    p, info = run_script(tmp_path, tmp_path, store_dir, "run.finish()",
                         "--api_key", "plain-secret-value-123", "--password=hunter2hunter2", "--lr=0.1")
    assert p.returncode == 0, p.stderr
    argv = tracker.Api(store_dir).run(info["id"]).argv
    joined = " ".join(argv)
    assert "plain-secret-value-123" not in joined and "hunter2hunter2" not in joined
    assert "--api_key" in argv and "--lr=0.1" in argv and any(a.startswith("--password=") for a in argv)


# ------------------------------------------------------------------------------ X4: hostile names
NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")
HOSTILE_NAMES = ["../../etc/x", "/abs", "a/../../b", "CON", "nul\x00x", "n" * 300, NFC, NFD]


def tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_hostile_project_and_run_names_are_stored_verbatim_and_never_used_as_paths(tmp_path, store_dir):
    before = tree(tmp_path)
    ids = {}
    for i, name in enumerate(HOSTILE_NAMES):
        run = tracker.init(project=name, name=name, dir=store_dir, capture_git=False)
        run.log({"x": float(i)})
        d = Path(run.dir)
        assert d == store_dir / "runs" / run.id
        assert d.resolve().is_relative_to(store_dir.resolve())
        run.finish()
        ids[run.id] = name

    new = tree(tmp_path) - before
    assert all(p.is_relative_to(store_dir) for p in new), sorted(map(str, new))
    assert {p.name for p in (store_dir / "runs").iterdir()} == set(ids)

    api = tracker.Api(store_dir)
    for r in api.runs():
        assert r.name == ids[r.id] and r.project == ids[r.id]
    assert sorted(api.projects()) == sorted(HOSTILE_NAMES)  # NFC and NFD are two projects, verbatim
    for name in HOSTILE_NAMES:
        assert [r.name for r in api.runs(project=name)] == [name]


@pytest.mark.parametrize("kind", ["relative", "absolute"])
def test_a_user_supplied_run_id_cannot_escape_the_store(tmp_path, store_dir, kind):
    bad_id = "../../escaped-run" if kind == "relative" else str(tmp_path / "escaped-abs")
    before = tree(tmp_path)
    try:
        run = tracker.init(project="x4", id=bad_id, resume="allow", dir=store_dir, capture_git=False)
    except ValueError:
        return  # refusing such an id is fine too
    d = Path(run.dir)
    run.finish()
    assert d.resolve().is_relative_to(store_dir.resolve())
    new = tree(tmp_path) - before
    assert all(p.is_relative_to(store_dir) for p in new), sorted(map(str, new))


def test_git_remote_is_kept_without_credentials_and_diff_is_capped(tmp_path, git_repo, store_dir, monkeypatch):
    from tracker import _env

    subprocess.run(["git", "remote", "add", "origin", "https://alice:ghp_secret123@github.com/org/repo.git"],
                   cwd=git_repo, check=True)
    (git_repo / "train.txt").write_text("v2\n" + "x" * 5000 + "\n")
    monkeypatch.setattr(_env, "MAX_DIFF_BYTES", 1000)
    info = _env.git_info(str(git_repo))
    assert info["git_remote"] == "https://github.com/org/repo.git"
    assert "ghp_secret123" not in repr(info)
    assert "[diff truncated:" in info["git_diff"] and len(info["git_diff"]) < 1200
    assert _env.strip_credentials("git@github.com:org/repo.git") == "git@github.com:org/repo.git"


def test_rank_zero_only_makes_other_ranks_no_ops(store_dir, monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "8")
    quiet = tracker.init(project="ddp", dir=store_dir, rank_zero_only=True, config={"lr": 1})
    quiet.log({"loss": 1.0})
    quiet.alert("x")
    quiet.summary["best"] = 1
    quiet.finish()
    assert not (store_dir / "tracker.db").exists()  # nothing opened, nothing written
    monkeypatch.setenv("RANK", "0")
    run = tracker.init(project="ddp", dir=store_dir, rank_zero_only=True, capture_git=False)
    run.log({"loss": 1.0})
    run.finish()
    r = tracker.Api(store_dir).run(run.id)
    assert (r.rank, r.world_size) == (0, 8)
    assert [h["loss"] for h in r.history(pandas=False)] == [1.0]
