"""System metrics sampler (tracker._system) and GPU providers (tracker._gpu): real psutil on this
(GPU-less) machine, the thread's life cycle and error handling, and the NVML / nvidia-smi paths
replayed from outputs in tests/data (hand-written ones, and real captures from an H200 under
tests/data/gpu/h200) through the provider seams (an injected pynvml-like module, an injected
command runner, and a stand-in nvidia-smi executable on PATH)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import types
import warnings
from pathlib import Path

import pytest

from tracker import _system as sysm
from tracker import _values
from tracker._gpu import (
    GpuQueryError,
    NoGpuProvider,
    NvidiaSmiProvider,
    NvmlProvider,
    auto_gpu_provider,
    filter_visible,
    parse_nvidia_smi_csv,
)
from tracker._system import GPU_KEYS, SYSTEM_KEYS, SystemSampler

DATA = Path(__file__).parent / "data"
A100X2 = DATA / "nvidia-smi-a100x2.csv"
NA = DATA / "nvidia-smi-na.csv"
NODRIVER = DATA / "nvidia-smi-nodriver.txt"
NVML_H100X4 = DATA / "nvml-h100x4.json"
H200 = DATA / "gpu" / "h200"  # real captures, see its README.md

MIB, GIB = 2.0**20, 2.0**30
RATES = ("system/disk_read_mib_s", "system/disk_write_mib_s", "system/net_recv_mib_s", "system/net_sent_mib_s")
BASIC = ("system/cpu_percent", "system/proc_cpu_percent", "system/ram_used_gib", "system/ram_percent",
         "system/proc_rss_gib")
# where psutil is not installed, every sampler says so once; the test about that records it itself
pytestmark = pytest.mark.filterwarnings("ignore:tracker. psutil is not installed")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="stand-in nvidia-smi is a shell script")


def noop(values: dict[str, float], wall: float) -> None:
    pass


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch):
    """warn_once remembers tags per process: forget ours around each test, and start each test
    with CUDA_VISIBLE_DEVICES unset."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    def forget() -> None:
        _values._warned.difference_update({t for t in _values._warned if t.startswith("system:")})

    forget()
    yield
    forget()


