"""The dashboard app and its entry point `run_dashboard`.

Data flow: the pipeline runs on its own asyncio loop in a Textual thread worker; the app
pulls `pipeline.latest_snapshot` on a timer (8 Hz for numbers and tables, 1.5 Hz for the
plotext chart) and never receives per-event calls. Everything the user changes reaches the
engine through the pipeline's thread-safe controls (`set_params`, `call`, `stop`).

For deterministic tests and screenshots the app also runs on one fixed snapshot with no
worker (`CascadeApp(pipeline=None, snapshot=snap)`); relative times then use the
snapshot's own clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import msgspec
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.notifications import Notification, Notify
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from cascade_tui.config import Config, save_config
from cascade_tui.engine.params import WINDOWS, EngineParams, ParamError, validate
from cascade_tui.engine.types import Signal, Snapshot
from cascade_tui.feeds.failure import failure_hint, failure_label
from cascade_tui.paths import data_dir, default_config_path
from cascade_tui.runtime.lifecycle import install_stop_signals
from cascade_tui.runtime.options import RunOptions
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sources.paced import PacedSource
from cascade_tui.ui.alerts import TOAST_S, CriticalAlerts
from cascade_tui.ui.bindings import APP_BINDINGS, SOURCE_ACTIONS, next_speed, unknown_keymap_ids
from cascade_tui.ui.filter_screen import FilterScreen
from cascade_tui.ui.health_panel import HealthPanel
from cascade_tui.ui.health_view import HealthView, collect_health
from cascade_tui.ui.help_screen import HelpScreen
from cascade_tui.ui.liqmap_history import LiqMapHistory, MapColumn
from cascade_tui.ui.liqmap_panel import LiqMapPanel
from cascade_tui.ui.palette import Palette
from cascade_tui.ui.regime_panel import RegimePanel
from cascade_tui.ui.replay_bar import ReplayBar, speed_label
from cascade_tui.ui.scores_panel import ScoresPanel
from cascade_tui.ui.signal_log import SignalLog
from cascade_tui.ui.status_bar import StatusBar
from cascade_tui.ui.tape_panel import TapePanel
from cascade_tui.ui.themes import APP_VARIABLE_DEFAULTS, DEFAULT_THEME, load_themes
from cascade_tui.ui.threshold_editor import ThresholdEditor, changed_keys, format_value
from cascade_tui.ui.venue_panel import VenuePanel
from cascade_tui.ui.view_state import UiLogEntry, ViewState

FRAME_HZ = 8.0
CHART_HZ = 1.5
HEALTH_HZ = 1.0
STOP_TIMEOUT_S = 5.0
NUDGE_STEP = 0.01
RESTORE_CONFIRM_S = 3.0
TOP_ROW_MIN, TOP_ROW_MAX = 11, 14  # venue/regime row height in the wide layout


class CascadeApp(App[int]):
    """The dashboard over a running pipeline, or over one fixed snapshot (tests, pictures)."""

    CSS_PATH = Path(__file__).resolve().parent / "app.tcss"  # absolute: subclasses live elsewhere
    TITLE = "cascade-tui"
    BINDINGS: ClassVar[list[BindingType]] = list(APP_BINDINGS)
    # Textual declares these as instance attributes: a ClassVar here would not type-check
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (46, "-tall")]  # noqa: RUF012

    def __init__(
        self,
        pipeline: Pipeline | None = None,
        *,
        options: RunOptions | None = None,
        status: dict[str, str] | None = None,
        snapshot: Snapshot | None = None,
        config: Config | None = None,
        config_path: str | Path | None = None,
        clock: Callable[[], float] | None = None,
        start_pipeline: bool = True,
    ) -> None:
        super().__init__()
        self.options = options or RunOptions()
        self.config = config or self.options.config
        # the pipeline's own info dict: kept by reference, so later updates (Redis URL) show
        self.status = status if status is not None else {}
        self.redis_state = ""
        self.pipeline = pipeline
        self.fixed_snapshot = snapshot
        self.config_path = Path(config_path) if config_path else None
        self.start_pipeline = start_pipeline
        self._clock = clock
        ui = self.config.ui
        params = pipeline.engine.params if pipeline is not None else self.config.engine
        window_s = ui.window_s if ui.window_s in WINDOWS else 5  # a config typo must not break the view
        self.view = ViewState(params=params, tape_min_usd=dict(ui.tape_min_usd), window_s=window_s)
        self.paced: PacedSource | None = (
            pipeline.source if pipeline is not None and isinstance(pipeline.source, PacedSource) else None
        )
        self.cascade_themes: list[str] = []
        self.shown_snapshot: Snapshot | None = None
        self.alerts = CriticalAlerts()
        self._critical_toast: Notification | None = None
        self._viewer_problem: tuple[str, str] | None = None
        self._venue_problem = ""
        self._restore_asked_at = -RESTORE_CONFIRM_S
        self.health = HealthView()
        self._pipeline_worker: Worker[None] | None = None
        self._source_end_reported = False
        self._top_row_height: int | None = None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # widget references are kept (no query per frame: a query from a timer that fires
        # while a dialog is the active screen found nothing and raised NoMatches)
        self.status_bar = StatusBar(id="status")
        self.replay_bar = ReplayBar(id="replay") if self.paced is not None else None
        self.venue_panel = VenuePanel(self.view, id="venues", classes="panel")
        self.regime_panel = RegimePanel(id="regime", classes="panel")
        self.scores_panel = ScoresPanel(self.view, id="scores")
        self.tape_panel = TapePanel(self.view, id="tape", classes="panel")
        self.liqmap_panel = LiqMapPanel(self.view, id="liqmap", classes="panel")
        self.liqmap_history = LiqMapHistory(id="liqmap-history", classes="panel")
        self.mid_right = MapColumn(id="mid-right")
        self.signal_log = SignalLog(self.view, id="signals")
        self.health_panel = HealthPanel(self.view, id="health", classes="panel")
        self.top_row = Horizontal(id="top-row", classes="row")
        yield self.status_bar
        if self.replay_bar is not None:
            yield self.replay_bar
        with VerticalScroll(id="dashboard", can_focus=False):
            with self.top_row:
                yield self.venue_panel
                yield self.regime_panel
            with Horizontal(id="mid-row", classes="row"):
                yield self.scores_panel
                with self.mid_right:
                    yield self.tape_panel
                    yield self.liqmap_panel
                    yield self.liqmap_history
            with Horizontal(id="bottom-row", classes="row"):
                yield self.signal_log
                yield self.health_panel
        yield Footer()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(APP_VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self._register_themes()
        self._apply_keymap()
        self.theme_changed_signal.subscribe(self, lambda _theme: self._on_theme_changed())
        self.scores_panel.table.focus()
        if self.pipeline is not None and self.start_pipeline:
            self._pipeline_worker = self.run_pipeline()
            # SIGTERM, SIGINT: the same clean exit as `q` (SIGHUP: cli.run_ui's watcher)
            install_stop_signals(asyncio.get_running_loop(), self._quit_on_signal)
        if self.pipeline is not None:
            self.set_interval(1 / FRAME_HZ, self.refresh_frame, name="frame")
            self.set_interval(1 / CHART_HZ, self.refresh_chart, name="chart")
            self.set_interval(1 / HEALTH_HZ, self.refresh_health_extras, name="health")
        self.refresh_frame(force=True)
        self.refresh_chart()

    def _quit_on_signal(self) -> None:
        self.call_later(self.action_quit_dashboard)

    def _register_themes(self) -> None:
        loaded = load_themes()
        for theme in loaded.themes:
            self.register_theme(theme)
        self.cascade_themes = [t.name for t in loaded.themes]
        for error in loaded.errors:
            self.notify(error, title="theme file refused", severity="warning")
        wanted = self.options.theme or self.config.ui.theme or DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            self.notify(f"unknown theme {wanted!r}; using {DEFAULT_THEME}", severity="warning")
            self.theme = DEFAULT_THEME

    def _apply_keymap(self) -> None:
        keymap = dict(self.config.ui.keymap)
        for bad in unknown_keymap_ids(keymap):
            self.notify(f"ui.keymap: no binding with id {bad!r}", severity="warning")
            del keymap[bad]
        self.set_keymap(keymap)

    # ------------------------------------------------------------------ engine worker

    @work(thread=True, exit_on_error=False, group="pipeline", name="pipeline", description="engine pipeline")
    def run_pipeline(self) -> None:
        """The engine's own asyncio loop, in a thread: UI redraws never delay it."""
        assert self.pipeline is not None
        asyncio.run(self.pipeline.run())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._pipeline_worker:
            return
        if event.state == WorkerState.ERROR:
            self.notify(
                f"engine stopped: {event.worker.error}", title="pipeline error", severity="error", timeout=30
            )
        elif event.state == WorkerState.SUCCESS and not self._source_end_reported:
            self._source_end_reported = True
            self.notify("the source has ended; the last state stays on screen", title="source finished")

    @property
    def pipeline_started(self) -> bool:
        return self._pipeline_worker is not None

    def stop_pipeline(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()

    async def action_quit_dashboard(self) -> None:
        """Stop the engine, wait for it to finish (bounded), restore the terminal, exit 0."""
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.stop()
            if self._pipeline_worker is not None:
                await asyncio.to_thread(pipeline.finished.wait, STOP_TIMEOUT_S)
        self.exit(0)

    def on_unmount(self) -> None:
        self.stop_pipeline()  # whatever closed the app, the engine thread must not outlive it

    # ------------------------------------------------------------------ frames

    def current_snapshot(self) -> Snapshot | None:
        if self.pipeline is None:
            return self.fixed_snapshot
        snap = self.pipeline.latest_snapshot or self.fixed_snapshot
        # a remote viewer shows the ingester's own signals, scores and regime (sources/redis.py)
        overlay = getattr(self.pipeline.source, "overlay_snapshot", None)
        return overlay(snap, time.time()) if overlay is not None else snap

    def now(self) -> float:
        """The clock for notes in the log: injected, else the engine's, else wall time."""
        if self._clock is not None:
            return self._clock()
        snap = self.current_snapshot()
        return snap.ts if snap is not None else time.time()

    @property
    def palette(self) -> Palette:
        return Palette(self.theme_variables)

    def source_label(self) -> str:
        if self.pipeline is not None:
            return self.pipeline.source.label()
        return self.status.get("source", "snapshot")

    def refresh_frame(self, force: bool = False) -> None:
        """Apply the newest snapshot to every panel (one batched repaint)."""
        if self.paced is not None and self.pipeline is not None and self.replay_bar is not None:
            self.replay_bar.show(self.paced.progress(), ended=self.pipeline.finished.is_set())
        snap = self.current_snapshot()
        if not force and (self.view.display_paused or snap is self.shown_snapshot):
            return
        self.shown_snapshot = snap
        pal = self.palette
        self._fit_top_row(snap)
        with self.batch_update():
            self.status_bar.show(
                snap,
                source=self.source_label(),
                redis=self.status.get("redis", "off"),
                redis_state=self.redis_state,
                display_paused=self.view.display_paused,
            )
            self.venue_panel.show(snap)
            self.regime_panel.show_numbers(snap)
            self.scores_panel.show(snap, pal, force=force)
            self.tape_panel.show(snap)
            self.liqmap_panel.show(snap)
            if snap is not None:
                self.liqmap_history.record(snap.liqmap)
            self.signal_log.show(snap, pal, force=force)
            self.health_panel.show(snap)
        if snap is not None:
            self._alert_on_critical(snap.signals)
        self._explain_no_venue(snap)

    def _fit_top_row(self, snap: Snapshot | None) -> None:
        """Wide layout: the venue row is as tall as its venues need (the scores get the rest)."""
        venues = len(snap.venues) if snap is not None else 0
        height: int | None = max(TOP_ROW_MIN, min(TOP_ROW_MAX, venues + 3))
        if not self.screen.has_class("-wide"):
            height = None  # the stacked layout sizes rows from the CSS
        if height != self._top_row_height:
            self._top_row_height = height
            self.top_row.styles.height = height

    def on_resize(self) -> None:
        # the breakpoint class may have just changed: re-fit after it is applied
        self.call_after_refresh(self._fit_top_row, self.shown_snapshot)

    def refresh_chart(self) -> None:
        if self.view.display_paused:
            return
        self.regime_panel.show_chart(self.current_snapshot())
        self.liqmap_history.show(self.liqmap_panel.asset)

    def refresh_health_extras(self) -> None:
        """Queue drops and Redis state live outside the snapshot (source and sinks): once a
        second the engine loop builds an immutable view of them (ui/health_view.py) and the
        view it built last time is shown."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        pipeline.call(self._collect_health, pipeline)
        health = self.health
        if health.redis_state:
            self.redis_state = health.redis_state
        if health.viewer is not None:
            self._show_viewer_state(health.viewer)
        self.health_panel.set_drops(health.venue_drops, health.queue_drops)

    def _collect_health(self, pipeline: Pipeline) -> None:
        self.health = collect_health(pipeline)  # runs on the engine loop; one reference swap

    def _explain_no_venue(self, snap: Snapshot | None) -> None:
        """No venue live and links failing: say why once, with what to do (e.g. no network)."""
        if snap is None or not snap.venues or any(v.state == "live" for v in snap.venues):
            self._venue_problem = ""
            return
        failures = Counter(v.failure for v in snap.venues if getattr(v, "failure", ""))
        if not failures:
            return
        kind = failures.most_common(1)[0][0]
        if kind != self._venue_problem:
            self._venue_problem = kind
            self.notify(
                failure_hint(kind), title=f"no venue connected · {failure_label(kind)}", severity="warning", timeout=20
            )

    def _show_viewer_state(self, stats: Mapping[str, Any]) -> None:
        """A remote viewer says plainly when its Redis cannot be read, and why (once per reason)."""
        state, reason = str(stats.get("state", "")), str(stats.get("reason", ""))
        self.redis_state = f"{state}: {reason}" if reason and state != "live" else state
        problem = (state, reason) if state in ("unreachable", "auth failed", "error", "reconnecting") else None
        if problem is not None and problem != self._viewer_problem:
            self.notify(
                f"{stats.get('server', 'redis')}: {reason or state}. The viewer shows what an ingester "
                "(cascade-tui --no-ui --redis-url URL) publishes there; pass the same --redis-url.",
                title=f"redis {state}",
                severity="error",
                timeout=30,
                markup=False,
            )
        self._viewer_problem = problem

    def _on_theme_changed(self) -> None:
        self.refresh_frame(force=True)
        self.refresh_chart()

    # ------------------------------------------------------------------ alerts

    def _alert_on_critical(self, signals: Iterable[Signal]) -> None:
        new = self.alerts.new_critical(signals)
        if new:
            self.critical_alert(new)

    def critical_alert(self, new: list[Signal]) -> None:
        """One bell and one toast for the episodes that just reached CRITICAL; a CRITICAL
        toast still on screen is replaced by one naming them all (never a stack of toasts)."""
        ui = self.config.ui
        if ui.bell:
            self.bell()
        if not ui.toasts:
            return
        toast = self.alerts.toast(new)
        if self._critical_toast is not None:
            self._unnotify(self._critical_toast)  # forgiving: an expired one is already gone
        self._critical_toast = Notification(toast.message, toast.title, "error", TOAST_S, markup=False)
        self.post_message(Notify(self._critical_toast))

    # ------------------------------------------------------------------ parameters

    def apply_params(self, params: EngineParams, reason: str) -> bool:
        """Send new parameters to the engine at once; refused values are reported, not applied."""
        old = self.view.params
        try:
            if self.pipeline is not None:
                self.pipeline.set_params(params)  # validates in this thread, applies on the engine loop
            else:
                validate(params)
        except ParamError as exc:
            self.notify(f"{exc} — not applied", title="parameter refused", severity="error")
            return False
        self.view.params = params
        changes = changed_keys(old, params)
        if changes:
            shown = ", ".join(f"{k} {format_value(a)}→{format_value(b)}" for k, a, b in changes[:4])
            more = f" (+{len(changes) - 4} more)" if len(changes) > 4 else ""
            self.view.ui_log.append(UiLogEntry(self.now(), f"{reason}: {shown}{more}"))
        self.refresh_frame(force=True)
        return True

    def action_threshold_editor(self) -> None:
        def done(result: EngineParams | None) -> None:
            if result is not None:
                self.apply_params(result, "editor")

        self.push_screen(ThresholdEditor(self.view.params), done)

    def action_select_level(self, level: int) -> None:
        self.view.selected_level = max(1, min(3, level))
        self.scores_panel.update_titles()

    def action_nudge(self, direction: int) -> None:
        t = self.view.params.thresholds
        name = ("watch", "warning", "critical")[self.view.selected_level - 1]
        value = round(getattr(t, name) + direction * NUDGE_STEP, 4)
        thresholds = msgspec.structs.replace(t, **{name: value})
        self.apply_params(msgspec.structs.replace(self.view.params, thresholds=thresholds), "threshold")

    def action_restore_defaults(self) -> None:
        """`r` twice within RESTORE_CONFIRM_S: one stray key must not throw away a tuning."""
        now = time.monotonic()
        if now - self._restore_asked_at > RESTORE_CONFIRM_S:
            self._restore_asked_at = now
            self.notify(
                f"press r again within {RESTORE_CONFIRM_S:.0f} s to restore every engine parameter to its default",
                title="restore defaults?",
                severity="warning",
                timeout=RESTORE_CONFIRM_S,
            )
            return
        self._restore_asked_at = -RESTORE_CONFIRM_S
        if self.apply_params(EngineParams(), "defaults restored"):
            self.notify("engine parameters restored to their defaults")

    def action_save_config(self) -> None:
        ui = msgspec.structs.replace(
            self.config.ui,
            window_s=self.view.window_s,
            theme=self.theme if self.theme in self.cascade_themes else self.config.ui.theme,
        )
        config = msgspec.structs.replace(self.config, engine=self.view.params, ui=ui)
        try:
            path = save_config(config, self.config_path or default_config_path())
        except OSError as exc:
            self.notify(f"cannot save: {exc}", severity="error")
            return
        self.config = config
        self.view.ui_log.append(UiLogEntry(self.now(), f"config saved to {path}"))
        self.notify(str(path), title="config saved")
        self.refresh_frame(force=True)

    # ------------------------------------------------------------------ view actions

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.config.ui.keymap))

    def action_cycle_liqmap_asset(self) -> None:
        self.liqmap_panel.cycle_asset()
        self.liqmap_history.show(self.liqmap_panel.asset)

    def action_cycle_window(self) -> None:
        self.view.cycle_window()
        self.refresh_frame(force=True)

    def action_cycle_tape_floor(self) -> None:
        self.view.cycle_tape_floor()
        self.refresh_frame(force=True)

    def action_filter_signals(self) -> None:
        def done(result: str | None) -> None:
            if result is not None:
                self.view.signal_filter = result
                self.refresh_frame(force=True)

        self.push_screen(FilterScreen(self.view.signal_filter), done)

    def action_pause_display(self) -> None:
        self.view.display_paused = not self.view.display_paused
        self.refresh_frame(force=True)

    def action_cycle_theme(self) -> None:
        names = self.cascade_themes or [DEFAULT_THEME]
        position = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(position + 1) % len(names)]
        self.notify(self.theme, title="theme", timeout=2)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG screenshot; by default in the data directory (Textual's own action,
        which the command palette also runs, would write to ~/Downloads)."""
        folder = Path(path) if path is not None else data_dir() / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        saved = self.save_screenshot(filename, path=str(folder))
        self.notify(saved, title="screenshot saved")

    # ------------------------------------------------------------------ demo / replay controls

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "threshold_editor" and isinstance(self.screen, ThresholdEditor):
            return False  # already open: a second `t` must not stack another editor
        # demo/replay controls are hidden and inactive for live sources, which cannot be paused
        return not (action in SOURCE_ACTIONS and self.paced is None)

    def _source_call(self, method: Callable[..., Any], *args: Any) -> None:
        assert self.pipeline is not None
        self.pipeline.call(method, *args)  # PacedSource controls run on the engine loop

    def action_toggle_source(self) -> None:
        if self.paced is not None:
            self._source_call(self.paced.toggle_pause)

    def action_source_speed(self, direction: int) -> None:
        if self.paced is None:
            return
        speed = next_speed(self.paced.speed, direction)
        self._source_call(self.paced.set_speed, speed)
        self.notify(f"speed {speed_label(speed)}", timeout=1.5)

    def action_next_signal(self) -> None:
        if self.paced is not None:
            self._source_call(self.paced.seek_next_signal)

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in APP_BINDINGS:
            action_name = binding.action.split("(", 1)[0]
            if self.check_action(action_name, ()) is not True:
                continue
            keys = binding.key_display or binding.key
            yield SystemCommand(binding.description, f"key: {keys}", partial(self.run_action, binding.action))


def run_dashboard(pipeline: Pipeline, options: RunOptions, status: dict[str, str]) -> int:
    """Run the dashboard over a pipeline until the user quits; returns the exit code (0)."""
    app = CascadeApp(
        pipeline,
        options=options,
        status=status,
        config_path=status.get("config_path"),
    )
    try:
        app.run()
    finally:
        pipeline.stop()  # whatever ended the app (q, ctrl+q, a crash), the engine stops too
        pipeline.finished.wait(STOP_TIMEOUT_S if app.pipeline_started else 0)
    # 0 after q or ctrl+q; Textual sets 1 when the app itself crashed
    return app.return_code if app.return_code is not None else 0
