"""Every venue's real SPEC and parser through the connection loop, against a local server
speaking that venue's protocol (tests/wsservers): subscribe, parse, keepalive, survive
drops and half-open links, resubscribe, never double-count a liquidation replayed in a
snapshot after a reconnect, and rotate without losing or repeating one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cascade_tui.config import VenueConfig
from cascade_tui.feeds import make_parser, spec, venue_ids
from cascade_tui.feeds.base import SubscribeRequest, Subscription
from cascade_tui.feeds.connection import LIVE, Connection
from cascade_tui.feeds.metadata import VenueMetadata
from cascade_tui.model import Event, Liquidation, OpenInterest, RawFrame, Trade
from cascade_tui.sources.live import LiveSource
from tests.wsservers.binance import BinanceProtocol
from tests.wsservers.bitget import BitgetProtocol
from tests.wsservers.bitmex import BitmexProtocol
from tests.wsservers.bybit import BybitProtocol
from tests.wsservers.core import ProtocolServer, Session, VenueProtocol
from tests.wsservers.deribit import DeribitProtocol
from tests.wsservers.dydx import DydxProtocol
from tests.wsservers.fixtures import (
    Collector,
    eventually,
    fast_options,
    fast_spec,
    offline_http,
    rewrite_hosts,
)
from tests.wsservers.gate import GateProtocol
from tests.wsservers.htx import HtxProtocol
from tests.wsservers.hyperliquid import HyperliquidProtocol
from tests.wsservers.kraken import KrakenProtocol
from tests.wsservers.okx import OkxProtocol


@dataclass(frozen=True)
class VenueCase:
    protocol: Callable[[], VenueProtocol]
    request: SubscribeRequest
    metadata: dict[str, Any] = field(default_factory=dict)
    data_path: str = ""  # the socket path that carries liquidations, when a venue has several
    counted: type[Event] = Liquidation  # the event the protocol's data frames carry


CASES: dict[str, VenueCase] = {
    "binance": VenueCase(
        BinanceProtocol, SubscribeRequest(instruments=["BTCUSDT"], btc_trades=True), data_path="/market/"
    ),
    "bybit": VenueCase(BybitProtocol, SubscribeRequest(liquidation_instruments=["ICPUSDT"], instruments=["BTCUSDT"])),
    "okx": VenueCase(
        OkxProtocol,
        SubscribeRequest(instruments=["BTC-USDT-SWAP"]),
        {"IOST-USDT-SWAP": {"ctVal": "1000", "ctMult": "1", "ctType": "linear", "ctValCcy": "IOST"}},
    ),
    "bitget": VenueCase(BitgetProtocol, SubscribeRequest(instruments=["BTCUSDT"])),
    "htx": VenueCase(HtxProtocol, SubscribeRequest(instruments=["BTC-USDT"], btc_trades=True), data_path="notification"),
    "kraken": VenueCase(KrakenProtocol, SubscribeRequest(liquidation_instruments=["PF_XBTUSD"], instruments=["PF_XBTUSD"])),
    "bitmex": VenueCase(BitmexProtocol, SubscribeRequest(instruments=["XBTUSD"])),
    "dydx": VenueCase(DydxProtocol, SubscribeRequest(liquidation_instruments=["BTC-USD"], instruments=["BTC-USD"])),
    "gate": VenueCase(GateProtocol, SubscribeRequest(instruments=["BTC_USDT"])),
    "hyperliquid": VenueCase(HyperliquidProtocol, SubscribeRequest(instruments=["BTC"]), counted=Trade),
    "deribit": VenueCase(
        DeribitProtocol, SubscribeRequest(liquidation_instruments=["BTC-PERPETUAL"], instruments=["BTC-PERPETUAL"])
    ),
}




class VenueRun:
    """A venue's connections to one local server, frames parsed by the venue's real parser."""

    def __init__(self, venue: str, server: ProtocolServer, **spec_overrides: Any) -> None:
        case = CASES[venue]
        self.case = case
        self.server = server
        self.spec = fast_spec(spec(venue), **spec_overrides)
        self.subscriptions: list[Subscription] = self.spec.subscriptions(case.request)
        self.collector = Collector(make_parser(venue, case.metadata))
        self.connections = [
            Connection(self.spec, sub, self.collector.emit, on_reconnect=self.collector.on_reconnect,
                       options=fast_options(server))
            for sub in self.subscriptions
        ]
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> VenueRun:
        self.tasks = [asyncio.create_task(c.run()) for c in self.connections]
        await eventually(lambda: all(c.status.state == LIVE for c in self.connections))
        await eventually(lambda: self.subscribed() == len(self.connections))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(c.close() for c in self.connections))
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def subscribed(self) -> int:
        return sum(1 for s in self.server.live() if s.subscribed)

    def carries_data(self, session: Session) -> bool:
        return self.case.data_path in session.path

    async def send_liquidations(self, numbers: range) -> None:
        for i in numbers:
            await eventually(lambda: any(s.subscribed and self.carries_data(s) for s in self.server.live()))
            assert await self.server.broadcast(self.server.protocol.liquidation(i), self.carries_data) == 1

    def counted(self) -> list[Event]:
        """The events the protocol's data frames carry (liquidations; trades on Hyperliquid)."""
        return [ev for ev in self.collector.events if isinstance(ev, self.case.counted)]

    @property
    def stats(self) -> Any:
        assert self.collector.parser is not None
        return self.collector.parser.stats


