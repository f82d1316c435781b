"""tracker.tui: the terminal side of tracker — the ``tracker-tui`` command."""
