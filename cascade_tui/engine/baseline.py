"""Per-asset liquidation baselines: slow, robust, floored, frozen during episodes.

Each asset keeps exponentially weighted means of its per-minute counts (full feeds and
sampled feeds apart) and USD. A minute's value is winsorized before it enters the mean so a
burst cannot drag the baseline up, and nothing is learnt while the asset is at WARNING or
above. Before enough history exists the means start from conservative priors and adapt
quickly (weight 1/(n + n0)), then slow down to the configured half-life.
"""

from __future__ import annotations

from typing import Final

MIN_RATE: Final = 0.01  # events/s: b never goes below this (tiny alts must not explode)
PRIOR_RATE: Final = 0.02  # events/s before any history
PRIOR_MINUTES: Final = 10.0  # pseudo-minutes the prior is worth
USD_BASE_FLOOR_RATIO: Final = 0.01  # U20 baseline >= usd_floor / 100
PRIOR_USD_RATIO: Final = 0.05  # U20 baseline prior = usd_floor / 20
WINSOR_MULT: Final = 5.0  # a minute counts at most 5× the current mean (+ a small allowance)
MAX_CATCHUP_MINUTES: Final = 1440


class Baseline:
    """Slow EW statistics of per-minute liquidation counts and USD for one asset."""

    __slots__ = (
        "_alpha",
        "_usd_floor",
        "count_full",
        "count_sampled",
        "cur_full",
        "cur_sampled",
        "cur_usd",
        "frozen",
        "minute",
        "minutes_seen",
        "rate_full",
        "rate_sampled",
        "usd",
        "usd_20s",
    )

    def __init__(self, minute: int, usd_floor: float, halflife_s: float) -> None:
        self.minute = minute
        self._usd_floor = usd_floor
        self._alpha = 1.0 - 0.5 ** (60.0 / max(halflife_s, 60.0))
        self.count_full = PRIOR_RATE * 60.0
        self.count_sampled = PRIOR_RATE * 60.0
        self.usd = usd_floor * PRIOR_USD_RATIO * 3.0  # per minute = 3 × per 20 s
        self.minutes_seen = 0
        self.frozen = False
        self.cur_full = 0.0
        self.cur_sampled = 0.0
        self.cur_usd = 0.0
        self.rate_full = self.rate_sampled = self.usd_20s = 0.0
        self._refresh()

    @property
    def usd_floor(self) -> float:
        return self._usd_floor

    @usd_floor.setter
    def usd_floor(self, value: float) -> None:
        self._usd_floor = value
        self._refresh()

    def _refresh(self) -> None:
        """Floored values the score reads (recomputed once a minute, not per event)."""
        self.rate_full = max(self.count_full / 60.0, MIN_RATE)  # events/s on full feeds
        self.rate_sampled = max(self.count_sampled / 60.0, MIN_RATE)  # events/s on sampled feeds
        # USD per 20 s, floored relative to the asset's USD floor
        self.usd_20s = max(self.usd / 3.0, self._usd_floor * USD_BASE_FLOOR_RATIO, 1.0)

    def set_halflife(self, halflife_s: float) -> None:
        self._alpha = 1.0 - 0.5 ** (60.0 / max(halflife_s, 60.0))

    def add(self, minute: int, weight: float, usd: float, sampled: bool) -> None:
        if minute > self.minute:
            self.roll(minute)
        if sampled:
            self.cur_sampled += weight
        else:
            self.cur_full += weight
        self.cur_usd += usd * weight

    def roll(self, minute: int) -> None:
        """Close every minute before `minute`: the current one with its totals, gaps as zeros."""
        gap = minute - self.minute
        if gap <= 0:
            return
        if not self.frozen:
            self._learn(self.cur_full, self.cur_sampled, self.cur_usd)
            for _ in range(min(gap - 1, MAX_CATCHUP_MINUTES)):
                self._learn(0.0, 0.0, 0.0)
        self.cur_full = self.cur_sampled = self.cur_usd = 0.0
        self.minute = minute
        self._refresh()

    def _learn(self, full: float, sampled: float, usd: float) -> None:
        a = max(self._alpha, 1.0 / (self.minutes_seen + PRIOR_MINUTES + 1.0))
        self.minutes_seen += 1
        self.count_full += a * (min(full, WINSOR_MULT * self.count_full + 5.0) - self.count_full)
        self.count_sampled += a * (min(sampled, WINSOR_MULT * self.count_sampled + 5.0) - self.count_sampled)
        cap = WINSOR_MULT * self.usd + self._usd_floor * PRIOR_USD_RATIO
        self.usd += a * (min(usd, cap) - self.usd)
