"""Receive times a replay can trust: a capture's `ts` is data, and data can be wrong.

The engine's clock is the frames' receive time, so one frame stamped 1e12 (year 33658) would
fast-forward the clock past every later frame, and frames recorded out of order would be
processed at the wrong moments. `ReplayClock` sits between a capture reader and the engine:

- a frame within `max_gap_s` ahead of the clock moves it (the normal case);
- a frame slightly behind (up to `max_gap_s`) is counted `out_of_order` and played at the
  current clock: the engine clock never moves backwards;
- a frame further away in either direction is a jump, believed only when the next `confirm`
  frames agree with it (within `max_gap_s` of it): a forward jump is a gap in the recording
  and moves the clock; a confirmed backward jump (captures given in the wrong order, a
  clock stepped back) is counted in `rewinds` and the frames from there on are shifted
  forward so the replay goes on from the current clock with their spacing kept;
- a jump the next frames do not confirm is one bad timestamp: counted `bad_time`, its frame
  played at the current clock, and the clock does not move.

Frames are handled a batch at a time; in the common case (in order, no big jump) a batch is
returned as it came, without copying.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from cascade_tui.model import RawFrame

log = logging.getLogger(__name__)

MAX_GAP_S = 30.0
CONFIRM = 2


class ReplayClock:
    def __init__(self, *, max_gap_s: float = MAX_GAP_S, confirm: int = CONFIRM, name: str = "replay") -> None:
        self.max_gap_s = max_gap_s
        self.confirm = max(1, confirm)
        self.name = name
        self.clock: float | None = None  # receive time of the latest frame handed on (shifted)
        self.offset = 0.0  # added to every frame's ts after a confirmed rewind
        self.out_of_order = 0
        self.bad_time = 0
        self.rewinds = 0
        self._carry: list[RawFrame] = []  # frames waiting for their look-ahead
        self._orphans: list[RawFrame] = []  # bad frames seen before any clock

    def counters(self) -> dict[str, int]:
        return {"out_of_order": self.out_of_order, "bad_time": self.bad_time, "rewinds": self.rewinds}

    def guard(self, batches: Iterable[list[RawFrame]]) -> Iterator[list[RawFrame]]:
        """The batches with trusted times (the last frames of a batch may move to the next)."""
        for batch in batches:
            out = self.feed(batch)
            if out:
                yield out
        rest = self.finish()
        if rest:
            yield rest

    def feed(self, batch: list[RawFrame]) -> list[RawFrame]:
        frames = self._carry + batch if self._carry else batch
        self._carry = []
        return self._run(frames, final=False)

    def finish(self) -> list[RawFrame]:
        """What is still held for look-ahead, judged with what there is."""
        frames, self._carry = self._carry, []
        out = self._run(frames, final=True) if frames else []
        if self._orphans:  # no frame ever gave a clock: nothing better than their own times
            out = self._orphans + out
            self._orphans = []
        return out

    def _run(self, frames: list[RawFrame], final: bool) -> list[RawFrame]:
        clock = self.clock
        gap = self.max_gap_s
        start = 0
        if clock is not None and self.offset == 0.0:
            # the common case: in order and no big jump; hand the batch on as it is
            for f in frames:
                ts = f.ts
                if ts < clock or ts > clock + gap:
                    break
                clock = ts
                start += 1
            self.clock = clock
            if start == len(frames):
                return frames
        out = frames[:start]
        n = len(frames)
        i = start
        while i < n:
            f = frames[i]
            ts = f.ts + self.offset
            clock = self.clock
            if clock is not None and clock <= ts <= clock + gap:
                self.clock = ts
                out.append(f if self.offset == 0.0 else RawFrame(ts, f.venue, f.data, f.channel))
            elif clock is not None and clock - gap <= ts < clock:
                self.out_of_order += 1
                out.append(RawFrame(clock, f.venue, f.data, f.channel))
            else:
                ahead = frames[i + 1 : i + 1 + self.confirm]
                if len(ahead) < self.confirm and not final:
                    self._carry = frames[i:]  # decide when the next batch brings the look-ahead
                    break
                self._jump(f, ts, ahead, out)
            i += 1
        return out

    def _jump(self, f: RawFrame, ts: float, ahead: list[RawFrame], out: list[RawFrame]) -> None:
        gap = self.max_gap_s
        offset = self.offset
        clock = self.clock
        confirmed = all(abs(g.ts + offset - ts) <= gap for g in ahead) and (bool(ahead) or clock is None)
        if not confirmed:
            self.bad_time += 1
            if clock is None:
                self._orphans.append(f)
            else:
                out.append(RawFrame(clock, f.venue, f.data, f.channel))
            return
        if clock is None or ts > clock:
            self.clock = ts  # a gap in the recording (or the first frame)
            if self._orphans:
                out.extend(RawFrame(ts, o.venue, o.data, o.channel) for o in self._orphans)
                self._orphans = []
            out.append(f if offset == 0.0 else RawFrame(ts, f.venue, f.data, f.channel))
            return
        # time went back and stays back: go on from the current clock, spacing kept
        self.rewinds += 1
        self.offset += clock - ts
        log.warning(
            "%s: receive times go back %.1f s at a frame of %s; played from the current clock on "
            "(the engine clock never moves backwards)",
            self.name,
            clock - ts,
            f.venue,
        )
        out.append(RawFrame(clock, f.venue, f.data, f.channel))
