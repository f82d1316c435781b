"""Damaged binary sources never crash a reader: random byte flips, truncations and garbage in
copies of the real wandb and TensorBoard files end in records read, records skipped with a
reason, or one clear SourceError — never another exception (fixed seed, so a failure repeats)."""

from __future__ import annotations

import random

import pytest
from import_helpers import fixture

from tracker.store.importers import SourceError, find_sources

CASES = {"wandb": "wandb/offline-run-*/run-*.wandb", "tensorboard": "logs/*/events.out.tfevents.*"}


@pytest.mark.parametrize("fmt", list(CASES))
def test_random_damage_is_read_around_or_reported(tmp_path, fmt):
    folder = fixture(tmp_path, fmt)
    files = sorted(folder.glob(CASES[fmt]))
    originals = {f: f.read_bytes() for f in files}
    rng = random.Random(14)
    outcomes = {"read": 0, "skipped": 0, "error": 0}
    for trial in range(150):
        for f, data in originals.items():
            b = bytearray(data)
            kind = trial % 3
            if kind == 0:
                for _ in range(rng.randint(1, 4)):
                    b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            elif kind == 1:
                del b[rng.randrange(len(b)):]
            else:
                at = rng.randrange(len(b))
                b[at:at] = rng.randbytes(rng.randint(1, 64))
            f.write_bytes(bytes(b))
        try:
            sources = find_sources(folder, fmt)
        except SourceError:
            outcomes["error"] += 1
            continue
        for src in sources:
            try:
                updates = list(src.read(None))
            except SourceError:
                outcomes["error"] += 1
                continue
            outcomes["skipped" if any(u.skipped for u in updates) else "read"] += 1
    assert sum(outcomes.values()) >= 150 and outcomes["skipped"] > 0, outcomes
