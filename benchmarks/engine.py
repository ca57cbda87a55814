"""Parse + engine throughput on simulator frames vs bare msgspec decode of the same frames,
in the same run, and the per-event engine update latency. Prints one JSON object.

    .venv/bin/python benchmarks/engine.py [--seed 3] [--duration 3600] [--profile demo]

Targets (issue #3): parse+engine >= 40 % of the bare decode rate; engine update p99 <= 20 µs.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time

import msgspec

from cascade_tui.engine import Engine
from cascade_tui.feeds import make_parser
from cascade_tui.sources.simulate import MarketSimulator


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--profile", default="demo")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t = time.perf_counter()
    frames = list(MarketSimulator(args.seed, profile=args.profile).frames(args.duration))
    gen_s = time.perf_counter() - t
    decode = msgspec.json.decode

    def bare_decode() -> float:
        t0 = time.perf_counter()
        for f in frames:
            decode(f.data)
        return time.perf_counter() - t0

    def parse_and_engine() -> tuple[float, int, Engine]:
        parsers: dict = {}
        engine = Engine()
        n_events = 0
        t0 = time.perf_counter()
        for f in frames:
            p = parsers.get(f.venue)
            if p is None:
                p = parsers[f.venue] = make_parser(f.venue)
            events = p.parse(f.data, f.ts, f.channel)
            engine.tick(f.ts)
            for ev in events:
                engine.process(ev)
            n_events += len(events)
        return time.perf_counter() - t0, n_events, engine

    gc.collect()
    decode_s = min(bare_decode() for _ in range(args.repeat))
    runs = [parse_and_engine() for _ in range(args.repeat)]
    full_s = min(r[0] for r in runs)
    n_events = runs[0][1]

    # per-event update latency: time every engine.process call on pre-parsed events
    parsers: dict = {}
    parsed = []
    for f in frames:
        p = parsers.get(f.venue) or parsers.setdefault(f.venue, make_parser(f.venue))
        parsed.append((f.ts, p.parse(f.data, f.ts, f.channel)))
    engine = Engine()
    samples: list[int] = []
    liq_samples: list[int] = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for ts, events in parsed:
            engine.tick(ts)
            for ev in events:
                t0 = clock()
                engine.process(ev)
                dt = clock() - t0
                samples.append(dt)
                if type(ev).__name__ == "Liquidation":
                    liq_samples.append(dt)
    finally:
        gc.enable()
    samples.sort()
    liq_samples.sort()

    def pct(xs: list[int], q: float) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))] / 1000.0 if xs else 0.0

    t0 = time.perf_counter()
    for _ in range(100):
        engine.snapshot()
    snapshot_ms = (time.perf_counter() - t0) * 10.0

    result = {
        "benchmark": "engine",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "frames": len(frames),
        "events": n_events,
        "simulated_s": args.duration,
        "generate_s": round(gen_s, 3),
        "decode_frames_per_s": round(len(frames) / decode_s),
        "parse_engine_frames_per_s": round(len(frames) / full_s),
        "parse_engine_events_per_s": round(n_events / full_s),
        "ratio_to_decode": round(decode_s / full_s, 3),
        "target_ratio": 0.40,
        "update_us": {
            "p50": round(pct(samples, 0.50), 2),
            "p99": round(pct(samples, 0.99), 2),
            "max": round(samples[-1] / 1000.0, 2) if samples else 0.0,
            "mean": round(statistics.fmean(samples) / 1000.0, 2) if samples else 0.0,
        },
        "liquidation_update_us": {"p50": round(pct(liq_samples, 0.5), 2), "p99": round(pct(liq_samples, 0.99), 2)},
        "target_update_p99_us": 20.0,
        "snapshot_ms": round(snapshot_ms, 3),
        "signals": engine.stats().get("signals", {}),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
