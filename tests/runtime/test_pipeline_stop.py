"""stop() ends the pipeline even when the source's read ignores the cancel (redis-py can
swallow one inside a blocking XREAD): the source is closed under its read, and a read that
still hangs is left behind rather than holding the exit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from cascade_tui.model import RawFrame
from cascade_tui.runtime.pipeline import STOP_GRACE_S, Pipeline
from cascade_tui.sources.base import Item, Source


class DeafSource(Source):
    """Reads until closed and eats every cancel, like a library that converts it away."""

    kind = "demo"

    def __init__(self, *, ends_when_closed: bool) -> None:
        self.ends_when_closed = ends_when_closed
        self.reading = asyncio.Event()
        self.closed = asyncio.Event()
        self.released = asyncio.Event()  # the test's own way out, so the loop can shut down
        self.cancels_ignored = 0
        self.closes = 0

    async def batches(self) -> AsyncIterator[list[Item]]:
        yield [RawFrame(1_700_000_000.0, "bybit", "{}")]
        self.reading.set()
        while not self.released.is_set():
            try:
                await (self.closed if self.ends_when_closed else self.released).wait()
            except asyncio.CancelledError:
                self.cancels_ignored += 1
                continue
            if self.ends_when_closed:
                return

    async def close(self) -> None:
        self.closes += 1
        self.closed.set()


async def run_and_stop(source: DeafSource) -> Pipeline:
    pipeline = Pipeline(source)
    run = asyncio.create_task(pipeline.run())
    await asyncio.wait_for(source.reading.wait(), 30)
    pipeline.stop()
    try:
        # the grace twice (close, then leave), with room for a loaded machine
        await asyncio.wait_for(asyncio.shield(run), 4 * STOP_GRACE_S + 30)
    finally:
        source.released.set()
    return pipeline


async def test_a_read_that_ignores_the_cancel_is_ended_by_closing_its_source() -> None:
    source = DeafSource(ends_when_closed=True)
    pipeline = await run_and_stop(source)
    assert source.cancels_ignored == 1
    assert source.closes >= 1  # once under the read, again (idempotent) on the way out
    assert pipeline.finished.is_set()
    assert pipeline.error is None


async def test_a_read_that_never_ends_is_left_behind_and_the_pipeline_still_finishes() -> None:
    source = DeafSource(ends_when_closed=False)
    pipeline = await run_and_stop(source)
    assert source.cancels_ignored == 1
    assert source.closes >= 1
    assert pipeline.finished.is_set()
    assert pipeline.error is None
