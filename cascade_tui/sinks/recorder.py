"""--record FILE: raw frames with their receive time, in the capture format (DESIGN.md §5.1).

Frames are buffered in a bounded deque (overflow drops the oldest and counts it) and written
by a background thread every `flush_interval_s`, each write ending in a full gzip flush so a
killed process leaves a capture readable up to the last flush. Files rotate by size:
`cap.cap.gz`, then `cap.1.cap.gz`, `cap.2.cap.gz`, ...
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from cascade_tui import __version__
from cascade_tui.capture import CaptureWriter
from cascade_tui.model import RawFrame
from cascade_tui.sinks.base import Sink

log = logging.getLogger(__name__)


def rotated_path(path: Path, index: int) -> Path:
    if index == 0:
        return path
    name = path.name
    stem, dot, rest = name.partition(".")
    return path.with_name(f"{stem}.{index}.{rest}" if dot else f"{name}.{index}")


class RecorderSink(Sink):
    name = "recorder"

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int = 512 * 1024 * 1024,
        buffer_frames: int = 200_000,
        flush_interval_s: float = 0.5,
        header: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.flush_interval_s = flush_interval_s
        self.header = {"source": "cascade-tui", "version": __version__, "created": time.time(), **(header or {})}
        self._buffer: collections.deque[RawFrame] = collections.deque(maxlen=buffer_frames)
        self._writer: CaptureWriter | None = None
        self._index = 0
        self._task: asyncio.Task[None] | None = None
        self.files: list[Path] = []
        self.written = 0
        self.dropped = 0
        self.errors = 0
        # a cancelled `to_thread` keeps running: close() must not drain at the same time
        self._drain_lock = threading.Lock()

    def on_frame(self, frame: RawFrame) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(frame)

    async def start(self) -> None:
        self._writer = self._open(0)
        self._task = asyncio.create_task(self._run(), name="recorder")

    def _open(self, index: int) -> CaptureWriter:
        path = rotated_path(self.path, index)
        writer = CaptureWriter(path, {**self.header, "part": index})
        writer.flush()  # the header alone is already a readable capture
        self.files.append(path)
        return writer

    def _drain(self) -> None:
        """Write everything buffered (runs in a worker thread)."""
        with self._drain_lock:
            self._drain_locked()

    def _drain_locked(self) -> None:
        if self._writer is None:
            return
        n = len(self._buffer)
        for _ in range(n):
            frame = self._buffer.popleft()
            self._writer.write(frame)
            self.written += 1
            if self._writer.bytes_written >= self.max_bytes:
                self._writer.close()
                self._index += 1
                self._writer = self._open(self._index)
        if n:
            self._writer.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await asyncio.to_thread(self._drain)
            except OSError as exc:
                self.errors += 1
                log.error("recording to %s failed: %s", self.path, exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._writer is not None:
            try:
                await asyncio.to_thread(self._drain)
            finally:
                with self._drain_lock:
                    self._writer.close()
                    self._writer = None

    def stats(self) -> dict[str, Any]:
        return {
            "state": "recording" if self._writer else "closed",
            "files": [str(p) for p in self.files],
            "frames": self.written,
            "drops": {"recorder": self.dropped},
            "errors": self.errors,
        }
