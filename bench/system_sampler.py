"""What does the system-metrics sampler cost a training process?

1. Per sample, SystemSampler.sample() called ~50 times on this thread: CPU time of the calling
   thread (time.thread_time) and wall time; the first sample (imports psutil, picks the GPU
   provider) is reported on its own.
2. The same through the real daemon thread (start() at a short interval): that thread's own CPU
   clock divided by the samples it emitted (Linux/BSD: pthread_getcpuclockid).
3. With K child processes (the DataLoader-worker case: the process CPU figure walks the child
   tree), and where the time goes: each psutil call on its own, the /proc fallback, and parsing
   a recorded nvidia-smi answer.
4. Interference: throughput of a pure-Python loop (a Python-bound training step, holding the GIL)
   with the sampler running 200x faster than its 10 s default, versus without it.

The share of one core the sampler takes at the default interval is CPU per sample / 10 s.
No GPU here: GPU figures are the provider's ("auto" resolves to none on a machine without one).

Usage: python bench/system_sampler.py [--samples 50] [--children 4] [--no-interference] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_INTERVAL = 10.0


def per_sample(samples: int, gap: float) -> dict[str, Any]:
    from tracker._system import SystemSampler

    s = SystemSampler(lambda v, w: None, gpu_provider="auto")
    c0, w0 = time.thread_time(), time.perf_counter()
    first = s.sample()
    first_cpu, first_wall = time.thread_time() - c0, time.perf_counter() - w0
    cpu, wall = [], []
    n_keys = len(first)
    for _ in range(samples):
        time.sleep(gap)
        c0, w0 = time.thread_time(), time.perf_counter()
        v = s.sample()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
        n_keys = len(v)
    gpu = repr(s._gpu)  # before stop(), which lets go of a provider it chose itself
    s.stop()
    return {
        "first_cpu_ms": first_cpu * 1e3, "first_wall_ms": first_wall * 1e3,
        "cpu_ms_median": statistics.median(cpu) * 1e3, "cpu_ms_mean": statistics.fmean(cpu) * 1e3,
        "cpu_ms_max": max(cpu) * 1e3,
        "wall_ms_median": statistics.median(wall) * 1e3, "wall_ms_mean": statistics.fmean(wall) * 1e3,
        "wall_ms_max": max(wall) * 1e3, "keys_per_sample": n_keys, "gpu": gpu,
    }


def thread_cost(samples: int, interval: float) -> dict[str, float] | None:
    """CPU of the sampler thread itself, per sample emitted (first sample included)."""
    if not hasattr(time, "pthread_getcpuclockid"):
        return None
    from tracker._system import SystemSampler

    s = SystemSampler(lambda v, w: None, interval=interval, gpu_provider="auto").start()
    clock = time.pthread_getcpuclockid(s._thread.ident)  # type: ignore[union-attr]
    deadline = time.monotonic() + samples * interval * 5 + 5
    while s.emitted < samples and time.monotonic() < deadline:
        time.sleep(interval / 2)
    cpu = time.clock_gettime(clock)
    n = s.emitted
    s.stop()
    return {"samples": n, "cpu_ms_per_sample": cpu / n * 1e3, "interval_s": interval}


def breakdown(reps: int) -> dict[str, float]:
    """Mean thread CPU (ms) of each reading on its own."""
    out: dict[str, float] = {}

    def timed(name, fn):
        fn()
        c0 = time.thread_time()
        for _ in range(reps):
            fn()
        out[name] = (time.thread_time() - c0) / reps * 1e3

    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        p = psutil.Process()

        def proc():
            with p.oneshot():
                p.cpu_times()
                p.memory_info()

        def kids():
            for c in p.children(recursive=True):
                c.cpu_times()

        timed("psutil.cpu_times", psutil.cpu_times)
        timed("Process.cpu_times+memory_info", proc)
        timed("Process.children(recursive)+cpu_times", kids)
        timed("psutil.virtual_memory", psutil.virtual_memory)
        timed("psutil.disk_io_counters", psutil.disk_io_counters)
        timed("psutil.net_io_counters(pernic)", lambda: psutil.net_io_counters(pernic=True))
        out["processes_on_machine"] = len(psutil.pids())
    if os.path.exists("/proc/stat"):
        from tracker._system import _GROUPS, _ProcfsSource, _Reading

        src = _ProcfsSource(os.getpid())

        def procfs():
            r = _Reading()
            for g in _GROUPS:
                getattr(src, g)(r)

        timed("procfs fallback (all groups)", procfs)
    from tracker._gpu import NvidiaSmiProvider

    csv = (Path(__file__).resolve().parent.parent / "tests" / "data" / "nvidia-smi-a100x2.csv").read_text()
    smi = NvidiaSmiProvider(lambda argv, t: csv, all_gpus=True)
    timed("nvidia-smi parse (2 GPUs, no process)", smi.query)
    return out


def interference(seconds: float, interval: float, rounds: int) -> dict[str, float]:
    """Iterations/s of a pure-Python loop, alone and with the sampler thread at `interval`."""
    from tracker._system import SystemSampler

    def spin() -> float:
        n, x = 0, 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for i in range(1000):
                x += i * i
            n += 1
        return n / seconds

    alone, sampled, walls = [], [], []
    for _ in range(rounds):
        alone.append(spin())
        s = SystemSampler(lambda v, w: None, interval=interval, gpu_provider="auto")
        inner = s._sample

        def timed_sample(inner=inner):  # the sampler's wall time per sample while the loop holds the GIL
            w0 = time.perf_counter()
            try:
                return inner()
            finally:
                walls.append(time.perf_counter() - w0)

        s._sample = timed_sample  # type: ignore[method-assign]
        s.start()
        sampled.append(spin())
        s.stop()
    a, b = statistics.median(alone), statistics.median(sampled)
    slowdown = (a - b) / a * 100
    return {"interval_s": interval, "loop_kit_per_s_alone": a / 1e3, "loop_kit_per_s_sampled": b / 1e3,
            "slowdown_percent": slowdown, "alone_spread_percent": (max(alone) - min(alone)) / a * 100,
            "slowdown_at_10s_percent": slowdown * interval / DEFAULT_INTERVAL,
            "sampler_wall_ms_median_under_load": statistics.median(walls) * 1e3,
            "sampler_wall_ms_max_under_load": max(walls) * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--children", type=int, default=4, help="idle child processes for the children case")
    ap.add_argument("--no-interference", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args()

    res: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        import psutil

        res["psutil"] = psutil.__version__
    except ImportError:
        res["psutil"] = None
    res["psutil_import_ms"] = None
    if res["psutil"]:  # in a fresh interpreter, as the sampler thread pays it once
        code = "import time; t = time.perf_counter(); import psutil; print((time.perf_counter() - t) * 1e3)"
        runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
                for _ in range(3)]
        res["psutil_import_ms"] = statistics.median(runs)
    res["per_sample"] = per_sample(args.samples, 0.02)
    res["thread"] = thread_cost(args.samples, 0.02)
    kids = [subprocess.Popen(["sleep", "600"]) for _ in range(args.children)] if os.name == "posix" else []
    try:
        res["per_sample_with_children"] = dict(per_sample(args.samples, 0.02), children=len(kids))
    finally:
        for k in kids:
            k.kill()
            k.wait()
    res["breakdown_ms"] = breakdown(args.samples)
    if not args.no_interference:
        res["interference"] = interference(1.0, DEFAULT_INTERVAL / 200, 3)
    res["core_share_at_10s_percent"] = res["per_sample"]["cpu_ms_mean"] / 1e3 / DEFAULT_INTERVAL * 100

    if args.json:
        print(json.dumps(res, indent=2))
        return
    ps, pc, t = res["per_sample"], res["per_sample_with_children"], res["thread"]
    print(f"python {res['python']}, psutil {res['psutil']}, {res['cpus']} CPUs, GPU provider: {ps['gpu']}")
    if res["psutil_import_ms"] is not None:
        print(f"import psutil (once, on the sampler thread): {res['psutil_import_ms']:.1f} ms")
    print(f"first sample (opens the process, picks the GPU provider): {ps['first_cpu_ms']:.2f} ms CPU, "
          f"{ps['first_wall_ms']:.2f} ms wall")
    for name, r in (("per sample", ps), (f"per sample, {pc['children']} children", pc)):
        print(f"{name} ({args.samples} x {r['keys_per_sample']} values): CPU median {r['cpu_ms_median']:.3f} ms, "
              f"mean {r['cpu_ms_mean']:.3f}, max {r['cpu_ms_max']:.3f}; "
              f"wall median {r['wall_ms_median']:.3f} ms, max {r['wall_ms_max']:.3f}")
    if t:
        print(f"sampler thread's own CPU clock: {t['cpu_ms_per_sample']:.3f} ms per sample over {t['samples']}")
    print(f"=> at the default {DEFAULT_INTERVAL:g} s interval: {res['core_share_at_10s_percent']:.4f} % of one core")
    print("breakdown (CPU ms per call):")
    for k, v in res["breakdown_ms"].items():
        print(f"  {k:42s} {v:8d}" if k == "processes_on_machine" else f"  {k:42s} {v:8.3f}")
    if "interference" in res:
        i = res["interference"]
        print(f"pure-Python loop with the sampler every {i['interval_s']:g} s (200x the default): "
              f"{i['loop_kit_per_s_sampled']:.1f} vs {i['loop_kit_per_s_alone']:.1f} k iterations/s alone, "
              f"{i['slowdown_percent']:+.2f} % (runs alone spread {i['alone_spread_percent']:.2f} %) "
              f"=> {i['slowdown_at_10s_percent']:.4f} % at 10 s")
        print(f"sampler wall time per sample while that loop holds the GIL: median "
              f"{i['sampler_wall_ms_median_under_load']:.1f} ms, max {i['sampler_wall_ms_max_under_load']:.1f} ms")


if __name__ == "__main__":
    main()
