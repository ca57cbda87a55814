"""Pilot test: the liquidation map panel shows the map, its calibration, and `m` cycles assets."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from rich.console import Console

from cascade_tui.engine.liqmap import BandView, LiqMapView
from cascade_tui.engine.types import Snapshot
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.liqmap_history import (
    HISTORY_ROWS,
    TAPE_MIN_ROWS,
    LiqMapHistory,
    MapHistory,
    fits,
    heat_grid,
    price_range,
)
from cascade_tui.ui.liqmap_panel import LiqMapPanel, strip_cells
from tests.ui.pilot_wait import until


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
        assert "≤1% $4M" in shown and "dense -0.9%" in shown and "near cluster: WATCH" in shown
        assert "50/50" not in str(panel.border_title)
        await pilot.press("m")
        assert panel.asset == "ETH" and "· ETH" in str(panel.border_title)
        assert "near cluster" not in text_of(panel)
        await pilot.press("m")
        assert panel.asset == "BTC"


async def test_panel_title_says_when_no_trades_split_the_map(
    make_app: Callable[..., CascadeApp], fake_snap: Snapshot
) -> None:
    untraded = msgspec.structs.replace(make_view("DOGE", 0.15), trades_seen=False)
    app = make_app(snapshot=msgspec.structs.replace(fake_snap, liqmap=(untraded,)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.query_one(LiqMapPanel)
        assert str(panel.border_title) == "Liquidation map · DOGE (estimate · 50/50: no trades)"


async def test_panel_without_a_map_says_why(make_app: Callable[..., CascadeApp]) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")  # nothing to cycle: no error
        panel = app.query_one(LiqMapPanel)
        assert "no open-interest changes seen yet" in text_of(panel)


# ---------------------------------------------------------------- the map history heatmap


def views_over_time(asset: str, start: float, count: int, step: float) -> list[LiqMapView]:
    """The same map drifting up 0.1 % a sample, its long band growing."""
    out = []
    for i in range(count):
        price = 100.0 * 1.001**i
        view = make_view(asset, price)
        bands = (BandView(price * 0.99, price * 0.99 * 1.001, 1e6 * (1 + i), 0.0), *view.bands[1:])
        out.append(msgspec.structs.replace(view, ts=start + i * step, bands=bands))
    return out


def test_history_samples_each_asset_once_a_step_and_is_bounded() -> None:
    history = MapHistory(step_s=15.0, max_samples=4)
    assert history.add(views_over_time("BTC", 0.0, 1, 1.0))
    assert not history.add([msgspec.structs.replace(make_view("BTC", 100.0), ts=10.0)])  # too soon
    assert history.add([msgspec.structs.replace(make_view("BTC", 101.0), ts=15.0)])
    for view in views_over_time("BTC", 30.0, 10, 15.0):
        history.add([view])
    got = history.samples("BTC")
    assert len(got) == 4 and [s.ts for s in got] == [120.0, 135.0, 150.0, 165.0]
    assert history.samples("ETH") == [] and history.samples(None) == []
    assert not history.add([msgspec.structs.replace(make_view("ETH", 1.0), price=None)])


def test_heat_grid_puts_bands_in_price_rows_newest_on_the_right() -> None:
    history = MapHistory(step_s=1.0)
    for view in views_over_time("BTC", 0.0, 3, 1.0):
        history.add([view])
    samples = history.samples("BTC")
    grid, price_row = heat_grid(samples, cols=5, rows=10, lo=95.0, hi=105.0)  # 1.0 a row
    assert price_row[:2] == [None, None]  # two columns without a sample yet
    # price ~100 -> row 4 (100-101 counted from the top of 105); the long band ~99 sits under it
    assert price_row[2:] == [4, 4, 4]
    assert grid[5][2][0] == 1e6 and grid[5][4][0] == 3e6  # the band grew sample by sample
    assert all(cell == (0.0, 0.0) for row in grid for cell in row[:2])
    # shorts 2 % over the price, longs 3 % under it (the second long band)
    assert grid[2][4][1] == 2e6 and grid[7][4][0] == 1e6
    # the price axis is centred on the latest price: ±1.5 % at least, ±5 % at most
    latest = samples[-1].price
    assert price_range(samples) == (latest * 0.985, latest * 1.015)
    moved = MapHistory(step_s=1.0)
    for view in views_over_time("BTC", 0.0, 100, 1.0):  # 0.1 % a sample: ~10 % in all
        moved.add([view])
    latest = moved.samples("BTC")[-1].price
    assert price_range(moved.samples("BTC")) == (latest * 0.95, latest * 1.05)


def test_history_fits_only_with_rows_to_spare_for_the_tape() -> None:
    assert fits(HISTORY_ROWS + 6 + TAPE_MIN_ROWS, 6)
    assert not fits(HISTORY_ROWS + 6 + TAPE_MIN_ROWS - 1, 6)


async def test_history_heatmap_shows_where_there_is_room(
    make_app: Callable[..., CascadeApp], fake_snap: Snapshot
) -> None:
    start = fake_snap.ts - 40 * 15.0
    history = views_over_time("BTC", start, 40, 15.0)
    # the snapshot shown at start-up is the first sample; the test then feeds the rest
    first = msgspec.structs.replace(history[0], ts=start - 15.0)
    snap = msgspec.structs.replace(fake_snap, liqmap=(first, make_view("ETH", 3_000.0)))
    app = make_app(snapshot=snap)
    async with app.run_test(size=(140, 60)) as pilot:
        widget = app.query_one(LiqMapHistory)
        for view in history:
            widget.record([view])
        app.refresh_chart()
        assert await until(pilot, lambda: widget.display and widget.outer_size.height == HISTORY_ROWS)
        shown = text_of_widget(widget)
        assert "now" in shown and "-10m" in shown  # 41 samples 15 s apart: 10 minutes
        assert "Map history · BTC" in str(widget.border_title)
        await pilot.press("m")  # the map panel's asset: ETH has a single sample so far
        assert widget.asset == "ETH" and "building (1 so far)" in text_of_widget(widget)
        # a shorter terminal: the tape keeps its rows and the history hides
        await pilot.resize_terminal(140, 45)
        assert await until(pilot, lambda: not widget.display)
        # back to a tall terminal it shows again; narrow (stacked, numbers first) it hides
        await pilot.resize_terminal(140, 60)
        assert await until(pilot, lambda: widget.display)
        await pilot.resize_terminal(100, 60)
        assert await until(pilot, lambda: not widget.display)


def text_of_widget(widget: LiqMapHistory) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(widget.render())
    return console.export_text()
