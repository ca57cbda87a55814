#!/usr/bin/env python3
"""UI benchmark: refresh rate, frame intervals and CPU with the demo market at full speed.

Runs the real dashboard headless (Textual's headless driver still lays out and renders every
frame; only the terminal write is skipped) over the real pipeline and engine, with the demo
source at speed 0 (as fast as the engine can take it), and prints one JSON object:

    {"first_frame_s", "frames_applied_per_s", "frame_interval_ms": {"p50", "p99", "max"},
     "chart_redraws", "engine_events_per_s", "cpu_percent", "duration_s",
     "editor_open_s": {"median", "max", "boxes"}, ...}

`editor_open_s`: after the measured seconds, `t` is pressed three times (escape between):
from the key to the threshold editor on screen with every box mounted, while the engine
keeps running at full speed beside it.

    .venv/bin/python benchmarks/ui.py [--seconds 10] [--speed 0] [--size 120x40]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
from typing import Any

from cascade_tui.config import Config
from cascade_tui.engine import Engine
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sources.demo import DemoSource
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.threshold_editor import ThresholdEditor


class MeasuredApp(CascadeApp):
    """The dashboard, counting the frames it applies and the time between timer ticks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticks: list[float] = []
        self.frames_applied = 0
        self.chart_redraws = 0
        self.first_frame_at: float | None = None

    def refresh_frame(self, force: bool = False) -> None:
        self.ticks.append(time.perf_counter())
        before = self.shown_snapshot
        super().refresh_frame(force)
        if self.shown_snapshot is not before and self.shown_snapshot is not None:
            self.frames_applied += 1
            if self.first_frame_at is None:
                self.first_frame_at = time.perf_counter()

    def refresh_chart(self) -> None:
        self.chart_redraws += 1
        super().refresh_chart()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(seconds: float, speed: float, size: tuple[int, int], seed: int) -> dict[str, Any]:
    pipeline = Pipeline(DemoSource(seed=seed, speed=speed), Engine())
    app = MeasuredApp(pipeline, config=Config())
    started = time.perf_counter()
    cpu_started = time.process_time()
    async with app.run_test(size=size) as pilot:
        while app.first_frame_at is None and time.perf_counter() - started < 30:
            await asyncio.sleep(0.01)
        measure_from = time.perf_counter()
        frames_before = app.frames_applied
        events_before = pipeline.events
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - measure_from
        frames = app.frames_applied - frames_before
        events = pipeline.events - events_before
        cpu = time.process_time() - cpu_started
        wall = time.perf_counter() - started
        ticks = [t for t in app.ticks if t >= measure_from]
        intervals_ms = [(b - a) * 1000 for a, b in itertools.pairwise(ticks)]
        opens, boxes = await time_editor(app, pilot)
        await pilot.press("q")
    return {
        "v": 1,
        "benchmark": "ui",
        "size": f"{size[0]}x{size[1]}",
        "source": f"demo seed {seed} speed {speed:g}",
        "duration_s": round(elapsed, 3),
        "first_frame_s": round((app.first_frame_at or started) - started, 3),
        "frames_applied_per_s": round(frames / elapsed, 2),
        "frame_timer_hz_target": 8,
        "frame_interval_ms": {
            "p50": round(statistics.median(intervals_ms), 1) if intervals_ms else None,
            "p99": round(percentile(intervals_ms, 0.99), 1),
            "max": round(max(intervals_ms), 1) if intervals_ms else None,
        },
        "chart_redraws": app.chart_redraws,
        "engine_events_per_s": round(events / elapsed, 1),
        "cpu_percent": round(100.0 * cpu / wall, 1),
        "editor_open_s": {
            "median": round(statistics.median(opens), 3),
            "max": round(max(opens), 3),
            "boxes": boxes,
        },
        "exit_code": app.return_code,
    }


async def time_editor(app: MeasuredApp, pilot: Any, times: int = 3) -> tuple[list[float], int]:
    """Seconds from `t` to the threshold editor on screen, mounted and laid out, `times` times
    (timed by the editor's own first resize, not by the pilot, which also waits for the
    engine's queued messages)."""
    opens: list[float] = []
    boxes = 0
    shown: list[float] = []

    def on_resize(self: ThresholdEditor, event: Any) -> None:  # the editor defines none of its own
        if not shown:
            shown.append(time.perf_counter())

    ThresholdEditor.on_resize = on_resize  # type: ignore[attr-defined]
    try:
        for _ in range(times):
            shown.clear()
            t0 = time.perf_counter()
            await pilot.press("t")
            while not shown or not isinstance(app.screen, ThresholdEditor):
                await asyncio.sleep(0.005)
            opens.append(shown[0] - t0)
            boxes = len(app.screen.query("Input"))
            await pilot.press("escape")
            while isinstance(app.screen, ThresholdEditor):
                await asyncio.sleep(0.005)
    finally:
        del ThresholdEditor.on_resize  # type: ignore[attr-defined]
    return opens, boxes


def main() -> int:
    parser = argparse.ArgumentParser(description="dashboard refresh/CPU benchmark (prints JSON)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=0.0, help="demo pacing; 0 = as fast as possible")
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.lower().split("x"))
    print(json.dumps(asyncio.run(run(args.seconds, args.speed, (width, height), args.seed))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
