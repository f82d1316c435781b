"""How long ``tracker.init()`` takes with a very large config (issue 9: a 1e6-entry config took
9 s). The stored config is capped at ``MAX_CONFIG_ENTRIES`` entries with a warning; ``run.config``
keeps everything. Prints the time of ``init()`` + ``finish()`` per config size.

    python bench/config_init.py
"""

from __future__ import annotations

import tempfile
import time
import warnings

import tracker


def main() -> None:
    print(f"{'entries':>10} {'init s':>8} {'finish s':>9}")
    for n in (100, 10_000, 100_000, 1_000_000):
        cfg = {f"layer{i}.dim": i for i in range(n)}
        with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            run = tracker.init(project="bench", dir=d, config=cfg, capture_git=False, system_interval=0,
                               console=False)
            t1 = time.perf_counter()
            run.finish()
            t2 = time.perf_counter()
        print(f"{n:>10,} {t1 - t0:>8.3f} {t2 - t1:>9.3f}")


if __name__ == "__main__":
    main()
