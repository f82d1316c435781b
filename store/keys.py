"""Which metric keys are system metrics.

The logger's system sampler writes ``system/...`` points through the same queue as
``run.log()``, so the store tells them apart by name: the sampler's exact names below, and
``system/gpu<i>/<suffix>`` per visible GPU. A key a user logs under ``system/`` that the sampler
never writes (``system/gpu_memory_mb``) is a training metric like any other: it is in
``history()`` and in ``run.summary``; sampled system metrics are in neither (they have
``system_history()``, like wandb's system tab).
"""

from __future__ import annotations

#: Every non-GPU name a system sample can hold (units in the names: GiB = 2**30 bytes, MiB/s).
SYSTEM_KEYS = (
    "system/cpu_percent", "system/proc_cpu_percent", "system/ram_used_gib", "system/ram_percent",
    "system/proc_rss_gib", "system/disk_read_mib_s", "system/disk_write_mib_s", "system/net_recv_mib_s",
    "system/net_sent_mib_s",
)
#: Per visible GPU ``i``, the sampled names are ``f"system/gpu{i}/{suffix}"`` for these suffixes.
GPU_KEYS = ("util_percent", "mem_used_gib", "mem_total_gib", "mem_percent", "temp_c", "power_w")
#: The names stores written before the units were named honestly hold (same units, ``_gb``/``_mb_s``).
LEGACY_SYSTEM_KEYS = (
    "system/ram_used_gb", "system/proc_rss_gb", "system/disk_read_mb_s", "system/disk_write_mb_s",
    "system/net_recv_mb_s", "system/net_sent_mb_s",
)
LEGACY_GPU_KEYS = ("mem_used_gb", "mem_total_gb")

_SYSTEM = frozenset(SYSTEM_KEYS + LEGACY_SYSTEM_KEYS)
_GPU = frozenset(GPU_KEYS + LEGACY_GPU_KEYS)
_GPU_PREFIX = "system/gpu"
#: System metrics imported from another tracker under their own names (``tracker-tui import``):
#: wandb's that have no sampler twin, and trackio's.
IMPORTED_PREFIXES = ("system/wandb/", "system/trackio/")


def is_system_metric(key: str) -> bool:
    """Is ``key`` a metric the system sampler writes (not one the user logged)?"""
    if key in _SYSTEM or key.startswith(IMPORTED_PREFIXES):
        return True
    if not key.startswith(_GPU_PREFIX) or key.count("/") != 2:
        return False
    index, _, suffix = key[len(_GPU_PREFIX):].partition("/")
    return index.isdigit() and index.isascii() and suffix in _GPU


def system_metric_sql(col: str) -> str:
    """The SQL form of :func:`is_system_metric` for the text column ``col`` (for the views)."""
    names = ", ".join(f"'{k}'" for k in sorted(_SYSTEM))
    suffixes = ", ".join(f"'{s}'" for s in sorted(_GPU))
    imported = " OR ".join(f"{col} GLOB '{p}*'" for p in IMPORTED_PREFIXES)
    return (
        f"({col} IN ({names}) OR {imported} OR ({col} GLOB '{_GPU_PREFIX}[0-9]*/*' AND {col} NOT GLOB '*/*/*/*'"
        f" AND NOT substr({col}, 11, instr(substr({col}, 11), '/') - 1) GLOB '*[^0-9]*'"
        f" AND substr({col}, 11 + instr(substr({col}, 11), '/')) IN ({suffixes})))"
    )
