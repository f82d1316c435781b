"""Importers: other trackers' runs brought into the store (``tracker-tui import``).

One module per format reads its files with the standard library (and PyYAML) only — no vendor
package is ever imported — and yields :class:`~.core.Update` pieces; :mod:`.core` writes them
through the store's batch writer, idempotently (see its docstring).

:func:`find_sources` walks the paths it is given and picks each format by what is on disk (or
takes the one named).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from . import mlflow, tensorboard, trackio, wandb
from .core import Importer, Result, Source, SourceError, Update, import_all, stable_run_id

__all__ = [
    "FORMATS", "Importer", "Result", "Source", "SourceError", "Update", "find_sources", "import_all",
    "stable_run_id",
]

#: Readers by format name, in detection order.
READERS: dict[str, ModuleType] = {
    "wandb": wandb, "mlflow": mlflow, "trackio": trackio, "tensorboard": tensorboard,
}
FORMATS = tuple(READERS)


def _detect(path: Path, fmt: str | None) -> str | None:
    for name, mod in READERS.items():
        if (fmt is None or fmt == name) and mod.detect(path):
            return name
    return None


def find_sources(path: str | os.PathLike[str], fmt: str | None = None,
                 on_error: Callable[[str], None] | None = None) -> list[Source]:
    """Every importable run at or under ``path`` (of format ``fmt``, or any).

    A folder that one format claims (an ``mlruns`` store, a wandb run folder) is not searched
    further. Folders that cannot be listed are reported through ``on_error`` and skipped.
    Raises :class:`SourceError` when ``path`` does not exist or nothing at all is found there.
    """
    root = Path(path)
    if not root.exists():
        raise SourceError(f"{path}: no such file or directory")
    out: list[Source] = []
    detected = False
    stack = [root]
    while stack:
        p = stack.pop()
        dirs_only = False
        found = _detect(p, fmt)
        if found is not None:
            detected = True
            try:
                out += READERS[found].sources(p, root) if found == "tensorboard" else READERS[found].sources(p)
            except SourceError as e:
                if on_error:
                    on_error(str(e))
            if found != "tensorboard" or p.is_file():
                continue
            dirs_only = True  # a TensorBoard run folder: its event files are read; runs may nest below
        if p.is_dir():
            try:
                children = sorted(p.iterdir(), reverse=True)
            except OSError as e:
                if on_error:
                    on_error(f"{p}: {e.strerror or e}")
                continue
            # Links below the root are not followed: no loops, and no second copy of a run
            # through wandb's latest-run link.
            stack += [c for c in children if c.name != ".trash" and not c.is_symlink()
                      and not (dirs_only and not c.is_dir())]
    if not detected:
        looked = fmt or ", ".join(FORMATS)
        raise SourceError(f"{path}: found nothing to import here (looked for {looked})")
    return out
