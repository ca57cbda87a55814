"""Top status line: source, Redis, event rate, uptime (engine clock), BTC price, regime."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from cascade_tui.engine.types import Snapshot
from cascade_tui.text import printable
from cascade_tui.ui import format as fmt
from cascade_tui.ui.palette import Palette


class StatusBar(Widget):
    DEFAULT_CSS = "StatusBar { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snapshot: Snapshot | None = None
        self.source_label = ""
        self.redis_label = "off"
        self.redis_state = ""
        self.display_paused = False

    def show(
        self,
        snapshot: Snapshot | None,
        *,
        source: str,
        redis: str,
        redis_state: str = "",
        display_paused: bool,
    ) -> None:
        self.snapshot = snapshot
        self.source_label = printable(source)
        self.redis_label = printable(redis)
        self.redis_state = redis_state
        self.display_paused = display_paused
        self.refresh()

    def render(self) -> Text:
        pal = Palette(self.app.theme_variables)
        sep = (" │ ", pal.dim)
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.size.width >= 100:  # the brand is the first thing to go on a small terminal
            text.append(" ◆ cascade ", f"bold {pal.primary}")
            text.append(*sep)
        else:
            text.append(" ")
        text.append(self.source_label or "—", "bold")
        text.append(*sep)
        text.append("redis ", pal.dim)
        if self.redis_label == "off":
            text.append("off", pal.dim)
        else:
            text.append(self.redis_label)
            if self.redis_state:
                state_style = pal.state("live" if self.redis_state == "connected" else self.redis_state)
                text.append(f" {self.redis_state}", f"bold {state_style}")
        snap = self.snapshot
        if snap is None:
            text.append(*sep)
            text.append("waiting for data…", pal.dim)
            return text
        text.append(*sep)
        text.append(fmt.rate(snap.events_per_s), "bold")
        text.append(" ev/s", pal.dim)
        text.append(*sep)
        text.append("up ", pal.dim)
        uptime = snap.ts - snap.started_ts if snap.started_ts is not None else None
        text.append(fmt.duration(uptime))
        text.append(*sep)
        text.append("BTC ", pal.dim)
        text.append(fmt.price(snap.volatility.btc_price), "bold")
        text.append(*sep)
        regime = snap.volatility.regime
        text.append(f" {regime} ", f"bold reverse {pal.regime(regime)}")
        text.append(*sep)
        text.append("market ", pal.dim)
        level = snap.market_level
        text.append(
            fmt.level_name(level) if level else "calm", f"bold {pal.level(level)}" if level else pal.dim
        )
        if self.display_paused:
            text.append(*sep)
            text.append(" DISPLAY PAUSED ", f"bold reverse {pal.accent}")
        return text
