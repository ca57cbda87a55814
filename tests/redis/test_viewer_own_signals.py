"""Issue 14 High 3: the viewer shows the ingester's OWN signals, scores and regime (not a
re-run of a lossy event stream), and says plainly when Redis is unreachable or refuses the
password."""

from __future__ import annotations

import asyncio
from typing import Any

from cascade_tui.config import RedisConfig
from cascade_tui.engine import Engine, Signal
from cascade_tui.engine.types import signal_decoder, signal_encoder
from cascade_tui.redis_schema import RedisKeys
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sinks.redis import RedisSink
from cascade_tui.sources.demo import DemoSource
from cascade_tui.sources.redis import RedisSource
from tests.redis.server import free_port
from tests.redis.test_remote import wait_for


async def first_batch_or_timeout(source: RedisSource, timeout: float) -> None:
    """Drive the source for a while (it yields only when events arrive)."""
    batches = source.batches()
    try:
        await asyncio.wait_for(anext(batches), timeout)
    except TimeoutError:
        pass
    finally:
        await batches.aclose()


async def test_viewer_shows_the_ingesters_signals_history_then_channel(redis_server: Any) -> None:
    emitted: list[Signal] = []
    ingester = Pipeline(
        DemoSource(seed=11, speed=0, duration_s=600),
        Engine(),
        [RedisSink(redis_server.url, config=RedisConfig(queue_size=200_000))],
        on_signal=emitted.append,
    )
    await ingester.run()
    assert emitted, "the demo market raised no signal in 600 s: nothing to compare"

    # a viewer started after the ingester: no event will come, the history has every signal
    viewer = RedisSource(redis_server.url, start_id="$")
    reading = asyncio.create_task(first_batch_or_timeout(viewer, 30))
    await wait_for(lambda: viewer.state == "live" and viewer.remote.signals)
    shown = viewer.remote.signals
    # the same signals, newest first (signals of one instant: the history set does not keep their order)
    # (through JSON, as the viewer got them: a `why` number 2 reads back as 2.0)
    published = [signal_decoder.decode(signal_encoder.encode(s)) for s in emitted]
    assert sorted(signal_encoder.encode(s) for s in shown) == sorted(signal_encoder.encode(s) for s in published)
    assert [s.ts for s in shown] == sorted((s.ts for s in emitted), reverse=True)

    # a signal published now reaches it through the channel, once
    late = msgs_replace_ts(published[-1], published[-1].ts + 5)
    client = redis_server.client()
    client.publish(RedisKeys().signals_channel, signal_encoder.encode(late))
    await wait_for(lambda: viewer.remote.signals[0] == late)
    assert len(viewer.remote.signals) == len(emitted) + 1

    # the dashboard's snapshot: the ingester's signals over an empty local engine
    snap = viewer.overlay_snapshot(None, late.ts)
    assert snap is not None and snap.signals == viewer.remote.signals
    assert snap.signal_counts["WATCH"] + snap.signal_counts["WARNING"] >= 1
    assert viewer.overlay_snapshot(None, late.ts) is snap  # cached: an unchanged frame is not redrawn
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)
    await viewer.close()
    client.close()


