"""Cascade score per asset (DataTable updated in place) and the selected row's breakdown.

The alarm stays on screen: rows are ordered by level, then score, so the highest-level asset
is the top row; rows at WATCH or above are pinned (they never scroll away, up to
`MAX_PINNED_ROWS`); and the breakdown follows the top row until the user moves the cursor
(moving it back to the top row follows again).
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import DataTable

from cascade_tui.engine.params import FACTORS, LEVEL_NAMES
from cascade_tui.engine.types import AssetView, Snapshot
from cascade_tui.text import printable
from cascade_tui.ui import format as fmt
from cascade_tui.ui.palette import Palette
from cascade_tui.ui.view_state import ViewState

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("asset", "asset", 5),
    ("score", "score", 9),
    ("level", "level", 8),
    ("dir", "dir", 6),
    ("evs", "liq/s", 5),
    ("usds", "USD/s", 6),
    ("oi", "OI 5m", 6),
    ("funding", "fund", 5),
)
MAX_PINNED_ROWS = 3
FACTOR_LABELS = {
    "velocity": "velocity",
    "acceleration": "accel",
    "volume": "volume",
    "oi": "OI drop",
    "funding": "funding",
    "volatility": "vol exp",
}


def direction_text(direction: str, pal: Palette, *, active: bool) -> Text:
    label = "▼long" if direction == "long" else "▲short"
    return Text(label, style=pal.side(direction) if active else pal.dim)


def asset_cells(asset: AssetView, window_index: int, pal: Palette) -> tuple[Text, ...]:
    level_colour = pal.level(asset.level)
    active = asset.level > 0
    score = Text(fmt.bar(asset.score, 4), style=level_colour if active else pal.primary)
    score.append(f" {asset.score:.2f}", style=f"bold {level_colour}" if active else "")
    level = Text(
        fmt.level_name(asset.level) if active else "—", style=f"bold {level_colour}" if active else pal.dim
    )
    velocity = asset.velocity[window_index] if window_index < len(asset.velocity) else None
    evs = velocity.events_per_s if velocity else 0.0
    usds = velocity.usd_per_s if velocity else 0.0
    oi = asset.oi_change_pct.get("5m")
    oi_style = pal.side("long") if oi is not None and oi < -0.5 else ""
    funding = asset.funding_annualized
    return (
        Text(printable(asset.asset), style="bold"),
        score,
        level,
        direction_text(asset.direction, pal, active=active or usds > 0),
        Text(fmt.rate(evs), style="" if evs > 0 else pal.dim, justify="right"),
        Text(fmt.usd(usds), style="" if usds > 0 else pal.dim, justify="right"),
        Text(fmt.pct(oi), style=oi_style, justify="right"),
        Text(fmt.pct(funding * 100 if funding is not None else None, digits=0), justify="right"),
    )


class ScoreBreakdown(Widget):
    """Why the selected asset scores what it does: each factor's value and weight."""

    DEFAULT_CSS = "ScoreBreakdown { height: 4; }"

    def __init__(self, view: ViewState) -> None:
        super().__init__()
        self.view = view
        self.asset: AssetView | None = None

    def show(self, asset: AssetView | None) -> None:
        self.asset = asset
        self.refresh()

    def render(self) -> Text:
        pal = Palette(self.app.theme_variables)
        a = self.asset
        if a is None:
            return Text("select an asset to see its score components", style=pal.dim)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{printable(a.asset)} ", "bold")
        if a.history:  # the score over the last 5 minutes, on the fixed 0..1 scale
            text.append(fmt.sparkline(a.history, 10, top=1.0), pal.level(a.level) if a.level else pal.primary)
            text.append(" ")
        text.append(f"{a.score:.2f} ", f"bold {pal.level(a.level)}")
        text.append(f"{fmt.usd(a.usd_60s)} in {a.events_60s} liq/60s", pal.fg)
        if a.venues:
            text.append(" · " + ",".join(a.venues), pal.dim)
        if a.price is not None:
            text.append(" · " + fmt.price(a.price), pal.dim)
        # why the level is what it is (DESIGN §5.1): read defensively, an old snapshot has none
        why = getattr(a, "why", None) or {}
        text.append("\nwhy ", pal.dim)
        text.append(fmt.why_text(why) if why else ("no level" if a.level == 0 else "—"), pal.fg if why else pal.dim)
        weights = self.view.params.weights
        width = self.content_size.width or 60
        per_line = 3 if width >= 66 else 2
        cell_width = width // per_line
        bar_width = max(2, cell_width - 20)  # label 9, value 5, weight 5, gap 1
        for i, factor in enumerate(FACTORS):
            if i % per_line == 0:
                text.append("\n")
            value = a.components.get(factor, 0.0)
            weight = getattr(weights, factor)
            cell = Text(f"{FACTOR_LABELS[factor]:<8} ", style=pal.dim)
            cell.append(fmt.bar(value, bar_width), style=pal.primary)
            cell.append(f" {value:.2f}".replace("0.", "."), style="bold" if value >= 0.5 else "")
            cell.append(f" ×{weight:.2f}".replace("0.", "."), style=pal.dim)
            cell.pad_right(max(0, cell_width - cell.cell_len))
            text.append_text(cell)
        return text


