"""The engine: pure, synchronous, no I/O, no wall clock.

API (the contract every source, sink and the UI relies on):

    engine = Engine(params: EngineParams | None = None)
    engine.process(ev: Event) -> list[Signal]     # O(1) amortized; clock = ev.recv_ts
    engine.tick(ts: float) -> list[Signal]        # advance the clock with no event (quiet
                                                  # periods close signals); ts <= clock is a no-op
    engine.snapshot() -> Snapshot                 # immutable view (engine/types.py)
    engine.set_params(params: EngineParams) -> None   # validated; takes effect at once
    engine.params -> EngineParams
    engine.set_feed_status(venue: str, **status) -> None  # connection health shown in snapshot
    engine.record_latency(stage: str, seconds: float) -> None  # stages measured outside the
                                                  # engine (parse, publish) join the snapshot
    engine.stats() -> dict                        # counters for --stats (signals, events)

Clock: the engine's time is the receive time of the frame being processed (`recv_ts`), never
`time.time()`. Events are expected in non-decreasing recv_ts order; a late event is processed
at the current clock (counted in stats()["out_of_order"]).
"""

from __future__ import annotations

from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.types import Signal, Snapshot
from cascade_tui.model import Event


class Engine:  # interface placeholder; the implementation replaces this body
    def __init__(self, params: EngineParams | None = None) -> None:
        self.params = params or EngineParams()

    def process(self, ev: Event) -> list[Signal]:
        raise NotImplementedError

    def tick(self, ts: float) -> list[Signal]:
        raise NotImplementedError

    def snapshot(self) -> Snapshot:
        raise NotImplementedError