async def test_a_cancel_that_redis_py_turns_into_an_error_still_stops_the_viewer(redis_server: Any) -> None:
    """redis-py may answer a cancel of a pending command with a ConnectionError (it closes
    the connection) instead of the CancelledError: the viewer's retry loop must still stop,
    or asyncio.wait_for (and whatever waits for the reading task) waits for ever. The read
    below behaves that way; everything else is the real source on a real server."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    viewer = RedisSource(redis_server.url)
    reads = 0

    async def read_that_turns_a_cancel_into_an_error() -> list[Any]:
        nonlocal reads
        reads += 1
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RedisConnectionError("Connection closed by server.") from None
        return []

    viewer._read = read_that_turns_a_cancel_into_an_error  # type: ignore[method-assign]
    reading = asyncio.create_task(first_batch_or_timeout(viewer, 1.0))
    await asyncio.wait_for(reading, 60)  # before the fix: the loop reconnected and read again, for ever
    assert reads == 1 and viewer.errors == 0  # stopped at the cancel: not counted as a Redis failure
    await viewer.close()


def msgs_replace_ts(sig: Signal, ts: float) -> Signal:
    import msgspec

    return msgspec.structs.replace(sig, ts=ts, state="escalate")


async def test_viewer_scores_and_regime_come_from_the_ingester(redis_server: Any) -> None:
    import msgspec

    from cascade_tui.engine.params import LEVEL_NAMES

    client = redis_server.client()
    keys = RedisKeys()
    client.set(keys.score("XRP"), msgspec.json.encode({
        "v": 1, "asset": "XRP", "score": 0.71, "components": {"velocity": 0.9}, "level": 2,
        "level_name": "WARNING", "direction": "long", "episode": "XRP-1", "venues": ["bybit"], "ts": 1.0,
    }))  # fmt: skip
    client.set(keys.volatility, msgspec.json.encode({
        "v": 1, "regime": "HIGH", "regime_since": 0.5, "rv": {"1m": 0.8}, "bv_1h": 0.6, "expansion": 1.3,
        "cascade_risk_multiplier": 1.2, "btc_price": 91000.0, "ts": 1.0,
    }))  # fmt: skip
    viewer = RedisSource(redis_server.url)
    reading = asyncio.create_task(first_batch_or_timeout(viewer, 30))
    await wait_for(lambda: "XRP" in viewer.remote.scores and viewer.remote.volatility is not None)
    snap = viewer.overlay_snapshot(None, 2.0)
    assert snap is not None
    xrp = next(a for a in snap.assets if a.asset == "XRP")
    assert (xrp.score, xrp.level_name, xrp.venues) == (0.71, LEVEL_NAMES[2], ("bybit",))
    assert snap.volatility.regime == "HIGH" and snap.volatility.btc_price == 91000.0
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)
    await viewer.close()
    client.close()


async def test_viewer_says_when_redis_is_unreachable() -> None:
    viewer = RedisSource(f"redis://127.0.0.1:{free_port()}/0")
    reading = asyncio.create_task(first_batch_or_timeout(viewer, 30))
    await wait_for(lambda: viewer.errors >= 1)
    assert viewer.state == "unreachable" and "refused" in viewer.reason
    assert viewer.stats()["reason"] == viewer.reason
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)
    await viewer.close()


async def test_viewer_says_when_the_password_is_wrong(make_redis_server: Any) -> None:
    server = make_redis_server(user="cascade", password="s3cret-pass")
    for url in (server.url.replace("s3cret-pass", "wrong"), server.url.replace("cascade:s3cret-pass@", "")):
        viewer = RedisSource(url)
        reading = asyncio.create_task(first_batch_or_timeout(viewer, 30))
        await wait_for(lambda v=viewer: v.errors >= 1)  # type: ignore[misc]
        assert viewer.state == "auth failed", (url, viewer.last_error)
        assert "s3cret" not in viewer.reason and "s3cret" not in viewer.last_error
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        await viewer.close()


def test_the_viewer_shows_the_ingesters_current_why_else_its_latest_signals() -> None:
    """The score payload's `why` is kept current between signal lines (the map's near_cluster
    context, a gate that changed): the viewer shows it; an older ingester publishes none, and
    the viewer falls back on the asset's latest signal."""
    from cascade_tui.engine.params import LEVEL_NAMES
    from cascade_tui.sources.redis_view import RemoteView, overlay

    line = Signal(
        v=1, ts=100.0, asset="BTC", level=1, level_name=LEVEL_NAMES[1], state="open", episode="BTC-1",
        score=0.4, components={}, direction="long", venues=["bybit"], regime="NORMAL",
        why={"trigger": "burst", "held_by": "large_prints"},
    )  # fmt: skip
    payload: dict[str, Any] = {"v": 1, "asset": "BTC", "score": 0.41, "components": {}, "level": 1,
                               "level_name": "WATCH", "direction": "long", "episode": "BTC-1",
                               "venues": ["bybit"], "ts": 101.0}  # fmt: skip
    current = {"trigger": "burst", "held_by": "large_prints", "context": "near_cluster"}
    shown = overlay(None, RemoteView(signals=(line,), scores={"BTC": {**payload, "why": current}}), 101.0)
    assert shown is not None and shown.assets[0].why == current
    older = overlay(None, RemoteView(signals=(line,), scores={"BTC": payload}), 101.0)
    assert older is not None and older.assets[0].why == line.why
