"""What every subcommand (backtest, tune, history, doctor, liqmap) shares: argument errors,
existing-file checks, the config, a progress bar on stderr and report consoles."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
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

from cascade_tui.config import Config, ConfigError, load_config


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


def run_subcommand(
    cmd: str, parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int], argv: Sequence[str]
) -> int:
    """Parse argv and run: argparse's exits (--help, a bad option) become return codes, and a
    BadArguments raised by `run` is printed as `cascade-tui <cmd>: error: ...` with exit 2."""
    args = parse_args_or_code(parser, argv)
    if isinstance(args, int):
        return args
    try:
        return run(args)
    except BadArguments as exc:
        return fail(cmd, str(exc))


def existing_files(paths: Sequence[str], what: str) -> list[Path]:
    out = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise BadArguments(f"{what} {p}: no such file")
        out.append(path)
    return out


def config_from(path: str | None) -> Config:
    try:
        return load_config(path) if path else Config()
    except ConfigError as exc:
        raise BadArguments(str(exc)) from None


def progress_bar(console: Console, bytes_total: bool = False) -> Progress:
    """A transient progress bar on `console` (stderr for every command: stdout carries the
    report or the JSON). Rich draws it only on a terminal, so pipes and files get nothing.
    `bytes_total`: the task counts bytes (e.g. of the captures being read)."""
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
