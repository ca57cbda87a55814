"""Plays a time-ordered iterator of frames at a chosen speed: the demo and replay sources.

speed 1 = real time, 10 = ten times faster, 0 = as fast as possible. The frames' own `ts`
drives the engine whatever the speed, so any speed gives the same signals. Controls
(pause, resume, speed, run to the next signal) must be called on the pipeline's loop.

Input comes as batches of frames (a capture reader yields a decompressed block at a time).
At speed 0 and not paused a batch is handed on whole, with the feed status updated once per
batch; otherwise frames are paced one by one.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from operator import attrgetter
from typing import Any

from cascade_tui.model import RawFrame
from cascade_tui.sources.base import FeedStatus, Item, Source

MAX_BATCH = 2048
_venue_of = attrgetter("venue")
# While running to the next signal, frames go out in small batches: the pipeline processes a
# whole batch (and has fetched the next) before the pause can act, so a 2048-frame batch ran
# 20-100 s of market past the signal
SEEK_BATCH = 8


class PacedSource(Source):
    def __init__(
        self,
        frames: Iterable[RawFrame] | None = None,
        *,
        batches: Iterable[list[RawFrame]] | None = None,
        kind: str,
        label: str,
        speed: float = 1.0,
        start_ts: float | None = None,
        end_ts: float | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.kind = kind
        self._label = label
        if batches is None:
            if frames is None:
                raise ValueError("give frames or batches")
            batches = _chunked(frames, MAX_BATCH)
        elif frames is not None:
            raise ValueError("give frames or batches, not both")
        self._batches: Iterable[list[RawFrame]] = batches
        self.speed = speed
        self.start_ts = start_ts
        self.end_ts = end_ts
        self.position_ts: float | None = None
        self.paused = False
        self._resume = asyncio.Event()
        self._resume.set()
        self._seek_signal = False
        self._saved_speed = speed
        self._anchor: tuple[float, float] | None = None  # (wall, ts)
        self._status: dict[str, FeedStatus] = {}
        self._closed = False
        self.error: str | None = None  # set by subclasses when the input ended on damage

    def label(self) -> str:
        return self._label

    # ------------------------------------------------------------------ controls

    def pause(self) -> None:
        self.paused = True
        self._resume.clear()

    def resume(self) -> None:
        self.paused = False
        self._anchor = None
        self._resume.set()

    def toggle_pause(self) -> None:
        if self.paused:
            self.resume()
        else:
            self.pause()

    def set_speed(self, speed: float) -> None:
        self.speed = max(0.0, speed)
        self._anchor = None

    def seek_next_signal(self) -> None:
        """Run as fast as possible until the next signal transition, then pause there."""
        if not self._seek_signal:
            self._saved_speed = self.speed
        self._seek_signal = True
        self.speed = 0.0
        self.resume()

    def on_signal(self) -> None:
        if self._seek_signal:
            self._seek_signal = False
            self.speed = self._saved_speed
            self.pause()

    def progress(self) -> dict[str, Any]:
        return {
            "ts": self.position_ts,
            "start": self.start_ts,
            "end": self.end_ts,
            "speed": self.speed,
            "paused": self.paused,
        }

    def feed_status(self) -> dict[str, FeedStatus]:
        return self._status

    async def close(self) -> None:
        self._closed = True
        self._resume.set()
        for st in self._status.values():
            st.state = "done"

    # ------------------------------------------------------------------ playing

    def _note(self, frame: RawFrame) -> None:
        st = self._status.get(frame.venue)
        if st is None:
            st = self._status[frame.venue] = FeedStatus(venue=frame.venue, state="live", detail=self.kind)
        st.frames += 1
        st.last_message_ts = frame.ts

    def _note_batch(self, batch: list[RawFrame]) -> None:
        """Feed status for a whole batch: frame counts per venue; last message time = the
        batch's last receive time for every venue in it."""
        last = batch[-1].ts
        status = self._status
        for venue, n in Counter(map(_venue_of, batch)).items():  # counted in C, not a generator
            st = status.get(venue)
            if st is None:
                st = status[venue] = FeedStatus(venue=venue, state="live", detail=self.kind)
            st.frames += n
            st.last_message_ts = last

    def _fast(self) -> bool:
        # whole batches at plain speed 0; a seek (run to the next signal) goes in small batches
        return self.speed == 0 and self._resume.is_set() and not self._seek_signal

    async def batches(self) -> AsyncIterator[list[Item]]:
        for chunk in self._batches:
            if self._closed:
                break
            if not chunk:
                continue
            if self.start_ts is None:
                self.start_ts = chunk[0].ts
            done = 0
            while done < len(chunk) and self._fast() and not self._closed:
                # whole batches while nothing asks for pacing; speed and pause are checked again
                # after each (the UI may change them while the pipeline works on one)
                part = chunk[done : done + MAX_BATCH] if done or len(chunk) > MAX_BATCH else chunk
                done += len(part)
                self._note_batch(part)
                self.position_ts = part[-1].ts
                yield part  # type: ignore[misc]
                await asyncio.sleep(0)
            if done < len(chunk) and not self._closed:
                async for batch in self._paced(chunk[done:] if done else chunk):
                    yield batch
            if self._closed:
                break
        for st in self._status.values():
            st.state = "done"

    async def _paced(self, chunk: list[RawFrame]) -> AsyncIterator[list[Item]]:
        """Frames one by one, at the chosen speed, obeying pause (the slow path)."""
        batch: list[Item] = []
        for frame in chunk:
            if self._closed:
                break
            if not self._resume.is_set():
                if batch:
                    yield batch
                    batch = []
                await self._resume.wait()
                if self._closed:
                    break
            if self.speed > 0:
                now = time.monotonic()
                if self._anchor is None:
                    self._anchor = (now, frame.ts)
                wall0, ts0 = self._anchor
                due = wall0 + (frame.ts - ts0) / self.speed
                if due > now:
                    if batch:
                        yield batch
                        batch = []
                    await asyncio.sleep(min(due - now, 0.5))
                    # a long gap is slept in slices so pause/speed/close act promptly
                    while not self._closed and self.speed > 0 and self._anchor is not None:
                        wall0, ts0 = self._anchor
                        due = wall0 + (frame.ts - ts0) / self.speed
                        left = due - time.monotonic()
                        if left <= 0:
                            break
                        await asyncio.sleep(min(left, 0.5))
            self.position_ts = frame.ts
            self._note(frame)
            batch.append(frame)
            if len(batch) >= (SEEK_BATCH if self._seek_signal else MAX_BATCH):
                yield batch
                batch = []
                await asyncio.sleep(0)
        if batch:
            yield batch


def _chunked(frames: Iterable[RawFrame], size: int) -> Iterator[list[RawFrame]]:
    chunk: list[RawFrame] = []
    for frame in frames:
        chunk.append(frame)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
