"""Replays capture files (docs/DESIGN.md §5.1) through the same parsers and engine.

Several captures play one after the other, in the order given. Every capture is opened (and
its header read) when the source is built, so a missing, foreign or empty file fails before
anything runs. A bad line is counted and skipped; a damaged capture plays up to the damage
(`errors` says where each one stopped). Receive times pass through a `ReplayClock`, which
counts frames out of order and bad timestamps and never lets the engine clock run backwards.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from cascade_tui.capture import CaptureReader
from cascade_tui.model import RawFrame
from cascade_tui.sources.paced import PacedSource
from cascade_tui.sources.replay_clock import ReplayClock

log = logging.getLogger(__name__)


class ReplaySource(PacedSource):
    def __init__(
        self, paths: Sequence[str | os.PathLike[str]], *, speed: float = 0.0, clock: ReplayClock | None = None
    ) -> None:
        self.paths = [Path(p) for p in paths]
        # open every reader now so a missing or foreign file fails before anything runs
        self.readers = [CaptureReader(p) for p in self.paths]
        self.errors: list[str] = []
        self.clock = clock or ReplayClock(name=", ".join(p.name for p in self.paths))
        names = ", ".join(p.name for p in self.paths)
        speed_txt = "max" if speed == 0 else f"×{speed:g}"
        super().__init__(
            batches=self.clock.guard(self._read()), kind="replay", label=f"replay {speed_txt} {names}", speed=speed
        )

    def _read(self) -> Iterator[list[RawFrame]]:
        for reader in self.readers:
            yield from reader.batches()
            skipped = reader.bad_lines + reader.oversized_lines
            if skipped:
                log.warning(
                    "%s: %d bad and %d oversized lines skipped (%d frames played)",
                    reader.path, reader.bad_lines, reader.oversized_lines, reader.frames_read,
                )  # fmt: skip
            if reader.error:
                msg = f"replay stopped early: {reader.error} ({reader.frames_read} frames played)"
                log.warning(msg)
                self.errors.append(msg)
                self.error = msg
        clock = self.clock
        if clock.out_of_order or clock.bad_time:
            log.warning(
                "replay: %d frames out of order and %d with a bad receive time (too far from their "
                "neighbours), played at the current clock",
                clock.out_of_order, clock.bad_time,
            )  # fmt: skip

    def counters(self) -> dict[str, int]:
        """What the replay counted and skipped, for --stats."""
        out = self.clock.counters()
        out["bad_lines"] = sum(r.bad_lines for r in self.readers)
        out["oversized_lines"] = sum(r.oversized_lines for r in self.readers)
        return out

    def label(self) -> str:
        speed_txt = "max" if self.speed == 0 else f"×{self.speed:g}"
        return f"replay {speed_txt} " + ", ".join(p.name for p in self.paths)
