"""Snapshot contents and bounds, stats, latency, bad input and clock handling."""

from __future__ import annotations

import math
import random

import msgspec

from cascade_tui.engine import Engine
from cascade_tui.engine.types import Snapshot
from cascade_tui.feeds import venue_ids
from cascade_tui.model import Event, Funding, Liquidation, Mark, OpenInterest, Trade
from tests.engine.engine_synth import liquidation

T0 = 1_760_000_000.0
SAMPLED = {"binance", "okx", "gate", "bitget"}


def random_stream(n: int, assets: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    names = ["BTC", "ETH"] + [f"ALT{i}" for i in range(assets - 2)]
    out: list[Event] = []
    t = T0
    for _ in range(n):
        t += rng.expovariate(500.0)
        a = rng.choice(names)
        v = rng.choice(venue_ids())
        roll = rng.random()
        if roll < 0.5:
            side = "long" if rng.random() < 0.5 else "short"
            usd = rng.paretovariate(1.2) * 500.0
            out.append(
                Liquidation(
                    venue=v,
                    instrument=f"{a}-PERP",
                    asset=a,
                    side=side,
                    price=10.0,
                    qty=usd / 10.0,
                    usd=usd,
                    raw_size=usd / 10.0,
                    event_ts=t,
                    recv_ts=t,
                    sampled=v in SAMPLED,
                )
            )
        elif roll < 0.85:
            out.append(
                Trade(
                    venue=v,
                    instrument=f"{a}-PERP",
                    asset=a,
                    price=10.0 * (1 + rng.gauss(0, 1e-3)),
                    qty=1.0,
                    usd=10.0,
                    taker_side="buy",
                    event_ts=t,
                    recv_ts=t,
                )
            )
        elif roll < 0.92:
            out.append(Mark(venue=v, instrument=f"{a}-PERP", asset=a, price=10.0, event_ts=t, recv_ts=t))
        elif roll < 0.97:
            out.append(
                OpenInterest(
                    venue=v,
                    instrument=f"{a}-PERP",
                    asset=a,
                    oi=1e6 * (1 + rng.gauss(0, 0.01)),
                    event_ts=t,
                    recv_ts=t,
                )
            )
        else:
            out.append(
                Funding(
                    venue=v,
                    instrument=f"{a}-PERP",
                    asset=a,
                    rate=rng.gauss(0, 1e-4),
                    interval_h=8.0,
                    event_ts=t,
                    recv_ts=t,
                )
            )
    return out


def test_snapshot_is_filled_and_bounded_after_100k_events_on_300_assets() -> None:
    engine = Engine()
    events = random_stream(100_000, 300, seed=1)
    for ev in events:
        engine.process(ev)
    for stage in ("parse", "publish"):
        for i in range(5000):
            engine.record_latency(stage, i * 1e-6)
    snap = engine.snapshot()
    assert isinstance(snap, Snapshot)
    assert snap.ts == events[-1].recv_ts and snap.started_ts == events[0].recv_ts
    assert snap.events_total == 100_000 and snap.events_per_s > 0
    assert len(snap.assets) == 300
    assert [a.score for a in snap.assets] == sorted((a.score for a in snap.assets), reverse=True)
    assert len(snap.tape) <= 200 and len(snap.signals) <= 500
    assert all(a.ts >= b.ts for a, b in zip(snap.tape, snap.tape[1:], strict=False))  # newest first
    assert len(snap.market) == 4 and snap.market[0].window_s == 1
    assert {v.venue for v in snap.venues} == set(venue_ids())
    for v in snap.venues:
        assert len(v.history) == len(v.usd_history) == 300
        assert v.sampled == (v.venue in SAMPLED)
        assert (v.occupancy is not None) == v.sampled
        assert v.long_count + v.short_count > 0 and v.last_event_ts is not None
    for a in snap.assets:
        assert len(a.history) == 300 and 0.0 <= a.score <= 1.0
        assert set(a.components) == {"velocity", "acceleration", "volume", "oi", "funding", "volatility"}
        assert set(a.oi_change_pct) == {"1m", "5m", "1h"}
        assert all(math.isfinite(x) for x in a.raw.values())
    assert snap.latency["parse"].n == 5000 and snap.latency["parse"].p99_ms > snap.latency["parse"].p50_ms
    assert set(snap.volatility.rv) == {"1m", "5m", "15m", "1h"}
    assert snap.volatility.btc_price is not None
    assert sum(snap.signal_counts.values()) == sum(engine.stats()["signals"].values())
    # the snapshot is a plain immutable value: it encodes to JSON as is
    assert msgspec.json.encode(snap)


def test_assets_without_liquidations_appear_with_empty_scores() -> None:
    engine = Engine()
    engine.process(
        Trade(
            venue="bybit",
            instrument="ETHUSDT",
            asset="ETH",
            price=4000.0,
            qty=1.0,
            usd=4000.0,
            taker_side="sell",
            event_ts=T0,
            recv_ts=T0,
        )
    )
    engine.process(
        OpenInterest(venue="okx", instrument="ETH-SWAP", asset="ETH", oi=5.0, event_ts=T0, recv_ts=T0 + 1)
    )
    (eth,) = engine.snapshot().assets
    assert eth.asset == "ETH" and eth.score == 0.0 and eth.level_name == "NONE"
    assert eth.price == 4000.0 and eth.events_60s == 0 and eth.episode is None
    assert all(v == 0.0 for v in eth.raw.values()) and len(eth.raw) == 14


def test_stats_count_events_liquidations_and_out_of_order() -> None:
    engine = Engine()
    engine.process(liquidation("BTC", "long", 1000.0, T0 + 1))
    engine.process(liquidation("BTC", "short", 500.0, T0 + 2, venue="binance", sampled=True))
    engine.process(liquidation("BTC", "short", 250.0, T0 + 1.5, venue="binance", sampled=True))  # late
    stats = engine.stats()
    assert stats["events"]["liquidation"] == 3
    assert stats["out_of_order"] == 1
    assert stats["liquidations"]["bybit"]["long"] == {"count": 1, "usd": 1000.0}
    assert stats["liquidations"]["binance"]["short"] == {"count": 2, "usd": 750.0}
    assert set(stats["signals"]) == {"WATCH", "WARNING", "CRITICAL"}
    assert engine.snapshot().ts == T0 + 2  # a late event never moves the clock back


def test_bad_events_are_counted_and_skipped() -> None:
    engine = Engine()
    engine.process(liquidation("BTC", "long", 1000.0, T0))
    bad = [
        liquidation("BTC", "long", float("nan"), T0 + 1),
        liquidation("BTC", "long", -5.0, T0 + 1),
        liquidation("BTC", "sideways", 5.0, T0 + 1),
        liquidation("BTC", "long", 5.0, float("inf")),
        Trade(
            venue="bybit",
            instrument="X",
            asset="BTC",
            price=0.0,
            qty=1,
            usd=1,
            taker_side="buy",
            event_ts=T0,
            recv_ts=T0 + 1,
        ),
        Funding(
            venue="bybit", instrument="X", asset="BTC", rate=1e-4, interval_h=0.0, event_ts=T0, recv_ts=T0 + 1
        ),
        OpenInterest(
            venue="bybit", instrument="X", asset="BTC", oi=float("nan"), event_ts=T0, recv_ts=T0 + 1
        ),
    ]
    for ev in bad:
        assert engine.process(ev) == []
    engine.record_latency("parse", -1.0)
    stats = engine.stats()
    assert stats["rejected"] == len(bad) + 1
    assert stats["events"]["liquidation"] == 1


def test_tick_advances_the_clock_and_is_a_no_op_backwards() -> None:
    engine = Engine()
    assert engine.tick(T0) == []  # nothing to do before the first event
    engine.process(liquidation("BTC", "long", 1000.0, T0))
    engine.tick(T0 + 10.0)
    assert engine.snapshot().ts == T0 + 10.0
    engine.tick(T0 + 5.0)
    assert engine.snapshot().ts == T0 + 10.0
    engine.tick(T0 + 86_400.0 * 3)  # a three-day gap is swept without hanging
    assert engine.snapshot().ts == T0 + 86_400.0 * 3


def test_sampled_venue_reports_occupancy_and_saturation() -> None:
    engine = Engine()
    for s in range(30):
        engine.process(liquidation("SOL", "long", 5_000.0, T0 + s + 0.5, venue="binance", sampled=True))
    view = next(v for v in engine.snapshot().venues if v.venue == "binance")
    assert view.sampled and view.occupancy == 1.0 and view.saturated
    (sol,) = engine.snapshot().assets
    assert sol.raw["sampled_occupancy"] == 1.0 and sol.raw["surprise_sampled"] > 0
    engine.tick(T0 + 45.0)
    view = next(v for v in engine.snapshot().venues if v.venue == "binance")
    assert view.occupancy is not None and view.occupancy < 0.7 and not view.saturated
    assert sum(view.history) == 30.0
    (sol,) = engine.snapshot().assets
    assert sol.raw["sampled_occupancy"] < 0.7
