"""``python -m tracker.tui.cli``: the same as the ``tracker-tui`` command."""

import sys

from tracker.tui.cli import main

sys.exit(main())
