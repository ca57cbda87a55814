"""How big one venue's liquidation prints of one asset usually are: a robust running quantile.

Print sizes are heavy-tailed (lognormal bodies, Pareto tails with index 1.2–2) and differ by
100× between assets, so a burst can only be judged against the asset's own prints on that
venue. The distribution is kept as a histogram of log10(USD) in tenth-of-a-decade bins whose
weights decay with a half-life of hours (lazily: each new print weighs e^{(t - t0)/T} more
than one at t0, renormalized now and then), and the quantile is read from it by walking the
bins — exact for the histogram, insensitive to outliers, O(1) amortized per print (the walk
runs once every RECOMPUTE_EVERY prints). Learning stops while the asset is in an alarm so
a cascade cannot raise its own bar. Until LEARN_PRINTS prints are seen the scale is never
below the prior: a new asset neither fires on its first few prints nor stays blind long.
"""

from __future__ import annotations

import math
from typing import Final

BINS_PER_DECADE: Final = 10
LOG_MIN: Final = 0.0  # $1
LOG_MAX: Final = 10.0  # $10 B
N_BINS: Final = int((LOG_MAX - LOG_MIN) * BINS_PER_DECADE)
RECOMPUTE_EVERY: Final = 16
RENORM_EXPONENT: Final = 40.0  # renormalize the lazy weights before e^x gets large
MIN_SCALE_USD: Final = 1.0
_log10 = math.log10
_exp = math.exp


class PrintScale:
    """Running q-quantile of print USD (the "large print" unit) for one asset on one venue."""

    __slots__ = (
        "_bins",
        "_inv_t",
        "_since",
        "_t0",
        "_total",
        "frozen",
        "learn_prints",
        "n",
        "prior",
        "q",
        "scale",
    )

    def __init__(self, prior_usd: float, quantile: float, halflife_s: float, learn_prints: int) -> None:
        self._bins = [0.0] * N_BINS
        self._total = 0.0
        self._t0: float | None = None
        self._inv_t = math.log(2.0) / max(halflife_s, 1.0)
        self._since = 0
        self.q = quantile
        self.prior = max(prior_usd, MIN_SCALE_USD)
        self.learn_prints = learn_prints
        self.n = 0  # prints learnt
        self.frozen = False
        self.scale = self.prior

    def configure(self, prior_usd: float, quantile: float, halflife_s: float, learn_prints: int) -> None:
        self.prior = max(prior_usd, MIN_SCALE_USD)
        self.q = quantile
        self._inv_t = math.log(2.0) / max(halflife_s, 1.0)
        self.learn_prints = learn_prints
        self._recompute()

    def add(self, t: float, usd: float) -> None:
        """Learn one print (no-op while frozen or for a print of no size)."""
        if self.frozen or not usd > 0.0:
            return
        t0 = self._t0
        if t0 is None:
            t0 = self._t0 = t
        x = (t - t0) * self._inv_t
        if x > RENORM_EXPONENT:
            self._renormalize(t)
            x = 0.0
        w = _exp(x) if x > 0.0 else 1.0
        idx = int((_log10(usd) - LOG_MIN) * BINS_PER_DECADE)
        idx = 0 if idx < 0 else (N_BINS - 1 if idx >= N_BINS else idx)
        self._bins[idx] += w
        self._total += w
        self.n += 1
        self._since += 1
        if self.n <= self.learn_prints or self._since >= RECOMPUTE_EVERY:
            self._recompute()

    def _renormalize(self, t: float) -> None:
        f = _exp(-(t - (self._t0 or t)) * self._inv_t)
        self._bins = [b * f for b in self._bins]
        self._total *= f
        self._t0 = t

    def _recompute(self) -> None:
        self._since = 0
        if self._total <= 0.0:
            self.scale = self.prior
            return
        target = self.q * self._total
        acc = 0.0
        value = LOG_MAX
        for idx, w in enumerate(self._bins):
            if w and acc + w >= target:
                # linear within the bin
                frac = (target - acc) / w
                value = LOG_MIN + (idx + frac) / BINS_PER_DECADE
                break
            acc += w
        learned = max(10.0**value, MIN_SCALE_USD)
        # until enough prints are known the prior is a floor, then the asset's own prints rule
        self.scale = learned if self.n >= self.learn_prints else max(learned, self.prior)
