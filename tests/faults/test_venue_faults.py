"""Venue protocol faults through the whole live path (LiveSource -> Pipeline -> engine),
two venues at once: Bybit misbehaves while OKX keeps streaming.

Covered here (the connection tests in tests/feeds cover drop, half-open, stall, close-after-N,
refused upgrades and rotation on a single connection): garbage, binary-where-text,
truncated and oversized frames; a link cut in the middle of a frame; a snapshot flood on
subscribe that overflows the source queue; HTTP 403/451 and a server that never completes
the handshake, seen in the pipeline's snapshot. Each time: the pipeline keeps running, OKX
is unaffected, the venue state in the snapshot says what happened, and every frame is
accounted for: received = parsed + ignored + parse errors + dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from cascade_tui.config import VenueConfig
from cascade_tui.engine.types import VenueView
from cascade_tui.feeds.metadata import VenueMetadata
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sources.live import LiveSource
from tests.feeds.test_live_venues import offline_http, rewrite_hosts
from tests.wsservers.bybit import BybitProtocol
from tests.wsservers.core import Frame, ProtocolServer, Session
from tests.wsservers.fixtures import eventually, fast_options
from tests.wsservers.okx import OkxProtocol

METADATA = {
    "bybit": VenueMetadata("bybit", {"ICPUSDT": {"baseAsset": "ICP"}}, ["ICPUSDT"], source="cache"),
    "okx": VenueMetadata(
        "okx",
        {"IOST-USDT-SWAP": {"ctVal": "1000", "ctMult": "1", "ctType": "linear", "ctValCcy": "IOST"}},
        ["IOST-USDT-SWAP"],
        source="cache",
    ),
}
OKX_PERIOD_S = 0.01


@dataclass
class Market:
    """Bybit (the faulty venue) and OKX (the healthy one) behind one live pipeline."""

    bybit: ProtocolServer
    okx: ProtocolServer
    source: LiveSource
    pipeline: Pipeline
    okx_sent: int = 0
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def liquidations(self, venue: str) -> int:
        parser = self.pipeline.parsers.get(venue)
        return parser.stats.events.get("liquidation", 0) if parser else 0

    def view(self, venue: str) -> VenueView | None:
        snap = self.pipeline.latest_snapshot
        return next((v for v in snap.venues if v.venue == venue), None) if snap else None

    async def okx_stream(self) -> None:
        """A steady OKX liquidation every 10 ms, whatever Bybit does."""
        while True:
            if await self.okx.broadcast(self.okx.protocol.liquidation(10_000 + self.okx_sent)):
                self.okx_sent += 1
            await asyncio.sleep(OKX_PERIOD_S)

    async def bybit_data_session(self) -> Session:
        await eventually(lambda: any(s.subscribed for s in self.bybit.live()))
        return next(s for s in self.bybit.live() if s.subscribed)

    async def settle(self, *, okx_drops_allowed: bool = False) -> None:
        """Stop OKX traffic (after at least 20 frames) and wait until everything received
        has been processed."""
        await eventually(lambda: self.okx_sent >= 20)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        okx_dropped = (lambda: self.source.feed_status()["okx"].drops) if okx_drops_allowed else (lambda: 0)
        await eventually(lambda: self.liquidations("okx") + okx_dropped() == self.okx_sent, timeout=30)
        await eventually(lambda: all(self.unaccounted(v) == 0 for v in ("bybit", "okx")), timeout=30)

    def unaccounted(self, venue: str) -> int:
        """Frames the connections received minus those the parser saw or the queue dropped."""
        received = self.source.feed_status()[venue].frames
        parser = self.pipeline.parsers.get(venue)
        seen = parser.stats.frames if parser else 0
        return received - seen - self.source.feed_status()[venue].drops

    def check_accounting(self) -> None:
        for venue in ("bybit", "okx"):
            parser = self.pipeline.parsers[venue]
            s = parser.stats
            assert s.frames == s.parsed + s.ignored + s.parse_errors, (venue, s)
            assert self.unaccounted(venue) == 0, venue

    def check_okx_unaffected(self) -> None:
        assert self.okx_sent >= 20
        assert self.liquidations("okx") == self.okx_sent
        status = self.source.feed_status()["okx"]
        assert status.state == "live" and status.reconnects == 0 and status.drops == 0
        assert self.pipeline.parsers["okx"].stats.parse_errors == 0


@contextlib.asynccontextmanager
async def market(
    bybit_protocol: BybitProtocol | None = None, *, queue_size: int = 100_000, **options: Any
) -> AsyncIterator[Market]:
    async with (
        ProtocolServer(bybit_protocol or BybitProtocol()) as bybit,
        ProtocolServer(OkxProtocol(replay=0)) as okx,
        offline_http() as http,
    ):
        source = LiveSource(
            ["bybit", "okx"],
            VenueConfig(oi_symbols=["BTC"], btc_trades_venue="okx"),
            metadata=METADATA,
            options=fast_options(url_rewrite=rewrite_hosts({"bybit": bybit, "okx": okx}), **options),
            http_client=http,
            queue_size=queue_size,
        )
        await source.prepare()
        pipeline = Pipeline(source, metadata=source.parser_metadata)
        run = asyncio.create_task(pipeline.run())
        m = Market(bybit, okx, source, pipeline)
        try:
            await eventually(lambda: any(s.subscribed for s in okx.live()))
            m.tasks.append(asyncio.create_task(m.okx_stream()))
            yield m
            assert not run.done(), "the pipeline must keep running"
        finally:
            for task in m.tasks:
                task.cancel()
            pipeline.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(run, 5)
    assert pipeline.error is None


def text_frame_prefix(payload: bytes, sent: int) -> bytes:
    """The first `sent` payload bytes of an unmasked server text frame of len(payload)."""
    n = len(payload)
    header = bytes([0x81, 126]) + n.to_bytes(2, "big") if n < 65536 else bytes([0x81, 127]) + n.to_bytes(8, "big")
    return header + payload[:sent]


async def test_bad_frames_are_counted_and_good_ones_still_flow() -> None:
    async with market() as m:
        session = await m.bybit_data_session()
        good = [m.bybit.protocol.liquidation(i) for i in range(6)]
        bad: list[Frame] = [
            "{not json",  # garbage
            b"\x00\xff\xfe binary where text is expected",  # binary-where-text
            str(good[0])[:-15],  # truncated
            '{"topic":"allLiquidation.ICPUSDT","pad":"' + "x" * 1_500_000 + '"}',  # oversized, under the cap
        ]
        for frame in (good[0], *bad[:2], good[1], *bad[2:], good[2]):
            await session.ws.send(frame)
        await eventually(lambda: m.liquidations("bybit") == 3)
        # over the link's 4 MB cap: the link is closed (1009), reconnected, and resubscribed
        before = m.source.feed_status()["bybit"].frames
        await session.ws.send("x" * (5 * 1024 * 1024))
        await eventually(lambda: m.source.feed_status()["bybit"].reconnects == 1)
        session = await m.bybit_data_session()
        for frame in good[3:]:
            await session.ws.send(frame)
        await eventually(lambda: m.liquidations("bybit") == 6)
        await m.settle()
        stats = m.pipeline.parsers["bybit"].stats
        assert stats.parse_errors + stats.ignored >= len(bad)
        assert stats.parse_errors >= 3  # garbage, binary, truncated cannot be understood
        assert m.source.feed_status()["bybit"].frames > before  # the oversized frame itself never arrived
        m.check_accounting()
        m.check_okx_unaffected()
        await eventually(lambda: (v := m.view("bybit")) is not None and v.state == "live" and v.reconnects == 1)


async def test_link_cut_in_the_middle_of_a_frame() -> None:
    async with market() as m:
        session = await m.bybit_data_session()
        await session.ws.send(m.bybit.protocol.liquidation(0))
        await eventually(lambda: m.liquidations("bybit") == 1)
        payload = str(m.bybit.protocol.liquidation(1)).encode()
        session.ws.transport.write(text_frame_prefix(payload, len(payload) // 2))
        session.ws.transport.abort()
        await eventually(lambda: m.source.feed_status()["bybit"].reconnects == 1)
        session = await m.bybit_data_session()
        await session.ws.send(m.bybit.protocol.liquidation(2))
        await eventually(lambda: m.liquidations("bybit") == 2)  # the half frame was never delivered
        await m.settle()
        assert m.pipeline.parsers["bybit"].stats.parse_errors == 0
        m.check_accounting()
        m.check_okx_unaffected()
        await eventually(lambda: (v := m.view("bybit")) is not None and v.state == "live" and v.reconnects == 1)


class FloodingBybit(BybitProtocol):
    """Answers the subscribe with a burst of history, as some venues do after a reconnect."""

    FLOOD = 20_000

    def on_message(self, session: Session, message: str) -> list[Frame]:
        out = super().on_message(session, message)
        if '"op":"subscribe"' in message.replace(" ", "") and '"allLiquidation' in message:
            out += [self.liquidation(i) for i in range(self.FLOOD)]
        return out


async def test_snapshot_flood_on_subscribe_fits_the_default_queue() -> None:
    async with market(FloodingBybit()) as m:
        await eventually(lambda: m.liquidations("bybit") == FloodingBybit.FLOOD, timeout=30)
        await m.settle()
        assert m.source.feed_status()["bybit"].drops == 0
        m.check_accounting()
        m.check_okx_unaffected()


async def test_snapshot_flood_over_a_small_queue_is_counted_frame_by_frame() -> None:
    """The source queue is shared by every venue and drops the oldest frame when full, so a
    flood from one venue can push out another venue's frames too: all of them counted."""
    async with market(FloodingBybit(), queue_size=500) as m:
        feed = m.source.feed_status
        await eventually(lambda: m.liquidations("bybit") + feed()["bybit"].drops >= FloodingBybit.FLOOD, timeout=30)
        await m.settle(okx_drops_allowed=True)
        # each flood frame carries one liquidation: it was either counted or dropped, never lost
        # (the drops may also include a few of the acks/pongs that arrived with it)
        control_frames = feed()["bybit"].frames - FloodingBybit.FLOOD
        surplus = m.liquidations("bybit") + feed()["bybit"].drops - FloodingBybit.FLOOD
        assert 0 <= surplus <= control_frames
        assert feed()["bybit"].drops > 0
        assert m.liquidations("okx") + feed()["okx"].drops == m.okx_sent
        assert feed()["okx"].state == "live" and feed()["okx"].reconnects == 0
        m.check_accounting()


