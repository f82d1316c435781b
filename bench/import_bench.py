"""Import speed: a 1M-point TensorBoard event file and a 1M-point wandb offline run.

Both files are written here by small writers of the two formats (no vendor package needed):
the tfevents file as PyTorch's SummaryWriter writes scalars (one ``simple_value`` Event per
point, TFRecord-framed with masked CRC-32C); the wandb run as wandb-core writes history (one
``Record`` per step with ``_step``, ``_timestamp``, ``_runtime`` and the metrics as
``value_json``, in 32 KiB blocks of CRC-32 chunks). Each is imported into a fresh store with
``tracker.store.importers`` (what ``tracker-tui import`` runs) and timed; a re-import of the
unchanged file is timed too (it must add nothing). When TensorBoard is importable, its own
``EventAccumulator`` reads the same file in the same run for comparison (it keeps only a sample
of each series by default; here ``size_guidance={"scalars": 0}`` keeps every point).

The store's own batch writer (``Store.append``) is timed on the same points too, as one point per
entry (the tfevents shape) and one step of all keys per entry (the wandb shape): the ceiling
for an importer that writes through it.

Target (issue 14): at least 200k points/s. Wall-clock and CPU time are both reported: on a shared
machine the wall figure includes time the importer waited for a core.

Usage: python bench/import_bench.py [--points 1000000] [--keys 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

from tracker.store import Store
from tracker.store.importers import Importer, find_sources, tfrecord, wandb_log

TARGET = 200_000


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(num: int, payload: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def write_tfevents(path: Path, points: int, keys: int) -> None:
    t0 = time.time()
    chunks = []
    with open(path, "wb") as f:
        for i in range(points):
            step, k = divmod(i, keys)
            value = math.sin(i / 1000) if i % 100_003 else math.nan
            val = field(1, f"train/metric_{k}".encode()) + b"\x15" + struct.pack("<f", value)
            ev = b"\x09" + struct.pack("<d", t0 + step * 0.01) + b"\x10" + varint(step) + field(5, field(1, val))
            chunks.append(tfrecord.encode(ev))
            if len(chunks) == 10_000:
                f.write(b"".join(chunks))
                chunks = []
        f.write(b"".join(chunks))


def write_wandb(path: Path, points: int, keys: int) -> None:
    t0 = time.time()
    run = field(17, field(1, b"bench1") + field(3, b"bench") + field(8, b"bench-run"))
    recs = [run]
    names = [f"train/metric_{k}".encode() for k in range(keys)]
    for step in range(points // keys):
        items = [field(1, field(2, b"_step") + field(16, str(step).encode())),
                 field(1, field(2, b"_timestamp") + field(16, repr(t0 + step * 0.01).encode())),
                 field(1, field(2, b"_runtime") + field(16, repr(step * 0.01).encode()))]
        for k, name in enumerate(names):
            i = step * keys + k
            v = "NaN" if i % 100_003 == 0 else repr(math.sin(i / 1000))
            items.append(field(1, field(2, name) + field(16, v.encode())))
        recs.append(field(2, b"".join(items) + field(2, (b"\x08" + varint(step)) if step else b"")))
    recs.append(field(18, b"\x08\x00"))
    with open(path, "wb") as f:
        f.write(wandb_log.HEADER + b"\x00")
        f.write(wandb_log.encode(recs))


def timed_import(store_dir: Path, path: Path) -> tuple[int, float, float, float]:
    shutil.rmtree(store_dir, ignore_errors=True)
    store = Store(store_dir)
    try:
        imp = Importer(store)
        (src,) = find_sources(path)
        t = time.perf_counter()
        c = time.process_time()
        r = imp.run(src)
        first = time.perf_counter() - t
        cpu = time.process_time() - c
        if r.error:
            raise SystemExit(f"import failed: {r.error}")
        t = time.perf_counter()
        again = imp.run(src)
        second = time.perf_counter() - t
        if again.points:
            raise SystemExit("re-import added points")
        return r.points, first, second, cpu
    finally:
        store.close()


def store_ceiling(store_dir: Path, points: int, keys: int, per_entry: int) -> float:
    """Points per CPU second of ``Store.append`` alone for the same points (entries of
    ``per_entry`` points, 50k points per call): the most any importer writing through the
    store's batch writer can reach."""
    shutil.rmtree(store_dir, ignore_errors=True)
    store = Store(store_dir)
    try:
        rid, _, _ = store.create_run(id=None, project="bench", name="ceiling", group=None, job_type=None, tags=[],
                                     notes=None, config_json="{}", host=None, pid=None, pid_start=None, user=None,
                                     argv=[], python=None, cwd=None, meta={})
        t0 = time.time()
        if per_entry == 1:
            tuples = [(f"train/metric_{k}",) for k in range(keys)]
            entries = [(rid, i // keys, t0 + i, tuples[i % keys], (math.sin(i / 1000),)) for i in range(points)]
            entries.sort(key=lambda e: id(e[3]))  # as the importer groups them
        else:
            names = tuple(f"train/metric_{k}" for k in range(keys))
            entries = [(rid, s, t0 + s, names, tuple(math.sin((s * keys + k) / 1000) for k in range(keys)))
                       for s in range(points // keys)]
        step = max(1, 50_000 // per_entry)
        c = time.process_time()
        for i in range(0, len(entries), step):
            store.append(entries[i:i + step])
        return points / (time.process_time() - c)
    finally:
        store.close()


def vendor_tensorboard(path: Path) -> tuple[int, float] | None:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return None
    t = time.perf_counter()
    ea = EventAccumulator(str(path), size_guidance={"scalars": 0})
    ea.Reload()
    n = sum(len(ea.Scalars(tag)) for tag in ea.Tags()["scalars"])
    return n, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--keys", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    out: dict[str, object] = {"points": args.points, "keys": args.keys, "target_points_s": TARGET}
    try:
        tb = work / "logs" / "run"
        tb.mkdir(parents=True)
        tb_file = tb / "events.out.tfevents.1.bench"
        t = time.perf_counter()
        write_tfevents(tb_file, args.points, args.keys)
        out["tfevents_write_s"] = round(time.perf_counter() - t, 2)
        out["tfevents_mb"] = round(tb_file.stat().st_size / 2**20, 1)
        n, first, again, cpu = timed_import(work / "store-tb", tb_file)
        out.update(tfevents_points=n, tfevents_import_s=round(first, 2), tfevents_points_s=round(n / first),
                   tfevents_cpu_s=round(cpu, 2), tfevents_points_per_cpu_s=round(n / cpu),
                   tfevents_reimport_s=round(again, 3))
        vendor = vendor_tensorboard(tb)
        if vendor is None:
            out["tensorboard_event_accumulator"] = "not installed"
        else:
            out.update(event_accumulator_points=vendor[0], event_accumulator_s=round(vendor[1], 2),
                       event_accumulator_points_s=round(vendor[0] / vendor[1]))
        wb = work / "wandb" / "offline-run-20260101_000000-bench1"
        wb.mkdir(parents=True)
        wb_file = wb / "run-bench1.wandb"
        t = time.perf_counter()
        write_wandb(wb_file, args.points, args.keys)
        out["wandb_write_s"] = round(time.perf_counter() - t, 2)
        out["wandb_mb"] = round(wb_file.stat().st_size / 2**20, 1)
        n, first, again, cpu = timed_import(work / "store-wb", wb_file)
        out.update(wandb_points=n, wandb_import_s=round(first, 2), wandb_points_s=round(n / first),
                   wandb_cpu_s=round(cpu, 2), wandb_points_per_cpu_s=round(n / cpu),
                   wandb_reimport_s=round(again, 3))
        out["vendor_wandb_reader"] = "none compared (wandb has no public offline-file reader to time)"
        out["store_append_points_per_cpu_s_1_per_entry"] = round(store_ceiling(work / "ceil1", args.points, args.keys, 1))
        out["store_append_points_per_cpu_s_5_per_entry"] = round(
            store_ceiling(work / "ceil5", args.points, args.keys, args.keys))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["cpu_count"] = os.cpu_count()
    if args.json:
        print(json.dumps(out))
        return
    for k, v in out.items():
        print(f"{k:44} {v:,}" if isinstance(v, (int, float)) else f"{k:44} {v}")
    for fmt in ("tfevents", "wandb"):
        rate, cpu_rate = out[f"{fmt}_points_s"], out[f"{fmt}_points_per_cpu_s"]
        assert isinstance(rate, int) and isinstance(cpu_rate, int)
        print(f"{fmt}: {rate:,} points/s wall ({cpu_rate:,} per CPU second) = {rate / TARGET:.2f}x the "
              f"{TARGET:,} points/s target")


if __name__ == "__main__":
    sys.exit(main())
