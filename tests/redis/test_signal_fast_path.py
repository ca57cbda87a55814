"""Signals go out on their own connection, in order, ahead of a bulk event backlog; the bulk
writer never writes them."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from cascade_tui.config import RedisConfig
from cascade_tui.engine.types import signal_encoder
from cascade_tui.redis_schema import signal_payload
from cascade_tui.sinks.redis import RedisSink
from tests.security.helpers import liquidation, signal


async def _next_message(pubsub: Any, timeout: float = 5.0) -> bytes:
    async def read() -> bytes:
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is not None:
                return bytes(msg["data"])

    return await asyncio.wait_for(read(), timeout)


async def test_signals_are_published_in_order_ahead_of_queued_events(redis_server: Any) -> None:
    client = aioredis.from_url(redis_server.url)
    pubsub = client.pubsub()
    await pubsub.subscribe("cascade:signals")
    sink = RedisSink(redis_server.url, config=RedisConfig(queue_size=50_000))
    await sink.start()
    try:
        for i in range(20_000):  # a backlog the bulk writer needs many round trips for
            sink.on_event(liquidation(i))
        sent = [signal(i) for i in range(3)]
        for sig in sent:
            sink.on_signal(sig)
        received = [await _next_message(pubsub) for _ in sent]
        assert received == [signal_payload(signal_encoder.encode(s), sink.instance) for s in sent]
        assert sink.events_written < 20_000, "the signals did not wait for the whole backlog"
        history = await client.zrange("cascade:signals:history", 0, -1)
        assert history == [signal_payload(signal_encoder.encode(s), sink.instance) for s in sent]
    finally:
        await sink.close()
        await pubsub.aclose()
        await client.aclose()
    assert sink.stats()["published"] == 3
    assert sink.stats()["drops"] == {"metric": 0, "event": 0, "signal": 0}
