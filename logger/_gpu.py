"""GPU providers for the system sampler: NVML (``pynvml``), ``nvidia-smi``, or none.

A provider's ``query()`` returns one dict per GPU to report, in the order to name them
(``system/gpu0``, ``system/gpu1``...): see :class:`GpuProvider`. :func:`auto_gpu_provider`
picks NVML if it initialises, else ``nvidia-smi`` if it answers, else no GPU (not an error).
Only the GPUs this process can see are reported, in CUDA's order (:func:`filter_visible`).

Memory is reported as ``nvidia-smi`` reports it. NVML's original ``nvmlDeviceGetMemoryInfo``
counts the memory the driver reserves for itself as used (about 0.6 GB on an H200 with nothing
running, where nvidia-smi says 0 MiB), so :class:`NvmlProvider` asks for version 2 of the memory
info (``used`` without the reserved memory, as nvidia-smi counts) and falls back to version 1
where the binding or the driver lacks it (nvidia-ml-py before 11.510, drivers before R510).

Nothing heavy is imported with this module: pynvml, subprocess and shutil are imported on
first use.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

__all__ = [
    "NVIDIA_SMI_FIELDS", "GpuProvider", "GpuQueryError", "NoGpuProvider", "NvidiaSmiProvider", "NvmlProvider",
    "auto_gpu_provider", "filter_visible", "parse_nvidia_smi_csv",
]

MIB = float(1 << 20)

#: The ``--query-gpu`` fields of :class:`NvidiaSmiProvider`, in output order.
NVIDIA_SMI_FIELDS = ("index", "uuid", "utilization.gpu", "memory.used", "memory.total", "temperature.gpu",
                     "power.draw")


def finite(v: Any) -> float | None:
    """``v`` as a float, or None for None / non-numbers / NaN / infinities."""
    if v is None or isinstance(v, (str, bytes)):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


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
    Memory comes from NVML's memory info version 2 where available (see the module doc).
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
                import pynvml as nvml  # type: ignore[no-redef]
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
        return [self._query_device(d) for d in _visible(self._devices, self.all_gpus)]

    def _query_device(self, d: dict[str, Any]) -> dict[str, Any]:
        nvml, h = self._nvml, d["handle"]
        g: dict[str, Any] = {"index": d["index"], "uuid": d["uuid"], "util": None, "mem_used_bytes": None,
                             "mem_total_bytes": None, "temp_c": None, "power_w": None}
        if h is None:
            return g
        try:
            g["util"] = finite(nvml.nvmlDeviceGetUtilizationRates(h).gpu)
        except Exception:
            pass
        try:
            mem = self._memory_info(d)
            g["mem_used_bytes"], g["mem_total_bytes"] = finite(mem.used), finite(mem.total)
        except Exception:
            pass
        try:
            g["temp_c"] = finite(nvml.nvmlDeviceGetTemperature(h, getattr(nvml, "NVML_TEMPERATURE_GPU", 0)))
        except Exception:
            pass
        try:
            mw = finite(nvml.nvmlDeviceGetPowerUsage(h))  # milliwatts
            g["power_w"] = None if mw is None else mw / 1000.0
        except Exception:
            pass
        return g

    def _memory_info(self, d: dict[str, Any]) -> Any:
        """The device's memory info, version 2 where it can be had (``used`` without the memory
        the driver reserves, as nvidia-smi counts it), else version 1. A device whose v2 call
        fails once (a binding without the ``version`` argument, a driver without
        ``nvmlDeviceGetMemoryInfo_v2``) is asked for v1 from then on."""
        nvml, h = self._nvml, d["handle"]
        v2 = getattr(nvml, "nvmlMemory_v2", None)
        if v2 is not None and d.get("mem_v2", True):
            try:
                return nvml.nvmlDeviceGetMemoryInfo(h, version=v2)
            except Exception:
                d["mem_v2"] = False
        return nvml.nvmlDeviceGetMemoryInfo(h)

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
        return finite(float(parts[0]))
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