VENUES = sorted(CASES)


@pytest.mark.parametrize("venue", VENUES)
async def test_subscribe_parse_and_keepalive(venue: str) -> None:
    async with ProtocolServer(CASES[venue].protocol()) as server, VenueRun(venue, server) as run:
        # every subscription's messages arrived, in order, on its own socket
        for sub in run.subscriptions:
            if sub.messages:
                await eventually(lambda sub=sub: any(s.texts()[: len(sub.messages)] == list(sub.messages) for s in server.sessions))
        await run.send_liquidations(range(5))
        await server.broadcast(server.protocol.garbage(), run.carries_data)
        await eventually(lambda: len(run.counted()) == 5 and run.stats.parse_errors == 1)
        # keepalive: app-level pings are answered / sent; WS-ping venues would be cut by the server otherwise
        kind = run.spec.keepalive.kind
        if kind in ("text", "json", "reply"):
            # every socket keeps itself alive (HTX: op ping on notification, {"ping": T} on market)
            await eventually(lambda: all(s.pings_answered >= 2 for s in server.live()))
        else:
            await asyncio.sleep(0.5)  # several server/client ping rounds at 0.05-0.2 s
        assert all(c.status.reconnects == 0 and c.status.state == LIVE for c in run.connections)
        assert {ev.venue for ev in run.collector.events} == {venue}
        assert all(f.ts > 1e9 for f in run.collector.frames)


@pytest.mark.parametrize("venue", VENUES)
async def test_drop_resubscribes_and_replayed_snapshot_is_not_counted_twice(venue: str) -> None:
    async with ProtocolServer(CASES[venue].protocol()) as server, VenueRun(venue, server) as run:
        await run.send_liquidations(range(4))
        await eventually(lambda: len(run.counted()) == 4)
        first_sessions = len(server.sessions)
        server.drop()
        await eventually(lambda: len(server.sessions) == 2 * first_sessions and run.subscribed() == first_sessions)
        await eventually(lambda: all(c.status.state == LIVE for c in run.connections))
        # the venue's replay on subscribe (OKX liquidations, Kraken trade_snapshot, BitMEX partial,
        # dYdX subscribed contents) reached the parser again
        replay = [f.decode() if isinstance(f, bytes) else f for f in server.protocol.snapshot(server.sessions[-1])]
        await eventually(lambda: all(run.collector.texts().count(t) >= 2 for t in replay))
        # resubscribed with the same messages
        for sub in run.subscriptions:
            if sub.messages:
                assert any(s.texts()[: len(sub.messages)] == list(sub.messages) for s in server.sessions[first_sessions:])
        await run.send_liquidations(range(4, 7))
        await eventually(lambda: len(run.counted()) >= 7)
        await asyncio.sleep(0.1)
        liqs = run.counted()
        assert len(liqs) == 7  # snapshot replays after the reconnect added nothing
        assert len({(ev.event_ts, ev.qty) for ev in liqs}) == 7
        assert run.collector.resets == len(run.connections)
        assert all(c.status.reconnects == 1 for c in run.connections)


