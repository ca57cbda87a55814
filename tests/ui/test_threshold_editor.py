"""The threshold editor: valid edits reach the engine at once, invalid ones never do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
import pytest
from textual.widgets import DataTable, Label

from cascade_tui.config import Config
from cascade_tui.engine.params import EngineParams, ParamError
from cascade_tui.engine.types import Signal
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.demo_snapshot import demo_pipeline, feed
from cascade_tui.ui.threshold_editor import ThresholdEditor, build_params, changed_keys, editable_fields

AppFactory = Callable[..., CascadeApp]


def test_every_threshold_gate_weight_and_normalizer_is_editable() -> None:
    dotted = {f.dotted for f in editable_fields(EngineParams())}
    assert {"thresholds.watch", "thresholds.warning", "thresholds.critical", "thresholds.exit_gap"} <= dotted
    assert {
        "gates.min_events",
        "gates.usd_floor.BTC",
        "gates.usd_floor.default",
        "gates.refractory_s",
    } <= dotted
    assert {
        f"weights.{w}" for w in ("velocity", "acceleration", "volume", "oi", "funding", "volatility")
    } <= dotted
    assert "normalizers.velocity_surprise" in dotted


def test_build_params_refuses_bad_values_naming_the_key() -> None:
    base = EngineParams()
    with pytest.raises(ParamError, match=r"thresholds\.warning"):
        build_params(base, {"thresholds.warning": "lots"})
    with pytest.raises(ParamError, match=r"gates\.min_events"):
        build_params(base, {"gates.min_events": "2.5"})
    with pytest.raises(ParamError, match="thresholds"):
        build_params(base, {"thresholds.watch": "0.9"})  # above warning
    with pytest.raises(ParamError, match=r"weights\.volume"):
        build_params(base, {"weights.volume": "1.5"})
    with pytest.raises(ParamError, match=r"normalizers\.oi_drop_pct"):
        build_params(base, {"normalizers.oi_drop_pct": "0"})
    with pytest.raises(ParamError, match=r"fast\.after_warning_share"):
        build_params(base, {"fast.after_warning_share": "1.5"})
    new = build_params(base, {"thresholds.critical": "0.8", "gates.usd_floor.BTC": "3_000_000"})
    assert changed_keys(base, new) == [
        ("gates.usd_floor.BTC", 2.0e6, 3.0e6),
        ("thresholds.critical", 0.7, 0.8),
    ]


async def set_field(app: CascadeApp, dotted: str, value: str) -> None:
    editor = app.screen
    assert isinstance(editor, ThresholdEditor)
    editor.set_value(dotted, value)


async def test_valid_edit_is_applied_and_logged(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await set_field(app, "thresholds.warning", "0.55")
        await set_field(app, "weights.funding", "0.05")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ThresholdEditor)
        assert app.view.params.thresholds.warning == 0.55
        assert app.view.params.weights.funding == 0.05
        assert app.view.ui_log[-1].text == "editor: thresholds.warning 0.5→0.55, weights.funding 0.1→0.05"


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("thresholds.critical", "abc", "thresholds.critical: 'abc' is not a number"),
        ("thresholds.watch", "0.95", "thresholds: need 0 < watch < warning < critical <= 1"),
        ("gates.usd_floor.ETH", "-5", "gates.usd_floor.ETH: must be >= 0"),
    ],
)
async def test_invalid_edit_is_refused_with_a_message(
    make_app: AppFactory, dotted: str, value: str, message: str
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await set_field(app, dotted, value)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ThresholdEditor)  # still open, nothing applied
        error = app.screen.query_one("#editor-error", Label)
        assert message in str(error.render())
        assert app.view.params == EngineParams()
        await pilot.press("escape")
        assert not isinstance(app.screen, ThresholdEditor)
        assert app.view.params == EngineParams()


def burst_warnings(signals: list[Signal]) -> list[Signal]:
    """WARNING-or-higher levels the fast path's burst test opened or escalated to."""
    return [
        s
        for s in signals
        if s.state in ("open", "escalate") and s.level >= 2 and (s.why or {}).get("trigger") == "burst"
    ]


