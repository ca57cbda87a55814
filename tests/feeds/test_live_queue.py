"""LiveSource's per-venue queues: a flood on one venue drops only that venue's oldest frames,
drops are counted per venue, the merge is oldest-first (arrival order when nothing is
dropped) and each venue keeps its receive order; reconnect markers still split batches."""

from __future__ import annotations

import asyncio

from cascade_tui.model import RawFrame
from cascade_tui.sources.base import Item
from cascade_tui.sources.live import LiveSource


def frame(venue: str, data: str) -> RawFrame:
    return RawFrame(ts=0.0, venue=venue, data=data)


def queued(source: LiveSource) -> list[str]:
    return [f"{f.venue}:{f.data}" for f in source.queued_frames()]


def test_a_flood_on_one_venue_drops_only_that_venues_oldest_frames() -> None:
    source = LiveSource(["binance", "okx", "bybit"], queue_size=10)
    source.deliver(frame("okx", "o1"))
    source.deliver(frame("bybit", "y1"))
    for i in range(100):
        source.deliver(frame("binance", str(i)))
    source.deliver(frame("okx", "o2"))
    assert len(source.queued_frames()) == 10
    assert source.drops == {"binance": 93}
    assert queued(source) == ["okx:o1", "bybit:y1", *(f"binance:{i}" for i in range(93, 100)), "okx:o2"]


def test_merge_is_arrival_order_and_keeps_each_venues_order() -> None:
    source = LiveSource(["binance", "okx"], queue_size=100)
    order = [("binance", "a"), ("okx", "b"), ("okx", "c"), ("binance", "d"), ("okx", "e")]
    for venue, data in order:
        source.deliver(frame(venue, data))
    assert queued(source) == [f"{v}:{d}" for v, d in order]


async def test_batches_read_oldest_first_and_reset_at_the_marker() -> None:
    source = LiveSource(["binance", "okx"], queue_size=100)
    source._prepared = source._started = True  # no metadata load, no connections: the queue alone
    resets: list[str] = []
    source.reconnect_hook = resets.append
    source.deliver(frame("binance", "1"))
    source.deliver(frame("okx", "2"))
    source.mark_reconnect("okx")
    source.deliver(frame("okx", "3"))
    source.deliver(frame("binance", "4"))
    batches: list[list[Item]] = []

    async def read() -> None:
        async for batch in source.batches():
            batches.append(batch)
            if sum(len(b) for b in batches) == 4:
                break

    await asyncio.wait_for(read(), 5)
    assert [[f.data for f in b if isinstance(f, RawFrame)] for b in batches] == [["1", "2"], ["3", "4"]]
    assert resets == ["okx"]
    assert len(source.queued_frames()) == 0
