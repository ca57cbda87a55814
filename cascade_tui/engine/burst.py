"""The fast path: an event-driven burst test per asset and side, checked after every print.

A cascade is several *large* prints in a short time. Each print is measured in its asset's
own print scale on its venue (printscale.py, a high quantile of that venue's prints): it is
"large" at `large_x` scales or more, and it adds u = min(usd / scale, cap) "units", so a
lone whale counts at most `cap` units and one print. Two sums decay with a time constant of
a few seconds — the large prints L_τ and the units S_τ — and the test fires when

    L_τ >= max(large_prints, background_mult × background large prints in τ)   and
    burst_x = S_τ / max(units_to_fire, background_mult × background units in τ) >= 1

where the background is the side's own recent flow (decayed over ~10 minutes, frozen while
the side is in an alarm), so a busier background in high volatility raises both bars with it.
Counting large prints rather than all prints is what keeps a cluster of small or ordinary
prints out (measured on the validation markets: ordinary-size clusters were most of the
false alarms of a units-and-prints test), and it fires on the 4th large print: ~250 ms into
a cascade that liquidates big positions at 15+ a second.

A big print: the test also needs one print of at least `big_x` scales (3) among the side's
prints of the last `big_window_s` (20 s). Sizes are heavy-tailed, so a cascade that brings
four large prints almost always brings a big one among them or soon after; a cluster of
above-usual prints — many of them just over `large_x` — has none. On the training and
validation markets the clusters of medium prints were most of the false WARNINGs left.

The quick lane: `quick_prints` large prints (3) that all came within `quick_window_s` (0.6 s),
counted exactly from the times of the side's latest large prints, stand in for the decayed
large-print bar when the units are at `quick_x` (1.5) times theirs, and while the side's own
background would bring that many large prints together by chance at most
`quick_chance_per_day` times a day. A cascade's large prints arrive together (one Bybit
500 ms batch, the sampled venues' same second) and big; the background's one by one. On the
validation markets it fired on the 3rd large print instead of the 4th on part of the
shock-first cascades (lag p50 1.39 s → 1.22 s) with no false alarm added; without the
quick_x margin it added four (clusters of medium prints).

The slow lane (`long_tau_s`, 0 = off): a cascade that builds up — ordinary prints, one or
two a second, for tens of seconds before its main burst — never brings `large_prints` large
prints within τ. The same units decayed over τ_long fire when they reach max(`long_units`,
`long_mult` × the side's background in τ_long), the side's prints filled at least
`long_seconds` distinct seconds of the last τ_long (a cluster, however many prints, fills a
few) and its units are `long_dominance` times the other side's (a busier market liquidates
both). An episode it opens goes CRITICAL only on a burst of its own (core.py).

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
QUICK_PRINTS_MAX: Final = 4  # the quick lane counts at most this many large prints
SECONDS_PER_DAY: Final = 86_400.0
FIRE_COUNT_SLACK: Final = 0.5  # a decayed count of n - 0.5 prints is "n prints" (they decay a little)


class SideBurst:
    """Decayed units and large prints over τ, and the same over the side's background (τ_bg)."""

    __slots__ = (
        "_inv_bg",
        "_inv_long",
        "_inv_tau",
        "_large_times",
        "_last_order",
        "_order_units",
        "bg",
        "bgl",
        "big_t",
        "frozen",
        "large",
        "s",
        "s_long",
        "t",
        "tau",
        "tau_bg",
        "tau_long",
    )

    def __init__(self, t: float, tau: float, tau_bg: float, tau_long: float = 0.0) -> None:
        self.t = t
        self.s = 0.0  # decayed units, τ
        self.s_long = 0.0  # decayed units, τ_long (the slow lane; 0 when it is off)
        self.bg = 0.0  # decayed units, τ_bg (background)
        self.large = 0.0  # decayed large prints, τ
        self.bgl = 0.0  # decayed large prints, τ_bg (background)
        self.frozen = False  # background not learnt while the side is in an alarm
        self.tau = tau
        self.tau_bg = tau_bg
        self._inv_tau = 1.0 / tau
        self._inv_bg = 1.0 / tau_bg
        self.tau_long = tau_long
        self._inv_long = 1.0 / tau_long if tau_long > 0.0 else 0.0
        self._last_order: tuple[str, float, float] | None = None
        self._order_units = 0.0
        # times of the latest large prints, newest last (the quick lane's exact window)
        self._large_times: list[float] = [-math.inf] * QUICK_PRINTS_MAX
        self.big_t = -math.inf  # time of the side's latest big print

    def set_taus(self, tau: float, tau_bg: float, tau_long: float = 0.0) -> None:
        self.tau, self.tau_bg, self.tau_long = tau, tau_bg, tau_long
        self._inv_tau, self._inv_bg = 1.0 / tau, 1.0 / tau_bg
        self._inv_long = 1.0 / tau_long if tau_long > 0.0 else 0.0
        if not tau_long:
            self.s_long = 0.0

    def add(
        self,
        t: float,
        units: float,
        cap: float,
        order: tuple[str, float, float],
        large: bool = False,
        big: bool = False,
    ) -> float:
        """Add one print of `units` (already capped; a sampled feed's print is scaled up by
        the caller) at t, `large` when it is a large print, `big` when it is a big one; fills
        of one order share one cap and count as one print. Returns the units actually added
        (less than `units` for a further fill of one order)."""
        dt = t - self.t
        slow = self._inv_long != 0.0  # the slow lane's sums are kept only while it is on
        if dt > 0.0:
            f = _exp(-dt * self._inv_tau)
            self.s *= f
            self.large *= f
            fb = _exp(-dt * self._inv_bg)
            self.bg *= fb
            self.bgl *= fb
            if slow:
                self.s_long *= _exp(-dt * self._inv_long)
            self.t = t
        if order == self._last_order:
            # another fill of the same order: top it up to the cap, it is not another print
            extra = min(units, cap - self._order_units) if cap > self._order_units else 0.0
            self._order_units += extra
            units = extra
        else:
            self._last_order = order
            self._order_units = units
            if big:
                self.big_t = t
            if large:
                # one large print, also on a sampled feed: its sampling is a lower bound
                self.large += 1.0
                times = self._large_times
                del times[0]
                times.append(t)
                if not self.frozen:
                    self.bgl += 1.0
        self.s += units
        if slow:
            self.s_long += units
        if not self.frozen:
            self.bg += units
        return units

    def at(self, t: float) -> tuple[float, float, float, float]:
        """(units, large prints, background units, background large prints) decayed to t,
        not mutating."""
        dt = t - self.t
        if dt <= 0.0:
            return self.s, self.large, self.bg, self.bgl
        f = _exp(-dt * self._inv_tau)
        fb = _exp(-dt * self._inv_bg)
        return self.s * f, self.large * f, self.bg * fb, self.bgl * fb

    def at_long(self, t: float) -> float:
        """Units decayed over τ_long to t (the slow lane's sum), not mutating."""
        dt = t - self.t
        if dt <= 0.0:
            return self.s_long
        return self.s_long * _exp(-dt * self._inv_long)

    def bar(self, bg: float, units_to_fire: float, background_mult: float, tau: float | None = None) -> float:
        """Units needed to fire within τ (or the given `tau`, the slow lane's): the absolute
        floor or a multiple of the background's units in that time."""
        expected = bg * self._inv_bg * (self.tau if tau is None else tau)  # background units rate × τ
        return max(units_to_fire, background_mult * expected)

    def quick(self, t: float, prints: int, window_s: float, bgl: float, chance_per_day: float) -> bool:
        """At least `prints` large prints within the last `window_s` seconds before t, where
        the side's background would bring that many together by chance at most
        chance_per_day times a day (Poisson: a print, and prints - 1 more in the window before it)."""
        if t - self._large_times[-prints] > window_s:
            return False
        # the background's large prints a second, before these (they are in bgl already)
        rate = max(bgl - prints, 0.0) * self._inv_bg
        mean = rate * window_s
        return SECONDS_PER_DAY * rate * mean ** (prints - 1) / math.factorial(prints - 1) <= chance_per_day

    def large_bar(self, bgl: float, large_prints: float, background_mult: float) -> float:
        """Large prints needed to fire: large_prints, or a multiple of the background's large
        prints in τ."""
        return max(large_prints, background_mult * bgl * self._inv_bg * self.tau)


def fires(x: float, large: float, large_bar: float) -> bool:
    """The burst test's bars: units at theirs and enough large prints within ~τ (the engine
    also asks for a big print among the side's recent ones, `Engine._big_print`)."""
    return x >= 1.0 and large >= large_bar - FIRE_COUNT_SLACK
