"""A realistic, deterministic Snapshot for UI tests (no engine needed).

A BTC-led long cascade in progress: Binance saturated, a WARNING on BTC and ETH, one venue
reconnecting, one geo-blocked, tape entries in every size tier, signals at every level.
"""

from __future__ import annotations

import math
import random

from cascade_tui.engine.params import FACTORS, LEVEL_NAMES, WINDOWS
from cascade_tui.engine.types import (
    AssetView,
    LatencyView,
    Signal,
    Snapshot,
    TapeEntry,
    Velocity,
    VenueView,
    VolatilityView,
)

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
NOW = T0 + 3 * 3600 + 754.25  # engine clock of the snapshot

VENUES: tuple[tuple[str, bool, str, str], ...] = (
    ("binance", True, "live", ""),
    ("bybit", False, "live", ""),
    ("okx", True, "live", ""),
    ("bitmex", False, "live", ""),
    ("deribit", False, "live", ""),
    ("gate", True, "stale", ""),
    ("bitget", True, "live", ""),
    ("htx", False, "reconnecting", "attempt 3"),
    ("kraken", False, "live", ""),
    ("dydx", False, "blocked", "HTTP 451"),
    ("hyperliquid", False, "disabled", ""),
)
VENUE_SHARE = {
    "binance": 0.35,
    "bybit": 0.25,
    "okx": 0.15,
    "bitmex": 0.04,
    "deribit": 0.03,
    "gate": 0.05,
    "bitget": 0.08,
    "kraken": 0.02,
}
ASSETS: tuple[tuple[str, float, float, int, str], ...] = (
    # asset, price, score, level, direction
    ("BTC", 88_412.5, 0.63, 2, "long"),
    ("ETH", 2_961.4, 0.56, 2, "long"),
    ("SOL", 126.31, 0.41, 1, "long"),
    ("XRP", 1.9472, 0.22, 0, "long"),
    ("DOGE", 0.14713, 0.18, 0, "short"),
    ("AVAX", 24.12, 0.09, 0, "short"),
    ("LINK", 14.77, 0.05, 0, "long"),
)


def why_for(level: int, state: str) -> dict[str, float | str]:
    """A `why` like the engine's (DESIGN §5.1) for each level."""
    if level == 0 or state == "close":
        return {"trigger": "quiet", "burst_x": 0.2} if state == "close" else {}
    if level >= 3:
        return {"trigger": "burst", "burst_x": 6.4, "price_move_pct": 0.81, "needs_pct": 0.5}
    return {"trigger": "burst", "burst_x": 1.4 * level, "held_by": "price_move", "price_move_pct": 0.18,
            "needs_pct": 0.5}  # fmt: skip


def _velocities(base_events: float, base_usd: float) -> tuple[Velocity, ...]:
    # shorter windows run hotter during a cascade
    boost = {1: 1.9, 5: 1.5, 20: 1.0, 60: 0.6}
    return tuple(
        Velocity(
            window_s=w,
            events_per_s=base_events * boost[w],
            usd_per_s=base_usd * boost[w],
            acceleration=base_events * (boost[w] - 1.0),
        )
        for w in WINDOWS
    )


def _cascade_curve(rng: random.Random, n: int, peak: float) -> tuple[float, ...]:
    """Quiet background, then a burst in the last minute and a half."""
    out = []
    for i in range(n):
        x = (i - (n - 60)) / 25.0
        burst = peak * math.exp(-(x**2)) if i > n - 150 else 0.0
        out.append(max(0.0, burst + rng.expovariate(8.0) * (1 if rng.random() < 0.3 else 0)))
    return tuple(round(v, 3) for v in out)


