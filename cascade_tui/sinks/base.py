"""Where results go. The pipeline calls these hooks synchronously on the engine's loop, so
a sink must never block: it enqueues (bounded, dropping the oldest and counting the drop)
and does its I/O in its own task started by `start()`.
"""

from __future__ import annotations

from typing import Any

from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.types import Signal, Snapshot
from cascade_tui.model import Event, RawFrame


class Sink:
    """Base class with no-op hooks; override what the sink needs."""

    name: str = "sink"

    async def start(self) -> None:
        """Start background tasks (connections, writers). Called once before any hook."""

    def on_frame(self, frame: RawFrame) -> None:
        """Every raw frame as received (the capture recorder)."""

    def on_event(self, ev: Event) -> None:
        """Every normalized event (Redis stream, history)."""

    def on_signal(self, sig: Signal) -> None:
        """Every signal transition."""

    def on_snapshot(self, snap: Snapshot) -> None:
        """The engine's snapshot, offered ~10 times per second of wall time (metrics publishing)."""

    def on_params(self, params: EngineParams, version: int) -> None:
        """Engine parameters changed (threshold keys, editor)."""

    close_timeout_s: float = 10.0  # how long the pipeline waits for close()

    async def close(self) -> None:
        """Flush what is queued (within close_timeout_s) and stop. Idempotent."""

    def stats(self) -> dict[str, Any]:
        """{"state": str, "drops": {queue: n}, ...} for --stats and the health panel."""
        return {}
