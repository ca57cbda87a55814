"""At speed 0 a paced source hands whole batches on; a pause or a speed change made while the
pipeline works on one batch takes effect before the next, and no frame is lost or reordered."""

from __future__ import annotations

import asyncio

import pytest

from cascade_tui.model import RawFrame
from cascade_tui.sources.paced import MAX_BATCH, PacedSource


def chunks(n_chunks: int, size: int) -> list[list[RawFrame]]:
    return [[RawFrame(1000.0 + (c * size + i) * 0.001, "okx", "pong") for i in range(size)] for c in range(n_chunks)]


async def test_whole_batches_then_pause_holds_the_rest() -> None:
    data = chunks(3, MAX_BATCH + 500)
    source = PacedSource(batches=iter(data), kind="replay", label="t", speed=0.0)
    it = source.batches()
    first = await anext(it)
    assert len(first) == MAX_BATCH  # a whole batch, no per-frame pacing
    assert source.feed_status()["okx"].frames == MAX_BATCH
    source.pause()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(pending := asyncio.ensure_future(anext(it))), 0.3)
    source.resume()
    got = first + await pending
    async for batch in it:
        got.extend(batch)
    assert got == [f for chunk in data for f in chunk]
    assert source.feed_status()["okx"].frames == len(got)
    assert source.feed_status()["okx"].state == "done"


async def test_a_speed_set_mid_chunk_paces_the_rest_of_it() -> None:
    data = chunks(1, MAX_BATCH * 2)
    source = PacedSource(batches=iter(data), kind="replay", label="t", speed=0.0)
    it = source.batches()
    assert len(await anext(it)) == MAX_BATCH
    source.set_speed(1e9)  # paced from here: frames one by one (at this speed, no sleeping)
    rest = [f async for batch in it for f in batch]
    assert rest == data[0][MAX_BATCH:]