def build_snapshot(seed: int = 7, *, quiet: bool = False) -> Snapshot:
    rng = random.Random(seed)
    venues = []
    for name, sampled, state, detail in VENUES:
        share = VENUE_SHARE.get(name, 0.0) if state in ("live", "stale") and not quiet else 0.0
        events = round(12.0 * share, 2)
        history = _cascade_curve(rng, 300, 30.0 * share) if share else tuple(0.0 for _ in range(300))
        venues.append(
            VenueView(
                venue=name,
                sampled=sampled,
                velocity=_velocities(events, events * 41_000.0),
                occupancy=0.97 if name == "binance" else (0.4 if sampled else None),
                saturated=name == "binance" and not quiet,
                history=history,
                usd_history=tuple(v * 41_000.0 for v in history),
                long_count=int(400 * share),
                long_usd=2.4e7 * share,
                short_count=int(30 * share),
                short_usd=1.1e6 * share,
                last_event_ts=NOW - 0.4 if share else None,
                state=state,
                state_detail=detail,
                last_message_age_s={"live": 0.2, "stale": 48.0}.get(state),
                frames=int(90_000 * (share + 0.01)),
                parse_errors=2 if name == "okx" else 0,
                reconnects={"htx": 3, "gate": 1}.get(name, 0),
                failure={"htx": "timeout", "dydx": "blocked"}.get(name, ""),
            )
        )
    assets = []
    for i, (name, px, score, level, direction) in enumerate(ASSETS):
        score = 0.02 + 0.01 * i if quiet else score
        level = 0 if quiet else level
        comps = {
            f: round(min(1.0, max(0.0, score * (1.25 - 0.12 * k) + rng.uniform(-0.08, 0.08))), 3)
            for k, f in enumerate(FACTORS)
        }
        events = 0.0 if quiet else round(6.0 * score**2, 2)
        usd = events * px * (0.8 if name == "BTC" else 400 / max(px, 1.0)) * 0.5
        assets.append(
            AssetView(
                asset=name,
                score=score,
                level=level,
                level_name=LEVEL_NAMES[level],
                direction=direction,
                components=comps,
                raw={f: comps[f] * 3.0 for f in FACTORS},
                velocity=_velocities(events, usd),
                usd_60s=usd * 36.0,
                events_60s=int(events * 36),
                price=px,
                oi_change_pct={"1m": -0.4 * score, "5m": -2.6 * score, "1h": -4.1 * score},
                funding_rate=0.0001 * (1 if direction == "long" else -1),
                funding_annualized=0.1095 * (1 if direction == "long" else -1) * (1 + score),
                funding_trend=-0.02,
                venues=("binance", "bybit", "okx") if level else ("binance",),
                episode=f"{name}-{int((NOW - 95) * 1000)}" if level else None,
                history=tuple(score * (j / 300) for j in range(300)),
                why=why_for(level, "escalate"),
            )
        )
    prices = []
    regimes = []
    p = 91_200.0
    for j in range(720):
        p *= math.exp(rng.gauss(0, 0.0009) - (0.0011 if j > 640 else 0.0))
        prices.append(round(p, 1))
        regimes.append("NORMAL" if j < 400 else ("HIGH" if j < 650 else "EXTREME"))
    volatility = VolatilityView(
        regime="LOW" if quiet else "EXTREME",
        regime_since=NOW - 6 * 60 - 40,
        rv={"1m": 1.42, "5m": 1.08, "15m": 0.81, "1h": 0.64},
        bv_1h=0.61,
        expansion=1.69,
        cascade_risk_multiplier=0.95 if quiet else 1.3,
        btc_price=ASSETS[0][1],
        price_history=tuple(prices),
        regime_history=tuple(regimes),
    )
    tape = []
    sizes = (12_500_000.0, 2_340_000.0, 640_000.0, 182_000.0, 91_000.0, 55_000.0, 31_000.0, 12_400.0)
    for k in range(60):
        name, px, *_ = ASSETS[k % 4]
        venue = ("binance", "bybit", "okx", "bitget")[k % 4]
        usd = sizes[(k * 3) % len(sizes)] * (0.9 + 0.2 * rng.random())
        tape.append(
            TapeEntry(
                ts=NOW - k * 0.7,
                event_ts=NOW - k * 0.7 - 0.05,
                venue=venue,
                asset=name,
                instrument=f"{name}USDT",
                side="long" if k % 5 else "short",
                price=px,
                usd=round(usd, 2),
                sampled=venue in ("binance", "okx", "bitget"),
            )
        )
    signals = []
    plan = [
        ("BTC", 2, "escalate", 0.63),
        ("ETH", 2, "escalate", 0.56),
        ("SOL", 1, "open", 0.41),
        ("BTC", 1, "open", 0.33),
        ("ETH", 1, "open", 0.31),
        ("DOGE", 0, "close", 0.12),
        ("XRP", 3, "deescalate", 0.66),
        ("XRP", 3, "escalate", 0.74),
        ("*", 2, "open", 0.55),
        ("DOGE", 1, "open", 0.32),
    ]
    for k, (asset, level, state, score) in enumerate(plan):
        ts = NOW - 4 - k * 37.5
        signals.append(
            Signal(
                v=1,
                ts=ts,
                asset=asset,
                level=level,
                level_name=LEVEL_NAMES[level],
                state=state,
                episode=f"{asset}-{int((ts - 60) * 1000)}",
                score=score,
                components={f: round(score, 2) for f in FACTORS},
                direction="short" if asset == "DOGE" else "long",
                venues=["binance", "bybit", "okx"][: 1 + k % 3],
                regime="EXTREME",
                why=why_for(level, state),
            )
        )
    if quiet:
        tape, signals = [], []
    return Snapshot(
        v=1,
        ts=NOW,
        started_ts=T0,
        events_total=4_812_331,
        events_per_s=0.0 if quiet else 1_843.6,
        market=_velocities(0.0 if quiet else 9.3, 0.0 if quiet else 4.1e5),
        market_level=0 if quiet else 2,
        market_episode=None,
        venues=tuple(venues),
        assets=tuple(sorted(assets, key=lambda a: -a.score)),
        volatility=volatility,
        tape=tuple(tape),
        signals=tuple(signals),
        signal_counts={"WATCH": 14, "WARNING": 5, "CRITICAL": 1},
        latency={
            "parse": LatencyView(0.018, 0.094, 120_000),
            "engine": LatencyView(0.011, 0.061, 120_000),
            "signal": LatencyView(0.21, 1.4, 36),
            "publish": LatencyView(0.42, 3.1, 9_000),
        },
        params_version=1,
    )
