"""`cascade-tui backtest | tune | history` entry points, and the backtest command itself.

The lead's cli.py dispatches `cascade-tui <cmd> ...` to main_backtest / main_tune /
main_history; each returns the exit code (2 with a message on bad arguments or files).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table

from cascade_tui.backtest.charts import pr_chart
from cascade_tui.backtest.cli_common import (
    add_scoring_args,
    check_label_pairing,
    level_from_name,
    load_label_sets,
    rules_from_args,
)
from cascade_tui.backtest.evaluate import assign_labels, evaluate
from cascade_tui.backtest.matching import MatchRules
from cascade_tui.backtest.offline import (
    ParsedCapture,
    RegimeLog,
    ReplayFilter,
    parse_capture,
    replay_capture,
    run_engine,
)
from cascade_tui.backtest.report import render, to_json
from cascade_tui.backtest.sweep import SWEEP_THRESHOLDS, sweep
from cascade_tui.capture import CaptureError
from cascade_tui.cli_support import (
    BadArguments,
    config_from,
    existing_files,
    num_or_dash,
    pct_or_dash,
    progress_bar,
    report_console,
    run_subcommand,
)
from cascade_tui.engine.params import LEVEL_NAMES, EngineParams, ParamError, validate
from cascade_tui.engine.types import Signal
from cascade_tui.labels import Label


def main_tune(argv: list[str]) -> int:
    from cascade_tui.backtest.cli_tune import main_tune as run

    return run(argv)


def _venue_weights(items: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        venue, sep, value = item.partition("=")
        try:
            if not sep or not venue:
                raise ValueError
            out[venue.strip().lower()] = float(value)
        except ValueError:
            raise BadArguments(f"--venue-weight {item!r}: expected VENUE=WEIGHT, e.g. binance=0") from None
    return out


def replay_all(
    paths: Sequence[Path], params: EngineParams, replay_filter: ReplayFilter | None, console: Console
) -> tuple[list[ParsedCapture], list[list[Signal]], list[RegimeLog]]:
    """Parse and run every capture at full speed in one streaming pass, with a progress bar
    (on stderr, shown only on a terminal) over the compressed bytes of all the captures."""
    captures: list[ParsedCapture] = []
    signals: list[list[Signal]] = []
    regime_paths: list[RegimeLog] = []
    sizes = [path.stat().st_size for path in paths]
    with progress_bar(console, bytes_total=True) as progress:
        task = progress.add_task("replaying", total=sum(sizes) or None)
        done = 0
        for path, size in zip(paths, sizes, strict=True):
            progress.update(task, description=f"replaying {path.name}")

            def show(frames: int, read: int, name: str = path.name, before: int = done) -> None:
                progress.update(
                    task, completed=before + read, description=f"replaying {name}: {frames:,} frames"
                )

            try:
                regimes: RegimeLog = []
                cap, sigs = replay_capture(path, params, replay_filter, on_frame=show, regime_log=regimes)
            except CaptureError as exc:
                raise BadArguments(str(exc)) from None
            captures.append(cap)
            signals.append(sigs)
            regime_paths.append(regimes)
            done += size
            progress.update(task, completed=done)
    return captures, signals, regime_paths


def backtest_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cascade-tui backtest",
        description="Replay captures at full speed and score the signals against labelled cascades.",
    )
    p.add_argument("captures", nargs="+", metavar="CAP", help="capture files (gzip JSON lines)")
    p.add_argument(
        "--labels",
        nargs="+",
        required=True,
        metavar="FILE",
        help="labels (JSON lines): one file for all captures, or one per capture in order",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    add_scoring_args(
        p,
        level_help="headline alarm level (WATCH, WARNING, CRITICAL)",
        config_help="settings file whose [engine] section is used (e.g. tune --out)",
    )
    p.add_argument(
        "--venue-weight",
        action="append",
        default=[],
        metavar="VENUE=W",
        help="override a venue's weight in the engine (repeatable; 0 silences it in the factors)",
    )
    p.add_argument(
        "--drop-venue",
        action="append",
        default=[],
        metavar="VENUE",
        help="drop every event of this venue before the engine (repeatable)",
    )
    p.add_argument(
        "--only-throttled",
        action="store_true",
        help="drop liquidations of complete (unsampled) feeds: what throttled venues alone show",
    )
    p.add_argument(
        "--sweep",
        action="store_true",
        help="also sweep the --level threshold (0.20..0.90, the others moved alike): precision/recall "
        "curve and AUC-PR (keeps the parsed events in memory)",
    )
    return p


def main_backtest(argv: list[str]) -> int:
    return run_subcommand("backtest", backtest_parser(), _run_backtest, argv)


def _run_backtest(args: argparse.Namespace) -> int:

    level = level_from_name(args.level)
    rules = rules_from_args(args)
    paths = existing_files(args.captures, "capture")
    label_sets = load_label_sets(args.labels)
    check_label_pairing(paths, label_sets, "--labels")
    params = config_from(args.config).engine
    weights = _venue_weights(args.venue_weight)
    if weights:
        params = msgspec.structs.replace(params, venue_weights={**params.venue_weights, **weights})
    try:
        validate(params)
    except ParamError as exc:
        raise BadArguments(str(exc)) from None
    replay_filter = ReplayFilter(
        only_throttled=args.only_throttled, drop_venues=frozenset(v.lower() for v in args.drop_venue)
    )
    err = Console(stderr=True)
    if args.sweep:
        captures, signals, regime_paths = _parse_and_run(paths, params, replay_filter, err)
    else:
        captures, signals, regime_paths = replay_all(paths, params, replay_filter, err)
    report = evaluate(captures, signals, label_sets, rules, replay_filter, regime_paths=regime_paths)
    report["headline_level"] = LEVEL_NAMES[level]
    if args.sweep:
        report["sweep"] = _sweep(captures, label_sets, params, rules, level, replay_filter, err)
    report["venue_weights"] = dict(sorted(params.venue_weights.items()))
    for warning in report["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}")
    if args.json:
        sys.stdout.write(to_json(report) + "\n")
        return 0
    console = report_console()
    render(report, console, LEVEL_NAMES[level])
    if args.sweep:
        _render_sweep(report["sweep"], console)
    return 0


def _parse_and_run(
    paths: Sequence[Path], params: EngineParams, replay_filter: ReplayFilter | None, console: Console
) -> tuple[list[ParsedCapture], list[list[Signal]], list[RegimeLog]]:
    """Like replay_all, but keeps the parsed events for the sweep."""

    captures: list[ParsedCapture] = []
    signals: list[list[Signal]] = []
    regime_paths: list[RegimeLog] = []
    with progress_bar(console) as progress:
        task = progress.add_task("parsing", total=len(paths))
        for path in paths:
            progress.update(task, description=f"parsing {path.name}")
            try:
                cap = parse_capture(path)
            except CaptureError as exc:
                raise BadArguments(str(exc)) from None
            captures.append(cap)
            regimes: RegimeLog = []
            signals.append(run_engine(cap, params, replay_filter, regimes))
            regime_paths.append(regimes)
            progress.advance(task)
    return captures, signals, regime_paths


def _sweep(
    captures: list[ParsedCapture],
    label_sets: list[list[Label]],
    params: EngineParams,
    rules: MatchRules,
    level: int,
    replay_filter: ReplayFilter | None,
    console: Console,
) -> dict[str, Any]:

    per_capture, _, _ = assign_labels(captures, label_sets, rules.pre_s)
    with progress_bar(console) as progress:
        task = progress.add_task(f"sweeping {LEVEL_NAMES[level]}", total=len(SWEEP_THRESHOLDS))
        return sweep(
            captures,
            per_capture,
            params,
            rules,
            level,
            replay_filter,
            on_point=lambda _value: progress.advance(task),
        )


def _render_sweep(result: dict[str, Any], console: Console) -> None:

    table = Table(
        title=f"{result['level']} threshold sweep (AUC-PR {num_or_dash(result['auc_pr'])}, "
        f"operating point {result['operating_threshold']:.2f})",
        title_justify="left",
    )
    for col in ("threshold", "prec", "recall", "F1", "TP", "FP", "delay50"):
        table.add_column(col, justify="right")
    operating = None
    for p in result["points"]:
        at_operating = abs(p["threshold"] - result["operating_threshold"]) < 1e-9
        if at_operating and p["recall"] is not None and p["precision"] is not None:
            operating = (p["recall"], p["precision"])
        table.add_row(
            f"{p['threshold']:.2f}",
            pct_or_dash(p["precision"]),
            pct_or_dash(p["recall"]),
            num_or_dash(p["f1"]),
            str(p["tp"]),
            str(p["fp"]),
            num_or_dash(p["delay_median_s"], "s"),
            style="bold" if at_operating else "",
        )
    console.print(table)
    points = [
        (p["recall"], p["precision"])
        for p in result["points"]
        if p["recall"] is not None and p["precision"] is not None
    ]
    console.print(
        pr_chart(
            points,
            operating,
            f"{result['level']} threshold sweep: precision vs recall",
            chosen_label="current",
            points_label="thresholds",
        )
    )
