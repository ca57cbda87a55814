"""Bounded latency reservoirs: the last N samples per stage, p50/p99 on demand.

The runtime measures stages with its own clock and hands the numbers in; the engine never
reads a clock itself.
"""

from __future__ import annotations

import math
from typing import Final

from cascade_tui.engine.types import LatencyView
from cascade_tui.stats_math import percentile

RESERVOIR_SIZE: Final = 4096


class LatencyReservoir:
    __slots__ = ("i", "n", "samples", "size")

    def __init__(self, size: int = RESERVOIR_SIZE) -> None:
        if size <= 0:
            raise ValueError("reservoir size must be positive")
        self.size = size
        self.samples: list[float] = []
        self.i = 0
        self.n = 0  # total samples ever recorded

    def add(self, seconds: float) -> bool:
        """Record one sample; a negative or non-finite value is refused (returns False)."""
        if not (seconds >= 0.0 and math.isfinite(seconds)):
            return False
        if len(self.samples) < self.size:
            self.samples.append(seconds)
        else:
            self.samples[self.i] = seconds
            self.i = (self.i + 1) % self.size
        self.n += 1
        return True

    def view(self) -> LatencyView:
        if not self.samples:
            return LatencyView(p50_ms=0.0, p99_ms=0.0, n=0)
        ordered = sorted(self.samples)
        return LatencyView(
            p50_ms=1000.0 * (percentile(ordered, 0.50, is_sorted=True) or 0.0),
            p99_ms=1000.0 * (percentile(ordered, 0.99, is_sorted=True) or 0.0),
            n=self.n,
        )
