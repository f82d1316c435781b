"""System metrics: a daemon thread that samples CPU, memory, disk/network I/O and GPUs.

    sampler = SystemSampler(emit, interval=10.0).start()   # first sample right away
    ...
    sampler.stop()

``emit(values, wall_time)`` is called from the sampler thread with a flat ``{name: float}``
dict (names under ``system/``, listed in :data:`SYSTEM_KEYS` and :data:`GPU_KEYS`). A value
that cannot be had is left out, never sent as None or NaN.

Units are in the names: memory in GiB (``*_gib`` = 2**30 bytes, as ``free -g`` and nvidia-smi
count), rates in MiB/s (``*_mib_s`` = 2**20 bytes per second). Percentages are 0-100 of the whole machine:
``cpu_percent`` is all CPUs together, ``proc_cpu_percent`` is this process plus its children
(live ones and the ones it has waited for) as a share of all CPUs, so the two share an axis.
Both are averages over the time since the previous sample; the first sample, which has no
previous one, gives the average since boot (machine) and since the process started (process),
as ``top`` and ``ps`` do. Disk and network rates need two samples and are left out of the first.
``ram_used_gib`` is total minus available, the same figure ``ram_percent`` is computed from.
Network counts every interface except loopback; disk counts every whole block device
(psutil's totals). Stores written by earlier versions name the same units ``_gb`` and ``_mb_s``.

Nothing heavy is imported with this module: psutil, pynvml and subprocess are imported by the
sampler thread when it first samples. Without psutil, CPU/memory/I/O come from /proc on Linux
(no live children in the process CPU), and from nowhere elsewhere, after one warning.

GPUs come from a :class:`~tracker._gpu.GpuProvider` (module :mod:`tracker._gpu`): NVML through
``pynvml`` (package nvidia-ml-py), else ``nvidia-smi``, else none (no GPU is not an error and
gives no warning). Only the GPUs this process can see are reported, in CUDA's order, so
``system/gpu0`` is ``cuda:0``. GPU memory is counted as nvidia-smi counts it (without the
memory the driver reserves for itself).

A failure never reaches the training loop: each group of values (cpu, process, memory, disk,
network, GPU) is read on its own, a group that fails is left out of that sample with one
warning per group for the process (:func:`tracker._values.warn_once`), and an exception raised
by ``emit`` is caught the same way; the thread keeps sampling.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from tracker.store.keys import GPU_KEYS, SYSTEM_KEYS  # one list of the sampled names, shared with readers

from ._gpu import GpuProvider, auto_gpu_provider
from ._gpu import finite as _finite
from ._values import warn_once

__all__ = ["GPU_KEYS", "SYSTEM_KEYS", "SystemSampler"]

GIB = float(1 << 30)
MIB = float(1 << 20)

_THREAD_NAME = "tracker-system-sampler"


# ============================================================================ CPU, memory, I/O
class _Reading:
    """Raw counters at one instant; None = could not be read."""

    __slots__ = ("mono", "wall", "at", "cpu", "proc_cpu", "proc_start", "ram", "rss", "disk", "net")

    def __init__(self) -> None:
        self.mono = time.monotonic()
        self.wall = time.time()
        # when each group was read: a sample can take a while when the training thread holds the GIL
        self.at: dict[str, float] = {}
        self.cpu: tuple[float, float] | None = None  # machine (busy, total) CPU seconds
        self.proc_cpu: float | None = None  # process + children CPU seconds
        self.proc_start: float | None = None  # process start, wall clock
        self.ram: tuple[float, float] | None = None  # (total, available) bytes
        self.rss: float | None = None
        self.disk: tuple[float, float] | None = None  # cumulative (read, written) bytes
        self.net: dict[str, tuple[float, float]] | None = None  # per interface (received, sent) bytes


def _is_loopback(nic: str) -> bool:
    return nic == "lo" or nic.startswith(("lo0", "Loopback"))


class _PsutilSource:
    def __init__(self, psutil: Any, pid: int) -> None:
        self.ps = psutil
        self.pid = pid
        self._proc: Any = None
        self.ncpu = psutil.cpu_count() or os.cpu_count() or 1
        self._gone = (psutil.NoSuchProcess, psutil.AccessDenied)

    def cpu(self, r: _Reading) -> None:
        t = self.ps.cpu_times()
        # guest time is already inside user/nice on Linux; iowait is idle (as psutil and top count)
        total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
        r.cpu = (total - t.idle - getattr(t, "iowait", 0.0), total)

    def proc(self, r: _Reading) -> None:
        p = self._proc
        if p is None:
            p = self._proc = self.ps.Process(self.pid)
        with p.oneshot():
            t = p.cpu_times()
            r.rss = float(p.memory_info().rss)
            r.proc_start = p.create_time()
        total = t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
        # Live children (DataLoader workers...): their time plus that of the children they have
        # waited for. A child that exits and is waited for moves into children_user/system above,
        # so the total stays continuous.
        try:
            kids = p.children(recursive=True)
        except self._gone:
            kids = []
        for c in kids:
            try:
                ct = c.cpu_times()
            except self._gone:
                continue
            total += ct.user + ct.system + getattr(ct, "children_user", 0.0) + getattr(ct, "children_system", 0.0)
        r.proc_cpu = total

    def memory(self, r: _Reading) -> None:
        vm = self.ps.virtual_memory()
        r.ram = (float(vm.total), float(vm.available))

    def disk(self, r: _Reading) -> None:
        d = self.ps.disk_io_counters()
        if d is not None:
            r.disk = (float(d.read_bytes), float(d.write_bytes))

    def net(self, r: _Reading) -> None:
        nics = self.ps.net_io_counters(pernic=True) or {}
        r.net = {k: (float(v.bytes_recv), float(v.bytes_sent)) for k, v in nics.items() if not _is_loopback(k)}


class _ProcfsSource:
    """The same readings from Linux /proc, for when psutil is not installed. The process CPU
    counts the children waited for, not live ones."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tck = float(os.sysconf("SC_CLK_TCK"))
        self.page = float(os.sysconf("SC_PAGE_SIZE"))
        self.ncpu = os.cpu_count() or 1
        self._btime: float | None = None

    def cpu(self, r: _Reading) -> None:
        with open("/proc/stat") as f:
            text = f.read()
        vals = [float(x) for x in text.split("\n", 1)[0].split()[1:]]
        # user nice system idle iowait irq softirq steal [guest guest_nice: inside user/nice]
        total = sum(vals[:8])
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)
        r.cpu = ((total - idle) / self.tck, total / self.tck)
        if self._btime is None:
            for line in text.splitlines():
                if line.startswith("btime "):
                    self._btime = float(line.split()[1])

    def proc(self, r: _Reading) -> None:
        with open(f"/proc/{self.pid}/stat") as f:
            stat = f.read()
        rest = stat[stat.rindex(")") + 2:].split()  # rest[0] is field 3 (state)
        utime, stime, cutime, cstime = (float(x) for x in rest[11:15])
        r.proc_cpu = (utime + stime + cutime + cstime) / self.tck
        if self._btime is not None:
            r.proc_start = self._btime + float(rest[19]) / self.tck
        with open(f"/proc/{self.pid}/statm") as f:
            r.rss = float(f.read().split()[1]) * self.page

    def memory(self, r: _Reading) -> None:
        info: dict[str, float] = {}
        with open("/proc/meminfo") as f:
            for line in f:
                name, _, rest = line.partition(":")
                parts = rest.split()
                if parts:
                    info[name] = float(parts[0]) * 1024.0  # kB
        total = info["MemTotal"]
        avail = info.get("MemAvailable")
        if avail is None:  # kernels before 3.14
            avail = info.get("MemFree", 0.0) + info.get("Buffers", 0.0) + info.get("Cached", 0.0)
        r.ram = (total, avail)

    def disk(self, r: _Reading) -> None:
        read = written = 0.0
        with open("/proc/diskstats") as f:
            for line in f:
                p = line.split()
                # whole devices only (sda, nvme0n1), not partitions, as psutil sums them
                if len(p) >= 10 and os.path.exists("/sys/block/" + p[2].replace("/", "!")):
                    read += float(p[5]) * 512.0  # sectors, always 512 bytes in diskstats
                    written += float(p[9]) * 512.0
        r.disk = (read, written)

    def net(self, r: _Reading) -> None:
        nets = {}
        with open("/proc/net/dev") as f:
            for line in f.readlines()[2:]:
                name, _, data = line.partition(":")
                name = name.strip()
                p = data.split()
                if len(p) >= 9 and not _is_loopback(name):
                    nets[name] = (float(p[0]), float(p[8]))
        r.net = nets


