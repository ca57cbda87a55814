"""Top status line: source, Redis, event rate, uptime (engine clock), BTC price, regime, level.

The line never wraps. When the terminal is too narrow for every part, parts are dropped by
priority, not cut at the right edge: `DISPLAY PAUSED` always shows, then the market-wide
level and the BTC regime survive longest, then the BTC price; the brand, uptime, event rate,
Redis and source go first (in that order).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from cascade_tui.engine.types import Snapshot
from cascade_tui.text import printable
from cascade_tui.ui import format as fmt
from cascade_tui.ui.palette import Palette

SEPARATOR = " │ "
NO_DATA = "no data"


@dataclass(frozen=True)
class Part:
    """One part of the status line; a higher `priority` is dropped later."""

    text: Text
    priority: int


def short_redis_label(label: str) -> str:
    """What the status line says about Redis: `embedded`, not the socket path it lives on
    (the full label, with the path for `redis-cli -s`, is in the log and the help screen)."""
    if label.startswith("embedded"):
        return "embedded"
    if label.startswith("source: "):
        return label.removeprefix("source: ")
    return label


def has_data(snapshot: Snapshot | None) -> bool:
    """True once the engine has seen at least one event (before that, every number is a default)."""
    return snapshot is not None and snapshot.events_total > 0


def fit(parts: list[Part], width: int, sep: Text) -> Text:
    """The parts, in their order, without the lowest-priority ones that do not fit `width`."""
    kept = list(parts)

    def length(items: list[Part]) -> int:
        return sum(p.text.cell_len for p in items) + sep.cell_len * max(0, len(items) - 1) + 1

    while len(kept) > 1 and length(kept) > width:
        kept.remove(min(kept, key=lambda p: p.priority))
    line = Text(" ", no_wrap=True, overflow="ellipsis")
    for i, part in enumerate(kept):
        if i:
            line.append_text(sep)
        line.append_text(part.text)
    return line


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

    def parts(self, pal: Palette) -> list[Part]:
        parts = [
            Part(Text("◆ cascade", f"bold {pal.primary}"), 0),
            Part(Text(self.source_label or "—", "bold"), 3),
            Part(self._redis_text(pal), 2),
        ]
        snap = self.snapshot
        if not has_data(snap):
            parts.append(Part(Text("waiting for data…" if snap is None else NO_DATA, pal.dim), 8))
        else:
            assert snap is not None
            rate = Text(fmt.rate(snap.events_per_s), "bold")
            rate.append(" ev/s", pal.dim)
            parts.append(Part(rate, 1))
            uptime = snap.ts - snap.started_ts if snap.started_ts is not None else None
            up = Text("up ", pal.dim)
            up.append(fmt.duration(uptime))
            parts.append(Part(up, 0))
            btc = Text("BTC ", pal.dim)
            btc.append(fmt.price(snap.volatility.btc_price), "bold")
            parts.append(Part(btc, 5))
            regime = snap.volatility.regime
            if snap.volatility.btc_price is None:
                parts.append(Part(Text("regime: no BTC data", pal.dim), 6))
            else:
                parts.append(Part(Text(f" {regime} ", f"bold reverse {pal.regime(regime)}"), 6))
            level = snap.market_level
            market = Text("market-wide ", pal.dim)
            market.append(
                fmt.level_name(level) if level else "calm", f"bold {pal.level(level)}" if level else pal.dim
            )
            # "market-wide calm" beside a CRITICAL asset reads as a contradiction: name the alarm
            top = max(snap.assets, key=lambda a: a.level, default=None)
            if not level and top is not None and top.level > 0:
                market.append(" · ", pal.dim)
                market.append(f"{printable(top.asset)} {fmt.level_name(top.level)}", f"bold {pal.level(top.level)}")
            parts.append(Part(market, 7))
        if self.display_paused:
            parts.append(Part(Text(" DISPLAY PAUSED ", f"bold reverse {pal.accent}"), 9))
        return parts

    def _redis_text(self, pal: Palette) -> Text:
        text = Text("redis ", pal.dim)
        if self.redis_label == "off":
            text.append("off", pal.dim)
            return text
        text.append(short_redis_label(self.redis_label))
        if self.redis_state:
            state_style = pal.state("live" if self.redis_state == "connected" else self.redis_state)
            text.append(f" {self.redis_state}", f"bold {state_style}")
        return text

    def render(self) -> Text:
        pal = Palette(self.app.theme_variables)
        return fit(self.parts(pal), self.size.width or 120, Text(SEPARATOR, pal.dim))
