"""Engine micro-benchmark: per-kind update latency, snapshot cost and memory at scale.

A synthetic stream spreads events over many assets on all 11 venues (sampled venues flagged
as such), so every per-asset and per-venue structure exists at once — the "300 assets × 11
venues" case. Prints one JSON object.

    .venv/bin/python benchmarks/engine_micro.py [--assets 300] [--events 200000] [--rate 500]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import time
import tracemalloc

from cascade_tui.engine import Engine
from cascade_tui.feeds import venue_ids
from cascade_tui.model import Event, Funding, Liquidation, Mark, OpenInterest, Trade

SAMPLED_VENUES = frozenset({"binance", "okx", "gate", "bitget"})
START_TS = 1_760_000_000.0


def synthetic_stream(n_events: int, n_assets: int, rate: float, seed: int) -> list[Event]:
    """Half liquidations, the rest trades, marks, open interest and funding, Poisson in time."""
    rng = random.Random(seed)
    assets = ["BTC", "ETH"] + [f"ALT{i}" for i in range(max(n_assets - 2, 0))]
    events: list[Event] = []
    t = START_TS
    for _ in range(n_events):
        t += rng.expovariate(rate)
        asset = rng.choice(assets)
        venue = rng.choice(venue_ids())
        instrument = f"{asset}-PERP"
        roll = rng.random()
        if roll < 0.5:
            usd = rng.paretovariate(1.2) * 300.0
            events.append(
                Liquidation(
                    venue=venue,
                    instrument=instrument,
                    asset=asset,
                    side="long" if rng.random() < 0.5 else "short",
                    price=10.0,
                    qty=usd / 10.0,
                    usd=usd,
                    raw_size=usd / 10.0,
                    event_ts=t,
                    recv_ts=t,
                    sampled=venue in SAMPLED_VENUES,
                )
            )
        elif roll < 0.8:
            price = 10.0 * (1.0 + rng.gauss(0.0, 1e-3))
            events.append(
                Trade(
                    venue=venue,
                    instrument=instrument,
                    asset=asset,
                    price=price,
                    qty=1.0,
                    usd=price,
                    taker_side="buy",
                    event_ts=t,
                    recv_ts=t,
                )
            )
        elif roll < 0.9:
            events.append(
                Mark(venue=venue, instrument=instrument, asset=asset, price=10.0, event_ts=t, recv_ts=t)
            )
        elif roll < 0.96:
            events.append(
                OpenInterest(
                    venue=venue,
                    instrument=instrument,
                    asset=asset,
                    oi=1e6 * (1 + rng.gauss(0, 0.01)),
                    event_ts=t,
                    recv_ts=t,
                )
            )
        else:
            events.append(
                Funding(
                    venue=venue,
                    instrument=instrument,
                    asset=asset,
                    rate=rng.gauss(0.0, 1e-4),
                    interval_h=8.0,
                    event_ts=t,
                    recv_ts=t,
                )
            )
    return events


def percentile_us(samples: list[int], q: float) -> float:
    return samples[min(len(samples) - 1, int(q * len(samples)))] / 1000.0 if samples else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=300)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--rate", type=float, default=500.0, help="events per second of market time")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    events = synthetic_stream(args.events, args.assets, args.rate, args.seed)
    clock = time.perf_counter_ns
    by_kind: dict[str, list[int]] = {}
    gc.collect()
    engine = Engine()
    gc.disable()
    try:
        for ev in events:
            t0 = clock()
            engine.process(ev)
            by_kind.setdefault(type(ev).__name__, []).append(clock() - t0)
    finally:
        gc.enable()

    # memory in a second pass: tracing allocations would distort the timings above
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    traced = Engine()
    for ev in events:
        traced.process(ev)
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced

    t0 = time.perf_counter()
    for _ in range(20):
        snap = engine.snapshot()
    snapshot_ms = (time.perf_counter() - t0) * 1000.0 / 20

    all_samples = sorted(s for samples in by_kind.values() for s in samples)
    result = {
        "benchmark": "engine_micro",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "assets": len(snap.assets),
        "venues": len(snap.venues),
        "events": len(events),
        "market_s": round(events[-1].recv_ts - events[0].recv_ts, 1),
        "update_us": {"p50": percentile_us(all_samples, 0.5), "p99": percentile_us(all_samples, 0.99)},
        "update_us_by_kind": {
            kind: {"p50": percentile_us(sorted(s), 0.5), "p99": percentile_us(sorted(s), 0.99), "n": len(s)}
            for kind, s in sorted(by_kind.items())
        },
        "snapshot_ms": round(snapshot_ms, 3),
        "engine_memory_mb": round((after - before) / 1e6, 2),
        "peak_memory_mb": round((peak - before) / 1e6, 2),
        "signals": engine.stats()["signals"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
