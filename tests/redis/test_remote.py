"""Distributed mode: ingester pipeline -> Redis stream -> viewer pipeline (RedisSource)
raises the same signal lines, with the ingester's params."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from cascade_tui.config import RedisConfig
from cascade_tui.engine import Engine, EngineParams, Signal
from cascade_tui.engine.params import Thresholds
from cascade_tui.engine.types import signal_decoder, signal_encoder
from cascade_tui.redis_schema import RedisKeys, stream_entry
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sinks.redis import RedisSink
from cascade_tui.sources.demo import DemoSource
from cascade_tui.sources.redis import RedisSource
from tests.redis.redis_market import START_TS, EventSource, ScriptedEngine, market_events


async def wait_for(predicate: Any, timeout: float = 90.0, state: Callable[[], str] = lambda: "") -> None:
    """A condition with a generous deadline: a loaded machine reads 100 k stream entries slowly.
    `state` says, when it times out, where things stood."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out: {state()}"
        await asyncio.sleep(0.02)


async def run_ingester_and_viewer(url: str, ingester: Pipeline, viewer_engine: Any) -> tuple[list[Signal], RedisSource, Pipeline]:
    seen: list[Signal] = []
    source = RedisSource(url, start_id="$")
    viewer = Pipeline(source, viewer_engine, on_signal=seen.append)
    source.on_params = viewer.set_params
    viewer_run = asyncio.create_task(viewer.run())
    await wait_for(lambda: source.state == "live")
    await ingester.run()

    def state() -> str:
        sinks = [getattr(sink, "stats", dict)() for sink in ingester.sinks]
        return (f"ingester {ingester.events} events, viewer {viewer.events} ({source.entries} entries, "
                f"state {source.state}, last id {source.last_id}, errors {source.errors} {source.last_error!r}), "
                f"viewer task done {viewer_run.done()}, sinks {sinks}")  # fmt: skip

    # a healthy server gets every event, also when the sink drains a backlog while closing
    written = [sink.events_written for sink in ingester.sinks if isinstance(sink, RedisSink)]
    assert written == [ingester.events], state()
    await wait_for(lambda: viewer.events >= ingester.events or viewer_run.done(), state=state)
    assert not viewer_run.done(), state()
    viewer.stop()
    await asyncio.wait_for(viewer_run, 30)  # the stop's grace and a close under a hung read fit well inside
    return seen, source, viewer


async def test_viewer_reproduces_the_ingesters_signals_with_the_real_engine(redis_server: Any) -> None:
    params = msgspec.structs.replace(EngineParams(), thresholds=Thresholds(watch=0.25, warning=0.45, critical=0.65))
    emitted: list[Signal] = []
    ingester = Pipeline(
        DemoSource(seed=11, speed=0, duration_s=600),
        Engine(),
        # the stream holds every event of the 10 demo minutes (~110 k): a viewer that falls
        # behind on a loaded machine still finds each one instead of a trimmed gap
        [RedisSink(redis_server.url, config=RedisConfig(queue_size=200_000, stream_maxlen=200_000))],
        on_signal=emitted.append,
    )
    ingester.set_params(params)  # the viewer only matches if it follows cascade:params
    seen, source, viewer = await run_ingester_and_viewer(redis_server.url, ingester, Engine())
    if not emitted:
        pytest.fail("the demo market raised no signal in 600 s: nothing to compare")
    # what the viewer shows is the ingester's own signals (its local engine only feeds the
    # tape and rates: the event stream may drop under load), every one, through the channel
    published = [signal_decoder.decode(signal_encoder.encode(s)) for s in emitted]
    await wait_for(lambda: len(source.remote.signals) >= len(published))
    assert sorted(signal_encoder.encode(s) for s in source.remote.signals) == sorted(
        signal_encoder.encode(s) for s in published
    )
    assert seen  # the local engine still ran over the same events
    assert viewer.engine.params == params
    assert source.decode_errors == 0
    assert set(source.feed_status()) <= {"binance", "bybit", "okx"}


async def test_viewer_from_scripted_market_follows_params_and_survives_bad_entries(redis_server: Any) -> None:
    emitted: list[Signal] = []
    ingester = Pipeline(EventSource(market_events(seed=5, duration_s=90.0)), ScriptedEngine(), [RedisSink(redis_server.url)],
                        on_signal=emitted.append)  # fmt: skip
    ingester.set_params(EngineParams())
    client = redis_server.client()
    keys = RedisKeys()
    client.xadd(keys.events, {"v": b"1", "e": b"{not json"})  # garbage written by someone else
    seen, source, _ = await run_ingester_and_viewer(redis_server.url, ingester, ScriptedEngine())
    assert emitted and [signal_encoder.encode(s) for s in seen] == [signal_encoder.encode(s) for s in emitted]
    assert source.decode_errors == 0  # "$" starts after the garbage entry
    assert ingester.latest_snapshot is not None
    assert source.params_version == ingester.latest_snapshot.params_version == 1

    # a viewer from the beginning counts the bad entry and skips it
    again = RedisSource(redis_server.url, start_id="0")
    batches = again.batches()
    got = await anext(batches)
    assert again.decode_errors == 1 and got
    await batches.aclose()
    await again.close()
    assert stream_entry(got[0])["v"] == b"1" and got[0].recv_ts >= START_TS
    client.close()


async def test_viewer_follows_a_threshold_change_mid_run(redis_server: Any) -> None:
    from cascade_tui.redis_schema import params_payload

    client = redis_server.client()
    keys = RedisKeys()
    applied: list[EngineParams] = []
    source = RedisSource(redis_server.url, start_id="0", on_params=applied.append)
    events = market_events(seed=2, duration_s=10.0)
    client.set(keys.params, params_payload(EngineParams(), 0, 0.0))
    client.xadd(keys.events, stream_entry(events[0]))
    batches = source.batches()
    await anext(batches)
    assert applied == [EngineParams()] and source.params_version == 0
    changed = msgspec.structs.replace(EngineParams(), thresholds=Thresholds(watch=0.2, warning=0.4, critical=0.6))
    client.set(keys.params, params_payload(changed, 1, 0.0))
    client.xadd(keys.events, stream_entry(events[1]))
    await asyncio.sleep(1.05)  # the viewer re-reads params once a second
    client.xadd(keys.events, stream_entry(events[2]))
    while source.params_version != 1:
        await asyncio.wait_for(anext(batches), 5)
    assert applied[-1] == changed
    client.set(keys.params, b'{"v": 1, "params": {"thresholds": "nonsense"}}')  # bad: counted, ignored
    await asyncio.sleep(1.05)
    client.xadd(keys.events, stream_entry(events[3]))
    await asyncio.wait_for(anext(batches), 5)
    assert applied[-1] == changed and source.decode_errors >= 1
    await batches.aclose()
    await source.close()
    client.close()