_GROUPS = ("cpu", "proc", "memory", "disk", "net")
_GROUP_NAMES = {"cpu": "machine CPU", "proc": "process CPU/RSS", "memory": "RAM", "disk": "disk I/O",
                "net": "network I/O"}


def _rate(cur: float, prev: float, dt: float) -> float | None:
    d = cur - prev
    return d / dt / MIB if d >= 0 and dt > 0 else None  # a counter that went back (reset): unknown


# ================================================================================= sampler
class SystemSampler:
    """Samples system metrics every ``interval`` seconds on a daemon thread and hands each
    sample to ``emit(values, wall_time)`` (see the module doc for names and units).

    ``pid``: the process whose CPU/RSS is reported (default: this one). ``gpu_provider``:
    ``"auto"`` (NVML, else nvidia-smi, else none; chosen on the first sample), ``None`` (no GPU
    metrics) or a :class:`GpuProvider`. ``interval <= 0`` switches the thread off (``start()``
    does nothing; ``sample()`` still works).
    """

    def __init__(self, emit: Callable[[dict[str, float], float], None], interval: float = 10.0, *,
                 pid: int | None = None, gpu_provider: GpuProvider | None | str = "auto") -> None:
        if isinstance(gpu_provider, str) and gpu_provider != "auto":
            raise ValueError(f"gpu_provider must be 'auto', None or a GpuProvider, not {gpu_provider!r}")
        self._emit = emit
        self.interval = float(interval)
        self.pid = pid
        self._gpu_arg = gpu_provider
        self._gpu: GpuProvider | None = None  # resolved on the first sample
        self._owns_gpu = False
        self._source: Any = None
        self._source_ready = False
        self._prev: _Reading | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Samples handed to ``emit`` by the thread (for tests and benchmarks).
        self.emitted = 0

    # ---------------------------------------------------------------------------- thread
    def start(self) -> SystemSampler:
        """Start the daemon thread (first sample right away). A no-op when already running or
        when ``interval <= 0``."""
        if not self.interval > 0 or (self._thread is not None and self._thread.is_alive()):
            return self
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name=_THREAD_NAME, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread (waiting up to ``timeout`` s for a sample in progress) and release
        the GPU library; a sample still in progress then is not emitted. Safe to call twice,
        before ``start()``, or from ``emit`` itself."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        if t is None or not t.is_alive():
            self._thread = None
            self._close_gpu()

    def _run(self, stop: threading.Event) -> None:
        due = time.monotonic()
        try:
            while not stop.is_set():
                values: dict[str, float] = {}
                wall = 0.0
                try:
                    values, wall = self._sample()
                except Exception as e:  # the per-group guards make this unlikely
                    warn_once("system:sample", f"tracker: system metrics sample failed ({type(e).__name__}: {e}); "
                                               "sampling continues")
                if values and not stop.is_set():
                    try:
                        self._emit(values, wall)
                        self.emitted += 1
                    except Exception as e:
                        warn_once("system:emit", f"tracker: storing system metrics failed ({type(e).__name__}: "
                                                 f"{e}); sampling continues")
                due += self.interval
                now = time.monotonic()
                if due < now:  # fell behind (slow GPU query, suspended machine): no burst of catch-up samples
                    due = now + self.interval
                stop.wait(due - now)
        finally:
            if stop.is_set():  # also when stop() gave up waiting for this sample (closing is idempotent)
                self._close_gpu()

    # ---------------------------------------------------------------------------- sampling
    def sample(self) -> dict[str, float]:
        """Take one sample now and return it (rates relative to the previous sample)."""
        return self._sample()[0]

    def _sample(self) -> tuple[dict[str, float], float]:
        with self._lock:
            if not self._source_ready:
                self._source = self._make_source()
                self._source_ready = True
            src = self._source
            r = _Reading()
            if src is not None:
                for group in _GROUPS:
                    try:
                        getattr(src, group)(r)
                        r.at[group] = time.monotonic()
                    except Exception as e:
                        warn_once(f"system:{group}", f"tracker: cannot read {_GROUP_NAMES[group]} for system metrics "
                                                     f"({type(e).__name__}: {e}); left out")
            values = self._derive(r, self._prev, src.ncpu if src is not None else 1) if src is not None else {}
            self._prev = r
            self._add_gpus(values)
            return values, r.wall

    def _make_source(self) -> Any:
        pid = self.pid if self.pid is not None else os.getpid()
        try:
            import psutil
        except Exception:  # ImportError, or a broken install
            pass
        else:
            return _PsutilSource(psutil, pid)
        if os.path.exists("/proc/stat"):
            warn_once("system:psutil", "tracker: psutil is not installed: system metrics come from /proc (the "
                                       "process CPU leaves out live child processes); pip install psutil")
            return _ProcfsSource(pid)
        warn_once("system:psutil", "tracker: psutil is not installed: no CPU, memory or I/O system metrics on this "
                                   "platform (GPU metrics still work); pip install psutil")
        return None

    @staticmethod
    def _derive(r: _Reading, prev: _Reading | None, ncpu: int) -> dict[str, float]:
        out: dict[str, float] = {}

        def dt(group: str) -> float:
            return r.at.get(group, r.mono) - prev.at.get(group, prev.mono) if prev is not None else 0.0

        if r.cpu is not None:
            busy, total = r.cpu
            if prev is not None and prev.cpu is not None:
                busy, total = busy - prev.cpu[0], total - prev.cpu[1]
            if total > 0:
                out["system/cpu_percent"] = min(100.0, max(0.0, 100.0 * busy / total))
        if r.proc_cpu is not None:
            pct = None
            if prev is not None and prev.proc_cpu is not None:
                if dt("proc") > 0:
                    pct = (r.proc_cpu - prev.proc_cpu) / dt("proc")
            elif r.proc_start is not None and r.wall - r.proc_start > 0:
                pct = r.proc_cpu / (r.wall - r.proc_start)  # first sample: since the process started
            if pct is not None:
                out["system/proc_cpu_percent"] = min(100.0, max(0.0, 100.0 * pct / ncpu))
        if r.ram is not None:
            total, avail = r.ram
            used = max(0.0, total - avail)
            out["system/ram_used_gib"] = used / GIB
            if total > 0:
                out["system/ram_percent"] = 100.0 * used / total
        if r.rss is not None:
            out["system/proc_rss_gib"] = r.rss / GIB
        if prev is not None and r.disk is not None and prev.disk is not None:
            for key, i in (("system/disk_read_mib_s", 0), ("system/disk_write_mib_s", 1)):
                v = _rate(r.disk[i], prev.disk[i], dt("disk"))
                if v is not None:
                    out[key] = v
        if prev is not None and r.net is not None and prev.net is not None and dt("net") > 0:
            common = [k for k in r.net if k in prev.net]  # interfaces present both times
            if common:
                for key, i in (("system/net_recv_mib_s", 0), ("system/net_sent_mib_s", 1)):
                    v = sum(max(0.0, r.net[k][i] - prev.net[k][i]) for k in common)
                    out[key] = v / dt("net") / MIB
        return out

    def _resolve_gpu(self) -> GpuProvider | None:
        if self._gpu is None and self._gpu_arg is not None:
            if isinstance(self._gpu_arg, str):
                self._gpu = auto_gpu_provider()
                self._owns_gpu = True
            else:
                self._gpu = self._gpu_arg
        return self._gpu

    def _add_gpus(self, out: dict[str, float]) -> None:
        try:
            provider = self._resolve_gpu()
            if provider is None:
                return
            gpus = provider.query()
        except Exception as e:
            warn_once("system:gpu", f"tracker: GPU metrics unavailable ({type(e).__name__}: {e}); "
                                    "left out while it lasts")
            return
        for i, g in enumerate(gpus):
            p = f"system/gpu{i}/"
            util, temp, power = _finite(g.get("util")), _finite(g.get("temp_c")), _finite(g.get("power_w"))
            used, total = _finite(g.get("mem_used_bytes")), _finite(g.get("mem_total_bytes"))
            if util is not None:
                out[p + "util_percent"] = util
            if used is not None:
                out[p + "mem_used_gib"] = used / GIB
            if total is not None:
                out[p + "mem_total_gib"] = total / GIB
            if used is not None and total:
                out[p + "mem_percent"] = 100.0 * used / total
            if temp is not None:
                out[p + "temp_c"] = temp
            if power is not None:
                out[p + "power_w"] = power

    def _close_gpu(self) -> None:
        with self._lock:
            gpu, owned = self._gpu, self._owns_gpu
            if owned:
                self._gpu, self._owns_gpu = None, False  # chosen again if sampling resumes
        if owned and gpu is not None:
            close = getattr(gpu, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    pass

    def __repr__(self) -> str:
        running = self._thread is not None and self._thread.is_alive()
        return f"SystemSampler(interval={self.interval:g}, running={running}, gpu={self._gpu!r})"
