"""What artifacts cost.

1. Ingest of one big file (``add_file`` + ``log_artifact`` + ``wait``: SHA-256 while copying,
   fsync, rename) versus ``cp`` of the same file to the same filesystem; ratio printed (target
   <= 1.3x). Both read a file already in the page cache.
2. ``log_artifact`` of a directory of many small files (default 10,000 x 1 kB): seconds, and
   the re-log of the unchanged directory (resolves to the same version, stores nothing).
3. ``log()`` while a big artifact ingests in the background (``policy="immutable"``: the copy
   runs on the artifact thread): the longest and the 99.9th percentile ``log()`` call, and the
   same figures for a run with no artifact.

Usage: python bench/artifact_bench.py [--mb 1024] [--files 10000] [--log-mb 2048] [--dir DIR]
(DIR: a directory on the filesystem to measure, default a fresh temporary one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _big(path: Path, mb: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(mb):
            f.write(block[: (1 << 20) - 8] + i.to_bytes(8, "little"))


def ingest(base: Path, mb: int, repeat: int = 3) -> None:
    import tracker

    src = base / "big.bin"
    _big(src, mb)
    subprocess.run(["sync"], check=True)  # the source's own write-back must not land in a timing
    subprocess.run(["cat", str(src)], stdout=subprocess.DEVNULL, check=True)  # into the page cache
    cps, ours = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(["cp", str(src), str(base / "copy.bin")], check=True)
        subprocess.run(["sync", str(base / "copy.bin")], check=True)
        cps.append(time.perf_counter() - t0)
        os.unlink(base / "copy.bin")
        subprocess.run(["sync"], check=True)
        run = tracker.init(project="bench", dir=base / f"store-{time.monotonic_ns()}", capture_git=False)
        t0 = time.perf_counter()
        a = tracker.Artifact("big", type="model")
        a.add_file(src)
        run.log_artifact(a).wait()
        ours.append(time.perf_counter() - t0)
        run.finish()
        shutil.rmtree(run._writer.store.dir)
    cp, us = statistics.median(cps), statistics.median(ours)
    print(f"1. ingest {mb} MB (median of {repeat}): {us:.2f} s ({mb / us:.0f} MB/s); cp + sync: {cp:.2f} s "
          f"({mb / cp:.0f} MB/s); ratio {us / cp:.2f}x (target <= 1.3x)")
    os.unlink(src)


def many(base: Path, n: int) -> None:
    import tracker

    d = base / "small"
    d.mkdir()
    for i in range(n):
        (d / f"{i // 1000:03d}").mkdir(exist_ok=True)
        (d / f"{i // 1000:03d}" / f"f{i}.bin").write_bytes(os.urandom(1000))
    run = tracker.init(project="bench", dir=base / f"store-{time.monotonic_ns()}", capture_git=False)
    t0 = time.perf_counter()
    a = run.log_artifact(str(d), name="small", type="dataset").wait()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = run.log_artifact(str(d), name="small", type="dataset").wait()
    again = time.perf_counter() - t0
    run.finish()
    print(f"2. log_artifact of {n:,} files of 1 kB: {first:.2f} s ({n / first:,.0f} files/s) -> {a.version}; "
          f"unchanged again: {again:.2f} s -> {b.version}")
    run.finish()
    shutil.rmtree(d)


def _log_loop(run: object, stop: threading.Event, min_calls: int) -> list[float]:
    times = []
    i = 0
    while not stop.is_set() or i < min_calls:
        t0 = time.perf_counter()
        run.log({"loss": 1.0 / (i + 1), "acc": i * 1e-6})  # type: ignore[attr-defined]
        times.append(time.perf_counter() - t0)
        i += 1
        if i % 100 == 0:
            time.sleep(0.001)  # a training step between logs
    return times


def blocked(base: Path, mb: int) -> None:
    import tracker

    src = base / "ckpt.bin"
    _big(src, mb)
    run = tracker.init(project="bench", dir=base / f"store-{time.monotonic_ns()}", capture_git=False)
    stop = threading.Event()
    stop.set()
    idle = _log_loop(run, stop, 20_000)
    stop.clear()
    a = tracker.Artifact("ckpt", type="model")
    t0 = time.perf_counter()
    a.add_file(src, policy="immutable")
    run.log_artifact(a)
    call = time.perf_counter() - t0
    threading.Thread(target=lambda: (a._done.wait(), stop.set()), daemon=True).start()
    t0 = time.perf_counter()
    busy = _log_loop(run, stop, 1000)
    dur = time.perf_counter() - t0
    a.wait()
    run.finish()

    def q(xs: list[float], p: float) -> float:
        return sorted(xs)[min(len(xs) - 1, int(p * len(xs)))] * 1e6

    print(f"3. log() while a {mb} MB artifact ingests ({dur:.1f} s, {len(busy):,} calls): "
          f"median {statistics.median(busy) * 1e6:.1f} us, p99.9 {q(busy, 0.999):.0f} us, max {max(busy) * 1e3:.1f} ms; "
          f"without: median {statistics.median(idle) * 1e6:.1f} us, p99.9 {q(idle, 0.999):.0f} us, "
          f"max {max(idle) * 1e3:.1f} ms; add_file + log_artifact returned in {call * 1e3:.1f} ms")
    run.finish()
    os.unlink(src)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=int, default=1024)
    p.add_argument("--files", type=int, default=10_000)
    p.add_argument("--log-mb", type=int, default=2048)
    p.add_argument("--dir", default=None)
    args = p.parse_args()
    os.environ.setdefault("TRACKER_SYSTEM", "0")
    os.environ.setdefault("TRACKER_CONSOLE", "0")
    base = Path(tempfile.mkdtemp(prefix="artifact-bench-", dir=args.dir))
    try:
        ingest(base, args.mb)
        many(base, args.files)
        blocked(base, args.log_mb)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
