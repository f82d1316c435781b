"""The house's shape, kept (issue 8): small modules, short functions, few modules at tui/'s root,
and store errors matched only inside store/. A change that breaks one of these says which file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("logger", "store", "tui")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_module_is_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in sources() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_over_80_lines():
    long = {}
    for p in sources():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{p.relative_to(ROOT)}:{node.lineno} {node.name}"] = n
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_tui_root_holds_at_most_ten_modules_the_rest_in_sub_packages():
    root = sorted(p.name for p in (ROOT / "tui").glob("*.py"))
    assert len(root) <= 10, root
    for pkg in ("screens", "widgets", "filter", "charts", "parcoords", "cli"):
        assert (ROOT / "tui" / pkg / "__init__.py").exists(), pkg


def test_only_the_store_reads_sqlite_error_messages():
    """Busy/locked detection lives in store/errors.py; everything else catches StoreBusy/StoreError."""
    pattern = re.compile(r"""["'](database is locked|locked|busy)["']\s+in\b""")
    offenders = [str(p.relative_to(ROOT)) for p in sources()
                 if not p.is_relative_to(ROOT / "store") and pattern.search(p.read_text())]
    assert not offenders, offenders
