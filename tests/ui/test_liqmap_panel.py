"""Pilot test: the liquidation map panel shows the map, its calibration, and `m` cycles assets."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from rich.console import Console

from cascade_tui.engine.liqmap import BandView, LiqMapView
from cascade_tui.engine.types import Snapshot
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.liqmap_panel import LiqMapPanel, strip_cells


def make_view(asset: str, price: float) -> LiqMapView:
    g = 1.001
    bands = (
        BandView(price * 0.99, price * 0.99 * g, 4e6, 0.0),  # longs 1 % under
        BandView(price * 0.97, price * 0.97 * g, 1e6, 0.0),
        BandView(price * 1.02, price * 1.02 * g, 0.0, 2e6),  # shorts 2 % over
    )
    return LiqMapView(
        asset=asset,
        ts=1.0,
        price=price,
        band_fraction=0.001,
        bands=bands,
        long_within={"0.5": 0.0, "1": 4e6, "2": 4e6, "5": 5e6},
        short_within={"0.5": 0.0, "1": 0.0, "2": 0.0, "5": 2e6},
        nearest_dense_long_pct=0.9,
        nearest_dense_short_pct=2.0,
        dense_band_usd=1e6,
        usual_hourly_usd=5e5,
        total_long_usd=5e6,
        total_short_usd=2e6,
        coverage=0.62,
        seen_per_est=0.31,
        crossed_usd=1e7,
        seen_usd=5e6,
        near_cluster={"trigger": "near_cluster", "side": "long"} if asset == "BTC" else None,
    )


def text_of(panel: LiqMapPanel) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(panel.render())
    return console.export_text()


def test_strip_puts_longs_below_and_shorts_above_the_price() -> None:
    cells = strip_cells(make_view("BTC", 100.0), 51)  # ±5 % over 25 cells a side: 0.2 % each
    mid = 25
    assert cells[mid - 5][0] == 4e6 and cells[mid - 15][0] == 1e6
    assert cells[mid + 10][1] == 2e6
    assert sum(a for a, _ in cells[mid:]) == 0.0 and sum(b for _, b in cells[:mid]) == 0.0


async def test_panel_and_key_m(make_app: Callable[..., CascadeApp], fake_snap: Snapshot) -> None:
    snap = msgspec.structs.replace(fake_snap, liqmap=(make_view("BTC", 90_000.0), make_view("ETH", 3_000.0)))
    app = make_app(snapshot=snap)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.query_one(LiqMapPanel)
        assert panel.asset == "BTC"
        assert "Liquidation map · BTC" in str(panel.border_title)
        assert "seen in est. bands 62%" in str(panel.border_subtitle) and "seen/est 0.31" in str(
            panel.border_subtitle
        )
        shown = text_of(panel)
        assert "90,000" in shown and "┃" in shown
        assert "≤1% $4.0M" in shown and "dense -0.9%" in shown and "near cluster: WATCH" in shown
        await pilot.press("m")
        assert panel.asset == "ETH" and "· ETH" in str(panel.border_title)
        assert "near cluster" not in text_of(panel)
        await pilot.press("m")
        assert panel.asset == "BTC"


async def test_panel_without_a_map_says_why(make_app: Callable[..., CascadeApp]) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")  # nothing to cycle: no error
        panel = app.query_one(LiqMapPanel)
        assert "no open-interest changes seen yet" in text_of(panel)
