"""Signals as JSON lines on stdout (headless mode): one line per signal transition."""

from __future__ import annotations

import sys
from typing import BinaryIO

from cascade_tui.engine.types import Signal, signal_encoder
from cascade_tui.sinks.base import Sink


class JsonLinesSink(Sink):
    name = "stdout"

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout.buffer
        self.lines = 0
        self.errors = 0

    def on_signal(self, sig: Signal) -> None:
        # a consumer reading line by line must see each transition as it happens
        try:
            self.stream.write(signal_encoder.encode(sig) + b"\n")
            self.stream.flush()
            self.lines += 1
        except (BrokenPipeError, ValueError, OSError):
            self.errors += 1

    def stats(self) -> dict[str, object]:
        return {"state": "ok" if not self.errors else "broken", "lines": self.lines, "errors": self.errors}
