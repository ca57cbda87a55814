"""What the backtest, tune and history commands share: argument checks, progress bar, errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cascade_tui.backtest.matching import DEFAULT_FLOOR, SEVERITY_ORDER, MatchRules
from cascade_tui.capture import CaptureError, CaptureReader
from cascade_tui.config import Config, ConfigError, load_config
from cascade_tui.engine.params import LEVEL_NAMES
from cascade_tui.labels import SEED_SETS, Label, read_labels, seed_set


class BadArguments(Exception):
    """Printed as `cascade-tui <cmd>: error: ...`, exit 2."""


def parse_args_or_code(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """argparse exits on errors and --help; turn that into a return code."""
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 2


def fail(cmd: str, message: str) -> int:
    print(f"cascade-tui {cmd}: error: {message}", file=sys.stderr)
    return 2


def existing_files(paths: Sequence[str], what: str) -> list[Path]:
    out = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise BadArguments(f"{what} {p}: no such file")
        out.append(path)
    return out


def load_label_sets(paths: Sequence[str]) -> list[list[Label]]:
    sets = []
    for path in existing_files(paths, "labels file"):
        try:
            sets.append(read_labels(path))
        except (ValueError, OSError) as exc:
            raise BadArguments(str(exc)) from None
    return sets


def level_from_name(name: str) -> int:
    upper = name.upper()
    if upper not in LEVEL_NAMES[1:]:
        raise BadArguments(f"--level {name!r}: one of WATCH, WARNING, CRITICAL")
    return LEVEL_NAMES.index(upper)


def rules_from_args(args: argparse.Namespace) -> MatchRules:
    try:
        return MatchRules(
            pre_s=args.tolerance_pre, grace_s=args.grace, refractory_s=args.refractory, floor=args.floor
        )
    except ValueError as exc:
        raise BadArguments(str(exc)) from None


def config_from(path: str | None) -> Config:
    try:
        return load_config(path) if path else Config()
    except ConfigError as exc:
        raise BadArguments(str(exc)) from None


def progress_bar(console: Console, bytes_total: bool = False) -> Progress:
    """A transient progress bar on `console` (stderr for every command: stdout carries the
    report or the JSON). Rich draws it only on a terminal, so pipes and files get nothing."""
    count: ProgressColumn = DownloadColumn() if bytes_total else MofNCompleteColumn()
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        count,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def add_scoring_args(p: argparse.ArgumentParser, level_help: str, config_help: str) -> None:
    """The options every scoring command shares: the alarm level, the base settings file and
    the matching rules (backtest and tune read them alike)."""
    p.add_argument("--level", default="WARNING", help=level_help)
    p.add_argument("--config", metavar="FILE", help=config_help)
    add_matching_args(p)


def check_label_pairing(captures: Sequence[object], labels: Sequence[object], option: str) -> None:
    """One labels file for all captures, or one per capture: anything else is a usage error."""
    if len(labels) not in (1, len(captures)):
        raise BadArguments(
            f"{option}: give one file, or one per capture ({len(captures)}), not {len(labels)}"
        )


def refuse_test_markets(paths: Sequence[Path]) -> None:
    """Never tune on test: a simulated capture whose seed is in the held-apart test range is
    refused (the benchmark scores on those markets; settings chosen on them would be flattered)."""
    for path in paths:
        reader = CaptureReader(path)
        try:
            next(iter(reader), None)
        except CaptureError:
            continue  # the tuner reports unreadable captures itself
        seed = reader.header.get("seed")
        if reader.header.get("source") == "simulate" and isinstance(seed, int) and seed_set(seed) == "test":
            test = SEED_SETS["test"]
            raise BadArguments(
                f"{path} is a test-set market (seed {seed}; seeds {test.start}–{test.stop - 1} are held "
                "apart for scoring): never tune on test, use training and validation seeds"
            )


def add_matching_args(p: argparse.ArgumentParser) -> None:
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
        help="labels below this severity are don't-care (default moderate: minor is don't-care; "
        "--floor minor counts every label)",
    )


def pct_or_dash(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def num_or_dash(x: float | None, unit: str = "") -> str:
    return "—" if x is None else f"{x:.2f}{unit}"


def report_console() -> Console:
    """stdout console for reports: full-width tables even when piped to a file or a pager
    (rich would otherwise fold every column to fit 80 characters)."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    return console
