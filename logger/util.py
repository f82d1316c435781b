"""``tracker.util``: the helpers of ``wandb.util`` that training scripts call."""

from __future__ import annotations


def generate_id(length: int = 8) -> str:
    """A new random run id (letters and digits), e.g. for ``init(id=..., resume="allow")``."""
    import secrets

    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(max(1, min(int(length), 64))))
