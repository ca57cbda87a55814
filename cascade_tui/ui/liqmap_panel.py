"""Liquidation map panel: the estimated liquidation USD per price band around the price.

One heat strip on a price axis: longs (liquidated if price falls) left of the current price,
shorts right of it; a cell's shade is the band USD against the largest cell in view. Under
it the axis, then USD within 0.5/1/2/5 % per side and the nearest dense band. The border
shows the asset (key `m` cycles it) and the calibration figures: the share of seen
liquidation USD that fell in estimated bands, and seen USD per estimated USD crossed.
"""

from __future__ import annotations

import math

from rich.text import Text

from cascade_tui.engine.liqmap import LiqMapView
from cascade_tui.engine.types import Snapshot
from cascade_tui.ui import format as fmt
from cascade_tui.ui.panel import Panel

RANGE_PCT = 5.0  # the strip spans ±5 % of price (the map keeps ±15 %)
SHADES = " ░▒▓█"


def strip_cells(view: LiqMapView, width: int, range_pct: float = RANGE_PCT) -> list[tuple[float, float]]:
    """(long USD, short USD) per cell of a strip `width` cells wide over ±range_pct of price;
    the middle cell holds the current price."""
    cells = [(0.0, 0.0)] * width
    if view.price is None or width < 3:
        return cells
    acc = [[0.0, 0.0] for _ in range(width)]
    mid = width // 2
    per_cell = range_pct / max(mid, 1)
    for band in view.bands:
        centre = math.sqrt(band.low * band.high)
        pct = (centre / view.price - 1.0) * 100.0
        i = mid + round(pct / per_cell)
        if 0 <= i < width:
            acc[i][0] += band.long_usd
            acc[i][1] += band.short_usd
    return [(a, b) for a, b in acc]


class LiqMapPanel(Panel):
    """The map of one asset at a time; `cycle_asset()` moves to the next asset."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asset: str | None = None

    def on_mount(self) -> None:
        self.update_titles()

    def assets(self) -> list[str]:
        snap = self.snapshot
        return [m.asset for m in snap.liqmap] if snap is not None else []

    def cycle_asset(self) -> str | None:
        names = self.assets()
        if not names:
            return None
        self.asset = names[(names.index(self.asset) + 1) % len(names)] if self.asset in names else names[0]
        self.update_titles()
        self.refresh()
        return self.asset

    def current(self) -> LiqMapView | None:
        snap = self.snapshot
        if snap is None or not snap.liqmap:
            return None
        by_asset = {m.asset: m for m in snap.liqmap}
        if self.asset not in by_asset:
            # BTC first when there is one, else the first asset
            self.asset = "BTC" if "BTC" in by_asset else snap.liqmap[0].asset
        return by_asset[self.asset]

    def show(self, snapshot: Snapshot | None) -> None:
        super().show(snapshot)

    def update_titles(self) -> None:
        view = self.current()
        name = view.asset if view is not None else "—"
        split = "" if view is None or view.trades_seen else " · 50/50: no trades"
        self.border_title = f"Liquidation map · {name} (estimate{split})"
        if view is None:
            self.border_subtitle = "m: asset"
            return
        cov = fmt.pct(view.coverage * 100, digits=0, sign=False) if view.coverage is not None else "—"
        ratio = f"{view.seen_per_est:.2f}" if view.seen_per_est is not None else "—"
        self.border_subtitle = f"seen in est. bands {cov} · seen/est {ratio} · m: asset"

    def render(self) -> Text:
        pal = self.palette
        view = self.current()
        if view is None or view.price is None:
            return Text("no open-interest changes seen yet: the map builds from OI increases", style=pal.dim)
        width = max(self.size.width, 11)
        if width % 2 == 0:
            width -= 1  # an odd width puts the price in the middle cell
        cells = strip_cells(view, width)
        peak = max((max(a, b) for a, b in cells), default=0.0)
        mid = width // 2
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (long_usd, short_usd) in enumerate(cells):
            if i == mid:
                text.append("┃", f"bold {pal.accent}")
                continue
            value, colour = (long_usd, pal.side("long")) if i < mid else (short_usd, pal.side("short"))
            shade = (
                SHADES[min(len(SHADES) - 1, math.ceil(value / peak * (len(SHADES) - 1)))] if peak > 0 else " "
            )
            text.append(shade, colour)
        text.append("\n")
        axis = [" "] * width
        cells_per_pct = max(mid, 1) / RANGE_PCT
        marks = (-5, -2, -1, 1, 2, 5) if cells_per_pct >= 8 else (-5, -2, 2, 5)
        for pct in marks:
            i = mid + round(pct * cells_per_pct)
            label = f"{pct:+d}%"
            start = max(0, min(width - len(label), i - len(label) // 2))
            axis[start : start + len(label)] = list(label)
        price_label = fmt_price(view.price)
        start = max(0, min(width - len(price_label), mid - len(price_label) // 2))
        axis[start : start + len(price_label)] = list(price_label)
        text.append("".join(axis), pal.dim)
        text.append("\n")
        for side, within, dense, sign in (
            ("long", view.long_within, view.nearest_dense_long_pct, "-"),
            ("short", view.short_within, view.nearest_dense_short_pct, "+"),
        ):
            text.append(f"{side}s".ljust(7), f"bold {pal.side(side)}")
            text.append(within_line(within), pal.fg)
            text.append(dense_text(dense, sign), pal.dim)
            near = view.near_cluster
            if near is not None and near.get("side") == side:
                text.append("  near cluster: WATCH", f"bold {pal.level(1)}")
            if side == "long":
                text.append("\n")
        return text


def within_line(within: dict[str, float]) -> str:
    """USD within 1, 2 and 5 % of price (0.5 % is in the Redis key and the command)."""
    return "".join(f"≤{k}% {fmt.usd(v)} " for k, v in within.items() if k != "0.5")


def dense_text(pct: float | None, sign: str) -> str:
    return f"dense {sign}{pct:.1f}%" if pct is not None else "no dense"


def fmt_price(price: float) -> str:
    return f"{price:,.0f}" if price >= 1000 else f"{price:.4g}"
