"""A snapshot of the seeded demo market after N seconds, through the real engine.

Used for screenshots and SVG snapshot tests: the simulator is seeded and the engine runs on
the frames' own clock, so the picture is the same on every run. Stage latencies are the one
wall-clock measurement in a snapshot; they are replaced by fixed values for pictures.
"""

from __future__ import annotations

import asyncio

import msgspec

from cascade_tui.engine import Engine, EngineParams
from cascade_tui.engine.types import LatencyView, Snapshot
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sources.demo import DemoSource

PICTURE_LATENCY: dict[str, LatencyView] = {
    "parse": LatencyView(p50_ms=0.021, p99_ms=0.088, n=100_000),
    "engine": LatencyView(p50_ms=0.012, p99_ms=0.054, n=100_000),
    "signal": LatencyView(p50_ms=0.19, p99_ms=1.2, n=40),
}


def demo_pipeline(
    seed: int = 7, params: EngineParams | None = None, seconds: float | None = None
) -> Pipeline:
    """A pipeline over the seeded demo market at full speed that nobody has started yet."""
    return Pipeline(DemoSource(seed=seed, speed=0.0), Engine(params), duration_s=seconds)


async def feed(pipeline: Pipeline) -> None:
    """Push the source's batches through the pipeline until its --duration is reached.

    Unlike `Pipeline.run` this leaves the source open, so venues still read "live".
    """
    async for batch in pipeline.source.batches():
        if pipeline.process_batch(batch):
            break


def settle(pipeline: Pipeline) -> Snapshot:
    """The engine's snapshot with the source's feed status applied, as the pipeline does."""
    engine = pipeline.engine
    clock = engine.snapshot().ts
    for venue, st in pipeline.source.feed_status().items():
        engine.set_feed_status(
            venue,
            state=st.state,
            state_detail=st.detail,
            last_message_age_s=None if st.last_message_ts is None else max(0.0, clock - st.last_message_ts),
            frames=st.frames,
            reconnects=st.reconnects,
        )
    return engine.snapshot()


def demo_snapshot(seed: int = 7, seconds: float = 900.0, params: EngineParams | None = None) -> Snapshot:
    pipeline = demo_pipeline(seed, params, seconds)
    asyncio.run(feed(pipeline))
    return msgspec.structs.replace(settle(pipeline), latency=dict(PICTURE_LATENCY))
