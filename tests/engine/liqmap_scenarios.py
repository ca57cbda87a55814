"""Scripted OI / trade / mark / liquidation sequences for the liquidation map, and the summary
of the map they leave (test_liqmap_golden.py asserts it against outputs recorded from the
estimator before its numpy rewrite: the rewrite must not change what is estimated)."""

from __future__ import annotations

import math
import random
from typing import Any

from cascade_tui.engine.liqmap import LiqMapParams, LiquidationMap
from cascade_tui.model import Liquidation, Mark, OpenInterest, Trade

T0 = 1_767_225_600.0
VENUES = ("binance", "bybit", "okx")
# The near_cluster settings in force when the golden file was recorded (the defaults have been
# re-chosen since): the golden compares the estimate and its context, not the settings.
RECORDED_PARAMS = LiqMapParams(
    near_horizon_s=1800.0, near_cluster_mult=0.5, near_exit_ratio=0.5, near_min_hold_s=0.0, near_approach_pct=0.0
)


def scripted_events(seed: int, steps: int, jump_at: int | None = None, liq_rate: float = 0.15) -> list[object]:
    """A random walk of BTC with trades every step, OI updates (up and down, full closes
    included) on three venues, marks and liquidations; optionally one jump past the window."""
    rng = random.Random(seed)
    price, t = 100_000.0, T0
    oi = dict.fromkeys(VENUES, 1000.0)
    out: list[object] = []
    for step in range(steps):
        t += rng.uniform(0.2, 3.0)
        price *= math.exp(rng.gauss(0.0, 0.002))
        if jump_at is not None and step == jump_at:
            price *= 1.4
        usd = rng.uniform(1e4, 5e6)
        side = "buy" if rng.random() < 0.55 else "sell"
        out.append(Trade("binance", "BTCUSDT", "BTC", price, usd / price, usd, side, t, t))  # type: ignore[arg-type]
        r = rng.random()
        if r < 0.3:
            venue = rng.choice(VENUES)
            u = rng.random()
            if u < 0.02:
                oi[venue] = 0.0  # everyone closes at this venue
            elif u < 0.6:
                oi[venue] += rng.uniform(0.0, 40.0)
            else:
                oi[venue] = max(0.0, oi[venue] - rng.uniform(0.0, 30.0))
            out.append(OpenInterest(venue, "BTCUSDT", "BTC", oi[venue], t, t))
        elif r < 0.45:
            out.append(Mark("binance", "BTCUSDT", "BTC", price * (1 + rng.gauss(0.0, 0.0005)), t, t))
        elif r < 0.45 + liq_rate:
            venue = rng.choice(VENUES)
            lusd = rng.uniform(1e3, 2e6)
            lside = "long" if rng.random() < 0.5 else "short"
            lp = price * (1 + rng.gauss(0.0, 0.002))
            q = lusd / lp
            out.append(Liquidation(venue, "BTCUSDT", "BTC", lside, lp, q, lusd, q, t, t))  # type: ignore[arg-type]
    return out


def summary(m: LiquidationMap, t: float, asset: str = "BTC") -> dict[str, Any]:
    """What the map estimates for the asset at t: every band, the context and the calibration."""
    view = m.view(asset, t)
    assert view is not None
    longs, shorts = m.band_usd(asset)
    return {
        "price": view.price,
        "bands": [[b.low, b.high, b.long_usd, b.short_usd] for b in view.bands],
        "long_within": view.long_within,
        "short_within": view.short_within,
        "nearest_dense_long_pct": view.nearest_dense_long_pct,
        "nearest_dense_short_pct": view.nearest_dense_short_pct,
        "dense_band_usd": view.dense_band_usd,
        "usual_hourly_usd": view.usual_hourly_usd,
        "total_long_usd": view.total_long_usd,
        "total_short_usd": view.total_short_usd,
        "coverage": view.coverage,
        "seen_per_est": view.seen_per_est,
        "crossed_usd": view.crossed_usd,
        "seen_usd": view.seen_usd,
        "near_cluster": view.near_cluster,
        "long_bands": {str(k): v for k, v in longs.items()},
        "short_bands": {str(k): v for k, v in shorts.items()},
        "expected": {f"{int(long)}:{j}": v for (long, j), v in m.expected(asset).items()},
        "expected_near_long": m.expected_near(asset, True, 1800.0, 3.0),
        "expected_near_short": m.expected_near(asset, False, 1800.0, 3.0),
        "bands_kept": m.bands_kept(asset),
        "rejected": m.rejected,
    }


SCENARIOS: dict[str, dict[str, Any]] = {
    "walk": {"seed": 11, "steps": 3000},
    "long_walk": {"seed": 12, "steps": 9000},
    "jump": {"seed": 13, "steps": 2500, "jump_at": 1500},
    "quiet": {"seed": 14, "steps": 6000, "liq_rate": 0.002},  # a near cluster forms
}


def run_scenario(name: str, m: LiquidationMap | None = None) -> list[dict[str, Any]]:
    """Summaries at eight checkpoints along the scenario."""
    spec = SCENARIOS[name]
    evs = scripted_events(spec["seed"], spec["steps"], spec.get("jump_at"), spec.get("liq_rate", 0.15))
    m = m or LiquidationMap(RECORDED_PARAMS)
    marks = {len(evs) * i // 8 - 1 for i in range(1, 9)}
    out = []
    for i, ev in enumerate(evs):
        m.on_event(ev, ev.recv_ts)  # type: ignore[attr-defined]
        if i in marks:
            out.append(summary(m, ev.recv_ts))  # type: ignore[attr-defined]
    return out
