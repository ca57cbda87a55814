"""Liquidation map history: the estimated band USD over recent time as a plotext heatmap.

x = time (one column per sample, newest on the right), y = price, colour = estimated USD of
liquidations in that price row (the longs' colour below the price, the shorts' above, deeper
with more USD), the price itself in the accent colour. It answers what the one-instant strip
cannot: whether a band is building up, being eaten into, or was just crossed.

The history is kept by the UI from the snapshots it shows (`MapHistory`, bounded: one sample
per asset every STEP_S, the last MAX_SAMPLES); the engine keeps only the current map. The
widget draws at the chart rate (1–2 Hz) and only when visible: the app shows it where the
right-hand column has rows to spare and hides it elsewhere (`fits`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from rich.text import Text
from textual import events
from textual.color import Color
from textual.containers import Vertical

from cascade_tui.engine.liqmap import LiqMapView
from cascade_tui.ui.cached_plot import CachedPlot, short_price
from cascade_tui.ui.liqmap_panel import LiqMapPanel
from cascade_tui.ui.palette import Palette

STEP_S = 15.0  # one sample per asset every 15 s of engine time ...
MAX_SAMPLES = 240  # ... for the last hour
MIN_RANGE_PCT = 1.5  # the price axis spans at least ±1.5 % around the latest price ...
MARGIN_PCT = 0.5  # ... or the history's farthest price plus this margin ...
MAX_RANGE_PCT = 5.0  # ... up to ±5 % (the strip's range; older prices may leave the grid)
HISTORY_ROWS = 10  # rows the widget takes when shown (borders included)
TAPE_MIN_ROWS = 8  # the tape above it keeps at least this many rows


class Sample:
    """One asset's map at one time: the price and (low, high, long USD, short USD) bands."""

    __slots__ = ("bands", "price", "ts")

    def __init__(self, ts: float, price: float, bands: tuple[tuple[float, float, float, float], ...]) -> None:
        self.ts = ts
        self.price = price
        self.bands = bands


class MapHistory:
    """Per-asset ring of samples taken from the snapshot views (no Textual, no I/O)."""

    def __init__(self, step_s: float = STEP_S, max_samples: int = MAX_SAMPLES) -> None:
        self.step_s = step_s
        self.max_samples = max_samples
        self._samples: dict[str, deque[Sample]] = {}

    def add(self, views: Iterable[LiqMapView]) -> bool:
        """Sample every view whose asset's last sample is at least step_s old; True if any was."""
        added = False
        for view in views:
            if view.price is None:
                continue
            ring = self._samples.get(view.asset)
            if ring is None:
                ring = self._samples[view.asset] = deque(maxlen=self.max_samples)
            if ring and view.ts < ring[-1].ts + self.step_s:
                continue
            bands = tuple((b.low, b.high, b.long_usd, b.short_usd) for b in view.bands)
            ring.append(Sample(view.ts, view.price, bands))
            added = True
        return added

    def samples(self, asset: str | None) -> list[Sample]:
        ring = self._samples.get(asset) if asset is not None else None
        return list(ring) if ring else []


def price_range(samples: list[Sample]) -> tuple[float, float]:
    """(low, high) of the price axis, centred on the latest price so that the longs under it
    and the shorts over it both show: ±(the farthest sampled price + a margin), within
    [MIN_RANGE_PCT, MAX_RANGE_PCT]."""
    latest = samples[-1].price
    farthest = max(abs(s.price / latest - 1.0) * 100.0 for s in samples) + MARGIN_PCT
    half = min(max(farthest, MIN_RANGE_PCT), MAX_RANGE_PCT) / 100.0
    return latest * (1.0 - half), latest * (1.0 + half)


def heat_grid(
    samples: list[Sample], cols: int, rows: int, lo: float, hi: float
) -> tuple[list[list[tuple[float, float]]], list[int | None]]:
    """The newest `cols` samples on a `rows` × `cols` grid (row 0 = the highest prices): per
    cell (long USD, short USD) of the bands whose centre falls in that row, and per column the
    row of the price (None where a column has no sample yet)."""
    grid = [[(0.0, 0.0)] * cols for _ in range(rows)]
    price_row: list[int | None] = [None] * cols
    if not samples or cols <= 0 or rows <= 0 or hi <= lo:
        return grid, price_row
    shown = samples[-cols:]
    first = cols - len(shown)  # the history is right-aligned: newest in the last column
    per_row = (hi - lo) / rows

    def row_of(price: float) -> int | None:
        r = rows - 1 - math.floor((price - lo) / per_row)
        return r if 0 <= r < rows else None

    for c, sample in enumerate(shown, start=first):
        acc: dict[int, list[float]] = {}
        for low, high, long_usd, short_usd in sample.bands:
            r = row_of(math.sqrt(low * high))
            if r is not None:
                cell = acc.setdefault(r, [0.0, 0.0])
                cell[0] += long_usd
                cell[1] += short_usd
        for r, (long_usd, short_usd) in acc.items():
            grid[r][c] = (long_usd, short_usd)
        price_row[c] = row_of(sample.price)
    return grid, price_row


