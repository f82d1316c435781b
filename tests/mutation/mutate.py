"""`make mutate`: mutation testing (mutmut 3) of the modules whose bugs would corrupt data or mislead a reader.

mutmut 3 copies the source tree into ``mutants/``, rewrites every function into a trampoline that
runs the original or one mutant, and imports the package from there. Our folders (logger/, store/,
tui/) install as one package ``tracker`` (``tracker.store``, ``tracker.tui``), which mutmut cannot
map, so this driver builds that shape per module as a workspace::

    build/mutate/<module>/tracker/        copy of logger/  (+ store/ -> tracker/store, tui/ -> tracker/tui)
    build/mutate/<module>/tests/          copy of tests/
    build/mutate/<module>/pyproject.toml  ours + a [tool.mutmut] section for this module

and runs ``mutmut run`` there. mutmut puts ``build/mutate/<module>/mutants`` first on sys.path (the
editable install's finder comes after every sys.path entry), and PYTHONPATH names it too, so the
tests' child processes import the mutated copy as well. Each module is tested with the test files
that cover it (``TESTS`` below); mutmut then runs, per mutant, only the tests that called the
mutated function.

    python tests/mutation/mutate.py                      # every module in TESTS, one after another
    python tests/mutation/mutate.py store/keys.py        # one module (several may be named)
    python tests/mutation/mutate.py --list               # the modules and their tests
    python tests/mutation/mutate.py --show store/keys.py # the surviving mutants' diffs of a finished run
    python tests/mutation/mutate.py --retest store/keys.py  # its survivors again, with the tests as they are now

Not run in CI (minutes to an hour per module); tests/MUTATION.md holds the last results and why
each remaining survivor is equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "mutate"
#: where each source folder sits in the installed package
PACKAGE_DIRS = {"logger": "tracker", "store": "tracker/store", "tui": "tracker/tui"}

_STORE = ["tests/test_store_reads.py", "tests/test_store_errors.py", "tests/test_store_sql.py",
          "tests/test_store_system_keys.py", "tests/test_store_dir_mode.py", "tests/test_schema.py",
          "tests/test_mutation_kills_store.py"]
_FILTER = ["tests/test_filter.py", "tests/test_mutation_kills_filter.py",
           "tests/test_gaps.py::test_random_filters_select_exactly_what_a_brute_force_evaluator_selects",
           "tests/test_gaps.py::test_each_alternative_of_a_long_or_can_select_a_run"]
#: module (as a path in this repository) -> the tests that cover it (files or pytest node ids)
TESTS: dict[str, list[str]] = {
    "tui/text.py": ["tests/test_mutation_kills_text.py", "tests/test_parcoords.py"],
    "store/keys.py": ["tests/test_store_system_keys.py", "tests/test_store_sql.py",
                      "tests/test_mutation_kills_store.py"],
    "store/lookup.py": _FILTER + ["tests/test_mutation_kills_store.py"],
    "store/ids.py": ["tests/test_mutation_kills_store.py"],
    "store/sql.py": ["tests/test_store_sql.py", "tests/test_mutation_kills_store.py"],
    "store/models.py": _STORE,
    "store/liveness.py": _STORE + ["tests/test_mutation_kills_liveness.py"],
    "store/errors.py": _STORE + ["tests/test_mutation_kills_errors.py"],
    "store/fs.py": _STORE + ["tests/test_mutation_kills_fs.py",
                             "tests/test_gaps.py::test_mountinfo_parser_picks_the_longest_mount_holding_the_path",
                             "tests/test_gaps.py::test_mountinfo_parser_reads_this_machines_root"],
    "store/watch.py": ["tests/test_watch_fallbacks.py", "tests/test_live.py"],
    "store/schema.py": _STORE,
    "store/append.py": _STORE + ["tests/test_api.py", "tests/test_values.py"],
    "store/reads.py": _STORE + ["tests/test_api.py"],
    "store/__init__.py": _STORE + ["tests/test_api.py"],
    "tui/filter/evaluator.py": _FILTER,
    "tui/filter/lexer.py": _FILTER,
    "tui/filter/parser.py": _FILTER,
    "tui/filter/values.py": _FILTER,
    "tui/filter/fuzzy.py": _FILTER,
    "tui/filter/writer.py": _FILTER,
    "logger/_values.py": ["tests/test_values.py", "tests/test_mutation_kills_values.py"],
    "logger/_writer.py": ["tests/test_concurrency.py", "tests/test_live.py", "tests/test_gaps.py",
                          "tests/test_api.py"],
}
#: Left out of every run (``--deselect``). Tests that time code against a bound: trampolines make every call slower, so they would fail the
#: clean run (or "kill" mutants for being slow, not wrong). Their behaviour is covered elsewhere.
TIMED = ["tests/test_filter.py::test_evaluating_1000_runs_is_fast",
         "tests/test_filter.py::test_fuzzy_score_on_pastes_stays_quick",
         "tests/test_values.py::test_a_20_mb_config_with_50k_keys_does_not_stall_init",
         "tests/test_parcoords.py::test_render_speed_1000_runs_6_axes",
         "tests/test_concurrency.py::test_c2_log_returns_fast_and_nothing_lost_while_locked",
         "tests/test_live.py::test_update_storm_is_coalesced_and_converges",
         # checks the warning's stacklevel: trampolines add frames, so it points into mutmut
         "tests/test_values.py::test_warnings_point_at_the_users_log_call",
         # reads store/*.py and logger/*.py as files, which the workspace holds under tracker/
         "tests/test_concurrency.py::test_c3_every_write_transaction_uses_begin_immediate_static",
         # passes alone, but hangs 60 s when run a second time in one process, as mutmut does (its
         # stats run, then its clean run, then forks every mutant from that process)
         "tests/test_store_errors.py::test_the_logger_rides_out_a_busy_store_and_loses_nothing"]
#: mutmut's names for results, by its exit codes (mutmut/stats.py)
STATUS = {0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", 37: "type check"}


def slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", "_")


def package_path(module: str) -> str:
    """``store/keys.py`` -> ``tracker/store/keys.py`` (its path in the workspace)."""
    top, _, rest = module.partition("/")
    return f"{PACKAGE_DIRS[top]}/{rest}"


#: decorators mutmut handles itself or that only work as decorators
_KEEP_DECORATORS = {"staticmethod", "classmethod", "property", "dataclass"}
#: memoising decorators, dropped: a cache filled by mutmut's clean run (in the process its workers
#: fork from) would hand every mutant the original's results
_DROP_DECORATORS = {"lru_cache", "cache"}


def undecorate(source: str) -> str:
    """``@d`` on a function becomes ``f = d(f)`` right after it (same object, same behaviour);
    ``@lru_cache`` is dropped (same results, only slower).

    mutmut 3 leaves every decorated function unmutated (it cannot copy one safely in general);
    the store's methods are nearly all ``@translated`` and the lookups ``@lru_cache``d, so without
    this most of store/reads.py would never be mutated. Applied only to the module under test, in
    the workspace copy.
    """
    import libcst as cst

    class Undecorate(cst.CSTTransformer):
        def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef):  # type: ignore[no-untyped-def]
            names = [cst.Module([]).code_for_node(d.decorator).split("(")[0] for d in updated.decorators]
            if not names or any(n.split(".")[-1] in _KEEP_DECORATORS or "." in n and n.endswith(("setter", "deleter"))
                                for n in names):
                return updated
            wrapped: cst.BaseExpression = updated.name
            kept = [d for d, n in zip(updated.decorators, names) if n.split(".")[-1] not in _DROP_DECORATORS]
            if not kept:
                return updated.with_changes(decorators=[])
            for d in reversed(kept):
                wrapped = cst.Call(func=d.decorator, args=[cst.Arg(wrapped)])
            assign = cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(updated.name)], wrapped)])
            return cst.FlattenSentinel([updated.with_changes(decorators=[]), assign])

    return cst.parse_module(source).visit(Undecorate()).code


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def build_workspace(module: str, tests: list[str]) -> Path:
    """A fresh ``build/mutate/<module>`` in the installed package's shape, configured for this module."""
    ws = WORK / slug(module)
    shutil.rmtree(ws, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder, dest in PACKAGE_DIRS.items():
        target = ws / dest
        target.mkdir(parents=True, exist_ok=True)
        for item in (ROOT / folder).iterdir():
            if item.name == "__pycache__":
                continue
            if item.is_dir():
                shutil.copytree(item, target / item.name, ignore=ignore)
            else:
                shutil.copy2(item, target / item.name)
    target = ws / package_path(module)
    target.write_text(undecorate(target.read_text()))
    shutil.copytree(ROOT / "tests", ws / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "mutation"))
    shutil.copy2(ROOT / "README.md", ws / "README.md")  # tests/test_store_sql.py runs the README's commands
    config = (ROOT / "pyproject.toml").read_text()
    config += f"""
[tool.mutmut]
source_paths = ["tracker"]
only_mutate = [{json.dumps(package_path(module))}]
also_copy = ["README.md"]
pytest_add_cli_args = {_toml_list(["-p", "no:cacheprovider", "--timeout=120"] + [a for t in TIMED for a in ("--deselect", t)])}
pytest_add_cli_args_test_selection = {_toml_list(tests)}
use_git_change_detection = false
# stats, the clean run and every mutant each in a fresh fork of a process that has run no test:
# the logger keeps per-process state (warn-once sets, the current run) a second run would trip on
process_isolation = "forkserver"
"""
    (ws / "pyproject.toml").write_text(config)
    # The tests' child processes run the mutant under test too, but never record mutmut's stats:
    # recording needs mutmut's config, which a child started in another directory cannot find.
    (ws / "child").mkdir()
    (ws / "child" / "sitecustomize.py").write_text(
        "import os\nif os.environ.get('MUTANT_UNDER_TEST') == 'stats':\n    os.environ['MUTANT_UNDER_TEST'] = ''\n")
    # exists before Python starts, so PYTHONPATH's entry for it is not cached as missing
    (ws / "mutants").mkdir()
    return ws


