"""The fast path: an event-driven burst test per asset and side, checked after every print.

A cascade is many *large* prints in a short time. Each print becomes "units" of its asset's
own print scale on its venue (printscale.py): u = min(usd / scale, cap), so a lone whale
counts at most `cap` units and a cluster of small prints counts little. A decayed sum of
units with a time constant of a few seconds is compared with its bar:

    burst_x = S_τ / max(units_to_fire, background_mult × B)

where B is the same sum expected from the side's own recent background (a decayed units
rate over ~10 minutes, frozen while the side is in an alarm), so a busier background in high
volatility raises the bar with it. The test fires at burst_x >= 1 with at least `min_prints`
prints in the short window, or sooner — at `strong_prints` prints — when those prints are all
large (burst_x >= `strong_x`, e.g. five prints at the cap): the 5th large print.

Sampled feeds (one print per second per symbol) are lower bounds: a print on a sampled venue
whose previous seconds were also occupied stands for several prints and counts the
occupancy-implied number of them (λ / (1 - e^-λ), docs/detection-science.md §3.2), so the onset of
occupancy is evidence as well. Fills of one order (same venue, event time, price and side)
count as one print, so a whale split into fills is still one whale.
"""

from __future__ import annotations

import math
from typing import Final

_exp = math.exp
FIRE_COUNT_SLACK: Final = 0.5  # a decayed count of n - 0.5 prints is "n prints" (they decay a little)


class SideBurst:
    """Decayed units and print count over τ, and the side's background units rate."""

    __slots__ = (
        "_inv_bg",
        "_inv_tau",
        "_last_order",
        "_order_units",
        "bg",
        "bgn",
        "frozen",
        "n",
        "s",
        "t",
        "tau",
        "tau_bg",
    )

    def __init__(self, t: float, tau: float, tau_bg: float) -> None:
        self.t = t
        self.s = 0.0  # decayed units, τ
        self.n = 0.0  # decayed print count, τ
        self.bg = 0.0  # decayed units, τ_bg (background)
        self.bgn = 0.0  # decayed prints, τ_bg (background)
        self.frozen = False  # background not learnt while the side is in an alarm
        self.tau = tau
        self.tau_bg = tau_bg
        self._inv_tau = 1.0 / tau
        self._inv_bg = 1.0 / tau_bg
        self._last_order: tuple[str, float, float] | None = None
        self._order_units = 0.0

    def set_taus(self, tau: float, tau_bg: float) -> None:
        self.tau, self.tau_bg = tau, tau_bg
        self._inv_tau, self._inv_bg = 1.0 / tau, 1.0 / tau_bg

    def add(
        self, t: float, units: float, cap: float, order: tuple[str, float, float], prints: float = 1.0
    ) -> float:
        """Add one print of `units` (already capped) at t, standing for `prints` prints (more
        than one for a sampled feed's print); fills of one order share one cap. Returns the
        units actually added (less than `units` for a further fill of one order)."""
        dt = t - self.t
        if dt > 0.0:
            f = _exp(-dt * self._inv_tau)
            self.s *= f
            self.n *= f
            fb = _exp(-dt * self._inv_bg)
            self.bg *= fb
            self.bgn *= fb
            self.t = t
        if order == self._last_order:
            # another fill of the same order: top it up to the cap, it is not another print
            extra = min(units, cap - self._order_units) if cap > self._order_units else 0.0
            self._order_units += extra
            units = extra
        else:
            self._last_order = order
            self._order_units = units
            self.n += prints
            if not self.frozen:
                self.bgn += prints
        self.s += units
        if not self.frozen:
            self.bg += units
        return units

    def at(self, t: float) -> tuple[float, float, float, float]:
        """(units, prints, background units, background prints) decayed to t, not mutating."""
        dt = t - self.t
        if dt <= 0.0:
            return self.s, self.n, self.bg, self.bgn
        f = _exp(-dt * self._inv_tau)
        fb = _exp(-dt * self._inv_bg)
        return self.s * f, self.n * f, self.bg * fb, self.bgn * fb

    def bar(self, bg: float, units_to_fire: float, background_mult: float) -> float:
        """Units needed to fire: the absolute floor or a multiple of the expected background."""
        expected = bg * self._inv_bg * self.tau  # background units rate × τ
        return max(units_to_fire, background_mult * expected)

    def prints_bar(self, bgn: float, min_prints: float, background_mult: float) -> float:
        """Prints needed to fire: min_prints, or a multiple of the background's prints in τ."""
        return max(min_prints, background_mult * bgn * self._inv_bg * self.tau)


def fires(
    x: float, prints: float, prints_bar: float, strong_x: float = 0.0, strong_prints: float = 0.0
) -> bool:
    """The burst test: units at their bar with enough prints — or, for a burst of prints that
    are all large (units at strong_x times the bar), fewer prints (strong_prints)."""
    if x >= 1.0 and prints >= prints_bar - FIRE_COUNT_SLACK:
        return True
    return strong_prints > 0.0 and x >= strong_x and prints >= strong_prints - FIRE_COUNT_SLACK
