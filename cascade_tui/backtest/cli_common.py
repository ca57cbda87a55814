"""What the backtest and tune commands share: labels, levels and the matching rules."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cascade_tui.backtest.matching import DEFAULT_FLOOR, SEVERITY_ORDER, MatchRules
from cascade_tui.cli_support import BadArguments, existing_files
from cascade_tui.engine.params import LEVEL_NAMES
from cascade_tui.labels import Label, read_labels


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
        help="labels below this severity are don't-care (default moderate: minor is don't-care)",
    )