def blend(base: tuple[int, int, int], top: tuple[int, int, int], share: float) -> tuple[int, int, int]:
    share = max(0.0, min(1.0, share))
    return (
        round(base[0] + (top[0] - base[0]) * share),
        round(base[1] + (top[1] - base[1]) * share),
        round(base[2] + (top[2] - base[2]) * share),
    )


def fits(column_rows: int, liqmap_rows: int) -> bool:
    """Whether the right-hand column has room for the history under the tape and the map."""
    return column_rows - liqmap_rows - HISTORY_ROWS >= TAPE_MIN_ROWS


class LiqMapHistory(CachedPlot):
    """The heatmap of one asset's map history (the asset the map panel shows)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.styles.height = HISTORY_ROWS
        self.history = MapHistory()
        self.asset: str | None = None
        self._version = 0

    def record(self, views: Iterable[LiqMapView]) -> None:
        """Take samples from a snapshot's views (every frame; cheap when nothing is due)."""
        if self.history.add(views):
            self._version += 1

    def show(self, asset: str | None) -> None:
        """Redraw for `asset` if it or the history changed (called at the chart rate)."""
        self.asset = asset
        self.border_title = f"Map history · {asset or '—'} (estimate)"
        if self.display and not self.is_current():
            self.refresh()

    def cache_key(self) -> tuple[object, ...]:
        return (self.asset, self._version)

    def placeholder(self, pal: Palette) -> Text | None:
        samples = self.history.samples(self.asset)
        if len(samples) < 2 or self.size.width < 20 or self.size.height < 4:
            return Text(
                f"map history: one column every {STEP_S:g} s; building ({len(samples)} so far)", style=pal.dim
            )
        return None

    def draw(self, pal: Palette) -> None:
        samples = self.history.samples(self.asset)
        plt = self.plt
        lo, hi = price_range(samples)
        rows = max(2, self.size.height - 2)  # the x tick labels take a row, their marks another
        step = (hi - lo) / rows
        # matrix rows count from the bottom in plotext: row y holds prices lo + (y + 0.5) step
        ys = [0.0, float(rows // 2), float(rows - 1)]
        y_labels = [short_price(lo + (y + 0.5) * step) for y in ys]
        # one matrix column per canvas cell (the y labels take the rest): no skipped column
        cols = max(2, self.size.width - max(len(label) for label in y_labels))
        grid, price_row = heat_grid(samples, cols, rows, lo, hi)
        peak = max((max(a, b) for row in grid for a, b in row), default=0.0)
        variables = self.app.theme_variables
        base = Color.parse(variables.get("surface") or variables.get("background") or "black").rgb
        long_rgb = Color.parse(pal.side("long")).rgb
        short_rgb = Color.parse(pal.side("short")).rgb
        price_rgb = Color.parse(pal.fg).rgb  # the price in the foreground: apart from both sides
        matrix: list[list[tuple[int, int, int]]] = []
        for r, row in enumerate(grid):
            line = []
            for c, (long_usd, short_usd) in enumerate(row):
                if price_row[c] == r:
                    line.append(price_rgb)
                    continue
                value, rgb = (long_usd, long_rgb) if long_usd >= short_usd else (short_usd, short_rgb)
                # linear in USD: the rows that hold the dense bands stand out, thin ones fade
                line.append(blend(base, rgb, value / peak if peak > 0 else 0.0))
            matrix.append(line)
        plt.matrix_plot(matrix)
        plt.frame(False)
        plt.canvas_color(base)
        plt.axes_color(base)
        plt.ticks_color(Color.parse(pal.dim).rgb)
        plt.xlabel("")
        plt.ylabel("")
        shown = min(len(samples), cols)
        span_min = (samples[-1].ts - samples[-shown].ts) / 60.0
        per_col = span_min / max(shown - 1, 1)
        ticks = [float(t) for t in sorted({cols - shown, cols - 1 - (shown - 1) // 2, cols - 1})]
        plt.xticks(ticks, [f"-{(cols - 1 - t) * per_col:.0f}m" if t != cols - 1 else "now" for t in ticks])
        plt.yticks(ys, y_labels)


class MapColumn(Vertical):
    """The middle row's right-hand column (tape, map, map history): on every resize it shows
    the history if the layout is wide and the column keeps the tape readable above it."""

    def on_resize(self, event: events.Resize) -> None:
        self.fit_history()

    def fit_history(self) -> None:
        history = self.query_one(LiqMapHistory)
        liqmap = self.query_one(LiqMapPanel)
        room = self.screen.has_class("-wide") and fits(self.size.height, liqmap.outer_size.height)
        if room != history.display:
            history.display = room
