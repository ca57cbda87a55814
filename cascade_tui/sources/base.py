"""Where frames come from. Every source yields batches in receive-time order.

A source yields `RawFrame`s (live connections, captures, the simulator), which the pipeline
parses with the venue's parser, or already-normalized `Event`s (the Redis remote source).
Batching keeps the per-item overhead of the async machinery off the hot path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from cascade_tui.model import Event, RawFrame

Item = RawFrame | Event


class FeedStatus(msgspec.Struct):
    """Connection health of one venue, as the source sees it."""

    venue: str
    state: str = "connecting"  # connecting live stale reconnecting blocked disabled done
    detail: str = ""  # "attempt 3", "HTTP 451 (geo-blocked)", "replay"
    last_message_ts: float | None = None  # wall/engine time of the last frame
    frames: int = 0
    errors: int = 0  # connection-level errors (not parse errors)
    reconnects: int = 0
    drops: int = 0  # frames dropped by a full queue
    # the last connection failure, classified (feeds/failure.py: dns refused unreachable reset
    # tls timeout blocked http handshake closed stale error); "" when none
    failure: str = ""


class Source:
    """Base class. Subclasses implement `batches()`; the rest has sensible defaults."""

    kind: str = "source"  # live | demo | replay | redis
    # set by the pipeline: a live source calls it with the venue id after every reconnect so
    # the venue's parser forgets per-connection state (ticker deltas, snapshot de-dup)
    reconnect_hook: Callable[[str], None] | None = None

    def label(self) -> str:
        """Short human description for the status bar ("demo seed 7", "replay ×10 a.cap.gz")."""
        return self.kind

    def batches(self) -> AsyncIterator[list[Item]]:
        raise NotImplementedError

    def feed_status(self) -> dict[str, FeedStatus]:
        return {}

    def on_signal(self) -> None:
        """Called by the pipeline when a signal transition happened (replay: `n` = next signal)."""

    def counters(self) -> dict[str, int]:
        """Input the source counted and skipped or corrected (replay: bad lines, bad times)."""
        return {}

    def progress(self) -> dict[str, Any]:
        """Replay/demo position for the UI: {"ts", "start", "end", "speed", "paused"} where known."""
        return {}

    async def close(self) -> None:
        """Stop producing and release connections/files. Idempotent."""
