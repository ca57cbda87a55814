"""The WebSocket loop against local protocol servers: subscribe, keepalive, reconnect with
backoff, stale links, planned rotation, refused upgrades, bounded frames, clean shutdown.

Test-local VenueSpecs keep these independent of any venue module; tests/feeds/
test_live_venues.py runs the real SPECs and parsers through the same loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from typing import Any

import pytest

from cascade_tui.backoff import Backoff
from cascade_tui.feeds.base import FrameParser, Keepalive, SubscribeRequest, Subscription, VenueSpec
from cascade_tui.feeds.connection import (
    BLOCKED,
    DONE,
    LIVE,
    Connection,
    OverlapFilter,
    describe_error,
)
from cascade_tui.model import Event
from tests.wsservers.binance import BinanceProtocol
from tests.wsservers.bitget import BitgetProtocol
from tests.wsservers.core import ProtocolServer
from tests.wsservers.fixtures import Collector, eventually, fast_options, running


class CountingParser(FrameParser):
    venue = "toy"

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        return []


def toy_spec(keepalive: Keepalive, *, stale_s: float = 0.5, max_connection_s: float = 3600.0) -> VenueSpec:
    def subscriptions(req: SubscribeRequest) -> list[Subscription]:
        return [Subscription(url="wss://toy.example/ws/v3", messages=['{"op":"subscribe","args":[{"topic":"x"}]}'], name="toy")]

    return VenueSpec(
        id="toy",
        name="Toy",
        parser=CountingParser,
        subscriptions=subscriptions,
        keepalive=keepalive,
        stale_after_s=stale_s,
        max_connection_s=max_connection_s,
    )


TEXT_PING = Keepalive(kind="text", interval=0.05, message="ping")
WS_PING = Keepalive(kind="ws-ping", interval=0.1)


def subscription_of(spec: VenueSpec) -> Subscription:
    return spec.subscriptions(SubscribeRequest())[0]


# ---------------------------------------------------------------------- units


def test_backoff_is_full_jitter_capped_and_floored() -> None:
    backoff = Backoff(base_s=1.0, cap_s=60.0, floor_s=0.1)
    assert backoff.delay(1, lambda: 1.0) == 1.0
    assert backoff.delay(4, lambda: 1.0) == 8.0
    assert backoff.delay(50, lambda: 1.0) == 60.0  # capped
    assert backoff.delay(3, lambda: 0.0) == 0.1  # never an immediate retry
    rng = random.Random(7)
    delays = [backoff.delay(10, rng.random) for _ in range(200)]
    assert all(0.1 <= d <= 60.0 for d in delays)
    assert max(delays) - min(delays) > 30  # spread over the whole range (full jitter)


def test_overlap_filter_delivers_each_frame_once_per_pair_of_links() -> None:
    f = OverlapFilter()
    assert f.admit(1, "a") and f.admit(1, "b")  # inactive: everything passes
    f.start()
    assert f.admit(1, "x") and f.admit(1, "x")  # two genuine identical frames on one link
    assert not f.admit(2, "x") and not f.admit(2, "x")  # the other link's copies are dropped
    assert f.admit(2, "x")  # a third copy is new
    assert f.admit(2, b"y") and not f.admit(1, b"y")
    f.stop()
    assert f.admit(2, "x")


def test_describe_error_names_the_host() -> None:
    import socket

    assert "DNS lookup failed for fstream.binance.com" in describe_error(
        socket.gaierror(-2, "Name or service not known"), "wss://fstream.binance.com/market"
    )
    assert "refused" in describe_error(ConnectionRefusedError(), "ws://127.0.0.1:1/")


# ---------------------------------------------------------------------- connecting


async def test_connects_subscribes_and_answers_text_keepalive() -> None:
    spec = toy_spec(TEXT_PING)
    async with ProtocolServer(BitgetProtocol()) as server:
        collector = Collector()
        async with running(spec, subscription_of(spec), collector, fast_options(server)) as conn:
            await eventually(lambda: any(s.subscribed for s in server.sessions))
            session = server.sessions[0]
            assert session.path == "/ws/v3"  # host rewritten, path kept
            assert session.texts()[0] == '{"op":"subscribe","args":[{"topic":"x"}]}'
            await eventually(lambda: session.pings_answered >= 3)  # our pings, every 50 ms
            before = time.time()
            assert await server.broadcast('{"data":1}') == 1
            await eventually(lambda: '{"data":1}' in collector.texts())
            frame = next(f for f in collector.frames if f.data == '{"data":1}')
            assert frame.venue == "toy" and frame.channel == "" and before <= frame.ts <= time.time()
            assert "pong" in collector.texts()  # keepalive answers reach the parser (which ignores them)
            assert conn.status.state == LIVE and conn.status.reconnects == 0
            assert conn.status.last_message_ts is not None and conn.status.frames == len(collector.frames)
        assert conn.status.state == DONE


async def test_drop_mid_stream_reconnects_and_resubscribes() -> None:
    spec = toy_spec(TEXT_PING)
    async with ProtocolServer(BitgetProtocol()) as server:
        collector = Collector()
        async with running(spec, subscription_of(spec), collector, fast_options(server)) as conn:
            await eventually(lambda: conn.status.state == LIVE)
            server.drop()
            await eventually(lambda: len([s for s in server.sessions if s.subscribed]) == 2)
            assert server.sessions[1].texts()[0].startswith('{"op":"subscribe"')
            await eventually(lambda: conn.status.state == LIVE)
            assert conn.status.reconnects == 1 and collector.resets == 1
            assert conn.status.errors >= 1
            await server.broadcast('{"after":1}')
            await eventually(lambda: '{"after":1}' in collector.texts())


async def test_half_open_link_goes_stale_and_is_replaced() -> None:
    spec = toy_spec(TEXT_PING, stale_s=0.3)
    async with ProtocolServer(BitgetProtocol()) as server:
        collector = Collector()
        seen: list[str] = []
        async with running(spec, subscription_of(spec), collector, fast_options(server)) as conn:
            await eventually(lambda: conn.status.state == LIVE)
            server.half_open()  # no pongs, no data, no close

            def record() -> bool:
                seen.append(conn.status.state)
                return len(server.sessions) >= 2 and conn.status.state == LIVE

            await eventually(record)
            assert "stale" in seen
            assert conn.status.reconnects == 1


async def test_stalled_server_with_ws_pings_is_detected_as_stale() -> None:
    # Binance-like: the library answers WS pings, but a stall means no frames at all
    spec = toy_spec(WS_PING, stale_s=0.3)
    async with ProtocolServer(BinanceProtocol()) as server:
        collector = Collector()
        async with running(spec, subscription_of(spec), collector, fast_options(server)) as conn:
            await eventually(lambda: len(server.sessions) == 1)
            server.sessions[0].subscribed = True
            await server.broadcast('{"x":1}')
            await eventually(lambda: conn.status.state == LIVE)
            server.stalled = True
            seen: list[str] = []

            def record() -> bool:
                seen.append(conn.status.state)
                return len(server.sessions) >= 2

            await eventually(record)
            assert "stale" in seen  # the library's pings were answered, yet the link was replaced
            server.stalled = False
            await eventually(lambda: server.sessions[-1].ws.state.name == "OPEN")
            server.sessions[-1].subscribed = True
            await server.broadcast('{"x":2}')
            await eventually(lambda: conn.status.state == LIVE and conn.status.reconnects == 1)


async def test_close_after_n_frames_is_survived_without_loss_of_later_frames() -> None:
    spec = toy_spec(TEXT_PING)
    async with ProtocolServer(BitgetProtocol()) as server:
        server.close_after = 2
        collector = Collector()
        async with running(spec, subscription_of(spec), collector, fast_options(server)) as conn:
            for i in range(6):
                await eventually(lambda: any(s.subscribed and s.ws.state.name == "OPEN" for s in server.sessions))
                await server.broadcast(f'{{"n":{i}}}')
                await asyncio.sleep(0.01)
            await eventually(lambda: sum(t.startswith('{"n"') for t in collector.texts()) == 6)
            assert conn.status.reconnects >= 2


# ---------------------------------------------------------------------- refusals and failures


@pytest.mark.parametrize("status", [451, 403])
async def test_refused_upgrade_is_blocked_without_a_hot_loop(status: int) -> None:
    spec = toy_spec(TEXT_PING)
    async with ProtocolServer(BitgetProtocol()) as server:
        server.reject_status = status
        collector = Collector()
        async with running(spec, subscription_of(spec), collector, fast_options(server, blocked_retry_s=30.0)) as conn:
            await eventually(lambda: conn.status.state == BLOCKED)
            await asyncio.sleep(0.3)
            assert server.rejected == 1  # asked once, next try in 30 s
            assert f"HTTP {status}" in conn.status.detail and "next try in" in conn.status.detail


async def test_blocked_venue_is_retried_later_and_recovers() -> None:
    spec = toy_spec(TEXT_PING)
    async with ProtocolServer(BitgetProtocol()) as server:
        server.reject_status = 451
        collector = Collector()
        async with running(spec, subscription_of(spec), collector, fast_options(server, blocked_retry_s=0.2)) as conn:
            await eventually(lambda: conn.status.state == BLOCKED)
            server.reject_status = None
            await eventually(lambda: conn.status.state == LIVE)
            assert server.rejected in (1, 2)


async def test_unreachable_host_backs_off_and_reports_attempts() -> None:
    spec = toy_spec(TEXT_PING)
    failures: list[str] = []
    # a port nobody listens on: connection refused at once, like a missing network
    with_free_port = "ws://127.0.0.1:9/ws"
    collector = Collector()
    options = fast_options(url_rewrite=lambda url: with_free_port)
    conn = Connection(spec, subscription_of(spec), collector.emit, options=options, on_failure=lambda c, d: failures.append(d))
    task = asyncio.create_task(conn.run())
    await eventually(lambda: conn.status.attempt >= 3)
    await conn.close()
    await asyncio.wait_for(task, 2)
    assert conn.status.state == DONE
    assert failures[0].startswith("attempt 1: ") and "127.0.0.1" in failures[0]
    assert conn.status.errors >= 3 and not collector.frames


async def test_backoff_sleeps_grow_between_failed_attempts() -> None:
    spec = toy_spec(TEXT_PING)
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) >= 6:
            await asyncio.sleep(3600)  # park: the test closes the connection
        await asyncio.sleep(0)

    options = fast_options(url_rewrite=lambda url: "ws://127.0.0.1:9/", backoff=Backoff(base_s=1.0, cap_s=8.0))
    conn = Connection(spec, subscription_of(spec), lambda f: None, options=options, sleep=fake_sleep, rng=lambda: 1.0)
    task = asyncio.create_task(conn.run())
    await eventually(lambda: len(sleeps) >= 6)
    await conn.close()
    await asyncio.wait_for(task, 2)
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert conn.status.detail == "closed" and conn.status.attempt == 6


async def test_oversized_frame_drops_the_link_not_the_process() -> None:
    spec = toy_spec(TEXT_PING)
    async with ProtocolServer(BitgetProtocol()) as server:
        collector = Collector()
        async with running(spec, subscription_of(spec), collector, fast_options(server, max_frame_bytes=1024)) as conn:
            await eventually(lambda: conn.status.state == LIVE)
            await server.broadcast('{"big":"' + "x" * 4096 + '"}')
            await eventually(lambda: conn.status.reconnects == 1 and conn.status.state == LIVE)
            assert not any("big" in t for t in collector.texts())


# ---------------------------------------------------------------------- rotation


async def test_rotation_delivers_every_frame_exactly_once() -> None:
    spec = toy_spec(TEXT_PING, max_connection_s=0.25, stale_s=5.0)
    async with ProtocolServer(BitgetProtocol()) as server:
        collector = Collector()
        options = fast_options(server, rotation_overlap_s=0.1)
        async with running(spec, subscription_of(spec), collector, options) as conn:
            await eventually(lambda: conn.status.state == LIVE)
            sent: list[str] = []
            n = 0
            loop = asyncio.get_running_loop()
            stop_at = loop.time() + 1.2
            while loop.time() < stop_at:
                frame = f'{{"seq":{n}}}'
                if await server.broadcast(frame):
                    sent.append(frame)
                n += 1
                await asyncio.sleep(0.004)
            await asyncio.sleep(0.1)
            got = [t for t in collector.texts() if t.startswith('{"seq"')]
            assert conn.status.rotations >= 2
            assert conn.status.reconnects == 0  # planned rotations are not failures
            assert conn.status.overlap_dropped > 0  # both links carried some frames
            assert len(got) == len(set(got))  # nothing twice
            assert set(got) == set(sent)  # nothing lost
            # parsers reset for each new link: every link opened after the first (all rotations
            # here, as none reconnected). Not `rotations`: that counts a rotation once its new
            # link has delivered, and the next one may be between its reset and that point
            assert collector.resets == conn.status.connects - 1 >= conn.status.rotations


async def test_close_is_clean_and_idempotent() -> None:
    spec = toy_spec(TEXT_PING)
    async with ProtocolServer(BitgetProtocol()) as server:
        collector = Collector()
        conn = Connection(spec, subscription_of(spec), collector.emit, options=fast_options(server))
        task = asyncio.create_task(conn.run())
        await eventually(lambda: conn.status.state == LIVE)
        await conn.close()
        await conn.close()
        await asyncio.wait_for(task, 2)
        await eventually(lambda: all(s.ws.state.name == "CLOSED" for s in server.sessions))
        assert conn.status.state == DONE


async def test_subscribe_messages_are_paced_by_the_venue_limit() -> None:
    def subscriptions(req: SubscribeRequest) -> list[Subscription]:
        messages = [f'{{"op":"subscribe","args":[{{"topic":"t{i}"}}]}}' for i in range(3)]
        return [Subscription(url="wss://toy.example/ws", messages=messages)]

    spec = dataclasses.replace(toy_spec(TEXT_PING), subscriptions=subscriptions, message_interval_s=0.5)
    sleeps: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(min(seconds, 0.01))

    async with ProtocolServer(BitgetProtocol()) as server:
        collector = Collector()
        options = fast_options(server, send_interval_s=None)  # the spec's pace applies
        async with running(spec, subscription_of(spec), collector, options, sleep=recording_sleep):
            # wait for the three subscribes themselves: keepalive pings (their sleeps shortened
            # too) interleave, and counting them made this test pass its wait early under load
            await eventually(lambda: bool(server.sessions) and len(_subscribes(server.sessions[0].texts())) >= 3)
    assert sleeps.count(0.5) == 2  # between the three messages, not before the first
    assert _subscribes(server.sessions[0].texts())[:3] == subscriptions(SubscribeRequest())[0].messages


def _subscribes(texts: list[str]) -> list[str]:
    return [t for t in texts if t != "ping"]


async def test_a_server_that_hangs_up_at_once_gets_a_growing_backoff() -> None:
    spec = toy_spec(TEXT_PING)
    sleeps: list[float] = []
    details: list[str] = []  # the state's detail as each backoff sleep begins
    holder: dict[str, Any] = {}

    async def recording_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if "conn" in holder:
            details.append(holder["conn"].status.detail)
        await asyncio.sleep(min(seconds, 0.01))

    async with ProtocolServer(BitgetProtocol()) as server:
        server.close_on_connect = True
        collector = Collector()
        options = fast_options(server, backoff=Backoff(base_s=1.0, cap_s=8.0, stable_after_s=60.0))
        async with running(spec, subscription_of(spec), collector, options, sleep=recording_sleep, rng=lambda: 1.0) as conn:
            holder["conn"] = conn
            # wait for the fourth backoff sleep itself: the attempt count goes up before the
            # sleep that follows it is taken, so waiting on the count raced under load
            await eventually(lambda: len([s for s in sleeps if s >= 1.0]) >= 4)
            assert [s for s in sleeps if s >= 1.0][:4] == [1.0, 2.0, 4.0, 8.0]
            # read at the sleeps: the live status may already show the next, briefly open, link
            assert conn.status.reconnects >= 3 and any("code 1011" in d for d in details)


class JumpingClock:
    """A monotonic clock the test moves forward by hours at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


