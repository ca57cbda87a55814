"""BTC realized volatility on a 1 s price grid, the regime state machine and the multiplier.

Returns: r = ln(P_t / P_{t-1 s}) on a 1 s grid of the last price (r = 0 when no tick).
1 m and 5 m windows use 1 s returns; 15 m and 1 h windows use 5 s returns (sums of five
1 s returns), which keeps memory small and microstructure noise out. Each window is a ring
of squared returns with a running sum, recomputed exactly every few thousand steps.
Bipower variation over 1 h (jump-robust) drives the regime, so a cascade's own jumps do
not drag the regime along instantly (docs/detection-science.md §2.1, §2.4-2.7).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

from cascade_tui.engine.params import REGIMES, RegimeParams

SECONDS_PER_YEAR: Final = 31_536_000.0
RESUM_EVERY: Final = 4096
HISTORY_STEP_S: Final = 5
HISTORY_LEN: Final = 720  # one hour of 5 s points
MAX_GRID_GAP_S: Final = 3600  # a longer silence restarts the grid


class ReturnWindow:
    """Ring of the last n values (squared returns or bipower products) with a running sum."""

    __slots__ = ("filled", "i", "n", "steps", "sum", "vals")

    def __init__(self, n: int) -> None:
        self.n = n
        self.vals = [0.0] * n
        self.i = 0
        self.filled = 0
        self.sum = 0.0
        self.steps = 0

    def push(self, x: float) -> None:
        i = self.i
        self.sum += x - self.vals[i]
        self.vals[i] = x
        self.i = (i + 1) % self.n
        if self.filled < self.n:
            self.filled += 1
        self.steps += 1
        if self.steps % RESUM_EVERY == 0:
            self.sum = math.fsum(self.vals)

    def annualized(self, step_s: float, min_filled: int, scale: float = 1.0) -> float | None:
        """sqrt(sum · Y / covered seconds), or None with too little data."""
        if self.filled < max(min_filled, 1):
            return None
        return math.sqrt(max(self.sum, 0.0) * scale * SECONDS_PER_YEAR / (self.filled * step_s))

    def clear(self) -> None:
        self.vals = [0.0] * self.n
        self.i = self.filled = 0
        self.sum = 0.0


class RegimeTracker:
    """Schmitt-trigger regime: fast up (two consecutive updates), slow down (one level, dwell)."""

    __slots__ = ("_above", "level", "since")

    def __init__(self) -> None:
        self.level: int | None = None  # index into REGIMES; None until the first estimate
        self.since: float | None = None
        self._above = 0

    @property
    def name(self) -> str:
        return REGIMES[self.level] if self.level is not None else "NORMAL"

    def update(self, t: float, sigma: float, expansion: float | None, p: RegimeParams) -> None:
        band = sum(1 for e in p.enter if sigma >= e)  # the level sigma's value alone implies
        if self.level is None:
            self.level, self.since, self._above = band, t, 0
            return
        if band > self.level:
            self._above += 1
            if self._above >= 2:
                # two levels at once only while vol is visibly exploding (X > 2)
                jump = band if expansion is not None and expansion > 2.0 else self.level + 1
                self.level, self.since, self._above = jump, t, 0
            return
        self._above = 0
        if self.level > 0:
            exit_at = p.exit_ratio * p.enter[self.level - 1]
            if sigma < exit_at and self.since is not None and t - self.since >= p.min_dwell_s:
                self.level -= 1
                self.since = t


class BtcVolatility:
    """Realized and bipower volatility of BTC from its price ticks, plus the regime."""

    def __init__(self) -> None:
        self.sec: int | None = None  # the grid second currently open
        self.last_price: float | None = None
        self.grid_price: float | None = None  # price at the end of the previous grid second
        self.rv_1m = ReturnWindow(60)
        self.rv_5m = ReturnWindow(300)
        self.rv_15m = ReturnWindow(180)
        self.rv_1h = ReturnWindow(720)
        self.bv_1h = ReturnWindow(720)
        self._acc5 = 0.0  # running 5 s return
        self._acc5_n = 0
        self._prev_abs5: float | None = None
        self.regime = RegimeTracker()
        self.price_history: deque[float] = deque(maxlen=HISTORY_LEN)
        self.regime_history: deque[str] = deque(maxlen=HISTORY_LEN)

    def on_price(self, sec: int, price: float) -> None:
        if self.sec is None:
            self.sec = sec
            self.grid_price = price
        self.last_price = price

    def advance(self, sec: int, t: float, p: RegimeParams) -> None:
        """Close every grid second before `sec`."""
        if self.sec is None or sec <= self.sec:
            return
        gap = sec - self.sec
        if gap > MAX_GRID_GAP_S:
            self._restart(sec)
            return
        for k in range(gap):
            r = 0.0
            if k == 0 and self.last_price is not None and self.grid_price:
                r = math.log(self.last_price / self.grid_price)
                self.grid_price = self.last_price
            self._push_1s(r, float(self.sec + k + 1), p)
        self.sec = sec

    def _restart(self, sec: int) -> None:
        for w in (self.rv_1m, self.rv_5m, self.rv_15m, self.rv_1h, self.bv_1h):
            w.clear()
        self._acc5, self._acc5_n, self._prev_abs5 = 0.0, 0, None
        self.sec = sec
        self.grid_price = self.last_price

    def _push_1s(self, r: float, end_ts: float, p: RegimeParams) -> None:
        r2 = r * r
        self.rv_1m.push(r2)
        self.rv_5m.push(r2)
        self._acc5 += r
        self._acc5_n += 1
        if self._acc5_n == HISTORY_STEP_S:
            r5 = self._acc5
            self._acc5, self._acc5_n = 0.0, 0
            self.rv_15m.push(r5 * r5)
            self.rv_1h.push(r5 * r5)
            a = abs(r5)
            if self._prev_abs5 is not None:
                self.bv_1h.push(a * self._prev_abs5)
            self._prev_abs5 = a
            sigma = self.regime_sigma()
            if sigma is not None:
                self.regime.update(end_ts, sigma, self.expansion(), p)
            if self.last_price is not None:
                self.price_history.append(self.last_price)
                self.regime_history.append(self.regime.name)

    def rv(self) -> dict[str, float | None]:
        return {
            "1m": self.rv_1m.annualized(1.0, 30),
            "5m": self.rv_5m.annualized(1.0, 60),
            "15m": self.rv_15m.annualized(5.0, 36),
            "1h": self.rv_1h.annualized(5.0, 180),
        }

    def bv(self) -> float | None:
        return self.bv_1h.annualized(5.0, 360, math.pi / 2.0)

    def regime_sigma(self) -> float | None:
        """BV-based 1 h σ, falling back to 15 m (half full) or a full 5 m window.

        No regime from less than 5 minutes of prices: a start in the middle of a burst would
        otherwise read a minute of cascade as the regime and hold it for the dwell time."""
        bv = self.bv()
        if bv is not None:
            return bv
        for w, step, need in ((self.rv_15m, 5.0, self.rv_15m.n // 2), (self.rv_5m, 1.0, self.rv_5m.n)):
            s = w.annualized(step, need)
            if s is not None:
                return s
        return None

    def expansion(self) -> float | None:
        """X = σ_5m / σ_1h (RV); None until both exist."""
        s5 = self.rv_5m.annualized(1.0, 60)
        s1h = self.rv_1h.annualized(5.0, 180)
        if s5 is None or s1h is None or s1h <= 0.0:
            return None
        return s5 / s1h

    def multiplier(self, p: RegimeParams) -> float:
        """M = base[regime] × (1 + 0.25 · clip(log2 X, 0, 2))  (docs/detection-science.md §2.7)."""
        return self.multiplier_at(p, self.expansion())

    def multiplier_at(self, p: RegimeParams, x: float | None) -> float:
        """`multiplier` for the expansion X = `expansion()` already at hand (the engine reads
        both each second)."""
        base = p.multiplier.get(self.regime.name, 1.0)
        if x is None or x <= 1.0:
            return base
        return base * (1.0 + 0.25 * min(math.log2(x), 2.0))