def alarm_order(assets: tuple[AssetView, ...]) -> list[AssetView]:
    """Highest level first, then highest score (stable: the engine's order breaks ties); a
    WARNING held by hysteresis at 0.71 stays above a 0.75 asset with no level."""
    return sorted(assets, key=lambda a: (-a.level, -a.score))


class ScoresTable(DataTable[Text]):
    """The scores table; tells its panel when the user (not a frame) moves the cursor."""

    def _user_moved(self) -> None:
        panel = next((a for a in self.ancestors if isinstance(a, ScoresPanel)), None)
        if panel is not None:
            panel.user_moved_cursor()

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self._user_moved()

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self._user_moved()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._user_moved()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._user_moved()

    def action_scroll_top(self) -> None:
        super().action_scroll_top()
        self._user_moved()

    def action_scroll_bottom(self) -> None:
        super().action_scroll_bottom()
        self._user_moved()

    def action_scroll_home(self) -> None:  # home/end: first/last row (there is no column cursor)
        self.action_scroll_top()

    def action_scroll_end(self) -> None:
        self.action_scroll_bottom()

    async def _on_click(self, event: events.Click) -> None:
        await super()._on_click(event)
        self._user_moved()


class ScoresPanel(Vertical, can_focus=False):
    def __init__(self, view: ViewState, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.snapshot: Snapshot | None = None
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._order: list[str] = []
        self.selected_asset: str | None = None
        # the breakdown follows the top (highest-level) row until the user moves the cursor
        self.following = True
        self._table: ScoresTable | None = None
        self._breakdown: ScoreBreakdown | None = None

    def compose(self) -> ComposeResult:
        # the cursor row keeps its level colours (renderable foreground wins over the cursor's)
        table = ScoresTable(cursor_type="row", cursor_foreground_priority="renderable", id="scores-table")
        self._table = table
        for key, label, width in COLUMNS:
            table.add_column(
                Text(label, justify="right" if key in ("evs", "usds", "oi", "funding") else "left"),
                key=key,
                width=width,
            )
        yield table
        self._breakdown = ScoreBreakdown(self.view)
        yield self._breakdown

    @property
    def table(self) -> ScoresTable:
        assert self._table is not None, "composed before use"
        return self._table

    @property
    def breakdown(self) -> ScoreBreakdown:
        assert self._breakdown is not None, "composed before use"
        return self._breakdown

    def user_moved_cursor(self) -> None:
        """The user chose a row: keep it; choosing the top row follows the alarm again."""
        self.following = self.table.cursor_row == 0

    def update_titles(self) -> None:
        t = self.view.params.thresholds
        parts = []
        for level, value in ((1, t.watch), (2, t.warning), (3, t.critical)):
            mark = "▸" if level == self.view.selected_level else ""
            parts.append(f"{mark}{LEVEL_NAMES[level]} {value:.2f}")
        self.border_title = f"Cascade scores · {self.view.window_s}s rates"
        self.border_subtitle = Content("thresholds " + " ".join(parts) + " · [ ] nudge")

    def show(self, snapshot: Snapshot | None, pal: Palette, *, force: bool = False) -> None:
        self.snapshot = snapshot
        self.update_titles()
        if snapshot is None:
            return
        table = self.table
        window_index = self.view.window_index
        assets = {a.asset: a for a in snapshot.assets}
        for gone in [k for k in self._cells if k not in assets]:
            table.remove_row(gone)
            del self._cells[gone]
            self._order.remove(gone)
        for name, asset in assets.items():
            cells = asset_cells(asset, window_index, pal)
            old = self._cells.get(name)
            if old is None:
                table.add_row(*cells, key=name)
                self._order.append(name)
            else:
                for (col_key, _, _), new_cell, old_cell in zip(COLUMNS, cells, old, strict=True):
                    # force (theme change): colours differ even where the text is the same
                    if force or new_cell != old_cell or new_cell.style != old_cell.style:
                        table.update_cell(name, col_key, new_cell)
            self._cells[name] = cells
        ordered = alarm_order(snapshot.assets)
        wanted = [a.asset for a in ordered]
        if wanted != self._order:
            rank = {name: i for i, name in enumerate(wanted)}
            table.sort("asset", key=lambda cell: rank.get(cell.plain, len(rank)))
            self._order = wanted
        pinned = min(MAX_PINNED_ROWS, sum(1 for a in ordered if a.level > 0))
        if table.fixed_rows != pinned:
            table.fixed_rows = pinned
        if self.following and wanted:
            self.selected_asset = wanted[0]
        if self.selected_asset in assets:
            row = wanted.index(self.selected_asset)
            if table.cursor_row != row:
                # following: scroll to the top row; a user's choice stays where they put it
                table.move_cursor(row=row, animate=False, scroll=self.following)
            if self.following and table.scroll_y:
                table.scroll_to(y=0, animate=False)
        elif wanted:
            self.selected_asset = wanted[min(table.cursor_row, len(wanted) - 1)]
        self.breakdown.show(assets.get(self.selected_asset or ""))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.selected_asset = str(event.row_key.value)
            if self.snapshot is not None:
                assets = {a.asset: a for a in self.snapshot.assets}
                self.breakdown.show(assets.get(self.selected_asset))
