"""Every buffer between the network and the disk/Redis is bounded: flood each one far past
its capacity and check its size stays at the bound and every overflow is counted.

Also the WebSocket client's own limits: a live link's maximum message size and incoming
queue, read from the connection object itself.
"""

from __future__ import annotations

from pathlib import Path

from cascade_tui.config import AlertConfig, RedisConfig
from cascade_tui.feeds.base import Keepalive, SubscribeRequest, Subscription, VenueSpec
from cascade_tui.feeds.binance import BinanceParser
from cascade_tui.feeds.connection import MAX_FRAME_BYTES, ConnectionOptions, OverlapFilter
from cascade_tui.model import RawFrame
from cascade_tui.sinks.alerts import QUEUE_SIZE, AlertSink
from cascade_tui.sinks.history import HistorySink
from cascade_tui.sinks.history_db import SQLiteBackend
from cascade_tui.sinks.recorder import RecorderSink
from cascade_tui.sinks.redis import RedisSink
from tests.security.helpers import liquidation, signal
from tests.wsservers.binance import BinanceProtocol
from tests.wsservers.core import ProtocolServer
from tests.wsservers.fixtures import Collector, eventually, fast_options, running

FLOOD = 20


def test_redis_outbound_queue_is_bounded_and_counts_drops() -> None:
    sink = RedisSink("redis://127.0.0.1:1/0", config=RedisConfig(queue_size=100))  # never started
    for i in range(100 * FLOOD):
        sink.on_event(liquidation(i))
    for i in range(150):
        sink.on_signal(signal(i))
    assert len(sink.queue) == 100
    drops = sink.queue.drops
    assert drops["event"] + drops["signal"] + drops["metric"] == 100 * FLOOD + 150 - 100
    # signals are kept longest: the queue holds only signals, the newest ones
    assert [s.episode for _, s in sink.queue.signals][-1] == "BTC-149"
    assert sink.stats()["drops"] == drops


def test_redis_queue_stays_bounded_with_a_nonsense_size() -> None:
    for size in (0, -5):
        sink = RedisSink("redis://127.0.0.1:1/0", config=RedisConfig(queue_size=size))
        for i in range(1000):
            sink.on_event(liquidation(i))
        assert len(sink.queue) <= 1


def test_recorder_buffer_is_bounded_and_counts_drops(tmp_path: Path) -> None:
    assert RecorderSink(tmp_path / "default.cap.gz")._buffer.maxlen is not None  # the default too
    sink = RecorderSink(tmp_path / "x.cap.gz", buffer_frames=50)
    for i in range(50 * FLOOD):
        sink.on_frame(RawFrame(ts=float(i), venue="binance", data=f'{{"i":{i}}}'))
    assert len(sink._buffer) == 50
    assert sink.dropped == 50 * FLOOD - 50
    assert sink.stats()["drops"] == {"recorder": 50 * FLOOD - 50}


def test_alert_queue_is_bounded_and_counts_drops() -> None:
    sink = AlertSink(AlertConfig(level="WATCH", webhooks=["http://127.0.0.1:9/hook"], min_interval_s=0.0))
    for i in range(QUEUE_SIZE * FLOOD):
        sink.on_signal(signal(i))
    assert len(sink.queue) == QUEUE_SIZE
    assert sink.drops == QUEUE_SIZE * FLOOD - QUEUE_SIZE


def test_history_buffer_is_bounded_and_counts_drops(tmp_path: Path) -> None:
    sink = HistorySink(backend=SQLiteBackend(tmp_path / "h.sqlite"), max_buffer=40)
    for i in range(40 * FLOOD):
        sink.on_signal(signal(i))
        sink.on_event(liquidation(i, ts=1_767_225_600.0 + i))  # a new second each: aggregates flow
    buffered = len(sink._signals) + len(sink._rows)
    assert buffered <= 40
    assert sum(sink.drops.values()) > 0


def test_live_source_queue_is_bounded_and_counts_drops_per_venue() -> None:
    from cascade_tui.sources.live import DEFAULT_QUEUE_SIZE, LiveSource

    assert 0 < DEFAULT_QUEUE_SIZE <= 1_000_000
    source = LiveSource(["binance", "okx"], queue_size=100)
    for i in range(100 * FLOOD):
        source.deliver(RawFrame(ts=float(i), venue=("binance", "okx")[i % 2], data=str(i)))
    assert len(source.queued_frames()) == 100
    assert sum(source.drops.values()) == 100 * FLOOD - 100


def test_rotation_overlap_filter_is_bounded() -> None:
    f = OverlapFilter(capacity=1000)
    f.start()
    for i in range(1000 * FLOOD):
        f.admit(1, f"frame {i}")
    assert len(f._pending) <= 1000


def toy_spec() -> VenueSpec:
    def subscriptions(req: SubscribeRequest) -> list[Subscription]:
        return [Subscription(url="wss://fstream.binance.com/market/stream?streams=!forceOrder@arr", name="liq")]

    return VenueSpec(
        id="binance", name="Binance", parser=BinanceParser, subscriptions=subscriptions,
        keepalive=Keepalive(kind="ws-ping", interval=5.0), stale_after_s=5.0,
    )  # fmt: skip


async def test_websocket_link_limits_message_size_and_incoming_queue() -> None:
    assert ConnectionOptions().max_frame_bytes == MAX_FRAME_BYTES <= 16 * 1024 * 1024
    spec = toy_spec()
    async with ProtocolServer(BinanceProtocol()) as server:
        collector = Collector()
        options = fast_options(server, max_frame_bytes=64 * 1024)
        async with running(spec, spec.subscriptions(SubscribeRequest())[0], collector, options) as conn:
            await eventually(lambda: conn._current is not None)
            ws = conn._current.ws
            assert ws.protocol.max_message_size == 64 * 1024
            high, _low = ws.recv_messages.high, ws.recv_messages.low
            assert high is not None and 0 < high <= 4096