@pytest.fixture
def caught():
    """``caught()``: the TrackerWarnings raised meanwhile, from any thread, less the one about
    psutil missing (where it is not installed) unless ``caught(psutil=True)``."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")

        def messages(psutil: bool = False) -> list[str]:
            out = [str(x.message) for x in w if issubclass(x.category, _values.TrackerWarning)]
            return out if psutil else [m for m in out if "psutil is not installed" not in m]

        yield messages


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tracker-system-sampler"]


def assert_clean(values: dict[str, float]) -> None:
    """Floats only, finite, and only documented names."""
    for k, v in values.items():
        assert type(v) is float and math.isfinite(v), (k, v)
        assert k in SYSTEM_KEYS or (k.startswith("system/gpu") and k.split("/")[-1] in GPU_KEYS), k


def gpu_keys(values: dict[str, float]) -> list[str]:
    return sorted(k for k in values if k.startswith("system/gpu"))


# ============================================================================ real psutil
def test_real_sample_on_this_machine():
    psutil = pytest.importorskip("psutil")
    s = SystemSampler(noop, gpu_provider=None)
    first = s.sample()
    assert_clean(first)
    assert set(BASIC) <= set(first)
    assert not set(RATES) & set(first), "rates need two samples"
    assert not gpu_keys(first)
    total_gib = psutil.virtual_memory().total / GIB
    assert 0.0 <= first["system/cpu_percent"] <= 100.0
    assert 0.0 <= first["system/proc_cpu_percent"] <= 100.0
    assert 0.0 < first["system/ram_percent"] <= 100.0
    assert 0.0 < first["system/ram_used_gib"] < total_gib
    # this Python process: more than 5 MiB, less than the machine
    assert 5 * MIB / GIB < first["system/proc_rss_gib"] < total_gib
    assert first["system/proc_rss_gib"] == pytest.approx(psutil.Process().memory_info().rss / GIB, rel=0.2)

    t_end = time.thread_time() + 0.05  # some CPU for the process figure
    while time.thread_time() < t_end:
        pass
    second = s.sample()
    assert_clean(second)
    assert set(BASIC) <= set(second)
    expected_rates = {"system/net_recv_mib_s", "system/net_sent_mib_s"} if psutil.net_io_counters(pernic=True) else set()
    if psutil.disk_io_counters() is not None:
        expected_rates |= {"system/disk_read_mib_s", "system/disk_write_mib_s"}
    assert expected_rates <= set(second)
    for k in RATES:
        assert second.get(k, 0.0) >= 0.0
    assert second["system/proc_cpu_percent"] > 0.0
    assert not gpu_keys(second)


def test_process_cpu_counts_children():
    pytest.importorskip("psutil")
    ncpu = os.cpu_count() or 1
    burn = "import time\nt = time.process_time() + {}\nwhile time.process_time() < t: pass\n"
    s = SystemSampler(noop, gpu_provider=None)
    # a child waited for (its time is in children_user/system)
    s.sample()
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", burn.format(0.3)], check=True)
    v = s.sample()
    attributed = v["system/proc_cpu_percent"] / 100 * ncpu * (time.monotonic() - t0)
    assert attributed >= 0.2, v
    # a live child, still running at the sample
    child = subprocess.Popen([sys.executable, "-c", burn.format(30)])
    try:
        s.sample()
        t0 = time.monotonic()
        time.sleep(0.4)
        v = s.sample()
        attributed = v["system/proc_cpu_percent"] / 100 * ncpu * (time.monotonic() - t0)
        assert attributed >= 0.1, v
    finally:
        child.kill()
        child.wait()


def test_without_psutil_reads_proc_and_warns_once(monkeypatch: pytest.MonkeyPatch, caught):
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil -> ImportError
    s = SystemSampler(noop, gpu_provider=None)
    first = s.sample()
    time.sleep(0.02)
    second = s.sample()
    s.sample()
    msgs = caught(psutil=True)
    assert len(msgs) == 1 and "psutil is not installed" in msgs[0]
    assert_clean(first)
    assert_clean(second)
    if not os.path.exists("/proc/stat"):
        assert first == {}
        return
    assert set(BASIC) <= set(first)
    assert {"system/net_recv_mib_s", "system/net_sent_mib_s", "system/disk_read_mib_s"} <= set(second)
    monkeypatch.delitem(sys.modules, "psutil")
    psutil = pytest.importorskip("psutil")
    real = SystemSampler(noop, gpu_provider=None).sample()
    assert first["system/ram_percent"] == pytest.approx(real["system/ram_percent"], abs=5)
    assert first["system/proc_rss_gib"] == pytest.approx(real["system/proc_rss_gib"], rel=0.2)
    t = psutil.cpu_times()  # the first sample is the average since boot
    total = sum(t) - getattr(t, "guest", 0) - getattr(t, "guest_nice", 0)
    since_boot = 100 * (total - t.idle - getattr(t, "iowait", 0)) / total
    assert first["system/cpu_percent"] == pytest.approx(since_boot, abs=2)


# ======================================================================== thread life cycle
def test_start_stop_emits_then_stops():
    got: list[tuple[dict[str, float], float, str]] = []
    s = SystemSampler(lambda v, w: got.append((v, w, threading.current_thread().name)), interval=0.05,
                      gpu_provider=None)
    t0 = time.time()
    assert s.start() is s
    assert s.start() is s and len(sampler_threads()) == 1  # a second start() is a no-op
    deadline = time.monotonic() + 3
    while len(got) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    s.stop()
    assert len(got) >= 4
    assert not sampler_threads()
    n = len(got)
    time.sleep(0.15)
    assert len(got) == n, "no sample after stop()"
    walls = [w for _, w, _ in got]
    assert walls == sorted(walls) and t0 - 1 <= walls[0] <= time.time()
    assert all(name == "tracker-system-sampler" for _, _, name in got)
    assert not set(RATES) & set(got[0][0]) and set(BASIC) <= set(got[1][0])
    for v, _, _ in got:
        assert_clean(v)
    s.stop()  # twice is fine


def test_interval_zero_is_off_and_stop_before_start():
    s = SystemSampler(noop, interval=0, gpu_provider=None)
    s.stop()
    assert s.start() is s
    assert not sampler_threads()
    assert "system/ram_percent" in s.sample()  # sampling by hand still works


def test_emit_exception_keeps_sampling_and_warns_once(caught):
    calls = []

    def emit(values, wall):
        calls.append(values)
        raise RuntimeError("store is closed")

    s = SystemSampler(emit, interval=0.02, gpu_provider=None).start()
    deadline = time.monotonic() + 3
    while len(calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    s.stop()
    assert len(calls) >= 4 and not sampler_threads()
    msgs = caught()
    assert len(msgs) == 1 and "store is closed" in msgs[0] and "sampling continues" in msgs[0]


def test_stop_from_inside_emit():
    box: dict[str, SystemSampler] = {}
    calls = []

    def emit(values, wall):
        calls.append(1)
        box["s"].stop()

    box["s"] = SystemSampler(emit, interval=0.01, gpu_provider=None)
    box["s"].start()
    deadline = time.monotonic() + 3
    while sampler_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sampler_threads() and len(calls) == 1


def test_gpu_provider_failure_keeps_cpu_metrics(caught):
    class Broken:
        def __init__(self):
            self.n = 0

        def query(self):
            self.n += 1
            if self.n % 2:
                raise GpuQueryError("nvidia-smi did not answer within 5 s")
            return [{"index": 0, "uuid": "GPU-x", "util": 50.0, "mem_used_bytes": None,
                     "mem_total_bytes": float("nan"), "temp_c": None, "power_w": float("inf")}]

    s = SystemSampler(noop, gpu_provider=Broken())
    a, b, c = s.sample(), s.sample(), s.sample()
    assert "system/ram_percent" in a and not gpu_keys(a) and not gpu_keys(c)
    assert gpu_keys(b) == ["system/gpu0/util_percent"]  # None / NaN / inf left out
    msgs = caught()
    assert len(msgs) == 1 and "did not answer" in msgs[0]


def test_a_failing_group_is_left_out(monkeypatch: pytest.MonkeyPatch, caught):
    psutil = pytest.importorskip("psutil")

    def boom(*a, **k):
        raise OSError("no /proc/diskstats in this container")

    monkeypatch.setattr(psutil, "disk_io_counters", boom)
    s = SystemSampler(noop, gpu_provider=None)
    s.sample()
    time.sleep(0.05)  # some CPU ticks between the samples
    v = s.sample()
    assert "system/disk_read_mib_s" not in v and "system/ram_percent" in v and "system/cpu_percent" in v
    msgs = caught()
    assert len(msgs) == 1 and "disk I/O" in msgs[0]


# ============================================================================= nvidia-smi
def recorded(path: Path):
    calls = []

    def runner(argv, timeout):
        calls.append((argv, timeout))
        return path.read_text()

    runner.calls = calls  # type: ignore[attr-defined]
    return runner


def test_nvidia_smi_command_line():
    runner = recorded(A100X2)
    NvidiaSmiProvider(runner).query()
    (argv, timeout), = runner.calls
    assert argv == ["nvidia-smi",
                    "--query-gpu=index,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw",
                    "--format=csv,noheader,nounits"]
    assert timeout == 5.0


def test_nvidia_smi_a100x2_values():
    gpus = parse_nvidia_smi_csv(A100X2.read_text())
    assert gpus == [
        {"index": 0, "uuid": "GPU-24bfbc2a-0406-4a73-965a-83b420d20324", "util": 97.0, "mem_used_bytes": 38211 * MIB,
         "mem_total_bytes": 40960 * MIB, "temp_c": 63.0, "power_w": 312.87},
        {"index": 1, "uuid": "GPU-f59bfeb6-5e16-4eab-830b-85ab4b239946", "util": 100.0,
         "mem_used_bytes": 38195 * MIB, "mem_total_bytes": 40960 * MIB, "temp_c": 67.0, "power_w": 338.12},
    ]
    v = SystemSampler(noop, gpu_provider=NvidiaSmiProvider(recorded(A100X2))).sample()
    assert_clean(v)
    assert v["system/gpu0/util_percent"] == 97.0
    assert v["system/gpu0/mem_total_gib"] == 40.0
    assert v["system/gpu0/mem_used_gib"] == pytest.approx(38211 / 1024)
    assert v["system/gpu0/mem_percent"] == pytest.approx(100 * 38211 / 40960)
    assert v["system/gpu1/temp_c"] == 67.0 and v["system/gpu1/power_w"] == 338.12
    assert len(gpu_keys(v)) == 2 * len(GPU_KEYS)


def test_nvidia_smi_na_fields_are_left_out():
    gpus = parse_nvidia_smi_csv(NA.read_text())
    assert [g["index"] for g in gpus] == [0, 1, 2]
    assert gpus[0]["util"] is None and gpus[0]["power_w"] == 38.61  # [N/A] (MIG mode)
    assert gpus[1]["power_w"] is None and gpus[1]["util"] == 4.0  # [Not Supported]
    assert gpus[2] == {"index": 2, "uuid": "GPU-3a1544f7-839c-40fe-8587-ee2739c588cb", "util": None,
                       "mem_used_bytes": None, "mem_total_bytes": 16384 * MIB, "temp_c": None, "power_w": None}
    v = SystemSampler(noop, gpu_provider=NvidiaSmiProvider(recorded(NA))).sample()
    assert_clean(v)
    assert gpu_keys(v) == sorted(
        [f"system/gpu0/{k}" for k in ("mem_used_gib", "mem_total_gib", "mem_percent", "temp_c", "power_w")]
        + [f"system/gpu1/{k}" for k in ("util_percent", "mem_used_gib", "mem_total_gib", "mem_percent", "temp_c")]
        + ["system/gpu2/mem_total_gib"])


def test_nvidia_smi_parser_tolerates_noise():
    text = ("index, uuid, utilization.gpu [%], memory.used [MiB]\n"  # a header
            "Unable to determine the device handle for GPU0000:3B:00.0: Unknown Error\n"
            "0, GPU-aa, 12 %, 100 MiB, 200 MiB, 40, N/A\n"  # units left on, unbracketed N/A
            "1, [N/A], nan, 1, 2, 3\n")  # wrong field count
    assert parse_nvidia_smi_csv(text) == [
        {"index": 0, "uuid": "GPU-aa", "util": 12.0, "mem_used_bytes": 100 * MIB, "mem_total_bytes": 200 * MIB,
         "temp_c": 40.0, "power_w": None}]
    with pytest.raises(GpuQueryError, match="NVIDIA-SMI has failed"):
        NvidiaSmiProvider(recorded(NODRIVER)).query()
    assert NvidiaSmiProvider(lambda argv, t: "").query() == []


@pytest.mark.parametrize(("cvd", "expected"), [
    (None, [0, 1, 2]),
    ("", []),
    ("-1", []),
    ("1", [1]),
    ("2,0", [2, 0]),  # CUDA order: gpu0 is driver GPU 2
    (" 0 , 2 ", [0, 2]),
    ("0,7,1", [0]),  # reading stops at an index that does not exist
    ("0,-1,1", [0]),  # ... or a malformed entry
    ("1,1", [1]),
    ("GPU-4f7a5942-df51-4b85-993b-b7661ab869d7", [1]),
    ("gpu-3A15,0", [2, 0]),  # a unique prefix, any case, mixed with an index
    ("GPU-", []),
    ("MIG-8f2c1d33-1b5a-5e0e-9c3a-54a1a2b7c0de", []),  # MIG instance: skipped, not an error
    ("MIG-GPU-95718008-7049-480e-816e-44aca4944296/1/0,2", [2]),
])
def test_cuda_visible_devices(cvd, expected):
    gpus = parse_nvidia_smi_csv(NA.read_text())
    assert [g["index"] for g in filter_visible(gpus, cvd)] == expected


def test_cuda_visible_devices_ambiguous_uuid_prefix():
    gpus = [{"index": i, "uuid": u} for i, u in enumerate(["GPU-b3f8", "GPU-b2eb", "GPU-6c6b"])]
    assert [g["index"] for g in filter_visible(gpus, "GPU-6,GPU-b,0")] == [2]
    assert [g["index"] for g in filter_visible(gpus, "GPU-b2")] == [1]


def test_nvidia_smi_provider_follows_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-f59bfeb6")
    v = SystemSampler(noop, gpu_provider=NvidiaSmiProvider(recorded(A100X2))).sample()
    assert v["system/gpu0/power_w"] == 338.12 and "system/gpu1/power_w" not in v  # driver GPU 1 is gpu0
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    v = SystemSampler(noop, gpu_provider=NvidiaSmiProvider(recorded(A100X2))).sample()
    assert (v["system/gpu0/temp_c"], v["system/gpu1/temp_c"]) == (67.0, 63.0)
    assert len(NvidiaSmiProvider(recorded(A100X2), all_gpus=True).query()) == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not gpu_keys(SystemSampler(noop, gpu_provider=NvidiaSmiProvider(recorded(A100X2))).sample())


# =================================================================================== NVML
class FakeNVMLError(Exception):
    pass


NVML_MEMORY_V2 = 0x02000028  # pynvml.nvmlMemory_v2 (nvidia-ml-py 13.615.71)


def fake_nvml(path: Path = NVML_H100X4, *, init_error: str | None = None, uuid_bytes: bool = False,
              mem_v2: str | None = None, reserved: int = 0):
    """A stand-in for the pynvml module: the same function names, answering from a recording.

    ``mem_v2`` is what ``nvmlDeviceGetMemoryInfo(h, version=nvmlMemory_v2)`` does: None = a
    binding without it (nvidia-ml-py before 11.510: no ``nvmlMemory_v2``, no ``version``
    argument), ``"error"`` = a driver without ``nvmlDeviceGetMemoryInfo_v2``
    (``NVMLError_FunctionNotFound``), ``"ok"`` = answers from the recorded version-1 figures with
    ``reserved`` bytes moved out of ``used``, as version 2 reports them.
    """
    devices = json.loads(path.read_text())["devices"]
    m = types.ModuleType("pynvml")
    m.NVML_TEMPERATURE_GPU = 0
    m.NVMLError = FakeNVMLError
    m.calls = []  # (function, device index) for per-device value queries
    m.inits = 0

    def answer(name, handle):
        m.calls.append((name, handle.index))
        v = devices[handle.index][name]
        if isinstance(v, dict) and "error" in v:
            raise FakeNVMLError(v["error"])
        return v

    def nvmlInit():
        if init_error:
            raise FakeNVMLError(init_error)
        m.inits += 1

    def nvmlShutdown():
        m.inits -= 1

    def nvmlDeviceGetHandleByIndex(i):
        if not 0 <= i < len(devices):
            raise FakeNVMLError("NVMLError_InvalidArgument")
        return types.SimpleNamespace(index=i)

    def nvmlDeviceGetUUID(h):
        u = devices[h.index]["uuid"]
        return u.encode() if uuid_bytes else u

    def nvmlDeviceGetTemperature(h, sensor):
        assert sensor == m.NVML_TEMPERATURE_GPU
        return answer("nvmlDeviceGetTemperature", h)

    m.nvmlInit, m.nvmlShutdown = nvmlInit, nvmlShutdown
    m.nvmlDeviceGetCount = lambda: len(devices)
    m.nvmlDeviceGetHandleByIndex = nvmlDeviceGetHandleByIndex
    m.nvmlDeviceGetUUID = nvmlDeviceGetUUID
    m.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(**answer("nvmlDeviceGetUtilizationRates", h))
    def memory_v1(h):
        return types.SimpleNamespace(**answer("nvmlDeviceGetMemoryInfo", h))

    def memory_v2(h, version=None):
        if not version:
            return memory_v1(h)
        assert version == NVML_MEMORY_V2
        m.calls.append(("nvmlDeviceGetMemoryInfo_v2", h.index))
        if mem_v2 == "error":
            raise FakeNVMLError("NVMLError_FunctionNotFound")
        v1 = devices[h.index]["nvmlDeviceGetMemoryInfo"]
        return types.SimpleNamespace(version=version, total=v1["total"], reserved=reserved, free=v1["free"],
                                     used=v1["used"] - reserved)

    if mem_v2 is None:
        m.nvmlDeviceGetMemoryInfo = memory_v1
    else:
        m.nvmlMemory_v2 = NVML_MEMORY_V2
        m.nvmlDeviceGetMemoryInfo = memory_v2
    m.nvmlDeviceGetTemperature = nvmlDeviceGetTemperature
    m.nvmlDeviceGetPowerUsage = lambda h: answer("nvmlDeviceGetPowerUsage", h)
    return m


@pytest.mark.parametrize("uuid_bytes", [False, True])
def test_nvml_h100x4(uuid_bytes):
    rec = json.loads(NVML_H100X4.read_text())["devices"]
    nvml = fake_nvml(uuid_bytes=uuid_bytes)
    p = NvmlProvider(nvml)
    gpus = p.query()
    assert [g["uuid"] for g in gpus] == [d["uuid"] for d in rec]
    g0 = gpus[0]
    assert g0 == {"index": 0, "uuid": rec[0]["uuid"], "util": 98.0, "mem_used_bytes": 77818388480.0,
                  "mem_total_bytes": 85520809984.0, "temp_c": 61.0, "power_w": 612.84}
    assert gpus[3]["util"] is None and gpus[3]["power_w"] == 71.264  # NotSupported under MIG

    v = SystemSampler(noop, gpu_provider=NvmlProvider(fake_nvml())).sample()
    assert_clean(v)
    assert v["system/gpu2/power_w"] == pytest.approx(655.371)
    assert v["system/gpu0/mem_total_gib"] == pytest.approx(81559 / 1024)
    assert v["system/gpu1/mem_percent"] == pytest.approx(100 * 77582774272 / 85520809984)
    assert "system/gpu3/util_percent" not in v and v["system/gpu3/temp_c"] == 33.0
    assert len(gpu_keys(v)) == 4 * len(GPU_KEYS) - 1
    p.close()
    assert nvml.inits == 0


def test_nvml_only_queries_visible_gpus(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-6c6b,3")
    nvml = fake_nvml()
    v = SystemSampler(noop, gpu_provider=NvmlProvider(nvml)).sample()
    assert v["system/gpu0/temp_c"] == 64.0 and v["system/gpu1/temp_c"] == 33.0 and "system/gpu2/temp_c" not in v
    assert {i for _, i in nvml.calls} == {2, 3}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-b")  # ambiguous: three UUIDs start with it
    assert NvmlProvider(fake_nvml()).query() == []


def test_nvml_init_failure_is_not_available():
    p = NvmlProvider(fake_nvml(init_error="NVMLError_DriverNotLoaded"))
    assert not p.available() and p.query() == [] and "DriverNotLoaded" in (p.error or "")


def test_real_pynvml_without_gpu_is_not_available():
    pytest.importorskip("pynvml")
    p = NvmlProvider()
    if p.available():  # a box with a GPU: it reports one
        assert p.query()
    else:  # no GPU/driver (CI): not available, says why, and queries give nothing
        assert p.error and p.query() == []
    p.close()


# ========================================================================= real H200 captures
H200_TOTAL_GIB = 143771 / 1024  # nvidia-smi's memory.total (MiB) on that machine, in GiB
H200_RESERVED = 644939776  # NVML v1 `used` at idle, where nvidia-smi says 0 MiB: the driver's own


def nvidia_smi_table(text: str) -> dict[str, float]:
    """The GPU row of plain ``nvidia-smi``: what a user reads there."""
    m = re.search(r"(\d+)C\s+P\d+\s+(\d+)W\s*/\s*(\d+)W\s*\|\s*(\d+)MiB\s*/\s*(\d+)MiB\s*\|\s*(\d+)%", text)
    assert m, "no GPU row in the nvidia-smi table"
    temp, power, _cap, used, total, util = (float(x) for x in m.groups())
    return {"temp_c": temp, "power_w": power, "used_mib": used, "total_mib": total, "util": util}


def test_h200_nvidia_smi_idle_is_what_its_table_says():
    v = SystemSampler(noop, gpu_provider=NvidiaSmiProvider(recorded(H200 / "nvidia-smi-h200x1-idle.csv"))).sample()
    assert_clean(v)
    assert {k: v[k] for k in gpu_keys(v)} == {
        "system/gpu0/util_percent": 0.0, "system/gpu0/mem_used_gib": 0.0, "system/gpu0/mem_total_gib": H200_TOTAL_GIB,
        "system/gpu0/mem_percent": 0.0, "system/gpu0/temp_c": 34.0, "system/gpu0/power_w": 78.18}
    table = nvidia_smi_table((H200 / "nvidia-smi.txt").read_text())
    assert v["system/gpu0/mem_used_gib"] * 1024 == table["used_mib"] == 0.0
    assert v["system/gpu0/mem_total_gib"] * 1024 == table["total_mib"] == 143771.0
    assert (v["system/gpu0/temp_c"], round(v["system/gpu0/power_w"]), v["system/gpu0/util_percent"]) == (
        table["temp_c"], table["power_w"], table["util"])


def test_h200_nvidia_smi_under_training_load():
    rows = (H200 / "nvidia-smi-h200x1-load.csv").read_text().splitlines()
    it = iter(rows)
    s = SystemSampler(noop, gpu_provider=NvidiaSmiProvider(lambda argv, t: next(it) + "\n"))
    samples = [s.sample() for _ in rows]  # one nvidia-smi answer per sample, as recorded every 0.5 s
    for v in samples:
        assert_clean(v)
        assert len(gpu_keys(v)) == len(GPU_KEYS)
    first = {k: samples[0][k] for k in gpu_keys(samples[0])}
    assert first == {
        "system/gpu0/util_percent": 36.0, "system/gpu0/mem_used_gib": 1317 / 1024,
        "system/gpu0/mem_total_gib": H200_TOTAL_GIB, "system/gpu0/mem_percent": pytest.approx(100 * 1317 / 143771),
        "system/gpu0/temp_c": 38.0, "system/gpu0/power_w": 193.56}
    assert f"{first['system/gpu0/mem_used_gib']:.2f} GiB" == "1.29 GiB"
    util = [v["system/gpu0/util_percent"] for v in samples]
    power = [v["system/gpu0/power_w"] for v in samples]
    temp = [v["system/gpu0/temp_c"] for v in samples]
    assert (min(util), max(util), min(power), max(power), min(temp), max(temp)) == (
        8.0, 51.0, 193.56, 285.35, 37.0, 41.0)
    assert {v["system/gpu0/mem_used_gib"] for v in samples} == {1317 / 1024}


@pytest.mark.parametrize(("capture", "temp", "power"), [("idle", 34.0, 78.138), ("after", 37.0, 123.399)])
def test_h200_nvml_reports_memory_like_nvidia_smi(capture, temp, power):
    """NVML v1 counts the ~0.6 GB the driver reserves as used; with version 2 of the memory info
    the sampler shows what nvidia-smi shows: 0 GiB used of 140.4 GiB on the idle H200. The v2
    answers are the recorded v1 figures with the reserved bytes out of ``used`` (the captures hold
    v1 only; the reserved figure is v1's ``used`` at idle, where nvidia-smi said 0 MiB)."""
    nvml = fake_nvml(H200 / f"nvml-h200x1-{capture}.json", mem_v2="ok", reserved=H200_RESERVED)
    v = SystemSampler(noop, gpu_provider=NvmlProvider(nvml)).sample()
    assert_clean(v)
    assert {k: v[k] for k in gpu_keys(v)} == {
        "system/gpu0/util_percent": 0.0, "system/gpu0/mem_used_gib": 0.0, "system/gpu0/mem_total_gib": H200_TOTAL_GIB,
        "system/gpu0/mem_percent": 0.0, "system/gpu0/temp_c": temp, "system/gpu0/power_w": power}
    table = nvidia_smi_table((H200 / "nvidia-smi.txt").read_text())
    assert v["system/gpu0/mem_used_gib"] * 1024 == table["used_mib"]
    assert v["system/gpu0/mem_total_gib"] * 1024 == table["total_mib"]  # NVML bytes vs nvidia-smi MiB
    assert ("nvmlDeviceGetMemoryInfo_v2", 0) in nvml.calls and ("nvmlDeviceGetMemoryInfo", 0) not in nvml.calls


@pytest.mark.parametrize("mem_v2", [None, "error"], ids=["old-binding", "old-driver"])
def test_h200_nvml_without_memory_v2_falls_back_to_v1(mem_v2):
    """Where version 2 cannot be had, version 1 is used (reserved memory counted as used: 615 MiB
    at idle), and an old driver is asked for v2 once per GPU, not on every sample."""
    nvml = fake_nvml(H200 / "nvml-h200x1-idle.json", mem_v2=mem_v2, reserved=H200_RESERVED)
    s = SystemSampler(noop, gpu_provider=NvmlProvider(nvml))
    for _ in range(3):
        v = s.sample()
        assert v["system/gpu0/mem_used_gib"] == H200_RESERVED / GIB
        assert f"{v['system/gpu0/mem_used_gib']:.2f}" == "0.60"
        assert v["system/gpu0/mem_total_gib"] == H200_TOTAL_GIB
    assert nvml.calls.count(("nvmlDeviceGetMemoryInfo_v2", 0)) == (1 if mem_v2 == "error" else 0)
    assert nvml.calls.count(("nvmlDeviceGetMemoryInfo", 0)) == 3


# ============================================================================ auto, no GPU
def put_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str | None) -> None:
    """PATH = a folder holding only a stand-in nvidia-smi (or nothing); pynvml not importable."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    if script is not None:
        exe = bindir / "nvidia-smi"
        exe.write_text("#!/bin/sh\n" + script)
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setitem(sys.modules, "pynvml", None)


def test_no_gpu_no_metrics_no_warning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caught):
    put_on_path(monkeypatch, tmp_path, None)
    assert isinstance(auto_gpu_provider(), NoGpuProvider)
    s = SystemSampler(noop)  # gpu_provider="auto"
    for _ in range(3):
        v = s.sample()
        assert not gpu_keys(v) and "system/ram_percent" in v
    s.stop()
    assert caught() == []


@posix_only
def test_auto_uses_nvidia_smi_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caught):
    put_on_path(monkeypatch, tmp_path, f"exec /bin/cat '{A100X2}'\n")
    p = auto_gpu_provider()
    assert isinstance(p, NvidiaSmiProvider) and p.executable == str(tmp_path / "bin" / "nvidia-smi")
    v = SystemSampler(noop).sample()
    assert v["system/gpu1/power_w"] == 338.12
    assert caught() == []


@posix_only
def test_auto_skips_nvidia_smi_without_driver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caught):
    put_on_path(monkeypatch, tmp_path, f"/bin/cat '{NODRIVER}'\nexit 9\n")
    assert isinstance(auto_gpu_provider(), NoGpuProvider)
    s = SystemSampler(noop)
    assert not gpu_keys(s.sample()) and not gpu_keys(s.sample())
    assert caught() == []


@posix_only
def test_nvidia_smi_timeout_is_an_error_not_a_hang(tmp_path: Path):
    exe = tmp_path / "nvidia-smi"
    exe.write_text("#!/bin/sh\nexec sleep 5\n")
    exe.chmod(0o755)
    t0 = time.monotonic()
    with pytest.raises(GpuQueryError, match="did not answer"):
        NvidiaSmiProvider(executable=str(exe), timeout=0.2).query()
    assert time.monotonic() - t0 < 2
    with pytest.raises(GpuQueryError, match="cannot run"):
        NvidiaSmiProvider(executable=str(tmp_path / "missing")).query()


def test_auto_prefers_nvml_and_sampler_closes_it(monkeypatch: pytest.MonkeyPatch):
    nvml = fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    got = []
    s = SystemSampler(lambda v, w: got.append(v), interval=0.02).start()
    deadline = time.monotonic() + 3
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert nvml.inits == 1
    s.stop()
    assert nvml.inits == 0  # nvmlShutdown on stop
    assert got[0]["system/gpu0/util_percent"] == 98.0


def test_cuda_visible_devices_empty_skips_gpu_libraries(monkeypatch: pytest.MonkeyPatch):
    nvml = fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert isinstance(auto_gpu_provider(), NoGpuProvider) and nvml.inits == 0
    assert len(auto_gpu_provider(all_gpus=True).query()) == 4


def test_bad_gpu_provider_argument():
    with pytest.raises(ValueError, match="gpu_provider"):
        SystemSampler(noop, gpu_provider="nvml")


# ================================================================================ imports
def test_import_is_light():
    code = ("import sys, tracker._system, tracker._gpu\n"
            "print([m for m in ('psutil', 'pynvml', 'numpy', 'subprocess') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert "psutil" not in sysm.__dict__
