"""The sink hooks that do something, bound once: the pipeline's hot loop calls only these.

Most sinks override one or two of `Sink`'s no-op hooks (the recorder only `on_frame`, the
JSON lines sink only `on_signal`); calling the others for every frame and event cost ~1 µs a
frame in a replay. A sink that does not override a hook is left out of that hook's list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.types import Signal, Snapshot
from cascade_tui.model import Event, RawFrame
from cascade_tui.sinks.base import Sink


def _overriding(sinks: Sequence[Sink], hook: str) -> list[Callable[..., Any]]:
    base = getattr(Sink, hook)
    return [getattr(sink, hook) for sink in sinks if getattr(type(sink), hook, base) is not base]


class SinkHooks:
    """Bound methods per hook, in the sinks' order."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.count = len(sinks)
        self.on_frame: list[Callable[[RawFrame], None]] = _overriding(sinks, "on_frame")
        self.on_event: list[Callable[[Event], None]] = _overriding(sinks, "on_event")
        self.on_signal: list[Callable[[Signal], None]] = _overriding(sinks, "on_signal")
        self.on_snapshot: list[Callable[[Snapshot], None]] = _overriding(sinks, "on_snapshot")
        self.on_params: list[Callable[[EngineParams, int], None]] = _overriding(sinks, "on_params")
