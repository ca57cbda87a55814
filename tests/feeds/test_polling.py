"""REST pollers: adaptive interval by BTC regime, shared rate-limit pauses, blocked venues,
network errors with backoff, bodies emitted as `rest:<name>` frames (httpx MockTransport,
fake clock and sleep: nothing waits for real)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from cascade_tui.feeds.base import RestPoll
from cascade_tui.feeds.polling import (
    BLOCKED,
    FAILING,
    OK,
    RATE_LIMITED,
    Poller,
    VenueGate,
    make_pollers,
    regime_interval,
    retry_after_s,
)
from cascade_tui.model import RawFrame

OI = RestPoll(name="openInterest", url="https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT")
BODY = '{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def poller_with(
    handler: Callable[[httpx.Request], httpx.Response],
    regime: Callable[[], str | None] | None = None,
    gate: VenueGate | None = None,
    poll: RestPoll = OI,
) -> tuple[Poller, list[RawFrame], FakeTime, httpx.AsyncClient]:
    frames: list[RawFrame] = []
    t = FakeTime()
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    poller = Poller(
        "binance", poll, client, frames.append, regime=regime, gate=gate, clock=t.clock, wall=t.wall,
        sleep=t.sleep, rng=lambda: 1.0,
    )
    return poller, frames, t, client


def test_interval_follows_the_regime() -> None:
    assert regime_interval(OI, "HIGH") == 5.0 and regime_interval(OI, "EXTREME") == 5.0
    assert regime_interval(OI, "NORMAL") == 30.0 and regime_interval(OI, None) == 30.0
    assert regime_interval(OI, "high") == 5.0


def test_retry_after_header_forms() -> None:
    assert retry_after_s("7", 0.0) == 7.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0) == pytest.approx(10.0)
    assert retry_after_s("soon", 0.0) is None and retry_after_s(None, 0.0) is None


async def test_body_is_emitted_as_a_rest_frame() -> None:
    poller, frames, t, client = poller_with(lambda req: httpx.Response(200, text=BODY))
    async with client:
        delay = await poller.poll_once()
    assert delay == 30.0
    [frame] = frames
    assert frame.channel == "rest:openInterest" and frame.venue == "binance" and frame.data == BODY
    assert frame.ts == t.wall()
    assert poller.status.state == OK and poller.status.frames == 1


async def test_fast_interval_while_volatile_and_back() -> None:
    regime = ["NORMAL"]
    poller, _, _, client = poller_with(lambda req: httpx.Response(200, text=BODY), regime=lambda: regime[0])
    async with client:
        assert await poller.poll_once() == 30.0
        regime[0] = "EXTREME"
        assert await poller.poll_once() == 5.0
        regime[0] = "LOW"
        assert await poller.poll_once() == 30.0


async def test_broken_regime_source_means_normal_interval() -> None:
    def broken() -> str:
        raise RuntimeError("no snapshot yet")

    poller, _, _, client = poller_with(lambda req: httpx.Response(200, text=BODY), regime=broken)
    async with client:
        assert await poller.poll_once() == 30.0


async def test_429_pauses_every_poller_of_the_venue() -> None:
    gate = VenueGate()
    poller, frames, t, client = poller_with(
        lambda req: httpx.Response(429, headers={"Retry-After": "42"}), gate=gate
    )
    async with client:
        delay = await poller.poll_once()
    assert delay == 42.0 and gate.resume_at == t.now + 42.0
    assert poller.status.state == RATE_LIMITED and poller.status.errors == 1 and not frames


@pytest.mark.parametrize("code", [418, 403, 451])
async def test_ban_and_geo_block_mean_blocked_for_minutes(code: int) -> None:
    gate = VenueGate()
    poller, _, t, client = poller_with(lambda req: httpx.Response(code), gate=gate)
    async with client:
        delay = await poller.poll_once()
    assert delay == 600.0 and gate.resume_at == t.now + 600.0
    assert poller.status.state == BLOCKED and f"HTTP {code}" in poller.status.detail


async def test_network_errors_back_off_exponentially_with_a_cap() -> None:
    def unreachable(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=req)

    poller, frames, _, client = poller_with(unreachable)
    async with client:
        delays = [await poller.poll_once() for _ in range(6)]
    assert delays == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0]
    assert poller.status.state == FAILING and "Name or service not known" in poller.status.detail
    assert poller.status.errors == 6 and not frames


async def test_server_errors_are_counted_and_recovered_from() -> None:
    replies = iter([httpx.Response(503), httpx.Response(200, text=BODY)])
    poller, frames, _, client = poller_with(lambda req: next(replies))
    async with client:
        assert await poller.poll_once() == 30.0
        assert poller.status.state == FAILING and poller.status.detail == "HTTP 503"
        await poller.poll_once()
    assert poller.status.state == OK and len(frames) == 1


async def test_run_loop_waits_for_the_gate_and_polls_on_schedule() -> None:
    gate = VenueGate()
    calls: list[float] = []
    t_box: list[FakeTime] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(t_box[0].now)
        return httpx.Response(200, text=BODY)

    poller, frames, t, client = poller_with(handler, gate=gate)
    t_box.append(t)
    gate.pause_until(t.now + 100.0, "test pause")
    async with client:
        task = asyncio.create_task(poller.run())
        while len(calls) < 3:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    start = 1000.0
    assert calls[0] >= start + 100.0  # not before the gate opened
    assert calls[1] - calls[0] == 30.0 and calls[2] - calls[1] == 30.0
    assert len(frames) >= 3


async def test_poller_group_starts_and_stops_every_poll() -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(str(req.url))
        return httpx.Response(200, text="{}")

    polls = [
        RestPoll(name="a", url="https://x.example/a", interval_normal=0.01, interval_fast=0.01),
        RestPoll(name="b", url="https://x.example/b", interval_normal=0.01, interval_fast=0.01),
    ]
    frames: list[RawFrame] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        group = make_pollers("binance", polls, client, frames.append)
        group.start()
        for _ in range(200):
            if {"rest:a", "rest:b"} <= {f.channel for f in frames}:
                break
            await asyncio.sleep(0.01)
        await group.close()
    assert {"rest:a", "rest:b"} <= {f.channel for f in frames}
    assert group.pollers[0].gate is group.pollers[1].gate
