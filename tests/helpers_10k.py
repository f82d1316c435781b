"""A store of many runs, made fast for the 10,000-run tests (issue 19): runs go in through
``Store.create_run`` and ``Store.append`` (the writer thread's own calls) in one transaction per
batch, a few steps each — what ``tracker.init``/``log`` would write, without per-call overhead."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tracker.store import Store

OPTIMIZERS = ("adam", "adamw", "sgd")


def config_of(i: int, pad: int = 0) -> dict[str, Any]:
    """Run ``i``'s config: ``lr`` falls with ``i``; ``pad`` adds that many bytes of text."""
    cfg: dict[str, Any] = {"lr": 10 ** (-2 - 3 * (i % 1000) / 1000), "batch_size": (32, 64, 128)[i % 3],
                           "optimizer": OPTIMIZERS[i % 3], "model": {"width": 64 * (1 + i % 4)}, "seed": i}
    if pad:
        cfg["notes"] = "x" * pad
    return cfg


def fill(dir: Path, n: int, *, project: str = "big", steps: int = 3, pad: int = 0, start: int = 0,
         base: float = 1_700_000_000.0) -> Path:
    """Add ``n`` finished runs ``run-<i>`` (``i`` from ``start``) to the store in ``dir``, each
    logging ``loss`` (falling with ``i``: run-0 worst) and ``acc`` for ``steps`` steps; every 50th
    run failed. Created one second apart, in order."""
    store = Store(dir)
    try:
        store.conn.execute("PRAGMA synchronous = OFF")
        keys = ("loss", "acc")
        entries: list[tuple[Any, ...]] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        for i in range(start, start + n):
            created = base + i
            rid, _, _ = store.create_run(
                id=None, project=project, name=f"run-{i}", group=None, job_type="train", tags=["t"], notes=None,
                config_json=json.dumps(config_of(i, pad)), host="h", pid=None, pid_start=None, user="u", argv=[],
                python="3.11", cwd="/", meta={}, now=created,
            )
            for s in range(steps):
                loss = 1.0 / (1 + i) + math.exp(-s) * 0.01
                entries.append((rid, s, created + s * 0.01, keys, (loss, 1.0 - loss)))
            failed = i % 50 == 49
            updates.append((rid, {"state": "failed" if failed else "finished", "exit_code": 1 if failed else 0,
                                  "finished_at": created + 0.5}))
            if len(entries) >= 20_000:
                store.append(entries, updates=updates, now=created + 0.5)
                entries, updates = [], []
        store.append(entries, updates=updates, now=base + start + n)
    finally:
        store.close()
    return dir
