"""Static parameters of the synthetic market: assets, venues, episode classes, profiles.

Numbers follow docs/detection-science.md §5 (generator recipe); where the recipe gives a range
the simulator draws from it per seed or per episode. Nothing here is random by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

# the held-apart seed ranges live with the labels (the backtest reads them too)
from cascade_tui.labels import SEED_SETS as SEED_SETS
from cascade_tui.labels import seed_set as seed_set

YEAR_S: Final = 365.0 * 86400.0
STEP_S: Final = 0.25  # event/state clock of the simulation (intensity steps)
CHUNK_S: Final = 60.0  # frames are generated lazily one chunk at a time


@dataclass(frozen=True)
class AssetSpec:
    """One simulated perpetual (the same base asset on every venue)."""

    name: str
    price: float  # starting price (USD)
    rate: float  # λ̄: mean true liquidations/s summed over venues (§5.2 table)
    size_scale: float  # mark scale relative to BTC (§5.2)
    vol_mult: float  # σ relative to BTC's σ_base
    corr: float  # correlation with the market factor (§5.6)
    depth_usd: float  # one-side 1 % depth summed over venues (§5.6 D_s)
    oi_usd: float  # starting open interest, all venues, one side
    qty_step: float  # Binance quantity step (base coin)
    price_decimals: int  # price tick as decimals
    okx_ct_val: float  # OKX linear swap contract value in base coin


ASSETS: Final[tuple[AssetSpec, ...]] = (
    AssetSpec("BTC", 90_000.0, 0.08, 1.0, 1.0, 1.0, 500e6, 50e9, 0.001, 1, 0.01),
    AssetSpec("ETH", 3_000.0, 0.06, 0.7, 1.25, 0.85, 250e6, 25e9, 0.001, 2, 0.1),
    AssetSpec("SOL", 130.0, 0.03, 0.4, 1.6, 0.72, 70e6, 7e9, 0.01, 2, 1.0),
    AssetSpec("XRP", 2.0, 0.02, 0.25, 1.6, 0.68, 40e6, 4e9, 0.1, 4, 100.0),
    AssetSpec("DOGE", 0.15, 0.02, 0.25, 1.8, 0.68, 30e6, 2.5e9, 1.0, 5, 1000.0),
    AssetSpec("AVAX", 25.0, 0.008, 0.1, 1.9, 0.65, 10e6, 0.8e9, 1.0, 3, 1.0),
    AssetSpec("LINK", 15.0, 0.008, 0.08, 1.8, 0.65, 10e6, 0.7e9, 0.01, 3, 1.0),
    AssetSpec("SUI", 3.0, 0.01, 0.1, 2.0, 0.62, 8e6, 0.9e9, 0.1, 4, 1.0),
    AssetSpec("ADA", 0.6, 0.006, 0.06, 1.8, 0.65, 8e6, 0.6e9, 1.0, 4, 100.0),
    AssetSpec("LTC", 90.0, 0.005, 0.05, 1.5, 0.65, 6e6, 0.5e9, 0.001, 2, 1.0),
)
ASSET_NAMES: Final[tuple[str, ...]] = tuple(a.name for a in ASSETS)

# True liquidations are split across venues with these weights (§5.3). Hyperliquid has no
# public liquidation feed, so its share exists in the truth but never appears in frames.
VENUE_SHARES: Final[tuple[tuple[str, float], ...]] = (
    ("binance", 0.35),
    ("bybit", 0.25),
    ("okx", 0.15),
    ("hyperliquid", 0.25),
)
OBSERVED_VENUES: Final[tuple[str, ...]] = ("binance", "bybit", "okx")


@dataclass(frozen=True)
class EpisodeClass:
    """One cascade class of §5.5, in BTC units (alts are scaled by their size/rate)."""

    name: str
    severity: str  # the labels contract: "minor" | "major"
    duration_s: tuple[float, float]
    peak_rate: tuple[float, float]  # true events/s at the peak, all venues (BTC)
    usd: tuple[float, float]  # fuel budget (BTC), drawn log-uniformly
    price_move: tuple[float, float]  # fraction, BTC
    vol_jump: tuple[float, float]  # multiplier of σ at the episode (h jumps by its log)
    vol_half_life_s: tuple[float, float]
    depth_withdrawal: tuple[float, float]  # W median range (impact multiplier in the episode)
    spread: bool  # starts on BTC and spreads to alts (cross-symbol, labelled "*")


CLASSES: Final[dict[str, EpisodeClass]] = {
    "minor": EpisodeClass(
        name="minor",
        severity="minor",
        duration_s=(30, 120),
        peak_rate=(3, 10),
        usd=(1e6, 10e6),
        price_move=(0.003, 0.01),
        vol_jump=(1.0, 1.3),
        vol_half_life_s=(300, 600),
        depth_withdrawal=(2, 4),
        spread=False,
    ),
    "moderate": EpisodeClass(
        name="moderate",
        severity="major",
        duration_s=(120, 600),
        peak_rate=(10, 50),
        usd=(10e6, 100e6),
        price_move=(0.01, 0.03),
        vol_jump=(2, 3),
        vol_half_life_s=(600, 1500),
        depth_withdrawal=(4, 9),
        spread=False,
    ),
    "major": EpisodeClass(
        name="major",
        severity="major",
        duration_s=(600, 2400),
        peak_rate=(50, 200),
        usd=(100e6, 1e9),
        price_move=(0.03, 0.10),
        vol_jump=(3, 6),
        vol_half_life_s=(1200, 2700),
        depth_withdrawal=(6, 17),
        spread=True,
    ),
    "extreme": EpisodeClass(
        name="extreme",
        severity="major",
        duration_s=(2400, 3600),
        peak_rate=(200, 400),
        usd=(2e9, 10e9),  # market-wide
        price_move=(0.10, 0.20),
        vol_jump=(6, 10),
        vol_half_life_s=(2700, 3600),
        depth_withdrawal=(100, 300),
        spread=True,
    ),
}

# Hard cap on true events/s per asset so that one extreme episode stays cheap to generate;
# the class's USD is reached with larger marks instead (cascades liquidate bigger positions).
MAX_EVENT_RATE: Final = 400.0


@dataclass(frozen=True)
class ScriptedEpisode:
    """An episode placed on purpose (the demo's opening cascade), not drawn by the planner."""

    at_s: float  # seconds after the market starts
    cls: str  # a key of CLASSES
    side: str = "long"  # "long" (longs liquidated) or "short"
    exogenous: bool = True  # price shock first: the cascade is at full speed within seconds
    assets: tuple[str, ...] = ("BTC",)  # the first one leads; more than one is market-wide
    strength: float | None = None  # 0..1: where in its class's ranges it sits (None: drawn)


@dataclass(frozen=True)
class Profile:
    """What kind of market to simulate."""

    name: str
    episodes_per_hour: dict[str, float] = field(default_factory=dict)  # class -> rate (market-wide)
    common_shocks_per_hour: float = 2.0 / 24.0  # macro co-jumps seeding every symbol (§5.4)
    regime_dwell_s: float = 6 * 3600.0  # mean stay in a vol regime (calm/normal/active)
    vol_spike_every_s: float = 0.0  # σ×5 for 10 min, no liquidation fuel ("volspike")
    whale_every_s: float = 0.0  # single $20–50 M prints ("whale")
    first_episode_within_s: float = 0.0  # demo: something happens soon after start
    network_faults: bool = False  # 0.1 % frame drops and a 30–120 s disconnect per venue every ~6 h (§5.7)
    # Scales the log of each episode's vol jump (§5.6: ln 3–ln 10 by class). The demo packs a
    # month of cascades into hours; at full strength their jumps would keep BTC's 1 h vol in
    # EXTREME all the time, so the demo's episodes raise vol less, and only around themselves.
    episode_vol_scale: float = 1.0
    # BTC's σ_base is drawn from this range per seed (§5.6: 25–70 % to cover every regime band).
    # The demo's frequent cascades already lift vol, so its quiet level sits lower.
    sigma_base_range: tuple[float, float] = (0.25, 0.70)
    scripted: tuple[ScriptedEpisode, ...] = ()
    # --- bait for detectors (unlabelled; each injection is listed in `MarketSimulator.injected`)
    # Whale prints: USD drawn log-uniformly from this range; scaled by the asset's print scale
    # and spread over every simulated asset when `whale_scaled`, else BTC/ETH at face value.
    whale_usd: tuple[float, float] = (20e6, 50e6)
    whale_scaled: bool = False
    # Short clusters of 4–15 same-side prints within a few seconds, small or medium sizes.
    cluster_every_s: float = 0.0
    # Background liquidations follow volatility: the immigrant rate is multiplied by
    # (σ now / σ of the seed's base level) ** coupling, so a volatile hour is busier.
    background_vol_coupling: float = 0.0
    # --- print sizes
    # Each asset draws its own size family: the lognormal body with a Pareto tail (§5.3), or a
    # pure Pareto with tail index in PARETO_ALPHA (heavier than the body+tail mix).
    size_families: bool = False
    size_scales: dict[str, float] = field(default_factory=dict)  # asset -> print scale override
    # Cascades liquidate larger positions than the background: a leg's marks are at least this
    # multiple (drawn per leg) of the asset's ordinary prints.
    episode_mark_mult: tuple[float, float] = (1.0, 1.0)


# Print scales of the "bench" markets: BTC's prints are 100× ADA's (the external markets the
# detector is judged on mix assets whose print sizes differ by two orders of magnitude).
BENCH_SIZE_SCALES: Final[dict[str, float]] = {
    "BTC": 1.0,
    "ETH": 0.6,
    "SOL": 0.3,
    "XRP": 0.12,
    "DOGE": 0.08,
    "AVAX": 0.05,
    "LINK": 0.03,
    "SUI": 0.03,
    "ADA": 0.01,
    "LTC": 0.02,
}

PROFILES: Final[dict[str, Profile]] = {
    "demo": Profile(
        "demo",
        {"minor": 8.0, "moderate": 1.5, "major": 0.25},
        common_shocks_per_hour=0.25,
        regime_dwell_s=2400.0,
        first_episode_within_s=90.0,
        episode_vol_scale=0.5,
        sigma_base_range=(0.25, 0.40),
        # the demo opens with a BTC-led cascade so a newcomer sees WARNING and CRITICAL
        # within minutes; the market draws its own episodes from then on
        scripted=(ScriptedEpisode(20.0, "major", "long", True, ("BTC", "ETH", "SOL"), strength=0.9),),
    ),
    # The honest, hard market the signal-quality benchmark is scored on: majors and labelled
    # minors among bait (lone whale prints, short clusters, volatile busy hours), heavy-tailed
    # print sizes of two families, and print scales 100× apart.
    "bench": Profile(
        "bench",
        {"minor": 1.2, "moderate": 0.6, "major": 0.12},
        common_shocks_per_hour=0.5,
        regime_dwell_s=2400.0,
        vol_spike_every_s=5400.0,
        whale_every_s=600.0,
        first_episode_within_s=600.0,
        whale_usd=(1e6, 20e6),
        whale_scaled=True,
        cluster_every_s=300.0,
        background_vol_coupling=1.0,
        size_families=True,
        size_scales=BENCH_SIZE_SCALES,
        episode_mark_mult=(2.0, 6.0),
    ),
    "realistic": Profile(
        "realistic",
        {"minor": 3.5 / 24, "moderate": 0.5 / 24, "major": 1.5 / (30 * 24), "extreme": 1.0 / (60 * 24)},
        network_faults=True,
    ),
    "quiet": Profile("quiet"),
    "volspike": Profile("volspike", vol_spike_every_s=3600.0),
    "whale": Profile("whale", whale_every_s=1800.0),
}

# Background Hawkes (§5.2): two-exponential kernel, mark excitation exponent.
KERNEL_WEIGHTS: Final = (0.6, 0.4)
KERNEL_TIMES_S: Final = (2.0, 45.0)
MARK_EXCITATION_EXP: Final = 0.3
# Sizes (§5.3): lognormal body + Pareto tail, capped.
SIZE_MEDIAN_USD: Final = (400.0, 800.0)
SIZE_SIGMA_LN: Final = (1.8, 2.0)
TAIL_PROB: Final = 0.03
TAIL_XM_USD: Final = 25_000.0
TAIL_ALPHA: Final = 1.4
SIZE_CAP_USD: Final = 50e6
PARETO_ALPHA: Final = (1.2, 2.0)  # tail index of the pure-Pareto size family
PARETO_FAMILY_SHARE: Final = 0.5  # share of assets drawing the pure-Pareto family
CLUSTER_PRINTS: Final = (4, 15)
CLUSTER_SPAN_S: Final = (0.5, 6.0)
# Cluster print sizes in units of the body's log-sd around the asset's median print: small
# ones at or below the median, medium ones from the median to about the body's 80th percentile
# (ordinary prints, not the large ones a cascade liquidates).
CLUSTER_SMALL_Z: Final = (-2.0, 0.0)
CLUSTER_MEDIUM_Z: Final = (0.0, 0.85)
BACKGROUND_BUSY_RANGE: Final = (0.5, 4.0)  # clip of the volatility-coupled background factor


# the position-book market (sources/simulate/mechanistic*.py): not an injected-episode profile
MECHANISTIC_PROFILE: Final = "mechanistic"


def check_profile(name: str) -> None:
    """ValueError naming the known profiles when `name` is not one of them."""
    if name not in PROFILES and name != MECHANISTIC_PROFILE:
        known = ", ".join([*PROFILES, MECHANISTIC_PROFILE])
        raise ValueError(f"unknown profile {name!r}; known profiles: {known}")


def choose_assets_and_venues(
    assets: Sequence[str] | None, venues: Sequence[str] | None, default_assets: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The simulated assets (in ASSET_NAMES order) and venues (in OBSERVED_VENUES order) a
    simulator was asked for; ValueError names what it cannot simulate."""
    names = [a.upper() for a in assets] if assets else list(default_assets)
    unknown = [a for a in names if a not in ASSET_NAMES]
    if unknown or not names:
        raise ValueError(f"unknown assets {unknown}; known: {', '.join(ASSET_NAMES)}")
    chosen = [v.lower() for v in venues] if venues else list(OBSERVED_VENUES)
    bad = [v for v in chosen if v not in OBSERVED_VENUES]
    if bad:
        raise ValueError(f"the simulator emits frames for {', '.join(OBSERVED_VENUES)} only, not {bad}")
    return sorted(set(names), key=ASSET_NAMES.index), [v for v in OBSERVED_VENUES if v in chosen]
