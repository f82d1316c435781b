"""System metrics: a daemon thread that samples CPU, memory, disk/network I/O and GPUs.

    sampler = SystemSampler(emit, interval=10.0).start()   # first sample right away
    ...
    sampler.stop()

``emit(values, wall_time)`` is called from the sampler thread with a flat ``{name: float}``
dict (names under ``system/``, listed in :data:`SYSTEM_KEYS` and :data:`GPU_KEYS`). A value
that cannot be had is left out, never sent as None or NaN.

Units: memory in GiB (``*_gb`` = 2**30 bytes, as ``free -g`` and nvidia-smi count), rates in
MiB/s (``*_mb_s`` = 2**20 bytes per second). Percentages are 0-100 of the whole machine:
``cpu_percent`` is all CPUs together, ``proc_cpu_percent`` is this process plus its children
(live ones and the ones it has waited for) as a share of all CPUs, so the two share an axis.
Both are averages over the time since the previous sample; the first sample, which has no
previous one, gives the average since boot (machine) and since the process started (process),
as ``top`` and ``ps`` do. Disk and network rates need two samples and are left out of the first.
``ram_used_gb`` is total minus available, the same figure ``ram_percent`` is computed from.
Network counts every interface except loopback; disk counts every whole block device
(psutil's totals).

Nothing heavy is imported with this module: psutil, pynvml and subprocess are imported by the
sampler thread when it first samples. Without psutil, CPU/memory/I/O come from /proc on Linux
(no live children in the process CPU), and from nowhere elsewhere, after one warning.

GPUs come from a :class:`GpuProvider`: NVML through ``pynvml`` (package nvidia-ml-py), else
``nvidia-smi``, else none (no GPU is not an error and gives no warning). Only the GPUs this
process can see are reported, in CUDA's order, so ``system/gpu0`` is ``cuda:0``: see
:func:`filter_visible` for how CUDA_VISIBLE_DEVICES is read.

A failure never reaches the training loop: each group of values (cpu, process, memory, disk,
network, GPU) is read on its own, a group that fails is left out of that sample with one
warning per group for the process (:func:`tracker._values.warn_once`), and an exception raised
by ``emit`` is caught the same way; the thread keeps sampling.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ._values import warn_once

__all__ = [
    "GPU_KEYS", "NVIDIA_SMI_FIELDS", "SYSTEM_KEYS", "GpuProvider", "GpuQueryError", "NoGpuProvider",
    "NvidiaSmiProvider", "NvmlProvider", "SystemSampler", "auto_gpu_provider", "filter_visible",
    "parse_nvidia_smi_csv",
]

GIB = float(1 << 30)
MIB = float(1 << 20)

#: Every non-GPU name a sample can hold (the four rates are absent from the first sample).
SYSTEM_KEYS = (
    "system/cpu_percent", "system/proc_cpu_percent", "system/ram_used_gb", "system/ram_percent",
    "system/proc_rss_gb", "system/disk_read_mb_s", "system/disk_write_mb_s", "system/net_recv_mb_s",
    "system/net_sent_mb_s",
)
#: Per visible GPU ``i``, the names are ``f"system/gpu{i}/{suffix}"`` for these suffixes.
GPU_KEYS = ("util_percent", "mem_used_gb", "mem_total_gb", "mem_percent", "temp_c", "power_w")

#: The ``--query-gpu`` fields of :class:`NvidiaSmiProvider`, in output order.
NVIDIA_SMI_FIELDS = ("index", "uuid", "utilization.gpu", "memory.used", "memory.total", "temperature.gpu",
                     "power.draw")

_THREAD_NAME = "tracker-system-sampler"


def _finite(v: Any) -> float | None:
    """``v`` as a float, or None for None / non-numbers / NaN / infinities."""
    if v is None or isinstance(v, (str, bytes)):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# ==================================================================================== GPUs
class GpuProvider(Protocol):
    """Anything with ``query()`` returning one dict per GPU to report, in the order to name them
    (``system/gpu0``, ``system/gpu1``...). Keys: ``index`` (the driver's index), ``uuid``,
    ``util`` (%), ``mem_used_bytes``, ``mem_total_bytes``, ``temp_c``, ``power_w``; a missing
    key or a None value means unknown. ``query`` may raise; the sampler then leaves GPU values
    out of that sample (one warning). An optional ``close()`` is called by the sampler for the
    providers it created itself."""

    def query(self) -> list[dict[str, Any]]: ...


class GpuQueryError(RuntimeError):
    """A GPU query failed (nvidia-smi exited with an error, NVML could not be loaded...)."""


class NoGpuProvider:
    """No GPU: reports nothing."""

    def query(self) -> list[dict[str, Any]]:
        return []

    def __repr__(self) -> str:
        return "NoGpuProvider()"


def _cvd_tokens(cvd: str) -> list[str]:
    """The CUDA_VISIBLE_DEVICES entries CUDA would read: up to (not including) the first one
    that is neither a non-negative integer nor a ``GPU-``/``MIG-`` identifier."""
    out = []
    for tok in cvd.split(","):
        tok = tok.strip()
        up = tok.upper()
        if tok.isdigit() or (up.startswith(("GPU-", "MIG-")) and len(tok) > 4):
            out.append(tok)
        else:
            break
    return out


def _cvd_hides_all(cvd: str | None) -> bool:
    """True when CUDA_VISIBLE_DEVICES alone already says no GPU is visible ("", "-1", "none")."""
    if cvd is None:
        return False
    return not any(not t.upper().startswith("MIG-") for t in _cvd_tokens(cvd))


def filter_visible(gpus: Sequence[Mapping[str, Any]], cvd: str | None) -> list[Any]:
    """The entries of ``gpus`` (each with ``index`` and ``uuid``) that CUDA_VISIBLE_DEVICES =
    ``cvd`` makes visible, in CUDA's order (``"2,0"`` gives GPU 2 then GPU 0).

    ``None`` (unset) = all, in index order; ``""`` = none. Entries are driver indices or GPU
    UUIDs (``GPU-8e2f...``, a unique prefix is enough, case-insensitive); as in CUDA, reading
    stops at the first entry that is malformed (``-1``), names no GPU here or is an ambiguous
    prefix, and a repeated GPU is listed once. ``MIG-...`` entries name MIG instances, which
    have no utilization/power of their own: they are skipped (no values, no error).

    Indices are matched against the driver's (PCI bus) order: with CUDA_DEVICE_ORDER left at
    FASTEST_FIRST on a machine mixing GPU models, CUDA may number them differently.
    """
    if cvd is None:
        return sorted(gpus, key=lambda g: g.get("index", 0))
    out: list[Any] = []
    seen: set[int] = set()
    for tok in _cvd_tokens(cvd):
        if tok.upper().startswith("MIG-"):
            continue
        if tok.isdigit():
            matches = [g for g in gpus if g.get("index") == int(tok)]
        else:
            t = tok.lower()
            matches = [g for g in gpus if str(g.get("uuid") or "").lower().startswith(t)]
        if len(matches) != 1:
            break
        g = matches[0]
        if id(g) not in seen:
            seen.add(id(g))
            out.append(g)
    return out


def _visible(gpus: Sequence[Mapping[str, Any]], all_gpus: bool) -> list[Any]:
    return list(gpus) if all_gpus else filter_visible(gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))


class NvmlProvider:
    """GPUs through NVML (``pynvml``, from the nvidia-ml-py package).

    ``nvml`` is the module to use (a stand-in in tests); by default ``pynvml`` is imported on
    first use. If it cannot be imported or ``nvmlInit()`` fails (no driver, no GPU), the
    provider is not :meth:`available` and reports nothing. A value the GPU does not support
    (``NVMLError_NotSupported``: power on some boards, utilization under MIG...) is None.
    Only the GPUs visible to the process are queried unless ``all_gpus``.
    """

    def __init__(self, nvml: Any = None, *, all_gpus: bool = False) -> None:
        self._nvml = nvml
        self.all_gpus = all_gpus
        self._ready: bool | None = None
        self._devices: list[dict[str, Any]] = []  # index, uuid, handle (fixed while initialised)
        self.error: str | None = None  # why it is not available

    def available(self) -> bool:
        if self._ready is None:
            self._ready = self._init()
        return self._ready

    def _init(self) -> bool:
        nvml = self._nvml
        if nvml is None:
            try:
                import pynvml as nvml  # type: ignore[import-not-found,no-redef]
            except Exception as e:  # ImportError, or a broken install
                self.error = f"pynvml not importable ({type(e).__name__}: {e})"
                return False
        try:
            nvml.nvmlInit()
        except Exception as e:
            self.error = f"nvmlInit failed ({type(e).__name__}: {e})"
            return False
        self._nvml = nvml
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except Exception as e:
            self.error = f"nvmlDeviceGetCount failed ({type(e).__name__}: {e})"
            self._shutdown()
            return False
        devices = []
        for i in range(count):
            handle = uuid = None
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
                uuid = nvml.nvmlDeviceGetUUID(handle)
                if isinstance(uuid, bytes):  # nvidia-ml-py before 11.515 returned bytes
                    uuid = uuid.decode("ascii", "replace")
            except Exception:
                pass  # a GPU in error: kept (its index still counts), its values unknown
            devices.append({"index": i, "uuid": uuid, "handle": handle})
        self._devices = devices
        return True

    def _shutdown(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:
            pass

    def query(self) -> list[dict[str, Any]]:
        if not self.available():
            return []
        nvml = self._nvml
        out = []
        for d in _visible(self._devices, self.all_gpus):
            h = d["handle"]
            g: dict[str, Any] = {"index": d["index"], "uuid": d["uuid"], "util": None, "mem_used_bytes": None,
                                 "mem_total_bytes": None, "temp_c": None, "power_w": None}
            if h is not None:
                try:
                    g["util"] = _finite(nvml.nvmlDeviceGetUtilizationRates(h).gpu)
                except Exception:
                    pass
                try:
                    mem = nvml.nvmlDeviceGetMemoryInfo(h)
                    g["mem_used_bytes"], g["mem_total_bytes"] = _finite(mem.used), _finite(mem.total)
                except Exception:
                    pass
                try:
                    g["temp_c"] = _finite(nvml.nvmlDeviceGetTemperature(h, getattr(nvml, "NVML_TEMPERATURE_GPU", 0)))
                except Exception:
                    pass
                try:
                    mw = _finite(nvml.nvmlDeviceGetPowerUsage(h))  # milliwatts
                    g["power_w"] = None if mw is None else mw / 1000.0
                except Exception:
                    pass
            out.append(g)
        return out

    def close(self) -> None:
        """``nvmlShutdown()`` (NVML counts inits, so another user's session stays open); a
        later query initialises again."""
        if self._ready:
            self._shutdown()
        self._ready = None
        self._devices = []

    def __repr__(self) -> str:
        return f"NvmlProvider(available={self._ready}, gpus={len(self._devices)})"


def _num(field: str) -> float | None:
    """One nvidia-smi CSV field as a number; ``[N/A]``, ``[Not Supported]``, ``[Unknown Error]``,
    ``N/A`` and blanks are None. A unit left on the value (``287.34 W``) is ignored."""
    parts = field.split()
    if not parts:
        return None
    try:
        return _finite(float(parts[0]))
    except ValueError:
        return None


def parse_nvidia_smi_csv(text: str) -> list[dict[str, Any]]:
    """Rows of ``nvidia-smi --query-gpu=<NVIDIA_SMI_FIELDS> --format=csv,noheader,nounits`` as
    provider dicts (memory in bytes; nvidia-smi prints MiB). Lines that are not such a row (a
    header, an error message) are skipped."""
    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != len(NVIDIA_SMI_FIELDS) or not parts[0].isdigit():
            continue
        used, total = _num(parts[3]), _num(parts[4])
        uuid = parts[1] if parts[1] and not parts[1].startswith("[") else None
        out.append({
            "index": int(parts[0]), "uuid": uuid, "util": _num(parts[2]),
            "mem_used_bytes": None if used is None else used * MIB,
            "mem_total_bytes": None if total is None else total * MIB,
            "temp_c": _num(parts[5]), "power_w": _num(parts[6]),
        })
    return out


def _run_command(argv: list[str], timeout: float) -> str:
    """Run ``argv``; its stdout. Raises GpuQueryError when it cannot run, times out (the
    process is killed) or exits non-zero without printing anything."""
    import subprocess

    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                           check=False)
    except subprocess.TimeoutExpired:
        raise GpuQueryError(f"{argv[0]} did not answer within {timeout:g} s") from None
    except OSError as e:
        raise GpuQueryError(f"cannot run {argv[0]}: {e}") from None
    if p.returncode != 0 and not p.stdout.strip():
        msg = (p.stderr.strip().splitlines() or ["no output"])[0]
        raise GpuQueryError(f"{argv[0]} exited with status {p.returncode}: {msg}")
    return p.stdout


class NvidiaSmiProvider:
    """GPUs through ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits`` (one process
    per query, killed after ``timeout`` seconds). ``runner(argv, timeout) -> stdout`` runs the
    command (replaceable in tests). Output that holds no GPU row but some text (the driver's
    "NVIDIA-SMI has failed..." message) raises GpuQueryError."""

    def __init__(self, runner: Callable[[list[str], float], str] | None = None, *, executable: str = "nvidia-smi",
                 timeout: float = 5.0, all_gpus: bool = False) -> None:
        self.runner = runner or _run_command
        self.executable = executable
        self.timeout = timeout
        self.all_gpus = all_gpus

    @property
    def argv(self) -> list[str]:
        return [self.executable, "--query-gpu=" + ",".join(NVIDIA_SMI_FIELDS), "--format=csv,noheader,nounits"]

    def query(self) -> list[dict[str, Any]]:
        text = self.runner(self.argv, self.timeout)
        gpus = parse_nvidia_smi_csv(text)
        if not gpus and text.strip():
            raise GpuQueryError(f"{self.executable}: {text.strip().splitlines()[0][:200]}")
        return _visible(gpus, self.all_gpus)

    def __repr__(self) -> str:
        return f"NvidiaSmiProvider(executable={self.executable!r})"


def auto_gpu_provider(*, all_gpus: bool = False) -> GpuProvider:
    """NVML if it initialises, else nvidia-smi if it is on PATH and answers, else no GPU.
    Never raises or warns. When CUDA_VISIBLE_DEVICES hides every GPU ("" or "-1"), neither is
    tried."""
    if not all_gpus and _cvd_hides_all(os.environ.get("CUDA_VISIBLE_DEVICES")):
        return NoGpuProvider()
    try:
        nv = NvmlProvider(all_gpus=all_gpus)
        if nv.available():
            return nv
        import shutil

        exe = shutil.which("nvidia-smi")
        if exe:
            smi = NvidiaSmiProvider(executable=exe, all_gpus=all_gpus)
            smi.query()  # raises if the driver does not answer
            return smi
    except Exception:
        pass
    return NoGpuProvider()


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
            import psutil  # type: ignore[import-untyped]
        except Exception:
            psutil = None
        if psutil is not None:
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
            out["system/ram_used_gb"] = used / GIB
            if total > 0:
                out["system/ram_percent"] = 100.0 * used / total
        if r.rss is not None:
            out["system/proc_rss_gb"] = r.rss / GIB
        if prev is not None and r.disk is not None and prev.disk is not None:
            for key, i in (("system/disk_read_mb_s", 0), ("system/disk_write_mb_s", 1)):
                v = _rate(r.disk[i], prev.disk[i], dt("disk"))
                if v is not None:
                    out[key] = v
        if prev is not None and r.net is not None and prev.net is not None and dt("net") > 0:
            common = [k for k in r.net if k in prev.net]  # interfaces present both times
            if common:
                for key, i in (("system/net_recv_mb_s", 0), ("system/net_sent_mb_s", 1)):
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
                out[p + "mem_used_gb"] = used / GIB
            if total is not None:
                out[p + "mem_total_gb"] = total / GIB
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