async def test_editor_changes_reach_the_engine_and_its_signals() -> None:
    """The real pipeline and engine: knobs typed in the editor are in force and the signals
    obey them (a burst bar no cascade of the demo can reach leaves no burst WARNING)."""
    pipeline = demo_pipeline(seed=7, seconds=300.0)
    seen: list[Signal] = []
    pipeline.on_signal_hooks.append(seen.append)
    app = CascadeApp(pipeline, start_pipeline=False, config=Config())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await set_field(app, "fast.units_to_fire", "100000")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert pipeline.engine.params.fast.units_to_fire == 100000.0
        await asyncio.wait_for(feed(pipeline), timeout=60)

    baseline = demo_pipeline(seed=7, seconds=300.0)
    base_seen: list[Signal] = []
    baseline.on_signal_hooks.append(base_seen.append)
    await feed(baseline)
    # the same market raised burst WARNINGs under the defaults: the test has teeth
    assert burst_warnings(base_seen)
    assert not burst_warnings(seen)
    assert len(seen) < len(base_seen)


async def test_param_change_logged_with_the_engine_clock(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await set_field(app, "gates.min_events", "5")
        await pilot.press("ctrl+s")
        snap = app.current_snapshot()
        assert snap is not None
        assert app.view.ui_log[-1].ts == snap.ts
        assert msgspec.structs.replace(EngineParams().gates, min_events=5) == app.view.params.gates


def test_regime_and_market_settings_are_editable_too() -> None:
    base = EngineParams()
    dotted = {f.dotted for f in editable_fields(base)}
    assert {"regime.threshold_factor.HIGH", "regime.enter.3", "market.min_assets"} <= dotted
    new = build_params(base, {"regime.enter.2": "0.7", "regime.threshold_factor.EXTREME": "1.2"})
    assert new.regime.enter == (0.2, 0.35, 0.7, 1.0)
    assert new.regime.threshold_factor["EXTREME"] == 1.2
    with pytest.raises(ParamError, match=r"regime\.enter"):
        build_params(base, {"regime.enter.2": "0.1"})  # no longer increasing


async def test_a_second_t_neither_types_nor_stacks_an_editor(make_app: AppFactory) -> None:
    """Issue 14: the editor takes a moment to open; an impatient second `t` typed into it."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t", "t", "t")
        await pilot.pause()
        assert isinstance(app.screen, ThresholdEditor)
        assert len([s for s in app.screen_stack if isinstance(s, ThresholdEditor)]) == 1
        assert app.screen.entered() == {}  # no box holds a stray "t"
        await pilot.press("escape")
        assert not isinstance(app.screen, ThresholdEditor)


async def test_typing_edits_the_highlighted_row_and_arrows_pick_another(make_app: AppFactory) -> None:
    """One table and one box: the box edits the highlighted row, ↓ moves to the next one
    (the typed value stays in the table, marked), enter applies them all."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, ThresholdEditor)
        first, second = editor.fields[0], editor.fields[1]
        assert (first.dotted, second.dotted) == ("fast.tau_s", "fast.large_prints")
        await pilot.press("2", ".", "5")  # the box's text is selected: typing replaces it
        await pilot.press("down")
        await pilot.press("5")
        await pilot.pause()
        table = editor.query_one("#editor-table", DataTable)
        assert table.get_cell("fast.tau_s", "value") == "2.5" and table.get_cell("fast.tau_s", "changed") == "•"
        assert editor.entered() == {"fast.tau_s": "2.5", "fast.large_prints": "5"}
        await pilot.press("up")  # back on the first row: the box shows what was typed there
        assert editor.query_one("#editor-input").value == "2.5"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ThresholdEditor)
        assert (app.view.params.fast.tau_s, app.view.params.fast.large_prints) == (2.5, 5)
