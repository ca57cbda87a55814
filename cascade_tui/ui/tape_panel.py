"""Liquidation tape: the latest liquidations above the size floor, newest first.

Reads the snapshot's bounded tape (newest first) each frame and shows as many rows as fit, so
bursts are coalesced per refresh and nothing grows.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.content import Content

from cascade_tui.engine.types import TapeEntry
from cascade_tui.text import printable
from cascade_tui.ui import format as fmt
from cascade_tui.ui.palette import Palette
from cascade_tui.ui.panel import Panel


class TapePanel(Panel):
    def update_titles(self) -> None:
        self.border_title = f"Liquidation tape · {self.view.tape_floor_label()}"
        self.border_subtitle = Content("◐ sampled · [l] floor")

    def visible_entries(self) -> list[TapeEntry]:
        snap = self.snapshot
        if snap is None:
            return []
        limit = max(1, self.size.height - 1)
        rows: list[TapeEntry] = []
        for entry in snap.tape:
            if entry.usd >= self.view.tape_floor(entry.asset):
                rows.append(entry)
                if len(rows) >= limit:
                    break
        return rows

    def render(self) -> Table | Text:
        pal = self.palette
        rows = self.visible_entries()
        if not rows:
            return Text("no liquidations above the floor yet", style=pal.dim)
        # one cell of space left of each column (not both sides): the tape fits 42 columns
        table = Table(
            box=None,
            expand=True,
            padding=(0, 0, 0, 1),
            pad_edge=False,
            show_edge=False,
            header_style=f"bold {pal.dim}",
        )
        table.add_column("time", width=8, no_wrap=True)
        table.add_column("venue", width=8, no_wrap=True)
        table.add_column("asset", width=5, no_wrap=True)
        table.add_column("side", width=5, no_wrap=True)
        table.add_column("USD", justify="right", min_width=6, no_wrap=True)
        for entry in rows:
            table.add_row(*self._row(entry, pal))
        return table

    @staticmethod
    def _row(entry: TapeEntry, pal: Palette) -> tuple[Text, ...]:
        tier = pal.tier(entry.usd)
        usd_style = f"bold {tier}" if tier else ""
        if entry.usd >= 10_000_000:
            usd_style = f"bold reverse {tier}"
        venue = Text(entry.venue[:7])
        if entry.sampled:
            venue.append("◐", pal.dim)
        return (
            Text(fmt.clock(entry.ts), style=pal.dim),
            venue,
            Text(printable(entry.asset), style="bold"),
            Text(entry.side, style=pal.side(entry.side)),
            Text(fmt.usd(entry.usd), style=usd_style),
        )