@pytest.mark.parametrize("venue", ["bybit", "htx", "binance"])
async def test_half_open_server_is_detected_and_replaced(venue: str) -> None:
    async with ProtocolServer(CASES[venue].protocol()) as server, VenueRun(venue, server, stale_s=0.3) as run:
        before = len(server.sessions)
        server.half_open()
        await eventually(lambda: len(server.sessions) >= 2 * before and run.subscribed() == before)
        await eventually(lambda: all(c.status.state == LIVE for c in run.connections))
        await run.send_liquidations(range(2))
        await eventually(lambda: len(run.counted()) == 2)


@pytest.mark.parametrize("venue", ["bybit", "okx"])
async def test_rotation_counts_every_liquidation_once(venue: str) -> None:
    protocol = CASES[venue].protocol()
    if isinstance(protocol, OkxProtocol):
        protocol.replay = 0  # the replay de-dup has its own test; here only the overlap is at stake
    async with ProtocolServer(protocol) as server, VenueRun(venue, server, max_connection_s=0.25, stale_s=5.0) as run:
        conn = run.connections[0]
        sent = 0
        loop = asyncio.get_running_loop()
        stop_at = loop.time() + 1.0
        while loop.time() < stop_at:
            if await server.broadcast(protocol.liquidation(sent)):
                sent += 1
            await asyncio.sleep(0.005)
        await eventually(lambda: len(run.counted()) >= sent)
        await asyncio.sleep(0.05)
        assert conn.status.rotations >= 2 and conn.status.reconnects == 0
        liqs = run.counted()
        assert len(liqs) == sent
        assert len({(ev.event_ts, ev.qty) for ev in liqs}) == sent


def test_every_registered_venue_has_a_protocol_server() -> None:
    assert set(CASES) == set(venue_ids())


# ---------------------------------------------------------------------- the live source


class Consumer:
    """Drains a LiveSource like the pipeline does, logging frames and parser resets in order."""

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self.log: list[tuple[str, str]] = []  # ("frame", venue) / ("reset", venue)
        source.reconnect_hook = lambda venue: self.log.append(("reset", venue))
        self.task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        async for batch in self.source.batches():
            for item in batch:
                assert isinstance(item, RawFrame)
                self.log.append(("frame", item.venue))

    def frames(self, venue: str) -> int:
        return sum(1 for kind, v in self.log if kind == "frame" and v == venue)

    async def close(self) -> None:
        await self.source.close()
        await asyncio.wait_for(self.task, 3)


async def test_live_source_merges_venues_resets_parsers_in_order_and_disables_broken_ones() -> None:
    async with ProtocolServer(BybitProtocol()) as bybit, ProtocolServer(OkxProtocol()) as okx:
        metadata = {"bybit": VenueMetadata("bybit", {"ICPUSDT": {"baseAsset": "ICP"}}, ["ICPUSDT"], source="cache")}
        async with offline_http() as http:
            source = LiveSource(
                ["bybit", "okx", "nosuchvenue"],
                VenueConfig(oi_symbols=["BTC"], btc_trades_venue="okx"),
                metadata=metadata,
                options=fast_options(url_rewrite=rewrite_hosts({"bybit": bybit, "okx": okx})),
                http_client=http,
            )
            consumer = Consumer(source)
            try:
                await eventually(lambda: any(s.subscribed for s in bybit.sessions) and any(s.subscribed for s in okx.sessions))
                plan = source.plans["bybit"]
                assert plan.request.liquidation_instruments == ["ICPUSDT"]  # the full list from metadata
                assert plan.request.instruments == ["BTCUSDT"] and not plan.request.btc_trades
                assert source.plans["okx"].request.btc_trades
                assert "allLiquidation.ICPUSDT" in bybit.sessions[0].texts()[0]
                await bybit.broadcast(bybit.protocol.liquidation(1))
                await okx.broadcast(okx.protocol.liquidation(1))
                await eventually(lambda: consumer.frames("bybit") >= 2 and consumer.frames("okx") >= 2)
                status = source.feed_status()
                assert status["bybit"].state == LIVE and status["okx"].state == LIVE
                assert status["nosuchvenue"].state == "disabled" and "unknown venue" in status["nosuchvenue"].detail
                okx_frames_before = consumer.frames("okx")
                okx.drop()
                await eventually(lambda: ("reset", "okx") in consumer.log)
                reset_at = consumer.log.index(("reset", "okx"))
                # every frame of the old link was consumed before the parser reset
                assert sum(1 for k, v in consumer.log[:reset_at] if k == "frame" and v == "okx") == okx_frames_before
                await eventually(lambda: source.feed_status()["okx"].state == LIVE)
                status = source.feed_status()
                assert status["okx"].reconnects == 1 and status["bybit"].reconnects == 0
                assert ("reset", "bybit") not in consumer.log
                assert status["okx"].last_message_ts is not None and status["okx"].frames >= okx_frames_before
            finally:
                await consumer.close()
            assert all(st.state in ("done", "disabled") for st in source.feed_status().values())


