"""`cascade-tui backtest | tune | history`: argument parsing and wiring (exit 2 on bad input)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cascade_tui.backtest.matching import DEFAULT_FLOOR, SEVERITY_ORDER, MatchRules
from cascade_tui.backtest.offline import ParsedCapture, ReplayFilter, replay_capture
from cascade_tui.capture import CaptureError
from cascade_tui.config import Config, ConfigError, load_config
from cascade_tui.engine.params import LEVEL_NAMES, EngineParams, ParamError, validate
from cascade_tui.engine.types import Signal
from cascade_tui.sources.simulate.labels import Label, read_labels


class BadArguments(Exception):
    """Printed as `cascade-tui <cmd>: error: ...`, exit 2."""


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """argparse exits on errors and --help; turn that into a return code."""
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 2


def _fail(cmd: str, message: str) -> int:
    print(f"cascade-tui {cmd}: error: {message}", file=sys.stderr)
    return 2


def _existing(paths: Sequence[str], what: str) -> list[Path]:
    out = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise BadArguments(f"{what} {p}: no such file")
        out.append(path)
    return out


def load_label_sets(paths: Sequence[str]) -> list[list[Label]]:
    sets = []
    for path in _existing(paths, "labels file"):
        try:
            sets.append(read_labels(path))
        except (ValueError, OSError) as exc:
            raise BadArguments(str(exc)) from None
    return sets


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


def _level(name: str) -> int:
    upper = name.upper()
    if upper not in LEVEL_NAMES[1:]:
        raise BadArguments(f"--level {name!r}: one of WATCH, WARNING, CRITICAL")
    return LEVEL_NAMES.index(upper)


def _rules(args: argparse.Namespace) -> MatchRules:
    try:
        return MatchRules(
            pre_s=args.tolerance_pre, grace_s=args.grace, refractory_s=args.refractory, floor=args.floor
        )
    except ValueError as exc:
        raise BadArguments(str(exc)) from None


def _config(path: str | None) -> Config:
    try:
        return load_config(path) if path else Config()
    except ConfigError as exc:
        raise BadArguments(str(exc)) from None


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def replay_all(
    paths: Sequence[Path], params: EngineParams, replay_filter: ReplayFilter | None, console: Console
) -> tuple[list[ParsedCapture], list[list[Signal]]]:
    """Parse and run every capture at full speed in one streaming pass, with a progress bar."""
    captures: list[ParsedCapture] = []
    signals: list[list[Signal]] = []
    with progress_bar(console) as progress:
        task = progress.add_task("replaying", total=len(paths))
        for path in paths:
            progress.update(task, description=f"replaying {path.name}")

            def show(frames: int, name: str = path.name) -> None:
                progress.update(task, description=f"replaying {name}: {frames:,} frames")

            try:
                cap, sigs = replay_capture(path, params, replay_filter, on_frame=show)
            except CaptureError as exc:
                raise BadArguments(str(exc)) from None
            captures.append(cap)
            signals.append(sigs)
            progress.advance(task)
    return captures, signals


def _add_matching_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tolerance-pre",
        type=float,
        default=30.0,
        metavar="P",
        help="seconds before a label's start an alarm still detects it (default 30)",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=120.0,
        metavar="G",
        help="seconds after a label's end an alarm is not false (default 120)",
    )
    p.add_argument(
        "--refractory",
        type=float,
        default=60.0,
        metavar="R",
        help="re-alarms closer than this to the previous one merge (default 60)",
    )
    p.add_argument(
        "--floor",
        default=DEFAULT_FLOOR,
        choices=SEVERITY_ORDER,
        help="labels below this severity are don't-care (default moderate: minor is don't-care)",
    )


# ----------------------------------------------------------------------------- backtest


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
    p.add_argument("--level", default="WARNING", help="headline alarm level (WATCH, WARNING, CRITICAL)")
    _add_matching_args(p)
    p.add_argument(
        "--config", metavar="FILE", help="settings file whose [engine] section is used (e.g. tune --out)"
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
    args = _parse(backtest_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        return _run_backtest(args)
    except BadArguments as exc:
        return _fail("backtest", str(exc))


def _run_backtest(args: argparse.Namespace) -> int:
    from cascade_tui.backtest.evaluate import evaluate
    from cascade_tui.backtest.report import render, to_json

    level = _level(args.level)
    rules = _rules(args)
    paths = _existing(args.captures, "capture")
    label_sets = load_label_sets(args.labels)
    if len(label_sets) not in (1, len(paths)):
        raise BadArguments(
            f"--labels: give one file, or one per capture ({len(paths)}), not {len(label_sets)}"
        )
    params = _config(args.config).engine
    weights = _venue_weights(args.venue_weight)
    if weights:
        import msgspec

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
        captures, signals = _parse_and_run(paths, params, replay_filter, err)
    else:
        captures, signals = replay_all(paths, params, replay_filter, err)
    report = evaluate(captures, signals, label_sets, rules, replay_filter)
    report["headline_level"] = LEVEL_NAMES[level]
    if args.sweep:
        report["sweep"] = _sweep(captures, label_sets, params, rules, level, replay_filter, err)
    report["venue_weights"] = dict(sorted(params.venue_weights.items()))
    for warning in report["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}")
    if args.json:
        sys.stdout.write(to_json(report) + "\n")
        return 0
    console = Console()
    render(report, console, LEVEL_NAMES[level])
    if args.sweep:
        _render_sweep(report["sweep"], console)
    return 0


def _parse_and_run(
    paths: Sequence[Path], params: EngineParams, replay_filter: ReplayFilter | None, console: Console
) -> tuple[list[ParsedCapture], list[list[Signal]]]:
    """Like replay_all, but keeps the parsed events for the sweep."""
    from cascade_tui.backtest.offline import parse_capture, run_engine

    captures: list[ParsedCapture] = []
    signals: list[list[Signal]] = []
    with progress_bar(console) as progress:
        task = progress.add_task("parsing", total=len(paths))
        for path in paths:
            progress.update(task, description=f"parsing {path.name}")
            try:
                cap = parse_capture(path)
            except CaptureError as exc:
                raise BadArguments(str(exc)) from None
            captures.append(cap)
            signals.append(run_engine(cap, params, replay_filter))
            progress.advance(task)
    return captures, signals


def _sweep(
    captures: list[ParsedCapture],
    label_sets: list[list[Label]],
    params: EngineParams,
    rules: MatchRules,
    level: int,
    replay_filter: ReplayFilter | None,
    console: Console,
) -> dict[str, Any]:
    from cascade_tui.backtest.evaluate import assign_labels
    from cascade_tui.backtest.sweep import SWEEP_THRESHOLDS, sweep

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
    from rich.table import Table

    table = Table(
        title=f"{result['level']} threshold sweep (AUC-PR {_f_or_dash(result['auc_pr'])}, "
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
            _pct_or_dash(p["precision"]),
            _pct_or_dash(p["recall"]),
            _f_or_dash(p["f1"]),
            str(p["tp"]),
            str(p["fp"]),
            _f_or_dash(p["delay_median_s"], "s"),
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


# ----------------------------------------------------------------------------- tune


def tune_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cascade-tui tune",
        description="Search thresholds, gates and weights on training captures; report them on separate "
        "validation captures; write the chosen settings as a config file.",
    )
    p.add_argument("--train", nargs="+", required=True, metavar="CAP", help="training captures")
    p.add_argument(
        "--train-labels",
        nargs="+",
        required=True,
        metavar="FILE",
        help="labels of the training captures (one file, or one per capture)",
    )
    p.add_argument(
        "--validate", nargs="+", required=True, metavar="CAP", help="validation captures (never searched on)"
    )
    p.add_argument(
        "--validate-labels",
        nargs="+",
        required=True,
        metavar="FILE",
        help="labels of the validation captures (one file, or one per capture)",
    )
    p.add_argument(
        "--out", required=True, metavar="FILE", help="config TOML to write with the chosen [engine]"
    )
    p.add_argument("--config", metavar="FILE", help="base settings (default: built-in defaults)")
    p.add_argument("--trials", type=int, default=24, help="candidates to score, base included (default 24)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random search (default 1)")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2 = both cores)")
    p.add_argument(
        "--level", default="WARNING", help="alarm level the objective is computed at (default WARNING)"
    )
    p.add_argument("--min-precision", type=float, default=0.8, help="precision constraint (default 0.8)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    _add_matching_args(p)
    return p


def main_tune(argv: list[str]) -> int:
    args = _parse(tune_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        return _run_tune(args)
    except BadArguments as exc:
        return _fail("tune", str(exc))


def _run_tune(args: argparse.Namespace) -> int:
    import json

    import msgspec
    from rich.table import Table

    from cascade_tui.backtest.report import render
    from cascade_tui.backtest.tune import OverlapError, Trial, check_disjoint, tune
    from cascade_tui.config import save_config

    level = _level(args.level)
    rules = _rules(args)
    if args.trials < 1 or args.workers < 1 or not (0.0 < args.min_precision <= 1.0):
        raise BadArguments("--trials and --workers must be >= 1, --min-precision within (0, 1]")
    train = _existing(args.train, "training capture")
    train_labels = _existing(args.train_labels, "labels file")
    validate_caps = _existing(args.validate, "validation capture")
    validate_labels = _existing(args.validate_labels, "labels file")
    for caps, labels, what in (
        (train, train_labels, "--train-labels"),
        (validate_caps, validate_labels, "--validate-labels"),
    ):
        if len(labels) not in (1, len(caps)):
            raise BadArguments(f"{what}: give one file, or one per capture ({len(caps)}), not {len(labels)}")
    try:
        check_disjoint(train, validate_caps)
    except OverlapError as exc:
        raise BadArguments(str(exc)) from None
    cfg = _config(args.config)
    err = Console(stderr=True)
    err.print(
        f"tuning on {len(train)} training capture(s), {args.trials} candidates, {args.workers} process(es)"
    )
    with progress_bar(err) as progress:
        task = progress.add_task("training search", total=args.trials)

        def on_trial(trial: Trial) -> None:
            progress.advance(task)

        def on_phase(phase: str) -> None:
            progress.update(task, description="training search" if phase == "train" else "validation")

        try:
            result = tune(
                train,
                train_labels,
                validate_caps,
                validate_labels,
                cfg.engine,
                rules,
                level=level,
                trials=args.trials,
                seed=args.seed,
                workers=args.workers,
                min_precision=args.min_precision,
                on_trial=on_trial,
                on_phase=on_phase,
            )
        except OverlapError as exc:
            raise BadArguments(str(exc)) from None
        except (ValueError, CaptureError) as exc:
            raise BadArguments(str(exc)) from None
    out = save_config(msgspec.structs.replace(cfg, engine=result.best_params), args.out)
    name = LEVEL_NAMES[level]
    val = result.validation["levels"][name]
    val_base = result.validation_base["levels"][name]
    summary = {
        "v": 1,
        "level": name,
        "min_precision": args.min_precision,
        "reached_precision_on_train": result.reached_precision,
        "chosen": {
            "candidate": result.best.candidate.index,
            "describe": result.best.candidate.describe(),
            "train": result.best.metrics,
        },
        "validation": {
            k: val[k] for k in ("precision", "recall", "f1", "tp", "fp", "labels", "detected", "delay_s")
        },
        "validation_base": {
            k: val_base[k] for k in ("precision", "recall", "f1", "tp", "fp", "labels", "detected", "delay_s")
        },
        "trials": [
            {"candidate": t.candidate.index, "describe": t.candidate.describe(), **t.metrics}
            for t in result.trials
        ],
        "out": str(out),
    }
    if args.json:
        sys.stdout.write(json.dumps(summary, sort_keys=True, indent=2) + "\n")
        return 0
    console = Console()
    table = Table(title=f"Training candidates at {name} (best 10 by the objective)", title_justify="left")
    for col in ("#", "candidate", "prec", "recall", "F1", "delay50", "ok"):
        table.add_column(col, justify="left" if col == "candidate" else "right")
    ranked = sorted(result.trials, key=lambda t: (t.feasible, t.metrics.get("f1") or 0.0), reverse=True)
    for t in ranked[:10]:
        m = t.metrics
        style = "bold green" if t is result.best else ""
        table.add_row(
            str(t.candidate.index),
            t.candidate.describe(),
            _pct_or_dash(m["precision"]),
            _pct_or_dash(m["recall"]),
            _f_or_dash(m["f1"]),
            _f_or_dash(m["delay_s"]["median"], "s"),
            "✓" if t.feasible else "",
            style=style,
        )
    console.print(table)
    console.print(precision_recall_chart(result.trials, result.best, args.min_precision))
    if not result.reached_precision:
        console.print(
            f"[yellow]no candidate reached precision {args.min_precision:.0%} on training; "
            "kept the most precise one[/]"
        )
    console.print(
        f"[bold]Validation[/] (never seen by the search) at {name}: tuned precision "
        f"{_pct_or_dash(val['precision'])} recall {_pct_or_dash(val['recall'])} F1 {_f_or_dash(val['f1'])}"
        f" — base precision {_pct_or_dash(val_base['precision'])} recall {_pct_or_dash(val_base['recall'])}"
        f" F1 {_f_or_dash(val_base['f1'])}"
    )
    render(result.validation, console, name)
    console.print(f"wrote {out}  (use it with --config {out})")
    return 0


def _pct_or_dash(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _f_or_dash(x: float | None, unit: str = "") -> str:
    return "—" if x is None else f"{x:.2f}{unit}"


def pr_chart(
    points: Sequence[tuple[float, float]],
    chosen: tuple[float, float] | None,
    title: str,
    chosen_label: str = "chosen",
    min_precision: float = 0.8,
    points_label: str = "candidates",
) -> Any:
    """A precision-vs-recall scatter (plotext) rendered for rich, one point marked."""
    import plotext as plt
    from rich.text import Text

    plt.clear_figure()
    plt.plotsize(72, 18)
    plt.theme("clear")
    plt.title(title)
    plt.xlabel("recall")
    plt.ylabel("precision")
    plt.xlim(0, 1.05)
    plt.ylim(0, 1.05)
    if points:
        plt.scatter([p[0] for p in points], [p[1] for p in points], marker="dot", label=points_label)
    if chosen is not None:
        plt.scatter([chosen[0]], [chosen[1]], marker="x", label=chosen_label)
    plt.hline(min_precision)
    return Text.from_ansi(plt.build())


def precision_recall_chart(trials: Sequence[Any], best: Any, min_precision: float = 0.8) -> Any:
    """Precision vs recall of every training candidate, the chosen one marked."""
    points = [
        (t.metrics["recall"], t.metrics["precision"])
        for t in trials
        if t.metrics["recall"] is not None and t.metrics["precision"] is not None
    ]
    chosen = None
    if best.metrics["recall"] is not None and best.metrics["precision"] is not None:
        chosen = (best.metrics["recall"], best.metrics["precision"])
    return pr_chart(points, chosen, "training candidates: precision vs recall", min_precision=min_precision)


# ----------------------------------------------------------------------------- history


def history_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cascade-tui history", description="Last signals and totals per day.")
    p.add_argument(
        "--last", type=int, default=20, metavar="N", help="how many recent signals to show (default 20)"
    )
    p.add_argument("--days", type=int, default=7, metavar="N", help="days of totals (default 7)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument(
        "--history-url",
        metavar="URL",
        help="postgresql://… or sqlite:///path (default: [history] url, else the SQLite file "
        "in the data dir)",
    )
    p.add_argument("--config", metavar="FILE", help="settings file ([history] url)")
    return p


def main_history(argv: list[str]) -> int:
    args = _parse(history_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        return _run_history(args)
    except BadArguments as exc:
        return _fail("history", str(exc))


def _run_history(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from rich.table import Table

    from cascade_tui.sinks.history import default_history_path
    from cascade_tui.sinks.history_db import read_history

    if args.last < 0 or args.days < 1:
        raise BadArguments("--last must be >= 0 and --days >= 1")
    url = args.history_url if args.history_url is not None else _config(args.config).history.url
    if url == "off":
        raise BadArguments('history is off ([history] url = "off"); give --history-url')
    try:
        data: dict[str, Any] = read_history(url, default_history_path(), args.last, args.days)
    except FileNotFoundError as exc:
        raise BadArguments(str(exc)) from None
    except Exception as exc:  # database errors: name them, do not dump a traceback
        raise BadArguments(f"cannot read history ({type(exc).__name__}: {exc})") from None
    if args.json:
        sys.stdout.write(json.dumps({"v": 1, **data}, sort_keys=True, indent=2) + "\n")
        return 0
    console = Console()
    console.print(f"[bold]History[/] {data['source']}")
    sigs = Table(title=f"Last {len(data['signals'])} signal transitions", title_justify="left")
    for col in ("time (UTC)", "asset", "level", "state", "direction", "score", "regime"):
        sigs.add_column(col)
    for s in data["signals"]:
        when = datetime.fromtimestamp(s["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        sigs.add_row(
            when,
            s["asset"],
            s["level_name"],
            s["state"],
            s["direction"] or "",
            f"{s['score']:.2f}" if s["score"] is not None else "—",
            s["regime"] or "",
        )
    console.print(sigs)
    days = Table(title=f"Per day (the {args.days} days up to the newest record)", title_justify="left")
    for col in ("day", "WATCH", "WARNING", "CRITICAL", "liquidations", "long USD", "short USD"):
        days.add_column(col, justify="left" if col == "day" else "right")
    for d in data["days"]:
        days.add_row(
            d["day"],
            str(d["WATCH"]),
            str(d["WARNING"]),
            str(d["CRITICAL"]),
            str(d["liquidations"]),
            f"{d['long_usd']:,.0f}",
            f"{d['short_usd']:,.0f}",
        )
    console.print(days)
    return 0
