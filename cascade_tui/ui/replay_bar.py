"""Demo/replay transport line: play state, speed, the capture's clock and a progress bar."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from cascade_tui.ui import format as fmt
from cascade_tui.ui.palette import Palette


def speed_label(speed: float) -> str:
    return "max" if speed == 0 else f"×{speed:g}"


class ReplayBar(Widget):
    DEFAULT_CSS = "ReplayBar { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.progress: dict[str, Any] = {}
        self.ended = False

    def show(self, progress: dict[str, Any], *, ended: bool = False) -> None:
        if progress != self.progress or ended != self.ended:
            self.progress = dict(progress)
            self.ended = ended
            self.refresh()

    def fraction(self) -> float | None:
        ts, start, end = (self.progress.get(k) for k in ("ts", "start", "end"))
        if ts is None or start is None or end is None or end <= start:
            return None
        return min(1.0, max(0.0, (ts - start) / (end - start)))

    def render(self) -> Text:
        pal = Palette(self.app.theme_variables)
        p = self.progress
        paused = bool(p.get("paused"))
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.ended:
            text.append(" ■ ended  ", f"bold {pal.dim}")
        else:
            text.append(
                " ⏸ paused " if paused else " ▶ playing",
                f"bold {pal.accent if paused else pal.get('state-live')}",
            )
        text.append(f"  {speed_label(float(p.get('speed') or 0.0))}", "bold")
        text.append("  " + fmt.date_clock(p.get("ts")) + " UTC", pal.fg)
        frac = self.fraction()
        keys = "  space pause · +/- speed · n next signal"
        if frac is not None:
            width = max(10, self.size.width - text.cell_len - len(keys) - 8)
            text.append("  ")
            text.append(fmt.bar(frac, width), pal.primary)
            text.append(f" {frac * 100:3.0f}%")
        text.append(keys, pal.dim)
        return text
