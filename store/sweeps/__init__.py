"""Sweeps coordinated through the store: W&B sweep configs (:mod:`.config`), the samplers
(:mod:`.sample`, pure logic), hyperband early termination (:mod:`.hyperband`) and the claim /
state transactions (:mod:`.coord`, the only module here that speaks SQL)."""

from .config import SweepConfig, SweepConfigError, parse
from .coord import Claim, SweepRow, TrialRow

__all__ = ["Claim", "SweepConfig", "SweepConfigError", "SweepRow", "TrialRow", "parse"]
