"""Signals as JSON lines on stdout (headless mode): one line per signal transition.

When the reader goes away (`cascade-tui --no-ui | head -5`), the pipe breaks: the sink calls
`on_closed` (the runtime wires it to `Pipeline.stop`, so the run ends cleanly, exit 0) and
points the stdout descriptor at /dev/null so the interpreter's final flush cannot complain.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import BinaryIO

from cascade_tui.engine.types import Signal, signal_encoder
from cascade_tui.sinks.base import Sink


class JsonLinesSink(Sink):
    name = "stdout"

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout.buffer
        self.lines = 0
        self.errors = 0
        self.closed = False  # the reader went away
        self.on_closed: Callable[[], None] | None = None

    def on_signal(self, sig: Signal) -> None:
        # a consumer reading line by line must see each transition as it happens
        try:
            self.stream.write(signal_encoder.encode(sig) + b"\n")
            self.stream.flush()
            self.lines += 1
        except BrokenPipeError:
            self._reader_gone()
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                self._reader_gone()
            else:
                self.errors += 1
        except ValueError:  # written after the stream was closed
            self.errors += 1

    def _reader_gone(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # not a real descriptor (tests): nothing to silence
            pass
        if self.on_closed is not None:
            self.on_closed()

    def stats(self) -> dict[str, object]:
        return {"state": "closed" if self.closed else ("ok" if not self.errors else "broken"), "lines": self.lines, "errors": self.errors}
