"""--record FILE: raw frames with their receive time, in the capture format (docs/DESIGN.md §5.1).

Frames are buffered in a bounded deque (overflow drops the oldest and counts it) and written
by a background thread every `flush_interval_s`, each write one complete gzip member, so a
killed process leaves a capture readable up to the last flush. A failed write (disk full, a
removed folder) is counted and logged: the batch's frames are `lost`, the file is truncated
back to its last whole member so it stays readable, and recording goes on with the next
batch (it resumes by itself once the disk has room). Files rotate by size: `cap.cap.gz`,
then `cap.1.cap.gz`, `cap.2.cap.gz`, ...
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
        self.dropped = 0  # frames evicted from the full buffer
        self._past_frames = 0  # frames in files already closed
        self._past_lost = 0  # frames lost by writers already closed, or with no file to go to
        self.errors = 0  # failed writes
        self.last_error = ""
        self._failing = False  # the last write failed: log the recovery once
        self._started = False
        self._closed = False
        # a cancelled `to_thread` keeps running: close() must not drain at the same time
        self._drain_lock = threading.Lock()

    def on_frame(self, frame: RawFrame) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(frame)

    async def start(self) -> None:
        self._writer = self._open(0)
        self._started = True
        self._task = asyncio.create_task(self._run(), name="recorder")

    def _open(self, index: int) -> CaptureWriter:
        path = rotated_path(self.path, index)
        writer = CaptureWriter(path, {**self.header, "part": index})  # the header alone is a readable capture
        self.files.append(path)
        return writer

    def _drain(self) -> None:
        """Write everything buffered (runs in a worker thread)."""
        with self._drain_lock:
            if not self._closed:
                self._drain_locked()

    def _drain_all(self) -> None:
        """At close: drain until the buffer is empty (a failed write stops one drain)."""
        while self._buffer:
            before = len(self._buffer)
            self._drain()
            if len(self._buffer) >= before:
                break

    @property
    def written(self) -> int:
        """Frames durably in the files."""
        return self._past_frames + (self._writer.frames if self._writer is not None else 0)

    @property
    def lost(self) -> int:
        """Frames whose write failed."""
        return self._past_lost + (self._writer.lost if self._writer is not None else 0)

    def _retire_current(self) -> None:
        """Close the current file (flushing it) and keep its counts."""
        writer = self._writer
        if writer is None:
            return
        self._writer = None
        try:
            writer.close()
        finally:
            self._past_frames += writer.frames
            self._past_lost += writer.lost

    def _drain_locked(self) -> None:
        buffer = self._buffer
        if not buffer:
            return
        try:
            if self._writer is None:  # the last rotation could not create its file: try again
                self._writer = self._open(self._index)
            writer = self._writer
            write = writer.write
            for _ in range(len(buffer)):
                write(buffer.popleft())
                if writer.size >= self.max_bytes:
                    self._retire_current()
                    self._index += 1
                    writer = self._writer = self._open(self._index)
                    write = writer.write
            writer.flush()
        except OSError as exc:
            if self._writer is None:  # no file to write to: what is buffered now is lost too
                self._past_lost += len(buffer)
                buffer.clear()
            self._write_failed(exc)
            return
        if self._failing:
            self._failing = False
            log.warning("recording to %s resumed (%d frames lost while writes failed)", writer.path, self.lost)

    def _write_failed(self, exc: OSError) -> None:
        path = exc.filename or rotated_path(self.path, self._index)
        self.errors += 1
        self.last_error = f"{path}: {exc.strerror or exc}"
        if not self._failing:
            self._failing = True
            log.error(
                "recording to %s failed (%s): this batch is lost, the capture stays readable up to it; "
                "retrying with the next batch",
                path,
                exc.strerror or exc,
            )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await asyncio.to_thread(self._drain)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not self._started or self._closed:
            return
        try:
            await asyncio.to_thread(self._drain_all)
        finally:
            with self._drain_lock:
                self._closed = True
                if self._buffer:  # writes kept failing: what could not be written is lost
                    self._past_lost += len(self._buffer)
                    self._buffer.clear()
                try:
                    self._retire_current()  # everything was flushed by the drain
                except OSError as exc:
                    self._write_failed(exc)

    def stats(self) -> dict[str, Any]:
        return {
            "state": "closed" if self._closed or not self._started else ("failing" if self._failing else "recording"),
            "files": [str(p) for p in self.files],
            "frames": self.written,
            "drops": {"recorder": self.dropped},
            "lost": self.lost,
            "errors": self.errors,
            "last_error": self.last_error,
        }
