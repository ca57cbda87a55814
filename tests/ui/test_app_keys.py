"""Pilot tests: every dashboard binding does what the help screen says."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from rich.console import Console
from textual.message import Message
from textual.notifications import Notify

from cascade_tui.config import Config, UIConfig, load_config
from cascade_tui.engine.params import EngineParams, Thresholds
from cascade_tui.engine.types import Signal, Snapshot
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.bindings import APP_BINDINGS
from cascade_tui.ui.demo_snapshot import demo_pipeline
from cascade_tui.ui.filter_screen import FilterScreen
from cascade_tui.ui.help_screen import HelpScreen
from cascade_tui.ui.replay_bar import ReplayBar
from cascade_tui.ui.scores_panel import ScoresPanel
from cascade_tui.ui.signal_log import merge_lines
from cascade_tui.ui.status_bar import StatusBar
from cascade_tui.ui.tape_panel import TapePanel
from cascade_tui.ui.threshold_editor import ThresholdEditor
from tests.ui.pilot_wait import until

AppFactory = Callable[..., CascadeApp]


def rendered_text(widget: object) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(widget.render())  # type: ignore[attr-defined]
    return console.export_text()


async def test_panels_fill_from_the_snapshot(make_app: AppFactory, fake_snap: Snapshot) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one("#scores-table")
        assert table.row_count == len(fake_snap.assets)
        assert table.coordinate_to_cell_key((0, 0)).row_key.value == fake_snap.assets[0].asset
        status = rendered_text(app.query_one(StatusBar))
        assert "EXTREME" in status and "demo seed 7" in status and "$88,412" in status
        assert "up 3h12m" in status  # engine clock, not wall time


async def test_w_cycles_the_velocity_window(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.view.window_s == 5
        await pilot.press("w")
        assert app.view.window_s == 20
        assert "20s" in str(app.query_one("#venues").border_title)
        for expected in (60, 1, 5):
            await pilot.press("w")
            assert app.view.window_s == expected


async def test_l_cycles_the_tape_floor(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        tape = app.query_one(TapePanel)
        await pilot.press("l")
        await pilot.pause()
        assert app.view.tape_floor_label() == "≥ $100k"
        entries = tape.visible_entries()
        assert entries and all(e.usd >= 100_000 for e in entries)
        await pilot.press("l")
        assert all(e.usd >= 1_000_000 for e in tape.visible_entries())


async def test_slash_filters_the_signal_log(make_app: AppFactory, fake_snap: Snapshot) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash")
        assert isinstance(app.screen, FilterScreen)
        await pilot.press("e", "t", "h", "enter")
        assert app.view.signal_filter == "ETH"
        assert "ETH" in str(app.query_one("#signals").border_title)
        lines = merge_lines(fake_snap.signals, app.view.ui_log, app.view.signal_filter)
        assert lines and all(line.signal is not None and line.signal.asset == "ETH" for line in lines)
        await pilot.press("slash", "backspace", "backspace", "backspace", "enter")
        assert app.view.signal_filter == ""


async def test_p_pauses_the_display_only(make_app: AppFactory, fake_snap: Snapshot) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        assert app.view.display_paused
        assert "DISPLAY PAUSED" in rendered_text(app.query_one(StatusBar))
        newer = msgspec.structs.replace(fake_snap, ts=fake_snap.ts + 1)
        app.fixed_snapshot = newer
        app.refresh_frame()
        assert app.shown_snapshot is fake_snap  # frozen while paused
        await pilot.press("p")
        assert app.shown_snapshot is newer


async def test_T_cycles_the_cascade_themes(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.theme == "cascade-dark"
        seen = set()
        for _ in app.cascade_themes:
            await pilot.press("T")
            seen.add(app.theme)
        assert seen == {"cascade-dark", "cascade-light", "cascade-contrast"}


async def test_question_mark_lists_every_binding(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=140, record=True, color_system=None)
        console.print(app.screen.key_table())
        out = console.export_text()
        for binding in APP_BINDINGS:
            assert binding.id in out and (binding.tooltip or binding.description) in out
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_level_select_and_nudge_change_the_threshold(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "right_square_bracket")
        assert app.view.params.thresholds.critical == 0.71
        w0 = app.view.params.thresholds.watch
        await pilot.press("1", "left_square_bracket", "left_square_bracket")
        w2 = round(w0 - 0.02, 2)
        assert app.view.params.thresholds.watch == w2
        assert f"▸WATCH {w2:.2f}" in str(app.query_one(ScoresPanel).border_subtitle)
        notes = [entry.text for entry in app.view.ui_log]
        assert "threshold: thresholds.critical 0.7→0.71" in notes
        assert notes[-1] == f"threshold: thresholds.watch {round(w0 - 0.01, 2):g}→{w2:g}"


async def test_nudge_that_breaks_the_ordering_is_refused(make_app: AppFactory) -> None:
    near = EngineParams(thresholds=Thresholds(watch=0.3, warning=0.68, critical=0.7))
    app = make_app(config=Config(engine=near))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2", "right_square_bracket")
        assert app.view.params.thresholds.warning == 0.69
        await pilot.press("right_square_bracket", "right_square_bracket")  # would reach critical
        assert app.view.params.thresholds.warning == 0.69
        assert app.view.params.thresholds.critical == 0.70


async def test_s_saves_and_r_restores_defaults(make_app: AppFactory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "saved.toml"
    app = make_app(config_path=path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "left_square_bracket", "w", "s")
        saved = load_config(path)
        assert saved.engine.thresholds.critical == 0.69
        assert saved.ui.window_s == 20
        # only what differs from the defaults is written
        text = path.read_text()
        assert "critical = 0.69" in text and "window_s = 20" in text
        assert "warning" not in text and "[redis]" not in text and "[alerts]" not in text
        await pilot.press("r")  # one press asks; nothing is lost to a stray key
        assert app.view.params.thresholds.critical == 0.69
        await pilot.press("r")
        assert app.view.params == EngineParams()
        assert any("defaults restored" in e.text for e in app.view.ui_log)


async def test_q_quits_with_exit_code_zero(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_keymap_from_config_remaps_a_binding(make_app: AppFactory) -> None:
    config = Config(ui=UIConfig(keymap={"threshold-editor": "e", "no-such-binding": "x"}))
    app = make_app(config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        assert isinstance(app.screen, ThresholdEditor)


async def test_tab_moves_between_panels(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        focused = []
        for _ in range(6):
            await pilot.press("tab")
            focused.append(app.focused.id if app.focused else None)
        assert {"venues", "regime", "tape", "signals", "health"} <= set(focused)


async def test_source_controls_are_hidden_without_a_paced_source(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)):
        for action in ("toggle_source", "source_speed", "next_signal"):
            assert app.check_action(action, ()) is False
        assert not app.query(ReplayBar)


async def test_space_plus_minus_n_drive_the_demo_source() -> None:
    pipeline = demo_pipeline(seed=3)
    app = CascadeApp(pipeline, start_pipeline=False, config=Config())
    source = app.paced
    assert source is not None
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.query_one(ReplayBar)
        await pilot.press("space")
        assert source.paused
        await pilot.press("space")
        assert not source.paused
        assert source.speed == 0.0  # demo_pipeline runs at max speed (0), the top of the ladder
        await pilot.press("minus")
        assert source.speed == 100.0
        source.set_speed(1.0)
        await pilot.press("plus")
        assert source.speed == 2.0
        await pilot.press("minus", "minus")
        assert source.speed == 0.5
        await pilot.press("n")
        assert source.speed == 0.0 and not source.paused  # runs flat out to the next signal
        source.on_signal()
        assert source.paused and source.speed == 0.5


async def test_n_stops_at_the_next_signal_not_past_it() -> None:
    """Issue 14 item 8: `n` overshot by 20-100 s (a whole 2048-frame batch and the prefetched
    next one ran after the signal). Now the market pauses within a couple of seconds of it."""
    import asyncio

    from cascade_tui.engine import Engine
    from cascade_tui.runtime.pipeline import Pipeline
    from cascade_tui.sources.demo import DemoSource

    signals: list[Signal] = []
    source = DemoSource(seed=7, speed=1.0)
    pipeline = Pipeline(source, Engine(), on_signal=signals.append)
    run = asyncio.create_task(pipeline.run())
    try:
        for _ in range(3):  # three successive `n` presses
            seen = len(signals)
            pipeline.call(source.seek_next_signal)
            deadline = asyncio.get_running_loop().time() + 120
            while not (source.paused and len(signals) > seen):
                assert asyncio.get_running_loop().time() < deadline, "no signal reached"
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # whatever was already fetched has been processed
            assert source.position_ts is not None
            overshoot = source.position_ts - signals[seen].ts
            assert 0 <= overshoot < 2.0, overshoot
            assert source.speed == 1.0  # back to the speed it had
    finally:
        pipeline.stop()
        await asyncio.wait_for(run, 30)


async def test_command_palette_offers_the_dashboard_actions(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)):
        titles = {cmd.title for cmd in app.get_system_commands(app.screen)}
        for wanted in ("Thresholds", "Save", "Window", "Floor", "Filter", "Freeze", "Theme", "Help"):
            assert wanted in titles
        assert "Play/pause" not in titles  # no demo/replay source here


def critical(fake_snap: Snapshot, asset: str, dt: float, *, state: str = "escalate", score: float = 0.81) -> Signal:
    return msgspec.structs.replace(
        fake_snap.signals[0],
        ts=fake_snap.ts + dt,
        asset=asset,
        level=3,
        level_name="CRITICAL",
        state=state,
        episode=f"{asset}-1",
        score=score,
    )


def toast_messages(messages: list[Message]) -> list[str]:
    return [f"{m.notification.title} {m.notification.message}" for m in messages if isinstance(m, Notify)]


async def test_critical_signal_rings_the_bell_and_toasts(make_app: AppFactory, fake_snap: Snapshot) -> None:
    app = make_app()
    rang: list[bool] = []
    messages: list[Message] = []
    async with app.run_test(size=(120, 40), notifications=True, message_hook=messages.append) as pilot:
        app.bell = lambda: rang.append(True)  # type: ignore[method-assign]
        sol = critical(fake_snap, "SOL", 2)
        app.fixed_snapshot = msgspec.structs.replace(fake_snap, ts=fake_snap.ts + 2, signals=(sol, *fake_snap.signals))
        app.refresh_frame()
        await pilot.pause()
        assert rang == [True]
        toasts = toast_messages(messages)
        assert len(toasts) == 1 and "CRITICAL" in toasts[0] and "SOL" in toasts[0]
        app.refresh_frame(force=True)  # the same signal never alerts twice
        assert rang == [True]


async def test_critical_toasts_coalesce_one_per_episode(make_app: AppFactory, fake_snap: Snapshot) -> None:
    """A market-wide cascade: eight assets go CRITICAL within seconds, one re-escalates.
    One toast is on screen at a time, naming them all; an episode alerts once."""
    app = make_app()
    rang: list[bool] = []
    messages: list[Message] = []
    async with app.run_test(size=(120, 40), notifications=True, message_hook=messages.append) as pilot:
        app.bell = lambda: rang.append(True)  # type: ignore[method-assign]
        signals = list(fake_snap.signals)
        assets = ["BTC", "ETH", "SOL", "XRP", "DOGE", "AVAX", "LINK", "*"]
        for i, asset in enumerate(assets):
            signals.insert(0, critical(fake_snap, asset, 1 + i, state="open", score=0.8 + i / 100))
            if i % 3 == 2:  # some frames bring one episode, some bring several
                continue
            app.fixed_snapshot = msgspec.structs.replace(fake_snap, ts=fake_snap.ts + 1 + i, signals=tuple(signals))
            app.refresh_frame()
            await pilot.pause()
        # BTC de-escalates and escalates again inside its episode: no new alert
        signals.insert(0, msgspec.structs.replace(signals[0], asset="BTC", episode="BTC-1", ts=fake_snap.ts + 20))
        app.fixed_snapshot = msgspec.structs.replace(fake_snap, ts=fake_snap.ts + 20, signals=tuple(signals))
        app.refresh_frame()
        await pilot.pause()
        await pilot.pause()
        shown = [n for n in app._notifications if n.severity == "error"]
        assert len(shown) == 1, [n.message for n in shown]
        assert shown[0].title == "CRITICAL cascade · 8 assets"
        assert "MARKET-WIDE" in shown[0].message and "+4 more" in shown[0].message
        assert len(toast_messages(messages)) == len(rang) == 6  # one per frame that brought new episodes


async def test_bell_and_toasts_can_be_switched_off(make_app: AppFactory, fake_snap: Snapshot) -> None:
    app = make_app(config=Config(ui=UIConfig(bell=False, toasts=False)))
    rang: list[bool] = []
    async with app.run_test(size=(120, 40)):
        app.bell = lambda: rang.append(True)  # type: ignore[method-assign]
        sig: Signal = msgspec.structs.replace(
            fake_snap.signals[0], ts=fake_snap.ts + 3, level=3, state="open", episode="x"
        )
        app.fixed_snapshot = msgspec.structs.replace(fake_snap, signals=(sig, *fake_snap.signals))
        app.refresh_frame()
        assert rang == []


async def test_q_stops_the_running_engine_thread() -> None:
    """With the real pipeline running in its worker thread, q stops it before exiting."""
    pipeline = demo_pipeline(seed=5)
    app = CascadeApp(pipeline, config=Config())
    async with app.run_test(size=(120, 40)) as pilot:
        def ready() -> bool:
            return pipeline.latest_snapshot is not None and app.shown_snapshot is not None

        await until(pilot, ready, 10.0)
        assert app.shown_snapshot is not None  # the frame timer pulled the pipeline's snapshot
        await pilot.press("q")
        await pilot.pause()
        # q waited for the engine loop to return: nothing is left running in the worker thread
        assert pipeline.finished.is_set()
        assert pipeline.error is None
    assert app.return_code == 0


async def test_scores_update_in_place_and_keep_the_selection(
    make_app: AppFactory, fake_snap: Snapshot
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one("#scores-table")
        table.focus()
        await pilot.press("down")  # BTC -> ETH
        await pilot.pause()
        panel = app.query_one(ScoresPanel)
        assert panel.selected_asset == "ETH"
        # ETH overtakes BTC: the rows reorder but the cursor stays on ETH
        eth = next(a for a in fake_snap.assets if a.asset == "ETH")
        rest = [a for a in fake_snap.assets if a.asset != "ETH"]
        hotter = msgspec.structs.replace(eth, score=0.91, level=3, level_name="CRITICAL")
        app.fixed_snapshot = msgspec.structs.replace(fake_snap, ts=fake_snap.ts + 1, assets=(hotter, *rest))
        app.refresh_frame()
        await pilot.pause()
        assert table.coordinate_to_cell_key((0, 0)).row_key.value == "ETH"
        assert table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == "ETH"
        assert panel.selected_asset == "ETH"
        assert table.row_count == len(fake_snap.assets)  # updated in place, nothing re-added


async def test_health_panel_shows_sink_drops_and_redis_state(fake_snap: Snapshot) -> None:
    from typing import Any

    from cascade_tui.sinks.base import Sink
    from cascade_tui.ui.health_panel import HealthPanel

    class CountingRedis(Sink):
        name = "redis"

        def stats(self) -> dict[str, Any]:
            return {"state": "reconnecting", "drops": {"events": 12}}

    class BrokenSink(Sink):
        name = "odd"

        def stats(self) -> dict[str, Any]:
            return {"drops": "not a mapping"}

    pipeline = demo_pipeline(seed=3)
    pipeline.sinks = [CountingRedis()]
    app = CascadeApp(
        pipeline,
        start_pipeline=False,
        snapshot=fake_snap,
        config=Config(),
        status={"source": "demo", "redis": "127.0.0.1:6379"},
    )
    async with app.run_test(size=(120, 40)):
        app.refresh_health_extras()
        app.refresh_frame(force=True)
        health = rendered_text(app.query_one(HealthPanel))
        assert "redis.events" in health and "12" in health
        status = rendered_text(app.query_one(StatusBar))
        assert "127.0.0.1:6379 reconnecting" in status
        pipeline.sinks = [BrokenSink()]
        app.refresh_health_extras()  # odd stats are skipped, never raised


async def test_command_palette_runs_a_dashboard_action(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Window")
        from textual.command import CommandList

        def listed() -> bool:  # the palette searches asynchronously: wait for its results
            return bool(app.screen.query(CommandList) and app.screen.query_one(CommandList).option_count)

        await until(pilot, listed, 5.0)
        await pilot.press("enter")
        await until(pilot, lambda: app.view.window_s == 20, 2.0)
        assert app.view.window_s == 20


async def test_f8_saves_a_screenshot_in_the_data_dir(make_app: AppFactory, isolated_dirs) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f8")
        await pilot.pause()
    shots = list((isolated_dirs / "data" / "screenshots").glob("*.svg"))
    assert len(shots) == 1
    assert "rich-terminal" in shots[0].read_text()  # an SVG of the screen


async def test_odd_snapshot_values_are_shown_not_raised(make_app: AppFactory, fake_snap: Snapshot) -> None:
    """NaN numbers, an unknown level or regime, empty series: the dashboard still draws."""
    nan = float("nan")
    asset = msgspec.structs.replace(
        fake_snap.assets[0],
        score=nan,
        level=7,
        level_name="?",
        velocity=(),
        components={},
        price=None,
        oi_change_pct={},
        funding_annualized=nan,
    )
    venue = msgspec.structs.replace(
        fake_snap.venues[0], velocity=(), history=(), state="weird", last_message_age_s=nan
    )
    vol = msgspec.structs.replace(
        fake_snap.volatility,
        regime="BIZARRE",
        rv={},
        price_history=(1.0,),
        regime_history=(),
        btc_price=nan,
        regime_since=None,
    )
    odd = msgspec.structs.replace(
        fake_snap,
        assets=(asset,),
        venues=(venue,),
        volatility=vol,
        market_level=9,
        started_ts=None,
        latency={},
    )
    app = make_app(snapshot=odd)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one("#scores-table")
        assert table.get_cell(asset.asset, "level").plain == "LEVEL 7"
        assert "LEVEL 9" in rendered_text(app.query_one(StatusBar))
        await pilot.press("w", "l", "T")
        await pilot.pause()


async def test_frames_keep_coming_while_a_dialog_is_open() -> None:
    """The frame timer runs under the editor and help screens without error."""
    from cascade_tui.runtime.pipeline import Pipeline
    from cascade_tui.sources.demo import DemoSource

    pipeline = Pipeline(DemoSource(seed=3, speed=20))
    app = CascadeApp(pipeline, config=Config())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        assert await until(pilot, lambda: isinstance(app.screen, ThresholdEditor))
        assert await until(pilot, lambda: app.shown_snapshot is not None)
        first = app.shown_snapshot
        assert await until(pilot, lambda: app.shown_snapshot is not first)  # frames go on under it
        assert isinstance(app.screen, ThresholdEditor)
        await pilot.press("escape", "question_mark")
        assert await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = app.shown_snapshot
        assert await until(pilot, lambda: app.shown_snapshot is not shown)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_stacked_venue_panel_grows_when_venues_arrive(
    make_app: AppFactory, fake_snap: Snapshot
) -> None:
    app = make_app(snapshot=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        venues = app.query_one("#venues")
        empty_height = venues.region.height
        app.fixed_snapshot = fake_snap
        app.refresh_frame()
        await pilot.pause()
        # one row per venue plus the header and the border (capped by max-height)
        assert venues.region.height > empty_height
        assert venues.region.height == min(15, len(fake_snap.venues) + 3)


async def test_the_signals_why_shows_in_the_detail_and_the_log(make_app: AppFactory, fake_snap: Snapshot) -> None:
    """Issue 14 item 9: level vs score is explained by the signal's `why` (DESIGN §5.1)."""
    from textual.widgets import Static

    from cascade_tui.ui.scores_panel import ScoreBreakdown

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        detail = rendered_text(app.query_one(ScoreBreakdown))
        top = fake_snap.assets[0]
        assert top.why and f"why by {top.why['trigger']} · next held by price_move" in detail
        assert "needs_pct 0.5" in detail
        log = str(app.query_one("#signal-lines", Static).render())
        assert "by burst · next held by price_move" in log


async def test_ctrl_c_quits(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running
