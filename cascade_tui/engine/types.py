"""What the engine gives out: signal transitions and the immutable snapshot the UI reads.

`Signal` is the §5.1 signal line (stdout in --no-ui, Redis `cascade:signals`); its JSON
encoding is the contract other programs rely on — add fields only at the end, never rename.
`Snapshot` is rebuilt on demand (`Engine.snapshot()`, ~8 Hz) and is never mutated after.
"""

from __future__ import annotations

import msgspec

from cascade_tui.engine.liqmap import LiqMapView


class Signal(msgspec.Struct, frozen=True, gc=False):
    v: int
    ts: float  # engine clock (receive time) when the transition happened
    asset: str  # "BTC", ..., or "*" for a market-wide cascade
    level: int  # 0..3 (0 only on state "close")
    level_name: str  # NONE WATCH WARNING CRITICAL
    state: str  # open escalate deescalate close
    episode: str  # stable id: f"{asset}-{open_ts_ms}"
    score: float
    components: dict[str, float]  # factor -> normalized value in [0, 1]
    direction: str  # "long" (longs liquidated, price falling) or "short"
    venues: list[str]  # venues with liquidations for this asset in the last 60 s
    regime: str  # BTC volatility regime at the time
    # the test that raised this level and the gate holding the next one, as short machine
    # words with numbers (DESIGN §5.1), e.g. {"trigger": "burst", "burst_x": 1.4,
    # "held_by": "price_move", "price_move_pct": 0.18, "needs_pct": 0.5}
    why: dict[str, float | str] = msgspec.field(default_factory=dict)


signal_encoder = msgspec.json.Encoder()
signal_decoder = msgspec.json.Decoder(Signal)


class Velocity(msgspec.Struct, frozen=True, gc=False):
    """Rates over one window (1, 5, 20 or 60 s)."""

    window_s: int
    events_per_s: float
    usd_per_s: float
    acceleration: float  # change of the smoothed short-window velocity, events/s²


class VenueView(msgspec.Struct, frozen=True, gc=False):
    venue: str
    sampled: bool
    velocity: tuple[Velocity, ...]  # one per window, in WINDOWS order
    occupancy: float | None  # share of 1 s slots with an event over 20 s (sampled feeds)
    saturated: bool  # sampled feed whose count is most likely a lower bound right now
    history: tuple[float, ...]  # events per second, last 300 s, oldest first
    usd_history: tuple[float, ...]  # USD per second, last 300 s, oldest first
    long_count: int
    long_usd: float
    short_count: int
    short_usd: float
    last_event_ts: float | None
    # connection health, set by the runtime through Engine.set_feed_status
    state: str = "unknown"  # connecting live stale reconnecting blocked disabled unknown
    state_detail: str = ""  # e.g. "attempt 3", "HTTP 451"
    last_message_age_s: float | None = None
    frames: int = 0
    parse_errors: int = 0
    reconnects: int = 0
    weight: float = 1.0  # effective weight (down-weighted when stale/blocked)
    # last connection failure, classified (feeds/failure.py: dns refused tls timeout blocked ...;
    # failure_label() gives the short text); "" when none
    failure: str = ""


class AssetView(msgspec.Struct, frozen=True, gc=False):
    asset: str
    score: float
    level: int
    level_name: str
    direction: str
    components: dict[str, float]
    raw: dict[str, float]  # un-normalized factor inputs (for the "why" panel)
    velocity: tuple[Velocity, ...]
    usd_60s: float
    events_60s: int
    price: float | None
    oi_change_pct: dict[str, float | None]  # "1m" "5m" "1h" -> % change
    funding_rate: float | None  # per interval, fraction
    funding_annualized: float | None
    funding_trend: float | None  # change of annualized funding over the last hour
    venues: tuple[str, ...]
    episode: str | None
    history: tuple[float, ...]  # score per second, last 300 s
    # the same `why` as the asset's latest signal, kept current: what holds the level and
    # what holds the next one (the dashboard's score detail shows it)
    why: dict[str, float | str] = msgspec.field(default_factory=dict)


class VolatilityView(msgspec.Struct, frozen=True, gc=False):
    regime: str
    regime_since: float | None  # engine ts when the current regime began
    rv: dict[str, float | None]  # "1m" "5m" "15m" "1h" -> annualized realized vol (fraction)
    bv_1h: float | None  # jump-robust 1 h bipower vol (drives the regime)
    expansion: float | None  # sigma_5m / sigma_1h
    cascade_risk_multiplier: float
    btc_price: float | None
    price_history: tuple[float, ...]  # BTC price per 5 s, last hour, oldest first
    regime_history: tuple[str, ...]  # regime per 5 s, aligned with price_history


class TapeEntry(msgspec.Struct, frozen=True, gc=False):
    ts: float  # receive time
    event_ts: float
    venue: str
    asset: str
    instrument: str
    side: str
    price: float
    usd: float
    sampled: bool


class LatencyView(msgspec.Struct, frozen=True, gc=False):
    p50_ms: float
    p99_ms: float
    n: int


class Snapshot(msgspec.Struct, frozen=True, gc=False):
    v: int
    ts: float  # engine clock
    started_ts: float | None  # first event's ts
    events_total: int
    events_per_s: float  # all kinds, over the last 5 s of engine clock
    market: tuple[Velocity, ...]  # market-wide liquidation velocity per window
    market_level: int
    market_episode: str | None
    venues: tuple[VenueView, ...]
    assets: tuple[AssetView, ...]  # sorted by score, highest first
    volatility: VolatilityView
    tape: tuple[TapeEntry, ...]  # newest first, bounded (200)
    signals: tuple[Signal, ...]  # newest first, bounded (500)
    signal_counts: dict[str, int]  # WATCH/WARNING/CRITICAL -> number of opens+escalations
    latency: dict[str, LatencyView]  # stage -> percentiles
    params_version: int  # bumped by every set_params
    # estimated liquidation map per asset (engine/liqmap.py), sorted by asset
    liqmap: tuple[LiqMapView, ...] = ()
