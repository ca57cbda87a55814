"""The cascade score: six factors, each in [0, 1], weighted and scaled by the regime multiplier.

Factors (docs/detection-science.md §6):
- velocity: burst surprise -log10 P(N >= k) of the 5 s count against the asset's baseline
  (negative binomial with Fano factor F for Hawkes clustering) on full feeds; on sampled
  feeds the occupancy-implied rate -ln(1 - o20) stands in for the hidden count. Max of the two.
- acceleration: ln((r5 + ε) / (r60 + ε)), ε = 10 % of the baseline rate.
- volume: log10(U20 / U20_base), only when the capped print units of 60 s reach a quarter
  of the units floor (a whale print alone does not make volume).
- oi: OI falling over 5 m (positions being force-closed shrink OI whichever side they were).
- funding: side-aligned annualized funding above the excess level (crowded side at risk).
- volatility: log2(σ_5m / σ_1h), BTC vol expanding.

The first three measure the liquidation flow; the last three are context (docs/detection-science.md
§1.5: leverage proxies modulate, they do not trigger). The flow part is reported on its own
("flow_score") so the signal gates can require real flow for WARNING and above.
"""

from __future__ import annotations

import math
from typing import Final

from cascade_tui.engine.params import EngineParams

FANO: Final = 4.0  # Var/mean of baseline counts under Hawkes clustering (n ≈ 0.5)
LN10: Final = math.log(10.0)
SURPRISE_CAP: Final = 30.0  # raw surprise reported up to here (p = 1e-30)
MAX_OCCUPANCY: Final = 0.95  # o20 = 1 would imply an infinite rate
MAX_TAIL_TERMS: Final = 400
COMPLEMENT_MAX_K: Final = 64  # up to here a non-tiny tail is computed as 1 - P(N < k)
LOG_COMPLEMENT_MIN_TAIL: Final = math.log(1e-6)
MIN_ACCEL_EPS: Final = 0.1  # events/s
_lgamma = math.lgamma
_log = math.log


def negbin_surprise(k: float, mean: float, fano: float = FANO, cap: float = SURPRISE_CAP) -> float:
    """-log10 P(N >= k) for N ~ NegBin(mean, var = fano·mean); Poisson when fano <= 1. Capped."""
    if k <= 0.0 or mean <= 0.0:
        return 0.0 if k <= 0.0 else cap
    k = math.floor(k + 0.5)
    if k <= 0:
        return 0.0
    if fano <= 1.0 + 1e-9:
        return _poisson_surprise(int(k), mean, cap)
    q = 1.0 - 1.0 / fano  # "failure" probability of the NegBin; p = 1/F
    r = mean / (fano - 1.0)
    log_pmf = _lgamma(k + r) - _lgamma(r) - _lgamma(k + 1.0) + r * _log(1.0 / fano) + k * _log(q)
    # successive pmf ratios are (n + r)/(n + 1)·q; their maximum over n >= k bounds the tail
    ratio_bound = q * max(1.0, (k + r) / (k + 1.0))
    tail_not_tiny = True  # below the mode (ratio >= 1) the tail holds most of the mass
    if ratio_bound < 1.0:
        log_upper = log_pmf - _log(1.0 - ratio_bound)  # ln of pmf(k) / (1 - max ratio) >= ln tail
        if -log_upper / LN10 >= cap:
            return cap
        tail_not_tiny = log_upper > LOG_COMPLEMENT_MIN_TAIL
    if (tail_not_tiny and k <= COMPLEMENT_MAX_K) or k <= mean:
        # the tail is not tiny: 1 - P(N < k) is exact enough and takes only k terms
        lower = 0.0
        term = math.exp(r * _log(1.0 / fano))  # pmf(0) = p^r
        for n in range(int(k)):
            lower += term
            term *= (n + r) / (n + 1.0) * q
        tail = 1.0 - lower
        return min(-math.log10(tail), cap) if tail > 0.0 else cap
    total = 0.0
    term = 1.0
    m = float(k)
    for _ in range(MAX_TAIL_TERMS):
        total += term
        term *= (m + r) / (m + 1.0) * q
        m += 1.0
        if term < 1e-10 * total:
            break
    return min(-(log_pmf + _log(total)) / LN10, cap)


def _poisson_surprise(k: int, mean: float, cap: float) -> float:
    log_pmf = k * _log(mean) - mean - _lgamma(k + 1.0)
    total = 0.0
    term = 1.0
    n = float(k)
    for _ in range(MAX_TAIL_TERMS):
        total += term
        term *= mean / (n + 1.0)
        n += 1.0
        if term < 1e-12 * total:
            break
    return min(max(-(log_pmf + _log(total)) / LN10, 0.0), cap)


def occupancy_rate(occupied: int, slots: int) -> float:
    """Rate implied by a 1-per-second throttled feed: λ = -ln(1 - o), o capped below 1."""
    o = min(occupied / slots, MAX_OCCUPANCY)
    return -math.log1p(-o)


def throttle_correction(occupied: int, slots: int) -> float:
    """True prints per observed print on a 1-per-second feed: λ / (1 - e^-λ) = λ̂ / o (>= 1)."""
    if occupied <= 0:
        return 1.0
    return occupancy_rate(occupied, slots) / min(occupied / slots, MAX_OCCUPANCY)


