"""SVG snapshots of the dashboard (pytest-textual-snapshot; update with --snapshot-update).

Deterministic by construction: no pipeline worker, relative times from the snapshot's own
clock, fixed latencies, no cursor blink. Layout, themes and dialogs are pictured on a fixed
snapshot, so they fail only when the UI changes; one picture runs the seeded demo market
through the real engine and simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from cascade_tui.config import Config
from cascade_tui.engine.types import Snapshot
from cascade_tui.runtime.options import RunOptions
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.demo_snapshot import demo_snapshot
from cascade_tui.ui.threshold_editor import ThresholdEditor
from tests.ui.fake_snapshot import build_snapshot

SnapCompare = Callable[..., bool]
STATUS = {"source": "demo seed 7", "redis": "off"}


@pytest.fixture(scope="module")
def demo_snap() -> Snapshot:
    return demo_snapshot(seed=7, seconds=900.0)


def app_for(snapshot: Snapshot, theme: str = "cascade-dark", **kwargs: Any) -> CascadeApp:
    return CascadeApp(
        snapshot=snapshot, status=STATUS, config=Config(), options=RunOptions(theme=theme), **kwargs
    )


async def no_blink(pilot: Pilot[Any]) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


@pytest.fixture(scope="module")
def fixed_snap() -> Snapshot:
    """A cascade in progress on eleven venues in every feed state (engine-independent)."""
    return build_snapshot()


@pytest.mark.parametrize("theme", ["cascade-dark", "cascade-light", "cascade-contrast"])
def test_main_screen_in_each_theme(snap_compare: SnapCompare, fixed_snap: Snapshot, theme: str) -> None:
    assert snap_compare(app_for(fixed_snap, theme), terminal_size=(120, 40))


def test_main_screen_stacked_at_80x24(snap_compare: SnapCompare, fixed_snap: Snapshot) -> None:
    assert snap_compare(app_for(fixed_snap), terminal_size=(80, 24))


def test_main_screen_at_160x50(snap_compare: SnapCompare, fixed_snap: Snapshot) -> None:
    assert snap_compare(app_for(fixed_snap), terminal_size=(160, 50))


def test_demo_market_through_the_real_engine(snap_compare: SnapCompare, demo_snap: Snapshot) -> None:
    """The seeded simulator through the real engine: this picture changes when the engine's
    or the simulator's numbers do (then review it and run --snapshot-update)."""
    assert snap_compare(app_for(demo_snap), terminal_size=(120, 40))


def test_help_screen(snap_compare: SnapCompare, fixed_snap: Snapshot) -> None:
    assert snap_compare(app_for(fixed_snap), press=["question_mark"], terminal_size=(120, 40))


async def open_editor(pilot: Pilot[Any]) -> None:
    """Open the threshold editor and stop its cursor blinking (run_before runs before any
    `press`: blinking stopped first would leave the editor's own cursor to blink, and the
    picture would depend on when it was taken)."""
    await pilot.press("t")
    assert isinstance(pilot.app.screen, ThresholdEditor)
    await no_blink(pilot)


def test_threshold_editor(snap_compare: SnapCompare, fixed_snap: Snapshot) -> None:
    assert snap_compare(app_for(fixed_snap), run_before=open_editor, terminal_size=(120, 40))


def test_threshold_editor_refusing_a_value(snap_compare: SnapCompare, fixed_snap: Snapshot) -> None:
    async def type_bad_value(pilot: Pilot[Any]) -> None:
        await open_editor(pilot)
        editor = pilot.app.screen
        assert isinstance(editor, ThresholdEditor)
        editor.set_value("thresholds.watch", "0.95")
        await pilot.press("ctrl+s")

    assert snap_compare(app_for(fixed_snap), run_before=type_bad_value, terminal_size=(120, 40))
