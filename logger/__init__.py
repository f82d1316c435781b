"""tracker: log ML runs to a local SQLite store with one import.

    import tracker
    run = tracker.init(project="cifar", config={"lr": 3e-4})
    for step in range(1000):
        run.log({"train/loss": loss})
    run.finish()

Everything is loaded lazily so ``import tracker`` costs a few milliseconds and never imports
Textual, Rich, plotext, watchdog, NumPy or torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from ._run import Config, Run, RunFinishedError, Summary, finish, init, log
    from .api import Api

__all__ = ["Api", "Config", "Run", "RunFinishedError", "Summary", "TrackerWarning", "finish", "init", "log",
           "run", "config", "summary", "__version__"]

_FROM_RUN = {"init", "log", "finish", "Run", "Config", "Summary", "RunFinishedError"}


def __getattr__(name: str) -> Any:
    if name in _FROM_RUN:
        from . import _run as _run_mod

        return getattr(_run_mod, name)
    if name == "Api":
        from .api import Api

        return Api
    if name == "TrackerWarning":
        from ._values import TrackerWarning

        return TrackerWarning
    if name in ("run", "config", "summary"):
        import sys

        mod = sys.modules.get(__name__ + "._run")
        current = mod.current() if mod is not None else None
        if name == "run":
            return current
        if current is None:
            return None
        return getattr(current, name)
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")
