"""Pure metrics engine (no I/O, no wall clock, no UI). See core.py for the API."""

from cascade_tui.engine.core import Engine
from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.types import Signal, Snapshot

__all__ = ["Engine", "EngineParams", "Signal", "Snapshot"]
