"""What the backtest and tune commands share: labels, levels and the matching rules."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from cascade_tui.backtest.matching import DEFAULT_FLOOR, SEVERITY_ORDER, MatchRules
from cascade_tui.capture import CaptureError, CaptureReader
from cascade_tui.cli_support import BadArguments, existing_files
from cascade_tui.engine.params import LEVEL_NAMES
from cascade_tui.labels import SEED_SETS, Label, read_labels, seed_set


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
        try:
            reader = CaptureReader(path)  # reads the header only
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


