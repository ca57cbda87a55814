"""Issue 14 High 2 and Medium 7: the status line says `redis embedded`, drops parts by
priority on a narrow terminal (DISPLAY PAUSED always shows, market level and regime last,
then the BTC price), and says "no data" before the first event."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from cascade_tui.engine.types import Snapshot
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.regime_panel import RegimeSummary
from cascade_tui.ui.status_bar import StatusBar
from tests.ui.test_app_keys import rendered_text

AppFactory = Callable[..., CascadeApp]
EMBEDDED = {"source": "demo seed 7", "redis": "embedded (/tmp/cascade-redis-k2j3h4/redis.sock)"}


def status_line(app: CascadeApp) -> str:
    return rendered_text(app.query_one(StatusBar)).rstrip("\n")


@pytest.mark.parametrize("width", [160, 120, 80, 60, 40])
async def test_status_line_keeps_what_matters_at_every_width(make_app: AppFactory, width: int) -> None:
    app = make_app(status=EMBEDDED)
    async with app.run_test(size=(width, 30)) as pilot:
        app.redis_state = "connected"
        await pilot.press("p")  # freeze: DISPLAY PAUSED must show at any width
        await pilot.pause()
        line = status_line(app)
        assert len(line) <= width, line
        assert "redis.sock" not in line and "…" not in line  # parts dropped whole, never cut
        assert "DISPLAY PAUSED" in line
        if width >= 60:
            assert "market-wide WARNING" in line and "EXTREME" in line
        if width >= 80:
            assert "$88,412" in line
        if width >= 120:
            assert "redis embedded connected" in line and "demo seed 7" in line


async def test_no_data_until_the_first_event(make_app: AppFactory, fake_snap: Snapshot) -> None:
    """Live with no network: no event yet, so no 'calm' market and no NORMAL x1.00 regime."""
    empty_vol = msgspec.structs.replace(fake_snap.volatility, regime="NORMAL", btc_price=None)
    empty = msgspec.structs.replace(fake_snap, events_total=0, market_level=0, volatility=empty_vol)
    app = make_app(snapshot=empty)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        line = status_line(app)
        assert "no data" in line and "calm" not in line and "NORMAL" not in line
        regime = rendered_text(app.query_one(RegimeSummary))
        assert "no data" in regime and "NORMAL" not in regime and "×1.00" not in regime
        # the first events arrive (BTC trades among them): the numbers show
        app.fixed_snapshot = fake_snap
        app.refresh_frame()
        await pilot.pause()
        assert "no data" not in status_line(app)
        assert "EXTREME" in rendered_text(app.query_one(RegimeSummary))


async def test_live_with_no_network_says_why_per_venue(make_app: AppFactory, fake_snap: Snapshot) -> None:
    """Every venue reconnecting because DNS fails: each row says so with its attempt count,
    one toast says what to do, and nothing pretends the market is calm."""
    from textual.message import Message
    from textual.notifications import Notify

    from cascade_tui.ui.health_panel import HealthPanel
    from cascade_tui.ui.venue_panel import VenuePanel

    venues = tuple(
        msgspec.structs.replace(v, state="reconnecting", state_detail=f"attempt {9 + i}", failure="dns", reconnects=9 + i)
        for i, v in enumerate(fake_snap.venues)
    )
    empty_vol = msgspec.structs.replace(fake_snap.volatility, regime="NORMAL", btc_price=None)
    offline = msgspec.structs.replace(
        fake_snap, venues=venues, events_total=0, market_level=0, volatility=empty_vol, signals=(), tape=()
    )
    messages: list[Message] = []
    app = make_app(snapshot=offline)
    async with app.run_test(size=(120, 40), notifications=True, message_hook=messages.append) as pilot:
        await pilot.pause()
        venue_rows = rendered_text(app.query_one(VenuePanel))
        assert "DNS failed ×9" in venue_rows and "DNS failed ×10" in venue_rows
        assert "DNS failed" in rendered_text(app.query_one(HealthPanel))
        toasts = [m.notification for m in messages if isinstance(m, Notify)]
        assert [t.title for t in toasts] == ["no venue connected · DNS failed"]
        assert "DNS" in toasts[0].message
        line = status_line(app)
        assert "no data" in line and "calm" not in line



async def test_a_calm_market_wide_level_names_the_asset_in_alarm(make_app: AppFactory, fake_snap: Snapshot) -> None:
    """"market calm" beside BTC at CRITICAL read as a contradiction: the line says both."""
    assets = tuple(
        msgspec.structs.replace(a, level=3, level_name="CRITICAL") if a.asset == "BTC" else a
        for a in fake_snap.assets
    )
    calm = msgspec.structs.replace(fake_snap, market_level=0, assets=assets)
    app = make_app(snapshot=calm, status=EMBEDDED)
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.pause()
        assert "market-wide calm · BTC CRITICAL" in status_line(app)
