"""What the user chose to see (window, tape floor, filter, selected level), separate from data."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from cascade_tui.engine.params import LEVEL_NAMES, WINDOWS, EngineParams

# The tape floor cycles through: the per-asset floors of the config, then uniform floors.
TAPE_FLOOR_STEPS: tuple[float | None, ...] = (None, 100_000.0, 1_000_000.0, 0.0)
UI_LOG_MAX = 200


@dataclass(frozen=True)
class UiLogEntry:
    """A line the dashboard itself adds to the signal log (parameter changes, saves)."""

    ts: float  # engine clock when it happened (deterministic in replays and tests)
    text: str


@dataclass
class ViewState:
    params: EngineParams
    tape_min_usd: dict[str, float]
    window_s: int = 5
    tape_floor_step: int = 0
    signal_filter: str = ""
    selected_level: int = 2  # 1 WATCH, 2 WARNING, 3 CRITICAL
    display_paused: bool = False
    ui_log: deque[UiLogEntry] = field(default_factory=lambda: deque(maxlen=UI_LOG_MAX))

    @property
    def window_index(self) -> int:
        return WINDOWS.index(self.window_s) if self.window_s in WINDOWS else 1

    def cycle_window(self) -> None:
        self.window_s = WINDOWS[(self.window_index + 1) % len(WINDOWS)]

    def cycle_tape_floor(self) -> None:
        self.tape_floor_step = (self.tape_floor_step + 1) % len(TAPE_FLOOR_STEPS)

    def tape_floor(self, asset: str) -> float:
        uniform = TAPE_FLOOR_STEPS[self.tape_floor_step]
        if uniform is not None:
            return uniform
        return self.tape_min_usd.get(asset, self.tape_min_usd.get("default", 0.0))

    def tape_floor_label(self) -> str:
        uniform = TAPE_FLOOR_STEPS[self.tape_floor_step]
        if uniform is None:
            return "per-asset floor"
        if uniform == 0:
            # the engine keeps no print below its own tape floor: say so rather than "all sizes"
            floor = self.params.tape_min_usd
            return f"all the engine keeps (≥ ${floor / 1e3:g}k)" if floor > 0 else "all sizes"
        return f"≥ ${uniform / 1e6:g}M" if uniform >= 1e6 else f"≥ ${uniform / 1e3:g}k"

    @property
    def selected_level_name(self) -> str:
        return LEVEL_NAMES[self.selected_level]