def run_module(module: str, jobs: int) -> dict[str, object]:
    tests = TESTS[module]
    missing = [t for t in tests if not (ROOT / t.split("::")[0]).exists()]
    if missing:
        raise SystemExit(f"mutate: {module}: test files not found: {missing}")
    ws = build_workspace(module, tests)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ws / "mutants"), str(ws / "child")]))
    print(f"mutate: {module} with {len(tests)} test files in {ws.relative_to(ROOT)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)], cwd=ws, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"mutate: mutmut failed on {module} (exit {proc.returncode}); see the output above")
    summary = summarize(module)
    (ws / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def summarize(module: str) -> dict[str, object]:
    """Counts per status and the surviving mutants' names, from mutmut's per-file results."""
    ws = WORK / slug(module)
    meta = ws / "mutants" / (package_path(module) + ".meta")
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    counts: dict[str, int] = {}
    not_killed = []
    for name, code in sorted(codes.items()):
        status = "not checked" if code is None else STATUS.get(code, "suspicious")
        counts[status] = counts.get(status, 0) + 1
        if status not in ("killed", "timeout", "type check"):
            not_killed.append(f"{name} ({status})")
    return {"module": module, "mutants": len(codes), "counts": counts, "not_killed": not_killed}


def retest(module: str, jobs: int) -> dict[str, object]:
    """Test the last run's surviving mutants again, against the current tests (after adding tests
    that should kill them); the other results stand."""
    ws = WORK / slug(module)
    for dest in (ws / "tests", ws / "mutants" / "tests"):
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(ROOT / "tests", dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "mutation"))
    names = [e.split(" ")[0] for e in summarize(module)["not_killed"]]  # type: ignore[attr-defined]
    if names:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ws / "mutants"), str(ws / "child")]))
        cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *names]
        if subprocess.run(cmd, cwd=ws, env=env).returncode != 0:
            raise SystemExit(f"mutate: mutmut failed retesting {module}; see the output above")
    summary = summarize(module)
    (ws / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def show(module: str) -> None:
    """Print each surviving mutant's diff (``mutmut show``) of the last run of ``module``."""
    ws = WORK / slug(module)
    summary = summarize(module)
    env = dict(os.environ, PYTHONPATH=str(ws / "mutants"))
    for entry in summary["not_killed"]:  # type: ignore[attr-defined]
        name = entry.split(" ")[0]
        print(f"# {entry}", flush=True)
        subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=ws, env=env, check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help="modules as paths in this repository (default: all in scope)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    ap.add_argument("--list", action="store_true", help="print the modules in scope and their tests")
    ap.add_argument("--show", action="store_true", help="print the survivors' diffs of the last run")
    ap.add_argument("--retest", action="store_true", help="test the last run's survivors again with the current tests")
    args = ap.parse_args(argv)
    modules = args.modules or list(TESTS)
    unknown = [m for m in modules if m not in TESTS]
    if unknown:
        ap.error(f"not in scope: {unknown}; --list shows the modules")
    if args.list:
        for m in modules:
            print(m, " ".join(TESTS[m]))
        return 0
    if args.show:
        for m in modules:
            show(m)
        return 0
    results, failed = [], []
    for m in modules:
        try:
            results.append(retest(m, args.jobs) if args.retest else run_module(m, args.jobs))
        except SystemExit as e:  # one module's failure (reported above) does not stop the others
            print(e, file=sys.stderr, flush=True)
            failed.append(m)
    print("\nmodule                        mutants  killed  not killed")
    for r in results:
        counts: dict[str, int] = r["counts"]  # type: ignore[assignment]
        killed = counts.get("killed", 0) + counts.get("timeout", 0) + counts.get("type check", 0)
        total: int = r["mutants"]  # type: ignore[assignment]
        left = total - killed
        print(f"{r['module']:<30}{total:>7}{killed:>8}{left:>12}")
        for name in r["not_killed"]:  # type: ignore[attr-defined]
            print(f"    {name}")
    if failed:
        print(f"mutate: not finished: {' '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
