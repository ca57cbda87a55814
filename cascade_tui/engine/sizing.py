"""Position sizing from cascade risk: an exposure multiplier in [0, 1] (pure, no I/O).

    exposure(score, regime) = regime_cap[regime] × ramp(score)

    ramp(score) = 1                                         score <= full_below
                = 1 - (score - full_below) / (flat_above - full_below)   in between
                = 0                                         score >= flat_above
    and the result is never below `floor` (a core position some strategies keep).

With the defaults a position is held in full while the asset's cascade score stays under the
WATCH threshold (0.30), shrinks linearly as the score rises, and is flat from 0.80 (above the
default CRITICAL entry of 0.70). The regime cap trims exposure in volatile markets even when
no cascade is building (HIGH 0.75, EXTREME 0.5). Which signals feed `score` is the caller's
choice: a long holder reacts to `direction == "long"` (longs being liquidated, price
falling); the backtest uses max(score of the asset, score of the market-wide "*" signal).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _default_caps() -> dict[str, float]:
    return {"DORMANT": 1.0, "LOW": 1.0, "NORMAL": 1.0, "HIGH": 0.75, "EXTREME": 0.5}


@dataclass(frozen=True)
class SizingParams:
    full_below: float = 0.30  # score at or under which exposure is not reduced
    flat_above: float = 0.80  # score at or over which exposure is `floor`
    floor: float = 0.0  # minimum exposure
    regime_cap: dict[str, float] = field(default_factory=_default_caps)  # unknown regime -> 1.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.full_below < self.flat_above <= 1.0):
            raise ValueError("sizing: need 0 <= full_below < flat_above <= 1")
        if not (0.0 <= self.floor <= 1.0):
            raise ValueError("sizing: floor must be within [0, 1]")
        for regime, cap in self.regime_cap.items():
            if not (0.0 <= cap <= 1.0):
                raise ValueError(f"sizing: regime_cap.{regime} must be within [0, 1]")


def exposure(score: float, regime: str, params: SizingParams | None = None) -> float:
    """Share of the normal position to hold, in [0, 1]; NaN or out-of-range scores are clipped."""
    p = params or SizingParams()
    s = score if score == score else 1.0  # NaN: unknown risk is treated as the worst
    s = min(1.0, max(0.0, s))
    if s <= p.full_below:
        ramp = 1.0
    elif s >= p.flat_above:
        ramp = 0.0
    else:
        ramp = 1.0 - (s - p.full_below) / (p.flat_above - p.full_below)
    cap = p.regime_cap.get(regime, 1.0)
    return min(1.0, max(p.floor, cap * ramp))