def clip01(x: float) -> float:
    return 0.0 if x <= 0.0 else (1.0 if x >= 1.0 else x)


class ScoreInputs:
    """Everything the score needs about one asset at one instant."""

    __slots__ = (
        "base_rate_full",
        "base_rate_sampled",
        "base_usd20",
        "count5_full",
        "direction_sign",
        "floor_units",
        "funding_ann",
        "oi_change_5m",
        "r5",
        "r60",
        "sampled_occupancy",
        "sampled_rate",
        "u20",
        "units60",
        "vol_expansion",
    )

    def __init__(self) -> None:
        self.count5_full = 0.0  # weighted decayed count of full feeds, τ = 5 s
        self.sampled_rate: float | None = None  # summed occupancy-implied rate, sampled feeds
        self.sampled_occupancy = 0.0  # highest 20 s occupancy among the asset's sampled venues
        self.r5 = 0.0  # weighted events/s, all feeds
        self.r60 = 0.0
        self.u20 = 0.0  # weighted USD over ~20 s
        self.units60 = 0.0  # capped large-print units (burst.py) in the last 60 s
        self.base_rate_full = 0.02
        self.base_rate_sampled = 0.02
        self.base_usd20 = 1.0
        self.floor_units = 0.0
        self.oi_change_5m: float | None = None
        self.funding_ann: float | None = None
        self.direction_sign = -1  # -1: longs liquidated, +1: shorts liquidated
        self.vol_expansion: float | None = None


RAW_KEYS: Final[tuple[str, ...]] = (
    "velocity_surprise",
    "surprise_full",
    "surprise_sampled",
    "acceleration_ln",
    "volume_log10",
    "usd_20s",
    "usd_20s_base",
    "baseline_rate",
    "oi_change_5m_pct",
    "funding_annualized",
    "vol_log2_expansion",
    "multiplier",
    "sampled_occupancy",
    "flow_score",
)

FLOW_SCORE_INDEX: Final = RAW_KEYS.index("flow_score")


class SurpriseCache:
    """Memo of negbin_surprise: an asset's baseline changes once a minute, its count by steps."""

    __slots__ = ("_memo",)
    MAX_ENTRIES: Final = 8192

    def __init__(self) -> None:
        self._memo: dict[tuple[int, float], float] = {}

    def surprise(self, k: float, mean: float) -> float:
        if k < 0.5:
            return 0.0
        key = (int(k + 0.5), mean)
        value = self._memo.get(key)
        if value is None:
            if len(self._memo) >= self.MAX_ENTRIES:
                self._memo.clear()
            value = self._memo[key] = negbin_surprise(key[0], mean)
        return value


def score(
    inp: ScoreInputs, p: EngineParams, multiplier: float, cache: SurpriseCache
) -> tuple[float, tuple[float, ...], tuple[float, ...]]:
    """(score, normalized components in FACTORS order, raw inputs in RAW_KEYS order)."""
    nz = p.normalizers
    w = p.weights
    surprise_full = cache.surprise(inp.count5_full, inp.base_rate_full * 5.0)
    surprise_sampled = 0.0
    if inp.sampled_rate is not None and inp.sampled_rate > 0.0:
        surprise_sampled = cache.surprise(inp.sampled_rate * 20.0, inp.base_rate_sampled * 20.0)
    surprise = max(surprise_full, surprise_sampled)
    # ε: 10 % of the baseline, and at least half a print per 5 s, so that one print after a
    # quiet spell does not read as acceleration
    eps = max(0.1 * inp.base_rate_full, MIN_ACCEL_EPS)
    accel = math.log((inp.r5 + eps) / (inp.r60 + eps))
    volume = math.log10(max(inp.u20, 1e-9) / inp.base_usd20) if inp.units60 >= inp.floor_units / 4.0 else 0.0
    oi_change = inp.oi_change_5m if inp.oi_change_5m is not None else 0.0
    funding = inp.funding_ann if inp.funding_ann is not None else 0.0
    funding_side = -inp.direction_sign * funding
    x = inp.vol_expansion
    log2x = math.log2(x) if x is not None and x > 0.0 else 0.0
    f_velocity = clip01(surprise / nz.velocity_surprise)
    f_accel = clip01(accel / nz.acceleration_ln)
    f_volume = clip01(volume / nz.volume_log10)
    f_oi = clip01(-oi_change / nz.oi_drop_pct)
    f_funding = clip01((funding_side - nz.funding_excess) / nz.funding_scale)
    f_vol = clip01(log2x / nz.volatility_log2x)
    # the liquidation flow itself; OI, funding and volatility are context that adds to it
    flow = w.velocity * f_velocity + w.acceleration * f_accel + w.volume * f_volume
    total = flow + w.oi * f_oi + w.funding * f_funding + w.volatility * f_vol
    components = (f_velocity, f_accel, f_volume, f_oi, f_funding, f_vol)
    raw = (
        surprise,
        surprise_full,
        surprise_sampled,
        accel,
        volume,
        inp.u20,
        inp.base_usd20,
        inp.base_rate_full,
        oi_change,
        funding,
        log2x,
        multiplier,
        inp.sampled_occupancy,
        flow,  # without the regime multiplier: evidence of flow does not depend on the regime
    )
    return min(1.0, multiplier * total), components, raw
