"""What users install: ``import tracker`` stays light, and the wheel holds exactly one top-level
package, ``tracker``, that works without the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("textual", "rich", "plotext", "watchdog", "numpy", "torch", "sqlite_utils", "yaml", "PIL", "psycopg")


def test_logging_does_not_import_heavy_modules(tmp_path):
    code = textwrap.dedent(
        f"""
        import json, sys
        import tracker
        run = tracker.init(project="p", config={{"lr": 0.1, "nested": {{"a": [1, 2]}}}}, dir=sys.argv[1])
        for i in range(20):
            run.log({{"loss": 1.0 / (i + 1), "acc": i / 20, "ok": True}})
        run.summary["best"] = 0.5
        run.finish()
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        print(json.dumps(heavy))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "store")], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[-1]) == []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the source tree (the build must not write into the repo)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".venv"))
    out = base / "dist"
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(out)],
                       cwd=src, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    (whl,) = out.glob("*.whl")
    return whl


@pytest.mark.slow
def test_wheel_contains_only_the_tracker_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top - dist_info == {"tracker"}, sorted(top)
    for required in ("tracker/__init__.py", "tracker/_run.py", "tracker/api.py", "tracker/store/__init__.py",
                     "tracker/store/schema.py", "tracker/tui/__init__.py",
                     "tracker/tui/app.tcss", "tracker/tui/cli/__main__.py"):
        assert required in names, required
    for forbidden in ("logger/", "store/", "tui/", "tests/", "bench/", "examples/"):
        assert not any(n.startswith(forbidden) for n in names), forbidden
    (di,) = dist_info
    zf = zipfile.ZipFile(wheel)
    assert zf.read(f"{di}/top_level.txt").decode().split() == ["tracker"]
    # every console script points at a module that is in the wheel
    if f"{di}/entry_points.txt" in names:
        for line in zf.read(f"{di}/entry_points.txt").decode().splitlines():
            if "=" in line:
                module = line.split("=", 1)[1].strip().split(":")[0]
                path = module.replace(".", "/")
                assert path + ".py" in names or path + "/__init__.py" in names, line


@pytest.mark.slow
def test_installed_wheel_logs_and_reads_without_the_source_tree(wheel, tmp_path):
    target = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                        str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    code = textwrap.dedent(
        """
        import sys
        import tracker
        assert tracker.__file__.startswith(sys.argv[2]), tracker.__file__
        run = tracker.init(project="w", dir=sys.argv[1], capture_git=False)
        run.log({"loss": 0.5})
        run.finish()
        (r,) = tracker.Api(sys.argv[1]).runs()
        print(r.id == run.id, r.history(pandas=False)[0]["loss"])
        """
    )
    # -S: no site-packages, so neither the editable install nor the repo can satisfy the import
    env = {"PYTHONPATH": str(target), "PATH": os.environ.get("PATH", "")}
    p = subprocess.run([sys.executable, "-S", "-c", code, str(tmp_path / "store"), str(target)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "0.5"]
