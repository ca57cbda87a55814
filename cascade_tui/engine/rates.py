"""Time-based rate estimators: exponentially decayed sums, per-second rings, occupancy masks.

Every structure here is O(1) amortized per update and exact for any burst size: there is no
event list and no length cap on what a window can hold (the seed's `deque(maxlen=10)` bug).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from cascade_tui.engine.params import WINDOWS

TAUS: Final[tuple[float, ...]] = tuple(float(w) for w in WINDOWS)  # 1, 5, 20, 60 s
_exp = math.exp


def _decay_factors(dt: float) -> tuple[float, float, float, float]:
    """exp(-dt/τ) for τ = 1, 5, 20, 60 from a single exp (the τ are integer multiples)."""
    d60 = _exp(-dt / 60.0)
    d20 = d60 * d60 * d60
    d5 = d20 * d20
    d5 *= d5
    d1 = d5 * d5
    d1 = d1 * d1 * d5
    return d1, d5, d20, d60


def acceleration(rates: Sequence[float]) -> tuple[float, float, float, float]:
    """Per-window acceleration (events/s²) from the decayed rates r1, r5, r20, r60.

    An exponential window of constant τ lags by τ on average, so the difference of two
    windows' rates divided by the difference of their lags is the slope of the rate. The 60 s
    window has no longer neighbour, so it repeats the 20-60 s slope.
    """
    r1, r5, r20, r60 = rates
    a1 = (r1 - r5) / (TAUS[1] - TAUS[0])
    a5 = (r5 - r20) / (TAUS[2] - TAUS[1])
    a20 = (r20 - r60) / (TAUS[3] - TAUS[2])
    return a1, a5, a20, a20


class DecayedRates:
    """Decayed sums S_τ = Σ w_i e^{-(t - t_i)/τ} for τ in 1/5/20/60 s; rate = S_τ / τ.

    Channels: unweighted count and USD at every τ (what happened: the velocities shown), and
    the weighted sums the score reads — count at τ = 5 s and 60 s, USD at τ = 20 s, and the
    full-feed (unsampled) count at τ = 5 s. Stale venues weigh 0; a caller may cap what one
    print adds to the weighted USD. Only the sums someone reads are kept: this runs for every
    liquidation in three scopes. All channels share one decay step (a single exp).
    """

    __slots__ = ("count", "full5", "t", "usd", "wc5", "wc60", "wu20")

    def __init__(self, t: float = 0.0) -> None:
        self.t = t
        self.count = [0.0, 0.0, 0.0, 0.0]
        self.usd = [0.0, 0.0, 0.0, 0.0]
        self.wc5 = 0.0  # weighted count, τ = 5 s
        self.wc60 = 0.0  # weighted count, τ = 60 s
        self.wu20 = 0.0  # weighted (capped) USD, τ = 20 s
        self.full5 = 0.0  # weighted count from full (unsampled) feeds, τ = 5 s

    def _decay_to(self, t: float) -> None:
        dt = t - self.t
        if dt <= 0.0:
            return
        d1, d5, d20, d60 = _decay_factors(dt)
        # unrolled: this runs for every event of every scope
        c = self.count
        c[0] *= d1
        c[1] *= d5
        c[2] *= d20
        c[3] *= d60
        u = self.usd
        u[0] *= d1
        u[1] *= d5
        u[2] *= d20
        u[3] *= d60
        self.wc5 *= d5
        self.wc60 *= d60
        self.wu20 *= d20
        self.full5 *= d5
        self.t = t

    def add(
        self,
        t: float,
        usd: float,
        weight: float = 1.0,
        full_feed: bool = True,
        scored_usd: float | None = None,
    ) -> None:
        """Add one event at time t (t must not be before the last update).

        `scored_usd` replaces `usd` in the weighted channel when a caller caps what one
        print may contribute to a score.
        """
        self._decay_to(t)
        c = self.count
        c[0] += 1.0
        c[1] += 1.0
        c[2] += 1.0
        c[3] += 1.0
        u = self.usd
        u[0] += usd
        u[1] += usd
        u[2] += usd
        u[3] += usd
        if weight:
            self.wc5 += weight
            self.wc60 += weight
            self.wu20 += (usd if scored_usd is None else scored_usd) * weight
            if full_feed:
                self.full5 += weight

    def sums_at(self, t: float) -> tuple[list[float], list[float]]:
        """Unweighted decayed sums at t without mutating: (count, usd) per τ."""
        dt = t - self.t
        if dt <= 0.0:
            return list(self.count), list(self.usd)
        d = _decay_factors(dt)
        return (
            [x * f for x, f in zip(self.count, d, strict=True)],
            [x * f for x, f in zip(self.usd, d, strict=True)],
        )

    def score_sums_at(self, t: float) -> tuple[float, float, float, float]:
        """What the score reads, without mutating: weighted count τ=5 and τ=60, weighted USD
        τ=20, and the full-feed count τ=5."""
        dt = t - self.t
        if dt <= 0.0:
            return self.wc5, self.wc60, self.wu20, self.full5
        _, d5, d20, d60 = _decay_factors(dt)
        return self.wc5 * d5, self.wc60 * d60, self.wu20 * d20, self.full5 * d5

    def rates_at(self, t: float) -> tuple[list[float], list[float]]:
        """Unweighted events/s and USD/s per window at t."""
        count, usd = self.sums_at(t)
        return [s / tau for s, tau in zip(count, TAUS, strict=True)], [
            s / tau for s, tau in zip(usd, TAUS, strict=True)
        ]


class SlotRing:
    """Per-second slots over the last `size` seconds with running sums per channel.

    Slots are cleared lazily when the clock crosses a second; sums are recomputed every
    `size` advances so floating-point drift cannot accumulate.
    """

    __slots__ = ("_since_resum", "channels", "sec", "size", "sums")

    def __init__(self, size: int, channels: int, sec: int = 0) -> None:
        self.size = size
        self.sec = sec
        self.channels = [[0.0] * size for _ in range(channels)]
        self.sums = [0.0] * channels
        self._since_resum = 0

    def advance(self, sec: int) -> None:
        gap = sec - self.sec
        if gap <= 0:
            return
        size = self.size
        if gap >= size:
            for ch in self.channels:
                ch[:] = [0.0] * size
            self.sums = [0.0] * len(self.channels)
            self._since_resum = 0
        elif gap == 1:
            # the common case (one second later): clear one slot per channel
            idx = (self.sec + 1) % size
            sums = self.sums
            for k, ch in enumerate(self.channels):
                removed = ch[idx]
                if removed:
                    sums[k] -= removed
                    ch[idx] = 0.0
            self._since_resum += 1
            if self._since_resum >= size:
                self.sums = [math.fsum(ch) for ch in self.channels]
                self._since_resum = 0
        else:
            # clear slots sec+1 .. sec+gap (at most two contiguous runs), subtracting them
            lo = (self.sec + 1) % size
            hi = lo + gap
            runs = ((lo, hi),) if hi <= size else ((lo, size), (0, hi - size))
            sums = self.sums
            for k, ch in enumerate(self.channels):
                for a, b in runs:
                    removed = sum(ch[a:b])
                    if removed:
                        sums[k] -= removed
                        ch[a:b] = [0.0] * (b - a)
            self._since_resum += gap
            if self._since_resum >= size:
                self.sums = [math.fsum(ch) for ch in self.channels]
                self._since_resum = 0
        self.sec = sec

    def add(self, sec: int, channel: int, value: float) -> None:
        """Add to the current second (callers advance first; an older second adds to now)."""
        if sec > self.sec:
            self.advance(sec)
        self.channels[channel][self.sec % self.size] += value
        self.sums[channel] += value

    def add_row(self, sec: int, values: tuple[float, ...]) -> None:
        """Add one value per channel to the current second (one call instead of one per channel)."""
        if sec > self.sec:
            self.advance(sec)
        idx = self.sec % self.size
        sums = self.sums
        channels = self.channels
        for k, v in enumerate(values):  # callers pass exactly one value per channel
            if v:
                channels[k][idx] += v
                sums[k] += v

    def add_three(self, sec: int, k1: int, v1: float, k2: int, v2: float, k3: int, v3: float) -> None:
        """`add_row` of a row whose other channels are 0 (three channels named, each once):
        the same sums without walking the row, for the per-liquidation windows. Adding 0.0
        leaves a sum as it is, so a named channel's value may be 0."""
        if sec > self.sec:
            self.advance(sec)
        idx = self.sec % self.size
        sums = self.sums
        channels = self.channels
        channels[k1][idx] += v1
        sums[k1] += v1
        channels[k2][idx] += v2
        sums[k2] += v2
        channels[k3][idx] += v3
        sums[k3] += v3

    def total(self, channel: int) -> float:
        s = self.sums[channel]
        return s if s > 1e-9 else 0.0

    def history(self, channel: int, sec: int) -> tuple[float, ...]:
        """Values of the last `size` seconds ending at `sec`, oldest first."""
        self.advance(sec)
        ch = self.channels[channel]
        start = (self.sec + 1) % self.size
        return tuple(ch[start:] + ch[:start])


class OccupancyMask:
    """Which of the last 60 one-second slots held at least one event (bit 0 = current second)."""

    __slots__ = ("mask", "sec")
    _KEEP: Final = (1 << 60) - 1

    def __init__(self, sec: int = 0) -> None:
        self.mask = 0
        self.sec = sec

    def mark(self, sec: int) -> None:
        gap = sec - self.sec
        if gap > 0:
            self.mask = (self.mask << gap) & self._KEEP if gap < 60 else 0
            self.sec = sec
        self.mask |= 1

    def occupied(self, sec: int, window: int) -> int:
        """Occupied slots among the `window` seconds ending at `sec` (current one included)."""
        gap = sec - self.sec
        if gap >= window:
            return 0
        m = self.mask << gap if gap > 0 else self.mask
        return (m & ((1 << window) - 1)).bit_count()
