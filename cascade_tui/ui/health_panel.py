"""Feed and pipeline health: per-venue message age, reconnects, parse errors, queue drops,
and the latency percentiles of each pipeline stage."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text

from cascade_tui.engine.types import LatencyView, Snapshot
from cascade_tui.ui import format as fmt
from cascade_tui.ui.panel import Panel
from cascade_tui.ui.venue_panel import state_label
from cascade_tui.ui.view_state import ViewState

STAGE_ORDER = ("parse", "engine", "signal", "publish")


class HealthPanel(Panel):
    def row_count(self, snapshot: Snapshot | None) -> int:
        return len(snapshot.venues) if snapshot is not None else 0

    def __init__(self, view: ViewState, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(view, id=id, classes=classes)
        self.venue_drops: Mapping[str, int] = {}
        self.queue_drops: Mapping[str, int] = {}

    def set_drops(self, venue_drops: Mapping[str, int], queue_drops: Mapping[str, int]) -> None:
        self.venue_drops = venue_drops
        self.queue_drops = queue_drops

    def update_titles(self) -> None:
        self.border_title = "Health"
        self.border_subtitle = "latency p50/p99 · rc reconnects · err parse errors"

    def render(self) -> Group | Text:
        snap = self.snapshot
        pal = self.palette
        if snap is None:
            return Text("no health data yet", style=pal.dim)
        table = Table(
            box=None,
            expand=True,
            padding=(0, 1),
            pad_edge=False,
            show_edge=False,
            header_style=f"bold {pal.dim}",
        )
        table.add_column("venue", width=11, no_wrap=True)
        table.add_column("state", width=14, no_wrap=True)
        table.add_column("age", width=6, justify="right", no_wrap=True)
        table.add_column("rc", width=3, justify="right", no_wrap=True)
        table.add_column("err", width=4, justify="right", no_wrap=True)
        table.add_column("drop", width=5, justify="right", no_wrap=True)
        # problems first: when the panel is short, the rows cut off are the healthy ones
        venues = sorted(
            snap.venues, key=lambda v: (v.state == "live", v.parse_errors == 0, v.reconnects == 0)
        )
        for v in venues:
            age_style = pal.state("stale") if (v.last_message_age_s or 0) > 30 else ""
            table.add_row(
                Text(v.venue),
                Text(state_label(v), style=pal.state(v.state)),
                Text(fmt.age(v.last_message_age_s), style=age_style),
                Text(str(v.reconnects), style=pal.state("stale") if v.reconnects else pal.dim),
                Text(str(v.parse_errors), style=pal.state("down") if v.parse_errors else pal.dim),
                Text(
                    str(self.venue_drops.get(v.venue, 0)),
                    style=pal.state("down") if self.venue_drops.get(v.venue) else pal.dim,
                ),
            )
        return Group(self._latency_line(snap.latency), self._drops_line(), table)

    def _latency_line(self, latency: Mapping[str, LatencyView]) -> Text:
        """Stage latencies p50/p99, two stages per line so they fit a narrow panel."""
        pal = self.palette
        text = Text(no_wrap=True, overflow="ellipsis")
        stages = [s for s in STAGE_ORDER if s in latency] + sorted(set(latency) - set(STAGE_ORDER))
        if not stages:
            text.append("latency —", pal.dim)
        for i, stage in enumerate(stages):
            if i and i % 2 == 0:
                text.append("\n")
            lv = latency[stage]
            text.append(f"{stage:<8}", pal.dim)
            text.append(f"{_ms(lv.p50_ms):>6}/{_ms(lv.p99_ms)}", "bold")
            if i % 2 == 0:
                text.append(" " * max(1, 8 - len(_ms(lv.p99_ms)) + 2))
        return text

    def _drops_line(self) -> Text:
        pal = self.palette
        text = Text("drops ", style=pal.dim, no_wrap=True, overflow="ellipsis")
        if not self.queue_drops:
            text.append("none")
        for queue, n in sorted(self.queue_drops.items()):
            text.append(f"{queue} ", pal.dim)
            text.append(str(n), pal.state("down") if n else "")
            text.append("  ")
        return text


def _ms(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f}µs"
    return f"{value:.1f}ms" if value < 100 else f"{value:.0f}ms"
