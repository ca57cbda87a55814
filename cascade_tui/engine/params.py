"""Engine parameters: thresholds, gates, weights, normalizers, regime bands.

One immutable `EngineParams` value is in force at a time; changing a threshold builds a new
value (`msgspec.structs.replace`) and hands it to `Engine.set_params`, so there is nothing to
compound. Regime adjustment is always `base × factor[regime]`, computed from these values.
config.py loads/saves these from TOML; the UI editor validates with `validate()`.
"""

from __future__ import annotations

import itertools
from typing import Final

import msgspec

LEVEL_NAMES: Final[tuple[str, ...]] = ("NONE", "WATCH", "WARNING", "CRITICAL")
REGIMES: Final[tuple[str, ...]] = ("DORMANT", "LOW", "NORMAL", "HIGH", "EXTREME")
WINDOWS: Final[tuple[int, ...]] = (1, 5, 20, 60)  # velocity windows, seconds
VOL_WINDOWS: Final[tuple[str, ...]] = ("1m", "5m", "15m", "1h")
FACTORS: Final[tuple[str, ...]] = ("velocity", "acceleration", "volume", "oi", "funding", "volatility")


class Thresholds(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Score needed to enter each level; a level is left `exit_gap` below its entry."""

    watch: float = 0.38  # chosen on validation markets: WATCH false alarms /4 at equal recall
    warning: float = 0.50
    critical: float = 0.70
    exit_gap: float = 0.08


class Gates(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    min_events: int = 3  # events (or occupied seconds on sampled feeds) in 60 s for >= WARNING
    # absolute USD liquidated in 60 s needed for >= WARNING, per asset; "default" for others
    usd_floor: dict[str, float] = msgspec.field(
        default_factory=lambda: {
            "BTC": 2.0e6,
            "ETH": 1.0e6,
            "SOL": 2.5e5,
            "XRP": 2.5e5,
            "DOGE": 2.5e5,
            "default": 5.0e4,
        }
    )
    hold_s: dict[str, float] = msgspec.field(
        default_factory=lambda: {"WATCH": 10.0, "WARNING": 30.0, "CRITICAL": 30.0}
    )
    refractory_s: float = 60.0  # a closed episode must stay closed this long before a new one opens


class Weights(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The seed plan's factor weights (they need not sum to 1; the score is clipped to [0, 1])."""

    velocity: float = 0.25
    acceleration: float = 0.20
    volume: float = 0.20
    oi: float = 0.15
    funding: float = 0.10
    volatility: float = 0.10


class Normalizers(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Each factor's raw value divided by its normalizer, clipped to [0, 1]."""

    velocity_surprise: float = 8.0  # -log10 p of the 5 s count against baseline; 8 ≈ p = 1e-8
    acceleration_ln: float = 2.995732273553991  # ln(20)
    volume_log10: float = 1.6989700043360187  # log10(50) of U20 / baseline U20
    oi_drop_pct: float = 2.0  # % fall of OI over 5 m
    funding_excess: float = 0.10  # annualized funding above this counts ...
    funding_scale: float = 0.50  # ... scaled by this
    volatility_log2x: float = 2.0  # log2(sigma_5m / sigma_1h)


class RegimeParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # entry thresholds on annualized BTC vol (fraction): LOW, NORMAL, HIGH, EXTREME
    enter: tuple[float, float, float, float] = (0.20, 0.35, 0.60, 1.00)
    exit_ratio: float = 0.85  # leave a regime below 85 % of its entry
    min_dwell_s: float = 300.0
    # score multiplier per regime (cascade_risk_multiplier base, detection-science §2.7)
    multiplier: dict[str, float] = msgspec.field(
        default_factory=lambda: {"DORMANT": 0.9, "LOW": 0.95, "NORMAL": 1.0, "HIGH": 1.15, "EXTREME": 1.3}
    )
    # thresholds are multiplied by this per regime: base × factor, never compounded
    threshold_factor: dict[str, float] = msgspec.field(
        default_factory=lambda: {"DORMANT": 1.0, "LOW": 1.0, "NORMAL": 1.0, "HIGH": 1.0, "EXTREME": 1.0}
    )


class MarketParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Cross-symbol (market-wide, asset "*") signal."""

    breadth_level: int = 2  # an asset counts toward breadth at this level or above
    min_assets: int = 3  # assets at breadth_level at once (one of them BTC or ETH)
    window_s: float = 20.0


class EngineParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    thresholds: Thresholds = msgspec.field(default_factory=Thresholds)
    gates: Gates = msgspec.field(default_factory=Gates)
    weights: Weights = msgspec.field(default_factory=Weights)
    normalizers: Normalizers = msgspec.field(default_factory=Normalizers)
    regime: RegimeParams = msgspec.field(default_factory=RegimeParams)
    market: MarketParams = msgspec.field(default_factory=MarketParams)
    # per-venue weight in the velocity/volume factors (1.0 = as is); sampled feeds are
    # treated as lower bounds whatever their weight
    venue_weights: dict[str, float] = msgspec.field(default_factory=dict)
    baseline_halflife_s: float = 6 * 3600.0  # how fast per-asset baselines adapt
    tape_min_usd: float = 10_000.0  # liquidations below this are not kept in the snapshot tape


class ParamError(ValueError):
    """A parameter value that must not be applied; the message names the key."""


def validate(p: EngineParams) -> EngineParams:
    """Raise ParamError naming the first bad key; return p unchanged when valid."""
    t = p.thresholds
    if not (0.0 < t.watch < t.warning < t.critical <= 1.0):
        raise ParamError("thresholds: need 0 < watch < warning < critical <= 1")
    if not (0.0 <= t.exit_gap < t.watch):
        raise ParamError("thresholds.exit_gap: must be >= 0 and below the watch threshold")
    g = p.gates
    if g.min_events < 0:
        raise ParamError("gates.min_events: must be >= 0")
    for k, v in g.usd_floor.items():
        if not v >= 0:
            raise ParamError(f"gates.usd_floor.{k}: must be >= 0")
    for k, v in g.hold_s.items():
        if not v >= 0:
            raise ParamError(f"gates.hold_s.{k}: must be >= 0")
    for name in FACTORS:
        w = getattr(p.weights, name)
        if not (0.0 <= w <= 1.0):
            raise ParamError(f"weights.{name}: must be within [0, 1]")
    for name in Normalizers.__struct_fields__:
        if not getattr(p.normalizers, name) > 0:
            raise ParamError(f"normalizers.{name}: must be > 0")
    e = p.regime.enter
    if not all(0 < a < b for a, b in itertools.pairwise(e)) or e[0] <= 0:
        raise ParamError("regime.enter: must be increasing and positive")
    if not (0.0 < p.regime.exit_ratio <= 1.0):
        raise ParamError("regime.exit_ratio: must be within (0, 1]")
    for k, v in p.venue_weights.items():
        if not (0.0 <= v <= 5.0):
            raise ParamError(f"venue_weights.{k}: must be within [0, 5]")
    if not g.refractory_s >= 0:
        raise ParamError("gates.refractory_s: must be >= 0")
    if not p.regime.min_dwell_s >= 0:
        raise ParamError("regime.min_dwell_s: must be >= 0")
    for k, v in p.regime.threshold_factor.items():
        if not (0.0 < v <= 3.0):
            raise ParamError(f"regime.threshold_factor.{k}: must be within (0, 3]")
    for k, v in p.regime.multiplier.items():
        if not (0.0 < v <= 5.0):
            raise ParamError(f"regime.multiplier.{k}: must be within (0, 5]")
    m = p.market
    if not (1 <= m.breadth_level <= 3):
        raise ParamError("market.breadth_level: must be 1, 2 or 3")
    if m.min_assets < 1:
        raise ParamError("market.min_assets: must be >= 1")
    if not m.window_s > 0:
        raise ParamError("market.window_s: must be > 0")
    if not p.baseline_halflife_s > 0:
        raise ParamError("baseline_halflife_s: must be > 0")
    if not p.tape_min_usd >= 0:
        raise ParamError("tape_min_usd: must be >= 0")
    return p