async def test_without_network_every_venue_backs_off_and_says_try_demo(caplog: pytest.LogCaptureFixture) -> None:
    venues = list(venue_ids())
    caplog.set_level(logging.WARNING)
    async with offline_http() as http:
        source = LiveSource(
            venues,
            VenueConfig(),
            metadata={v: VenueMetadata(v, source="bundled") for v in venues},
            options=fast_options(url_rewrite=lambda url: "ws://127.0.0.1:9/"),  # nothing listens: refused
            http_client=http,
        )
        consumer = Consumer(source)
        try:
            await eventually(
                lambda: all(st.state in ("reconnecting", "disabled") and st.errors >= 2 for st in source.feed_status().values())
            )
            for venue, st in source.feed_status().items():
                if st.state == "reconnecting":
                    assert "attempt " in st.detail and "refused" in st.detail, (venue, st.detail)
            demo_lines = [r.getMessage() for r in caplog.records if "--demo" in r.getMessage()]
            started = [v for v in venues if v in source.plans]
            assert sorted(line.split(":", 1)[0] for line in demo_lines) == sorted(started)  # one line per venue
        finally:
            await consumer.close()
        assert not consumer.log  # no frames, no crash


async def test_symbols_filter_and_fetched_metadata_shape_the_subscriptions(tmp_path: Path) -> None:
    body = {"result": {"list": [
        {"symbol": "BTCUSDT", "status": "Trading", "baseCoin": "BTC", "contractType": "LinearPerpetual"},
        {"symbol": "ETHUSDT", "status": "Trading", "baseCoin": "ETH", "contractType": "LinearPerpetual"},
        {"symbol": "BTCPERP", "status": "Trading", "baseCoin": "BTC", "contractType": "LinearPerpetual"},
    ], "nextPageCursor": ""}}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("category") == "inverse":
            return httpx.Response(200, json={"result": {"list": [], "nextPageCursor": ""}})
        return httpx.Response(200, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        source = LiveSource(["bybit"], VenueConfig(), ["btc"], cache_dir=tmp_path, http_client=http)
        await source.prepare()
    plan = source.plans["bybit"]
    assert sorted(plan.request.liquidation_instruments) == ["BTCPERP", "BTCUSDT"]  # ETH filtered out
    assert plan.request.instruments == ["BTCUSDT"]
    assert source.parser_metadata["bybit"]["ETHUSDT"]["baseAsset"] == "ETH"  # the parser still knows every symbol
    assert (tmp_path / "bybit.json").exists()


def test_full_queue_drops_the_oldest_and_counts_per_venue() -> None:
    source = LiveSource(["binance"], queue_size=3)
    for i in range(5):
        source.deliver(RawFrame(ts=float(i), venue="binance", data=str(i)))
    assert [f.data for f in source.queued_frames()] == ["2", "3", "4"]
    assert source.drops == {"binance": 2}
    # a reconnect marker pushed out of the queue still resets the parser, before the next batch
    source.mark_reconnect("binance")
    source.deliver(RawFrame(ts=9.0, venue="binance", data="9"))
    source.deliver(RawFrame(ts=9.0, venue="binance", data="10"))
    source.deliver(RawFrame(ts=9.0, venue="binance", data="11"))
    assert source._resets_due == ["binance"]


async def test_pipeline_runs_a_live_source_end_to_end() -> None:
    from cascade_tui.runtime.pipeline import Pipeline

    async with ProtocolServer(BybitProtocol()) as bybit, offline_http() as http:
        source = LiveSource(
            ["bybit"],
            VenueConfig(oi_symbols=["BTC"]),
            metadata={"bybit": VenueMetadata("bybit", {"ICPUSDT": {"baseAsset": "ICP"}}, ["ICPUSDT"])},
            options=fast_options(url_rewrite=rewrite_hosts({"bybit": bybit})),
            http_client=http,
        )
        # built before the metadata is loaded, as the CLI does: the dict is filled in place
        pipeline = Pipeline(source, metadata=source.parser_metadata)
        assert pipeline.metadata is source.parser_metadata
        task = asyncio.create_task(pipeline.run())

        def liquidations() -> int:
            parser = pipeline.parsers.get("bybit")
            return parser.stats.events.get("liquidation", 0) if parser else 0

        await eventually(lambda: any(s.subscribed for s in bybit.live()))
        for i in range(3):
            await bybit.broadcast(bybit.protocol.liquidation(i))
        await eventually(lambda: liquidations() == 3)
        assert pipeline.parsers["bybit"].metadata["ICPUSDT"]["baseAsset"] == "ICP"
        bybit.drop()
        await eventually(lambda: len(bybit.sessions) == 2 and bybit.sessions[1].subscribed)
        await bybit.broadcast(bybit.protocol.liquidation(3))
        await eventually(lambda: liquidations() == 4)
        await eventually(
            lambda: pipeline.latest_snapshot is not None
            and any(v.venue == "bybit" and v.state == LIVE and v.reconnects == 1 for v in pipeline.latest_snapshot.venues)
        )
        pipeline.stop()
        await asyncio.wait_for(task, 5)
    assert pipeline.error is None
    assert source.feed_status()["bybit"].state == "done"


async def test_geo_blocked_venue_is_shown_blocked_and_asked_again_only_later(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with ProtocolServer(BinanceProtocol()) as binance, offline_http() as http:
        binance.reject_status = 451
        source = LiveSource(
            ["binance"],
            VenueConfig(oi_symbols=["BTC"]),
            metadata={"binance": VenueMetadata("binance")},
            options=fast_options(url_rewrite=rewrite_hosts({"binance": binance}), blocked_retry_s=60.0),
            http_client=http,
        )
        consumer = Consumer(source)
        try:
            await eventually(lambda: source.feed_status()["binance"].state == "blocked")
            await asyncio.sleep(0.3)
            status = source.feed_status()["binance"]
            assert "HTTP 451" in status.detail and "geo-blocked" in status.detail and "next try in 1 min" in status.detail
            await eventually(lambda: binance.rejected == 2)  # USD-M and COIN-M links, once each
            await asyncio.sleep(0.3)
            assert binance.rejected == 2  # no hot loop
            [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("binance:")]
            assert "HTTP 451" in line and "--demo" in line
        finally:
            await consumer.close()


async def test_rest_polls_join_the_stream_and_follow_the_regime() -> None:
    body = (  # the documented swap_open_interest shape (as in the HTX adapter's tests)
        '{"status":"ok","data":[{"volume":9000000,"amount":9000.0,"symbol":"BTC","value":810000000.0,'
        '"contract_code":"BTC-USDT","business_type":"swap","pair":"BTC-USDT","contract_type":"swap"}],'
        '"ts":1789670297000}'
    )
    polled: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        polled.append(str(request.url))
        return httpx.Response(200, text=body)

    regime = ["NORMAL"]
    async with ProtocolServer(HtxProtocol()) as htx, httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        source = LiveSource(
            ["htx"],
            VenueConfig(oi_symbols=["BTC"]),
            metadata={"htx": VenueMetadata("htx")},
            options=fast_options(url_rewrite=rewrite_hosts({"hbdm": htx})),
            http_client=http,
            poll_stagger_s=0.0,
            regime=lambda: regime[0],
        )
        frames: list[RawFrame] = []

        async def drain() -> None:
            async for batch in source.batches():
                frames.extend(item for item in batch if isinstance(item, RawFrame))

        task = asyncio.create_task(drain())
        try:
            await eventually(lambda: any(f.channel == "rest:swap_open_interest" for f in frames))
            [poller] = source.plans["htx"].pollers.pollers  # type: ignore[union-attr]
            assert poller.interval() == 30.0
            regime[0] = "EXTREME"
            assert poller.interval() == 5.0
            rest = next(f for f in frames if f.channel)
            [oi] = make_parser("htx").parse(rest.data, rest.ts, rest.channel)
            assert isinstance(oi, OpenInterest) and oi.oi == 9000.0 and oi.venue == "htx"
            assert "swap_open_interest" in polled[0]
            await eventually(lambda: source.feed_status()["htx"].state == LIVE)
            assert source.feed_status()["htx"].frames >= 1
        finally:
            await source.close()
            await asyncio.wait_for(task, 3)
