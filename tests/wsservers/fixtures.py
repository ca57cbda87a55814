"""Helpers shared by the connection, live-source and venue tests (not a conftest: other
helpers own tests/conftest.py). Import what you need from here."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from cascade_tui.feeds.base import FrameParser, Keepalive, Subscription, VenueSpec
from cascade_tui.feeds.connection import Backoff, Connection, ConnectionOptions
from cascade_tui.model import Event, Liquidation, RawFrame
from tests.wsservers.core import ProtocolServer

FAST_BACKOFF = Backoff(base_s=0.02, cap_s=0.1, floor_s=0.01, stable_after_s=0.5)


def fast_options(server: ProtocolServer | None = None, **overrides: Any) -> ConnectionOptions:
    """Tiny intervals so reconnects, stale links and rotations happen within a test."""
    values: dict[str, Any] = {
        "backoff": FAST_BACKOFF,
        "blocked_retry_s": 0.5,
        "open_timeout_s": 2.0,
        "close_timeout_s": 0.2,
        "rotation_wait_s": 2.0,
        "rotation_overlap_s": 0.05,
        "rotation_retry_s": 0.2,
        "tick_s": 0.02,
        "send_interval_s": 0.0,
        "url_rewrite": server.local if server is not None else None,
    }
    values.update(overrides)
    return ConnectionOptions(**values)


def fast_spec(spec: VenueSpec, *, keepalive_s: float = 0.05, stale_s: float = 2.0, **overrides: Any) -> VenueSpec:
    """A venue's real spec with test-sized keepalive and stale intervals."""
    keepalive: Keepalive = dataclasses.replace(spec.keepalive, interval=keepalive_s)
    return dataclasses.replace(spec, keepalive=keepalive, stale_after_s=stale_s, **overrides)


class Collector:
    """Receives a connection's frames; optionally parses them with a venue parser."""

    def __init__(self, parser: FrameParser | None = None) -> None:
        self.frames: list[RawFrame] = []
        self.events: list[Event] = []
        self.resets = 0
        self.parser = parser

    def emit(self, frame: RawFrame) -> None:
        self.frames.append(frame)
        if self.parser is not None:
            self.events.extend(self.parser.parse(frame.data, frame.ts, frame.channel))

    def on_reconnect(self) -> None:
        self.resets += 1
        if self.parser is not None:
            self.parser.reconnected()

    def texts(self) -> list[str]:
        return [f.data.decode() if isinstance(f.data, bytes) else f.data for f in self.frames]

    def liquidations(self) -> list[Liquidation]:
        return [e for e in self.events if isinstance(e, Liquidation)]


@contextlib.asynccontextmanager
async def running(
    spec: VenueSpec,
    subscription: Subscription,
    collector: Collector,
    options: ConnectionOptions,
    **kwargs: Any,
) -> AsyncIterator[Connection]:
    """A Connection running in a task for the duration of the block, closed after it."""
    conn = Connection(spec, subscription, collector.emit, on_reconnect=collector.on_reconnect, options=options, **kwargs)
    task = asyncio.create_task(conn.run())
    try:
        yield conn
    finally:
        await conn.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 2)


async def eventually(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for a condition; the deadline is generous because CI machines are shared."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def offline_http() -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def rewrite_hosts(servers: dict[str, ProtocolServer]) -> Callable[[str], str]:
    """Each venue's WebSocket host -> its local server."""

    def rewrite(url: str) -> str:
        host = urlsplit(url).hostname or ""
        for fragment, server in servers.items():
            if fragment in host:
                return server.local(url)
        return "ws://127.0.0.1:9/unexpected"

    return rewrite
