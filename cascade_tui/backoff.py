"""Capped exponential backoff with jitter: the one retry schedule every reconnecting part uses.

Venue links, REST pollers, the Redis writer and viewer, the history writer and alert
webhooks all wait `delay(attempt)` before retry `attempt` (1-based). The ceiling doubles
from `base_s` up to `cap_s`; `jitter` spreads the wait below the ceiling so that many
clients cut off at once do not come back at once ("full jitter" is jitter=1.0, AWS
architecture blog; jitter=0.5 draws from the upper half; jitter=0 is deterministic).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

# 2**30 already dwarfs any cap: larger exponents only risk an overflow
MAX_DOUBLINGS = 30


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    cap_s: float = 60.0
    jitter: float = 1.0  # share of the ceiling that is randomised, in [0, 1]
    floor_s: float = 0.0  # never retry sooner than this, even when the jitter draws ~0
    stable_after_s: float = 60.0  # a link that lived this long resets the attempt count

    def __post_init__(self) -> None:
        if not (0.0 <= self.jitter <= 1.0):
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")
        if not (0.0 < self.base_s <= self.cap_s):
            raise ValueError(f"need 0 < base_s <= cap_s, got {self.base_s}, {self.cap_s}")

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry `attempt` (1-based)."""
        return min(self.cap_s, self.base_s * 2.0 ** min(max(attempt - 1, 0), MAX_DOUBLINGS))

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry `attempt`: uniform in [ceiling * (1 - jitter), ceiling]."""
        ceiling = self.ceiling(attempt)
        return max(self.floor_s, ceiling * (1.0 - self.jitter + self.jitter * rng()))
