"""What a run writes to Redis matches docs/redis.md: every key, its type, TTL and payload
fields (with "v": 1), and the pub/sub channel carries exactly the emitted signals."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import msgspec
import redis.asyncio as aioredis

from cascade_tui.config import RedisConfig
from cascade_tui.engine import Engine, EngineParams, Signal
from cascade_tui.engine.types import signal_encoder
from cascade_tui.model import event_decoder
from cascade_tui.redis_schema import signal_payload
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sinks.redis import RedisSink
from cascade_tui.sources.demo import DemoSource
from tests.redis.redis_market import EventSource, ScriptedEngine, market_events

DOC = Path(__file__).resolve().parents[2] / "docs" / "redis.md"
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*(\w+)\s*\|\s*([\d-]+)\s*\|\s*([^|]+)\|\s*$")


def documented_keys() -> list[tuple[str, str, int | None, list[str]]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            ttl = None if m.group(3) == "-" else int(m.group(3))
            rows.append((m.group(1), m.group(2), ttl, [f.strip() for f in m.group(4).split(",")]))
    return rows


async def collect(pubsub: Any, quiet_s: float = 0.5) -> list[bytes]:
    """Messages until the channel has been quiet for quiet_s (subscribe confirmations skipped)."""
    out: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + quiet_s
    while loop.time() < deadline:
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if msg is not None:
            out.append(msg["data"])
            deadline = loop.time() + quiet_s
    return out


async def check_documented_keys(client: Any, published: list[bytes], sig: Signal, asset: str) -> None:
    """Every row of the docs/redis.md table: the key exists with its type, TTL and fields."""
    rows = documented_keys()
    fill = {"{asset}": asset, "{tf}": "5s", "{level}": sig.level_name, "{ts_ms}": str(round(sig.ts * 1000))}
    for pattern, kind, ttl, fields in rows:
        key = pattern
        for placeholder, value in fill.items():
            key = key.replace(placeholder, value)
        if kind == "channel":
            assert set(fields) == set(msgspec.json.decode(published[0])), pattern
            continue
        assert (await client.type(key)).decode() == kind, key
        remaining = await client.ttl(key)
        if ttl is None:
            assert remaining == -1, f"{key} must not expire"
        else:
            assert 0 < remaining <= ttl, f"{key}: TTL {remaining}, documented {ttl}"
        if kind == "string":
            payloads = [await client.get(key)]
        elif kind == "hash":
            payloads = list((await client.hgetall(key)).values())
        elif kind == "zset":
            payloads = await client.zrange(key, 0, -1)
        else:  # stream: the entry fields are documented, the event is JSON in "e"
            entries = await client.xrange(key, count=1)
            assert {f.decode() for f in entries[0][1]} == set(fields)
            continue
        assert payloads, key
        for raw in payloads:
            doc = msgspec.json.decode(raw)
            assert doc["v"] == 1, key
            assert set(fields) <= set(doc), f"{key}: missing {set(fields) - set(doc)}"


async def run_market(url: str, prefix: str = "") -> tuple[Pipeline, ScriptedEngine, RedisSink]:
    engine = ScriptedEngine()
    sink = RedisSink(url, prefix=prefix, config=RedisConfig(queue_size=100_000))
    pipeline = Pipeline(EventSource(market_events(seed=3, duration_s=90.0)), engine, [sink])
    pipeline.set_params(EngineParams())  # publishes cascade:params
    await pipeline.run()
    return pipeline, engine, sink


async def test_every_documented_key_is_written_as_documented(redis_server: Any) -> None:
    rows = documented_keys()
    assert len(rows) == 10, "the key table in docs/redis.md could not be parsed"
    client = aioredis.from_url(redis_server.url)
    pubsub = client.pubsub()
    await pubsub.subscribe("cascade:signals")
    pipeline, engine, sink = await run_market(redis_server.url)
    published = await collect(pubsub)

    assert engine.signals, "the scripted market must raise signals"
    assert {s.level_name for s in engine.signals} >= {"WATCH", "WARNING", "CRITICAL"}
    assert published == [signal_payload(signal_encoder.encode(s), sink.instance) for s in engine.signals]
    assert sink.stats()["state"] == "down"  # closed by the pipeline
    assert sink.stats()["published"] == len(engine.signals)
    assert sink.stats()["drops"] == {"metric": 0, "event": 0, "signal": 0}

    await check_documented_keys(client, published, engine.signals[-1], asset="BTC")

    # every timeframe for every asset and the market row, a score per asset
    for asset in ("BTC", "ETH", "*"):
        for tf in ("1s", "5s", "20s", "60s"):
            assert await client.exists(f"liq:vel:{asset}:{tf}"), (asset, tf)
    assert await client.exists("cascade:score:ETH")
    # one signal key per transition (distinct level/ms here), history holds them all
    for s in engine.signals:
        assert await client.get(f"signal:{s.level_name}:{round(s.ts * 1000)}") == signal_payload(signal_encoder.encode(s), sink.instance)
    assert await client.zcard("cascade:signals:history") == len(engine.signals)
    # the stream holds every event the engine processed, in order, decodable
    entries = await client.xrange("cascade:events")
    assert len(entries) == pipeline.events
    first = event_decoder.decode(entries[0][1][b"e"])
    assert first.recv_ts == market_events(seed=3, duration_s=90.0)[0].recv_ts
    latency = await client.hgetall("performance:latency")
    assert {b"engine", b"signal"} <= set(latency)
    heartbeat = msgspec.json.decode(await client.get("cascade:heartbeat"))
    assert set(heartbeat["venues"]) == {"binance", "bybit", "okx"}
    await pubsub.aclose()
    await client.aclose()


async def test_prefix_applies_to_every_key_and_the_channel(redis_server: Any) -> None:
    client = aioredis.from_url(redis_server.url)
    pubsub = client.pubsub()
    await pubsub.subscribe("replay:cascade:signals")
    _, engine, _ = await run_market(redis_server.url, prefix="replay:")
    published = await collect(pubsub)
    keys = [k.decode() async for k in client.scan_iter(count=1000)]
    assert keys and all(k.startswith("replay:") for k in keys), keys
    assert len(published) == len(engine.signals)
    await pubsub.aclose()
    await client.aclose()


async def test_history_is_trimmed_by_count_and_age(redis_server: Any) -> None:
    client = aioredis.from_url(redis_server.url)
    engine = ScriptedEngine()
    sink = RedisSink(redis_server.url, config=RedisConfig(history_max=3, history_max_age_s=30.0))
    await Pipeline(EventSource(market_events(seed=3, duration_s=90.0)), engine, [sink]).run()
    members = await client.zrange("cascade:signals:history", 0, -1, withscores=True)
    newest = engine.signals[-1].ts
    assert 0 < len(members) <= 3
    assert all(newest - score <= 30.0 for _, score in members)
    assert members[-1][0] == signal_payload(signal_encoder.encode(engine.signals[-1]), sink.instance)
    await asyncio.sleep(0)
    await client.aclose()


async def test_demo_market_through_the_real_engine_writes_the_documented_schema(redis_server: Any) -> None:
    client = aioredis.from_url(redis_server.url)
    pubsub = client.pubsub()
    await pubsub.subscribe("cascade:signals")
    emitted: list[Signal] = []
    # three demo minutes hold its opening cascade; room (queue and stream) for all their events,
    # so the stream is compared whole, and few enough that the writer drains them at close
    # within its budget even on a loaded machine (the metrics' TTLs are wall-clock seconds)
    sink = RedisSink(redis_server.url, config=RedisConfig(queue_size=200_000, stream_maxlen=200_000))
    pipeline = Pipeline(DemoSource(seed=7, speed=0, duration_s=180), Engine(), [sink], on_signal=emitted.append)
    pipeline.set_params(EngineParams())
    await pipeline.run()
    published = await collect(pubsub)
    assert emitted, "the demo's opening cascade raises signals"
    assert published == [signal_payload(signal_encoder.encode(s), sink.instance) for s in emitted]
    snap = pipeline.latest_snapshot
    assert snap is not None and snap.assets
    await check_documented_keys(client, published, emitted[-1], asset=snap.assets[0].asset)
    for view in snap.assets:
        assert await client.exists(f"cascade:score:{view.asset}"), view.asset
    assert await client.xlen("cascade:events") == pipeline.events
    assert sink.stats()["drops"] == {"metric": 0, "event": 0, "signal": 0}
    await pubsub.aclose()
    await client.aclose()
