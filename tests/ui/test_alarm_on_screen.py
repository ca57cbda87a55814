"""Issue 14 High 1: the alarm is on screen. The highest-level asset is the top row, always
visible (pinned), and the score detail follows it unless the user moved the cursor."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from cascade_tui.engine.params import LEVEL_NAMES
from cascade_tui.engine.types import AssetView, Snapshot
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.scores_panel import ScoreBreakdown, ScoresPanel

AppFactory = Callable[..., CascadeApp]
NAMES = ["BTC", "ETH", "SOL", "BNB", "ADA", "TRX", "TON", "LTC", "DOT", "NEAR", "APT", "ARB", "OP", "SUI", "PEPE",
         "SHIB", "WIF", "AVAX", "LINK", "DOGE", "XRP"]


def many_assets(snap: Snapshot, hot: dict[str, tuple[int, float]]) -> Snapshot:
    """21 assets, engine order (by score); `hot` gives some a level and score."""
    template = snap.assets[0]
    assets = []
    for i, name in enumerate(NAMES):
        level, score = hot.get(name, (0, round(0.30 - 0.01 * i, 3)))
        assets.append(
            msgspec.structs.replace(
                template, asset=name, score=score, level=level, level_name=LEVEL_NAMES[level], episode=None
            )
        )
    assets.sort(key=lambda a: -a.score)
    return msgspec.structs.replace(snap, ts=snap.ts + len(hot), assets=tuple(assets))


def visible_assets(panel: ScoresPanel) -> list[str]:
    """Row keys drawn in the table's viewport (pinned rows first, then the scrolled ones)."""
    table = panel.table
    height = table.scrollable_content_region.height - 1  # minus the header
    pinned = table.fixed_rows
    first_scrolled = pinned + round(table.scroll_y)
    rows = list(range(pinned)) + list(range(first_scrolled, first_scrolled + height - pinned))
    return [str(table.coordinate_to_cell_key((r, 0)).row_key.value) for r in rows if r < table.row_count]


def detail_asset(app: CascadeApp) -> str | None:
    shown: AssetView | None = app.query_one(ScoreBreakdown).asset
    return shown.asset if shown is not None else None


async def test_a_new_warning_is_the_top_row_and_the_detail_follows_it(
    make_app: AppFactory, fake_snap: Snapshot
) -> None:
    app = make_app(snapshot=many_assets(fake_snap, {}))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.query_one(ScoresPanel)
        assert len(visible_assets(panel)) < len(NAMES)  # the table does scroll at 120x40
        # XRP (last by score until now) opens WARNING; its score is below BTC's
        app.fixed_snapshot = many_assets(fake_snap, {"XRP": (2, 0.29), "BTC": (0, 0.31)})
        app.refresh_frame()
        await pilot.pause()
        assert visible_assets(panel)[0] == "XRP"
        assert detail_asset(app) == "XRP"
        # CRITICAL on DOGE: it takes the top, XRP stays pinned under it
        app.fixed_snapshot = many_assets(fake_snap, {"XRP": (2, 0.6), "DOGE": (3, 0.8)})
        app.refresh_frame()
        await pilot.pause()
        assert visible_assets(panel)[:2] == ["DOGE", "XRP"]
        assert detail_asset(app) == "DOGE"


async def test_a_cursor_the_user_moved_stays_and_the_alarm_stays_visible(
    make_app: AppFactory, fake_snap: Snapshot
) -> None:
    app = make_app(snapshot=many_assets(fake_snap, {"XRP": (2, 0.6)}))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.query_one(ScoresPanel)
        panel.table.focus()
        for _ in range(17):  # far down the table: it scrolls
            await pilot.press("down")
        await pilot.pause()
        chosen = detail_asset(app)
        assert chosen not in (None, "XRP") and not panel.following
        app.fixed_snapshot = many_assets(fake_snap, {"XRP": (2, 0.62), "DOGE": (3, 0.8)})
        app.refresh_frame()
        await pilot.pause()
        assert detail_asset(app) == chosen  # the user's choice is kept
        shown = visible_assets(panel)
        assert shown[:2] == ["DOGE", "XRP"] and chosen in shown  # pinned alarm rows and the choice
        # back to the top row: the detail follows the alarm again
        await pilot.press("home")
        await pilot.pause()
        assert panel.following
        app.fixed_snapshot = many_assets(fake_snap, {"XRP": (3, 0.9), "DOGE": (3, 0.8)})
        app.refresh_frame()
        await pilot.pause()
        assert detail_asset(app) == "XRP"
