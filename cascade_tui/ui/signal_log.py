"""Signal log: signal transitions (and the dashboard's own notes), newest first, filterable."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from cascade_tui.engine.types import Signal, Snapshot
from cascade_tui.text import printable
from cascade_tui.ui import format as fmt
from cascade_tui.ui.palette import Palette
from cascade_tui.ui.view_state import UiLogEntry, ViewState

MAX_LINES = 300  # bounded whatever the snapshot holds


@dataclass(frozen=True)
class LogLine:
    ts: float
    signal: Signal | None
    note: str | None


def merge_lines(signals: Iterable[Signal], notes: Iterable[UiLogEntry], asset_filter: str) -> list[LogLine]:
    """Signals and notes, newest first, bounded; a filter by asset shows that asset's signals
    only (the dashboard's parameter notes would otherwise sit on top of them)."""
    wanted = asset_filter.upper()
    lines = [LogLine(s.ts, s, None) for s in signals if not wanted or s.asset.upper() == wanted]
    if not wanted:
        lines += [LogLine(n.ts, None, n.text) for n in notes]
    lines.sort(key=lambda line: line.ts, reverse=True)
    return lines[:MAX_LINES]


def signal_text(sig: Signal, pal: Palette) -> Text:
    colour = pal.level(sig.level)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(fmt.clock(sig.ts) + " ", pal.dim)
    text.append(f"{'MARKET' if sig.asset == '*' else printable(sig.asset):<6} ", "bold")
    closing = sig.state == "close"
    text.append(f"{sig.level_name:<8} ", f"bold {pal.dim}" if closing else f"bold {colour}")
    text.append(f"{sig.state:<10} ", pal.dim if closing else "")
    text.append(f"{sig.score:.2f} ", colour if not closing else pal.dim)
    text.append(("▼ long " if sig.direction == "long" else "▲ short") + " ", pal.side(sig.direction))
    why = getattr(sig, "why", None)  # DESIGN §5.1; a signal from an older ingester has none
    if why:  # before the venues: why the level changed matters more than where
        text.append(fmt.why_short(why) + " · ", pal.dim if closing else pal.fg)
    text.append(",".join(sig.venues), pal.dim)
    return text


class SignalLog(VerticalScroll, can_focus=True):
    def __init__(self, view: ViewState, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self._key: tuple[object, ...] | None = None
        self.lines = Static(id="signal-lines")

    def compose(self) -> ComposeResult:
        yield self.lines

    def update_titles(self, snapshot: Snapshot | None) -> None:
        counts = snapshot.signal_counts if snapshot is not None else {}
        # whole words: "W1 W1 C0" left a reader guessing which W was which
        summary = " · ".join(f"{counts.get(name, 0)} {name.lower()}" for name in ("WATCH", "WARNING", "CRITICAL"))
        flt = f" · asset {self.view.signal_filter}" if self.view.signal_filter else ""
        self.border_title = f"Signals{flt}"
        self.border_subtitle = Content(f"{summary} · [/] filter")

    def show(self, snapshot: Snapshot | None, pal: Palette, *, force: bool = False) -> None:
        self.update_titles(snapshot)
        signals = snapshot.signals if snapshot is not None else ()
        newest = signals[0] if signals else None
        key = (id(newest), len(signals), len(self.view.ui_log), self.view.signal_filter)
        if key == self._key and not force:
            return  # Static.update costs a layout pass: only when something changed
        self._key = key
        lines = merge_lines(signals, self.view.ui_log, self.view.signal_filter)
        body = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(lines):
            if i:
                body.append("\n")
            if line.signal is not None:
                body.append_text(signal_text(line.signal, pal))
            else:
                body.append(fmt.clock(line.ts) + " ", pal.dim)
                body.append(f"⚙ {line.note}", pal.accent)
        if not lines:
            body.append(
                "no signals yet"
                if not self.view.signal_filter
                else f"no signals for {self.view.signal_filter}",
                pal.dim,
            )
        self.lines.update(body)
