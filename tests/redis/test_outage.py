"""Redis going away mid-run: the run goes on, the queue stays bounded, drops are counted,
and after the restart the state is written again and later signals are published."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from cascade_tui.config import RedisConfig
from cascade_tui.engine import EngineParams
from cascade_tui.engine.types import signal_encoder
from cascade_tui.redis_schema import signal_payload
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sinks.redis import RedisSink
from tests.redis.redis_market import START_TS, PacedEventSource, ScriptedEngine, market_events
from tests.redis.test_schema import collect

SPEED = 30.0  # 90 s of market in 3 s of wall time; bursts at market 20 s and 60 s
QUEUE = 40


async def test_outage_and_restart_mid_run(redis_server: Any) -> None:
    engine = ScriptedEngine()
    sink = RedisSink(redis_server.url, config=RedisConfig(queue_size=QUEUE))
    pipeline = Pipeline(PacedEventSource(market_events(seed=3, duration_s=90.0), SPEED), engine, [sink])
    pipeline.set_params(EngineParams())
    run = asyncio.create_task(pipeline.run())
    peak_queue = 0
    states: set[str] = set()

    async def watch() -> None:
        nonlocal peak_queue
        while True:
            peak_queue = max(peak_queue, len(sink.queue))
            states.add(sink.stats()["state"])
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.4)
    assert sink.stats()["state"] == "connected"
    redis_server.stop()  # the first burst (market 20-26 s, wall 0.67 s) happens while Redis is down
    await asyncio.sleep(1.4)
    assert not run.done(), "the pipeline must keep running while Redis is down"
    events_during_outage = pipeline.events
    redis_server.start()  # same port, empty: no persistence
    client = aioredis.from_url(redis_server.url)
    pubsub = client.pubsub()
    await pubsub.subscribe("cascade:signals")
    await asyncio.wait_for(run, 15)
    published = await collect(pubsub)
    watcher.cancel()

    stats = sink.stats()
    assert engine.signals and pipeline.events > events_during_outage
    assert {"connected", "reconnecting"} <= states
    assert stats["reconnects"] >= 1 and stats["errors"] >= 1
    assert peak_queue <= QUEUE, "the queue must stay bounded during the outage"
    assert stats["drops"]["event"] > 0, "events beyond the queue are dropped and counted"
    assert stats["drops"]["signal"] == 0, "signals are kept longest"
    # signals raised before and during the outage were kept and delivered after the restart
    history = await client.zrange("cascade:signals:history", 0, -1)
    assert history == [signal_payload(signal_encoder.encode(s), sink.instance) for s in engine.signals]
    # the second burst happened after the restart: its signals reached the new subscriber
    later = [signal_payload(signal_encoder.encode(s), sink.instance) for s in engine.signals if s.ts >= START_TS + 60.0]
    assert later and all(p in published for p in later)
    # the restarted (empty) server got the current state again
    assert await client.exists("cascade:params", "cascade:heartbeat", "btc:vol:current") == 3
    await pubsub.aclose()
    await client.aclose()


async def test_redis_never_up_never_blocks_the_run() -> None:
    engine = ScriptedEngine()
    sink = RedisSink("redis://127.0.0.1:1/0", config=RedisConfig(queue_size=25))
    await asyncio.wait_for(Pipeline(PacedEventSource(market_events(seed=4, duration_s=30.0), 60.0), engine, [sink]).run(), 10)
    stats = sink.stats()
    assert stats["state"] == "down" and stats["errors"] >= 1
    assert stats["published"] == 0
    assert len(sink.queue) <= 25
    assert stats["drops"]["event"] > 0


async def test_hung_redis_never_stalls_the_pipeline(redis_server: Any) -> None:
    engine = ScriptedEngine()
    sink = RedisSink(redis_server.url)
    pipeline = Pipeline(PacedEventSource(market_events(seed=3, duration_s=90.0), SPEED), engine, [sink])
    run = asyncio.create_task(pipeline.run())
    await asyncio.sleep(0.3)
    redis_server.freeze()  # accepts nothing, answers nothing: every write hangs until timeout
    try:
        before = pipeline.events
        await asyncio.sleep(1.0)
        assert pipeline.events > before, "the engine must keep consuming while Redis hangs"
    finally:
        redis_server.thaw()
    await asyncio.wait_for(run, 15)
    client = aioredis.from_url(redis_server.url)
    history = await client.zrange("cascade:signals:history", 0, -1)
    assert history == [signal_payload(signal_encoder.encode(s), sink.instance) for s in engine.signals]
    await client.aclose()


async def test_viewer_reconnects_after_a_restart(redis_server: Any) -> None:
    from cascade_tui.redis_schema import RedisKeys, stream_entry
    from cascade_tui.sources.redis import RedisSource

    events = market_events(seed=9, duration_s=20.0)
    keys = RedisKeys()
    source = RedisSource(redis_server.url, start_id="0")
    batches = source.batches()
    client = redis_server.client()
    client.xadd(keys.events, stream_entry(events[0]))
    assert [e.recv_ts for e in await anext(batches)] == [events[0].recv_ts]
    redis_server.stop()
    reading = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0.5)
    assert source.state == "reconnecting" and not reading.done()
    redis_server.start()
    client = redis_server.client()
    client.xadd(keys.events, stream_entry(events[1]))
    got = await asyncio.wait_for(reading, 10)
    assert [e.recv_ts for e in got] == [events[1].recv_ts]
    assert source.reconnects == 1 and source.feed_status()[events[1].venue].state == "live"
    await batches.aclose()
    await source.close()
    client.close()
