"""Captures carry instrument metadata, and replays without it fall back to shipped tables."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cascade_tui.capture import CaptureWriter, read_capture
from cascade_tui.engine import Engine
from cascade_tui.feeds.base import META_CHANNEL
from cascade_tui.feeds.metadata import bundled_instruments
from cascade_tui.model import RawFrame
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sinks.recorder import RecorderSink
from cascade_tui.sources.base import Item, Source
from cascade_tui.sources.replay import ReplaySource

T0 = 1_767_225_600.0
# the exchanges.md OKX example: IOST-USDT-SWAP, 13 contracts at bkPx 0.007831, side buy = SHORT liquidated
IOST = (
    '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0",'
    '"bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"}],'
    '"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}'
)
# a made-up contract only known from the recording's metadata: 7 contracts × ctVal 2 × 10.0 = 140 USD
MADEUP = (
    '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkPx":"10.0",'
    '"side":"sell","sz":"7","ts":"1767225600500"}],"instId":"ZZZ-USDT-SWAP","instType":"SWAP"}]}'
)


def test_shipped_tables_size_the_documented_okx_example(tmp_path: Path) -> None:
    assert bundled_instruments("okx")["IOST-USDT-SWAP"]["ctVal"] == "1000"
    cap = tmp_path / "doc.cap.gz"
    with CaptureWriter(cap) as w:
        # received 0.3 s after the row's own time: an OKX row years older than its receive time
        # is a subscribe replay, counted stale by feeds/base.py
        w.write(RawFrame(1692266434.3, "okx", IOST))
    pipeline = Pipeline(ReplaySource([cap]), Engine())
    asyncio.run(pipeline.run())
    liq = pipeline.engine.stats()["liquidations"]["okx"]
    # 13 contracts × ctVal 1000 IOST = 13 000 IOST × 0.007831 = 101.803 USD, a short liquidated
    assert liq["short"]["count"] == 1
    assert liq["short"]["usd"] == pytest.approx(101.803)
    assert pipeline.parsers["okx"].stats.parse_errors == 0


class FakeLive(Source):
    kind = "live"

    def __init__(self, frames: list[RawFrame]) -> None:
        self.frames = frames

    async def batches(self) -> AsyncIterator[list[Item]]:
        yield list(self.frames)


def test_live_recording_starts_with_metadata_and_replays_identically(tmp_path: Path) -> None:
    meta = {"okx": {"ZZZ-USDT-SWAP": {"ctVal": "2", "ctType": "linear", "baseAsset": "ZZZ"}}}
    frames = [RawFrame(T0 + 0.5, "okx", MADEUP), RawFrame(T0 + 0.6, "okx", "pong")]
    cap = tmp_path / "live.cap.gz"
    recorder = RecorderSink(cap, flush_interval_s=0.01)
    live = Pipeline(FakeLive(frames), Engine(), [recorder], metadata=meta)
    asyncio.run(live.run())
    recorded = read_capture(cap)
    assert recorded[0].channel == META_CHANNEL and recorded[0].venue == "okx" and recorded[0].ts == T0 + 0.5
    assert recorded[1:] == frames
    live_liq = live.engine.stats()["liquidations"]["okx"]
    assert live_liq["long"]["count"] == 1 and live_liq["long"]["usd"] == pytest.approx(140.0)

    replay = Pipeline(ReplaySource([cap]), Engine())
    asyncio.run(replay.run())
    assert replay.engine.stats()["liquidations"]["okx"] == live_liq
    stats = replay.parsers["okx"].stats
    assert stats.parse_errors == 0 and stats.ignored == 2  # the metadata frame and the pong


def test_bad_metadata_frame_is_counted_not_raised() -> None:
    from cascade_tui.feeds import make_parser

    parser = make_parser("okx")
    assert parser.parse("[1, 2]", T0, META_CHANNEL) == []
    assert parser.parse("{not json", T0, META_CHANNEL) == []
    assert parser.stats.parse_errors == 2
