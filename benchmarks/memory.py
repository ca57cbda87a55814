"""Memory: N million events over 300 symbols through parse + engine at full speed.

Prints one JSON object: peak RSS, RSS samples over time, and the slope of RSS over the
second half (MB per million events; flat ≈ 0). Frames are Bybit allLiquidation / publicTrade
/ tickers JSON, built on the fly so the generator itself holds no memory.

    .venv/bin/python benchmarks/memory.py [--events 10000000] [--symbols 300]

Target (issue #8): peak RSS <= 150 MB and flat.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from cascade_tui.engine import Engine
from cascade_tui.feeds import make_parser


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--symbols", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    symbols = ["BTC", "ETH", "SOL", "XRP", "DOGE"] + [f"ALT{i:03d}" for i in range(args.symbols - 5)]
    prices = {s: float(p) for s, p in zip(symbols, np.exp(rng.uniform(-3, 11, len(symbols))), strict=True)}
    parser = make_parser("bybit")
    engine = Engine()
    ts = 1_767_225_600.0
    done = 0
    samples: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    chunk = 10_000
    next_sample = 0
    while done < args.events:
        sym_idx = rng.integers(0, len(symbols), chunk)
        sides = rng.integers(0, 2, chunk)
        sizes = rng.lognormal(0.0, 1.8, chunk)
        gaps = rng.exponential(0.002, chunk)
        kinds = rng.integers(0, 10, chunk)
        for j in range(chunk):
            ts += float(gaps[j])
            sym = symbols[sym_idx[j]]
            px = prices[sym]
            ms = int(ts * 1000)
            if kinds[j] < 6:
                frame = (
                    f'{{"topic":"allLiquidation.{sym}USDT","type":"snapshot","ts":{ms},"data":[{{"T":{ms},'
                    f'"s":"{sym}USDT","S":"{"Buy" if sides[j] else "Sell"}","v":"{sizes[j] * 100 / px:.6f}",'
                    f'"p":"{px:.6f}"}}]}}'
                )
            elif kinds[j] < 9:
                frame = (
                    f'{{"topic":"publicTrade.{sym}USDT","type":"snapshot","ts":{ms},"data":[{{"T":{ms},'
                    f'"s":"{sym}USDT","S":"Buy","v":"0.01","p":"{px:.6f}","i":"x","BT":false}}]}}'
                )
            else:
                frame = (
                    f'{{"topic":"tickers.{sym}USDT","type":"snapshot","ts":{ms},"data":{{"symbol":"{sym}USDT",'
                    f'"markPrice":"{px:.6f}","openInterest":"{1e6 + j}","fundingRate":"0.0001",'
                    f'"fundingIntervalHour":"8","nextFundingTime":"{ms + 3600000}"}},"cs":1,"ts":{ms}}}'
                )
            engine.tick(ts)
            for ev in parser.parse(frame, ts):
                engine.process(ev)
        done += chunk
        if done >= next_sample:
            if done % 1_000_000 < chunk:
                engine.snapshot()
            samples.append((done, round(rss_mb(), 2)))
            next_sample += max(chunk, args.events // 100)
    wall = time.perf_counter() - t0
    half = [s for s in samples if s[0] >= args.events // 2]
    slope = 0.0
    if len(half) >= 2:
        x = np.array([s[0] for s in half], dtype=float) / 1e6
        y = np.array([s[1] for s in half], dtype=float)
        slope = float(np.polyfit(x, y, 1)[0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "benchmark": "memory",
        "events": done,
        "symbols": len(symbols),
        "wall_s": round(wall, 1),
        "events_per_s": round(done / wall),
        "peak_rss_mb": round(peak, 1),
        "target_peak_rss_mb": 150,
        "rss_slope_mb_per_million_second_half": round(slope, 3),
        "samples": samples,
    }))


if __name__ == "__main__":
    main()
