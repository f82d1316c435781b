"""The logger's process-wide state, shared by ``init()``, ``Run`` and the exit/signal/fork hooks.

Read and written as module attributes (``_state.current = run``) under :data:`lock`. Importing
this module costs nothing: ``tracker.run`` reads :data:`current` without loading the logger.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ._run import Run
    from ._writer import Writer

#: Guards everything below (re-entrant: ``finish()`` may run inside ``init()``).
lock = threading.RLock()
#: One writer per store path in this process.
writers: dict[str, Writer] = {}
#: Runs of this process not finished yet, oldest first.
active: list[Run] = []
#: The run ``tracker.log()`` / ``tracker.run`` act on.
current: Run | None = None
#: In a forked child: the parent's current run (its ``log()`` warns and is ignored).
forked_current: Run | None = None
