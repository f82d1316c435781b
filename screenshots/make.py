"""Regenerate screenshots/*.svg from a seeded demo store: `python screenshots/make.py`.

Each picture is the real command's output rendered by Rich, at 100 columns.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def seed(store: str) -> None:
    rng = random.Random(7)
    for lr in (1e-3, 3e-4, 1e-4):
        for bs in (64, 256):
            opt = rng.choice(["adamw", "sgd"])
            subprocess.run(
                [sys.executable, str(ROOT / "examples" / "train.py"), "--store", store, "--lr", str(lr),
                 "--batch-size", str(bs), "--optimizer", opt, "--steps", "300", "--step-time", "0"],
                check=True, stdout=subprocess.DEVNULL,
            )


def main() -> None:
    from rich.console import Console

    from tracker.api import Api
    from tracker.tui.cli import ls_rows, rich_table

    with tempfile.TemporaryDirectory() as store:
        seed(store)
        runs = Api(store).runs()
        header, rows = ls_rows(runs)
        console = Console(record=True, width=100, file=open("/dev/null", "w"))
        console.print("$ tracker-tui ls", style="bold")
        console.print(rich_table(header, rows))
        out = HERE / "ls.svg"
        console.save_svg(str(out), title="tracker-tui ls")
        print(f"wrote {out} ({time.strftime('%Y-%m-%d')})")


if __name__ == "__main__":
    main()
