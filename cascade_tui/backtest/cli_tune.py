"""`cascade-tui tune`: search on training captures, report on validation ones, write the TOML."""

from __future__ import annotations

import argparse
import json
import sys

import msgspec
from rich.console import Console
from rich.table import Table

from cascade_tui.backtest.charts import precision_recall_chart
from cascade_tui.backtest.cli_common import (
    add_scoring_args,
    check_label_pairing,
    level_from_name,
    refuse_test_markets,
    rules_from_args,
)
from cascade_tui.backtest.report import render
from cascade_tui.backtest.tune import OverlapError, Trial, check_disjoint, tune
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
from cascade_tui.config import save_config
from cascade_tui.engine.params import LEVEL_NAMES


def tune_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cascade-tui tune",
        description="Search the fast path, thresholds, gates and weights on training captures; report them "
        "on separate validation captures; write the chosen settings as a config file.",
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
    p.add_argument("--trials", type=int, default=24, help="candidates to score, base included (default 24)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random search (default 1)")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2 = both cores)")
    p.add_argument("--min-precision", type=float, default=0.8, help="precision constraint (default 0.8)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    add_scoring_args(
        p,
        level_help="alarm level the objective is computed at (default WARNING)",
        config_help="base settings (default: built-in defaults)",
    )
    return p


def main_tune(argv: list[str]) -> int:
    return run_subcommand("tune", tune_parser(), _run_tune, argv)


def _run_tune(args: argparse.Namespace) -> int:

    level = level_from_name(args.level)
    rules = rules_from_args(args)
    if args.trials < 1 or args.workers < 1 or not (0.0 < args.min_precision <= 1.0):
        raise BadArguments("--trials and --workers must be >= 1, --min-precision within (0, 1]")
    train = existing_files(args.train, "training capture")
    train_labels = existing_files(args.train_labels, "labels file")
    validate_caps = existing_files(args.validate, "validation capture")
    validate_labels = existing_files(args.validate_labels, "labels file")
    check_label_pairing(train, train_labels, "--train-labels")
    check_label_pairing(validate_caps, validate_labels, "--validate-labels")
    refuse_test_markets([*train, *validate_caps])
    try:
        check_disjoint(train, validate_caps)
    except OverlapError as exc:
        raise BadArguments(str(exc)) from None
    cfg = config_from(args.config)
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
    console = report_console()
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
            pct_or_dash(m["precision"]),
            pct_or_dash(m["recall"]),
            num_or_dash(m["f1"]),
            num_or_dash(m["delay_s"]["median"], "s"),
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
        f"{pct_or_dash(val['precision'])} recall {pct_or_dash(val['recall'])} F1 {num_or_dash(val['f1'])}"
        f" — base precision {pct_or_dash(val_base['precision'])} recall {pct_or_dash(val_base['recall'])}"
        f" F1 {num_or_dash(val_base['f1'])}"
    )
    render(result.validation, console, name)
    console.print(f"wrote {out}  (use it with --config {out})")
    return 0
