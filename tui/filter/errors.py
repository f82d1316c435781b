"""The one exception the filter language raises, and how it shows pieces of the text."""

from __future__ import annotations

from tracker.tui.text import sanitize


class FilterError(ValueError):
    """A filter that cannot be parsed.

    Attributes:
        message: What is wrong, for people (no position in it).
        position: 0-based index into the filter text where the problem is (``len(text)`` when
            something is missing at the end).
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    @property
    def column(self) -> int:
        """1-based column of :attr:`position`."""
        return self.position + 1

    def __str__(self) -> str:
        return f"{self.message} at column {self.column}"


def show(s: str, limit: int = 30) -> str:
    # Error messages end up on screen: control characters made visible, pastes shortened.
    s = sanitize(s)
    return f"'{s[:limit]}…'" if len(s) > limit else f"'{s}'"
