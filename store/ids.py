"""Run ids and default run names."""

from __future__ import annotations

import random

_ADJ = (
    "amber", "bold", "brisk", "calm", "clever", "cosmic", "crisp", "dapper", "eager", "fancy",
    "gentle", "golden", "hazy", "icy", "jolly", "keen", "lucky", "lunar", "misty", "noble",
    "olive", "proud", "quiet", "rapid", "rosy", "rustic", "silent", "solar", "swift", "tidy",
    "upbeat", "vivid", "warm", "wild", "young", "zesty",
)
_NOUN = (
    "aurora", "badger", "brook", "cedar", "comet", "crane", "delta", "dune", "ember", "falcon",
    "fern", "field", "forest", "glade", "harbor", "heron", "island", "lake", "lynx", "maple",
    "meadow", "moon", "nebula", "otter", "panda", "pine", "planet", "river", "sky", "sparrow",
    "star", "storm", "thunder", "valley", "wave", "wind",
)
_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o/1/l: typable over the phone


def new_run_id() -> str:
    """Eight characters from an unambiguous alphabet (32^8 ≈ 10^12 ids)."""
    return "".join(random.choice(_ID_ALPHABET) for _ in range(8))


def default_run_name(n: int, rng: random.Random | None = None) -> str:
    """``adjective-noun-n``: the name of the ``n``-th run of a project when none is given."""
    r = rng or random
    return f"{r.choice(_ADJ)}-{r.choice(_NOUN)}-{n}"