@pytest.mark.parametrize("status", [403, 451])
async def test_refused_upgrade_is_shown_as_blocked(status: int) -> None:
    bybit = BybitProtocol()
    async with market(bybit) as m:
        m.bybit.reject_status = status  # takes effect from the next connection attempt
        m.bybit.drop()
        await eventually(lambda: (v := m.view("bybit")) is not None and v.state == "blocked", timeout=30)
        view = m.view("bybit")
        assert view is not None and f"HTTP {status}" in view.state_detail
        await asyncio.sleep(0.3)
        await m.settle()
        m.check_accounting()
        m.check_okx_unaffected()
        assert (okx := m.view("okx")) is not None and okx.state == "live"


async def test_server_that_never_answers_the_handshake() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read(-1)  # accept the TCP connection, never answer the upgrade
        writer.close()

    tarpit = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = tarpit.sockets[0].getsockname()[1]
    try:
        async with (
            ProtocolServer(OkxProtocol(replay=0)) as okx,
            offline_http() as http,
        ):
            okx_rewrite = rewrite_hosts({"okx": okx})

            def rewrite(url: str) -> str:
                return f"ws://127.0.0.1:{port}/v5/public" if "bybit" in url else okx_rewrite(url)

            source = LiveSource(
                ["bybit", "okx"],
                VenueConfig(oi_symbols=["BTC"], btc_trades_venue="okx"),
                metadata=METADATA,
                options=fast_options(url_rewrite=rewrite, open_timeout_s=0.3),
                http_client=http,
            )
            await source.prepare()
            pipeline = Pipeline(source, metadata=source.parser_metadata)
            run = asyncio.create_task(pipeline.run())
            await eventually(lambda: any(s.subscribed for s in okx.live()))
            for i in range(30):
                await okx.broadcast(okx.protocol.liquidation(i))
            status = source.feed_status()
            await eventually(lambda: source.feed_status()["bybit"].errors >= 2, timeout=30)
            status = source.feed_status()
            assert status["bybit"].state in ("reconnecting", "connecting")
            assert "did not answer in time" in status["bybit"].detail
            await eventually(lambda: pipeline.parsers["okx"].stats.events.get("liquidation", 0) == 30)
            assert status["okx"].state == "live" and status["okx"].reconnects == 0
            assert not run.done()
            pipeline.stop()
            await asyncio.wait_for(run, 5)
            assert pipeline.error is None
    finally:
        tarpit.close()
