"""Redis layer memory and write rate. Prints one JSON object.

    .venv/bin/python benchmarks/redis_memory.py [--seed 3] [--duration 1800] [--maxlen 20000]
                                                [--outage-events 300000] [--outage-queue 10000]

1. steady: the demo market at full speed through the real pipeline and engine into a private
   redis-server (EmbeddedRedis): events written per second of wall time, Redis used memory,
   stream length against its MAXLEN ~ bound, history size, this process's RSS growth.
2. outage: the sink pointed at a dead Redis while N events are offered: the queue must stay
   at its capacity (drops counted), RSS must stay flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import time
from typing import Any

import redis.asyncio as aioredis

from cascade_tui.config import RedisConfig
from cascade_tui.engine import Engine
from cascade_tui.model import Liquidation
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.runtime.redis_server import EmbeddedRedis
from cascade_tui.sinks.redis import RedisSink
from cascade_tui.sources.demo import DemoSource


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


async def steady(seed: int, duration: float, maxlen: int, queue: int) -> dict[str, Any]:
    binary = shutil.which("redis-server")
    if binary is None:
        return {"skipped": "no redis-server on PATH"}
    server = EmbeddedRedis(binary)
    await server.start()
    try:
        config = RedisConfig(stream_maxlen=maxlen, queue_size=queue)
        sink = RedisSink(server.url, config=config)
        pipeline = Pipeline(DemoSource(seed=seed, speed=0, duration_s=duration), Engine(), [sink])
        rss0 = rss_mb()
        t0 = time.perf_counter()
        await pipeline.run()
        wall = time.perf_counter() - t0
        client = aioredis.from_url(server.url)
        info = await client.info("memory")
        result = {
            "market_s": duration,
            "wall_s": round(wall, 3),
            "events": pipeline.events,
            "events_written": sink.events_written,
            "events_written_per_s": round(sink.events_written / wall, 1),
            "signals_published": sink.published,
            "drops": sink.stats()["drops"],
            "stream_len": await client.xlen("cascade:events"),
            "stream_maxlen": maxlen,
            "history_len": await client.zcard("cascade:signals:history"),
            "keys": await client.dbsize(),
            "redis_used_memory_mb": round(info["used_memory"] / 1e6, 2),
            "rss_growth_mb": round(rss_mb() - rss0, 1),
        }
        await client.aclose()
        return result
    finally:
        await server.stop()


async def outage(n_events: int, queue: int) -> dict[str, Any]:
    sink = RedisSink("redis://127.0.0.1:1/0", config=RedisConfig(queue_size=queue))
    await sink.start()
    peak_queue = 0
    rss0 = rss_mb()
    t0 = time.perf_counter()
    for i in range(n_events):
        ts = 1.7e9 + i * 0.001
        sink.on_event(
            Liquidation(venue="bybit", instrument="BTCUSDT", asset="BTC", side="long", price=6e4, qty=0.1,
                        usd=6e3, raw_size=0.1, event_ts=ts, recv_ts=ts)
        )  # fmt: skip
        if i % 1000 == 0:
            peak_queue = max(peak_queue, len(sink.queue))
            await asyncio.sleep(0)  # let the writer task try (and fail) to reconnect
    offered_s = time.perf_counter() - t0
    result = {
        "events_offered": n_events,
        "hook_ns_per_event": round(offered_s / n_events * 1e9, 1),
        "queue_capacity": queue,
        "peak_queue": max(peak_queue, len(sink.queue)),
        "drops": sink.stats()["drops"],
        "state": sink.stats()["state"],
        "errors": sink.stats()["errors"],
        "rss_growth_mb": round(rss_mb() - rss0, 1),
    }
    await sink.close()
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "benchmark": "redis_memory",
        "steady": await steady(args.seed, args.duration, args.maxlen, args.queue),
        "outage": await outage(args.outage_events, args.outage_queue),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--duration", type=float, default=1800.0)
    ap.add_argument("--maxlen", type=int, default=20_000)
    # at speed 0 the whole market arrives at once: a large queue so the steady run drops nothing
    ap.add_argument("--queue", type=int, default=200_000)
    ap.add_argument("--outage-queue", type=int, default=10_000)  # the RedisConfig default
    ap.add_argument("--outage-events", type=int, default=300_000)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