async def test_a_day_long_connection_rotates_on_the_injected_clock() -> None:
    spec = toy_spec(TEXT_PING, max_connection_s=23.5 * 3600, stale_s=3600.0)  # production-sized limits
    clock = JumpingClock()
    async with ProtocolServer(BitgetProtocol()) as server:
        collector = Collector()
        async with running(spec, subscription_of(spec), collector, fast_options(server), clock=clock) as conn:
            await eventually(lambda: conn.status.state == LIVE)
            await asyncio.sleep(0.1)
            assert conn.status.rotations == 0
            clock.offset += 23.6 * 3600  # a day later, as far as the connection can tell
            await eventually(lambda: conn.status.rotations == 1)
            assert len(server.sessions) == 2 and conn.status.reconnects == 0
            await eventually(lambda: server.sessions[0].ws.state.name == "CLOSED")  # the old link went away


async def test_silence_longer_than_stale_after_on_the_injected_clock_reconnects() -> None:
    spec = toy_spec(TEXT_PING, stale_s=60.0)
    clock = JumpingClock()
    async with ProtocolServer(BitgetProtocol()) as server:
        collector = Collector()
        async with running(spec, subscription_of(spec), collector, fast_options(server), clock=clock) as conn:
            await eventually(lambda: conn.status.state == LIVE)
            server.half_open()
            clock.offset += 61.0
            await eventually(lambda: len(server.sessions) == 2 and conn.status.state == LIVE)
            assert conn.status.reconnects == 1 and conn.status.errors >= 1
