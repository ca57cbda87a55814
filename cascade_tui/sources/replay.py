"""Replays capture files (DESIGN.md §5.1) through the same parsers and engine.

Several captures play one after the other, in the order given. A damaged capture plays up to
the damage; `errors` says where each one stopped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from cascade_tui.capture import CaptureReader
from cascade_tui.model import RawFrame
from cascade_tui.sources.paced import PacedSource

log = logging.getLogger(__name__)


class ReplaySource(PacedSource):
    def __init__(self, paths: Sequence[str | os.PathLike[str]], *, speed: float = 0.0) -> None:
        self.paths = [Path(p) for p in paths]
        # open every reader now so a missing or foreign file fails before anything runs
        self.readers = [CaptureReader(p) for p in self.paths]
        self.errors: list[str] = []
        names = ", ".join(p.name for p in self.paths)
        speed_txt = "max" if speed == 0 else f"×{speed:g}"
        super().__init__(self._iterate(), kind="replay", label=f"replay {speed_txt} {names}", speed=speed)

    def _iterate(self) -> Iterator[RawFrame]:
        for reader in self.readers:
            yield from reader
            if reader.error:
                msg = f"replay stopped early: {reader.error} ({reader.frames_read} frames played)"
                log.warning(msg)
                self.errors.append(msg)
                self.error = msg

    def label(self) -> str:
        speed_txt = "max" if self.speed == 0 else f"×{self.speed:g}"
        return f"replay {speed_txt} " + ", ".join(p.name for p in self.paths)
