"""Liquidation velocity per venue: state, rates on the selected window, sparkline, saturation."""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual.content import Content

from cascade_tui.engine.types import Snapshot, VenueView
from cascade_tui.feeds.failure import failure_label
from cascade_tui.ui import format as fmt
from cascade_tui.ui.palette import Palette
from cascade_tui.ui.panel import Panel

SPARK_SECONDS = 300  # VenueView.history spans the last 5 minutes
STATE_WIDTH = 14
FIXED_COLUMNS_WIDTH = 11 + STATE_WIDTH + 6 + 7 + 2 * 4  # name, state, liq/s, USD/s and the gaps between columns


def state_label(venue: VenueView) -> str:
    """live, stale, reconnect 3, "DNS failed ×9", "refused ×2", off: what a trader needs, in at
    most 14 chars. A link that keeps failing says why (the connection loop classifies it)."""
    state = venue.state
    failure = getattr(venue, "failure", "")
    if failure and state in ("reconnecting", "connecting", "blocked"):
        attempt = re.search(r"\d+", venue.state_detail) if state == "reconnecting" else None
        count = attempt.group(0) if attempt else (str(venue.reconnects) if venue.reconnects else "")
        label = failure_label(failure)
        return f"{label} ×{count}" if count else label
    if state == "reconnecting":
        attempt = re.search(r"\d+", venue.state_detail)
        return f"reconnect {attempt.group(0)}" if attempt else "reconnecting"
    if state == "disabled":
        return "off"
    if state == "done":
        return "ended"
    return state


def velocity_at(venue: VenueView, window_index: int) -> tuple[float, float]:
    if window_index < len(venue.velocity):
        v = venue.velocity[window_index]
        return v.events_per_s, v.usd_per_s
    return 0.0, 0.0


class VenuePanel(Panel):
    def row_count(self, snapshot: Snapshot | None) -> int:
        return len(snapshot.venues) if snapshot is not None else 0

    def update_titles(self) -> None:
        self.border_title = f"Venues · liquidations per second over {self.view.window_s}s"
        self.border_subtitle = Content("◐ sampled feed (lower bound) · SAT saturated · [w] window")

    def render(self) -> Table | Text:
        snap = self.snapshot
        pal = self.palette
        if snap is None or not snap.venues:
            return Text("no venue data yet", style=pal.dim)
        spark_width = max(6, self.content_size.width - FIXED_COLUMNS_WIDTH)
        table = Table(
            box=None,
            expand=True,
            padding=(0, 1),
            pad_edge=False,
            show_edge=False,
            header_style=f"bold {pal.dim}",
        )
        table.add_column("venue", width=11, no_wrap=True)
        table.add_column("state", width=STATE_WIDTH, no_wrap=True)
        table.add_column("liq/s", width=6, justify="right", no_wrap=True)
        table.add_column("USD/s", width=7, justify="right", no_wrap=True)
        table.add_column("last 5 min", width=spark_width, no_wrap=True)
        window_index = self.view.window_index
        for venue in snap.venues:
            table.add_row(*self._row(venue, window_index, spark_width, pal))
        return table

    def _row(self, venue: VenueView, window_index: int, spark_width: int, pal: Palette) -> tuple[Text, ...]:
        events, usd = velocity_at(venue, window_index)
        name = Text(venue.venue, style="bold")
        if venue.sampled:
            name.append("◐", pal.dim)
        state = Text(state_label(venue), style=pal.state(venue.state))
        active = events > 0
        ev_text = Text(fmt.rate(events), style="bold" if active else pal.dim)
        usd_text = Text(
            fmt.usd(usd),
            style=pal.side("long" if venue.long_usd >= venue.short_usd else "short") if active else pal.dim,
        )
        history = venue.history[-SPARK_SECONDS:]
        if venue.saturated:
            state.append(" SAT", style=f"bold {pal.accent}")
        spark = Text(
            fmt.sparkline(history, spark_width), style=pal.primary if venue.state == "live" else pal.dim
        )
        return name, state, ev_text, usd_text, spark
