"""One evaluation: signals of each capture + labels -> the report dict (JSON-ready).

Captures are independent runs (each replayed by its own engine). A label belongs to the
capture whose time span holds its start (allowing the pre-window), or, with one labels file
per capture, to its paired capture; labels that fall in no capture are counted as
`unassigned` and left out (the data cannot say anything about them).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from cascade_tui.backtest.matching import MatchResult, MatchRules, build_alarms, match
from cascade_tui.backtest.metrics import LiquidationIndex, Pooled, coverage_class, level_report, quiet_seconds
from cascade_tui.backtest.offline import ParsedCapture, ReplayFilter, filtered_liquidations
from cascade_tui.backtest.sizing_eval import evaluate_sizing, pool_sizing
from cascade_tui.engine.params import LEVEL_NAMES
from cascade_tui.engine.sizing import SizingParams
from cascade_tui.engine.types import Signal
from cascade_tui.labels import Label

LEVELS: tuple[int, ...] = (1, 2, 3)  # WATCH, WARNING, CRITICAL


def assign_labels(
    captures: Sequence[ParsedCapture], label_sets: Sequence[Sequence[Label]], pre_s: float
) -> tuple[list[list[Label]], int, list[str]]:
    """Labels per capture, how many fit no capture, and warnings.

    One label set: each label goes to the first capture whose span holds its start (allowing
    the pre-window). One set per capture: paired in order, each label must fall in its own
    capture. Anything else is a usage error (ValueError).
    """
    warnings: list[str] = []
    per: list[list[Label]] = [[] for _ in captures]
    unassigned = 0

    def holds(cap: ParsedCapture, label: Label) -> bool:
        if cap.first_ts is None or cap.last_ts is None:
            return False
        return cap.first_ts - pre_s <= label.start <= cap.last_ts

    if len(label_sets) == 1:
        spans = sorted(
            (c.first_ts, c.last_ts) for c in captures if c.first_ts is not None and c.last_ts is not None
        )
        if any(b[0] < a[1] for a, b in itertools.pairwise(spans)):
            warnings.append(
                "captures overlap in time and share one labels file: each label is matched to the first "
                "capture holding it (give one labels file per capture to pair them)"
            )
        for label in label_sets[0]:
            for i, cap in enumerate(captures):
                if holds(cap, label):
                    per[i].append(label)
                    break
            else:
                unassigned += 1
    elif len(label_sets) == len(captures):
        for i, (cap, labels) in enumerate(zip(captures, label_sets, strict=True)):
            for label in labels:
                if holds(cap, label):
                    per[i].append(label)
                else:
                    unassigned += 1
    else:
        raise ValueError(f"give one labels file, or one per capture ({len(captures)}), not {len(label_sets)}")
    return per, unassigned, warnings


def match_capture(
    capture: ParsedCapture, signals: Sequence[Signal], labels: Sequence[Label], level: int, rules: MatchRules
) -> MatchResult:
    alarms = build_alarms(signals, level, rules.refractory_s, capture.last_ts or 0.0)
    return match(alarms, labels, level, rules)


def headline(
    captures: Sequence[ParsedCapture],
    signals: Sequence[Sequence[Signal]],
    labels_per_capture: Sequence[Sequence[Label]],
    level: int,
    rules: MatchRules,
) -> dict[str, Any]:
    """Precision/recall/F1 at one level only (what tuning optimizes; no coverage, no sizing)."""
    results = []
    for cap, sigs, labels in zip(captures, signals, labels_per_capture, strict=True):
        result = match_capture(cap, sigs, labels, level, rules)
        results.append((result, ["unobserved"] * len(result.labels), 0.0))
    report = level_report(Pooled.from_results(level, results))
    return {k: report[k] for k in ("precision", "recall", "f1", "tp", "fp", "labels", "detected", "delay_s")}


def evaluate(
    captures: Sequence[ParsedCapture],
    signals: Sequence[Sequence[Signal]],
    label_sets: Sequence[Sequence[Label]],
    rules: MatchRules,
    replay_filter: ReplayFilter | None = None,
    sizing: SizingParams | None = None,
    regime_paths: Sequence[Sequence[tuple[float, str]]] | None = None,
) -> dict[str, Any]:
    per_capture, unassigned, warnings = assign_labels(captures, label_sets, rules.pre_s)
    indexes = [LiquidationIndex(filtered_liquidations(c, replay_filter)) for c in captures]
    coverage: list[list[str]] = []
    quiet: list[float] = []
    for cap, labs, index in zip(captures, per_capture, indexes, strict=True):
        coverage.append(
            [coverage_class(index.venues(lb.asset, lb.direction, lb.start, lb.end)) for lb in labs]
        )
        span = [(cap.first_ts, cap.last_ts)] if cap.first_ts is not None and cap.last_ts is not None else []
        quiet.append(quiet_seconds(span, labs, rules.pre_s, rules.grace_s))
    levels: dict[str, Any] = {}
    for level in LEVELS:
        results = [
            (match_capture(cap, sigs, labs, level, rules), cov, q)
            for cap, sigs, labs, cov, q in zip(captures, signals, per_capture, coverage, quiet, strict=True)
        ]
        levels[LEVEL_NAMES[level]] = level_report(Pooled.from_results(level, results))
    regimes: Sequence[Sequence[tuple[float, str]] | None] = (
        list(regime_paths) if regime_paths is not None else [None] * len(captures)
    )
    sizing_parts = [
        evaluate_sizing(cap.btc_prices, sigs, sizing, path)
        for cap, sigs, path in zip(captures, signals, regimes, strict=True)
    ]
    flt = replay_filter or ReplayFilter()
    return {
        "v": 1,
        "rules": asdict(rules),
        "filter": {"only_throttled": flt.only_throttled, "drop_venues": sorted(flt.drop_venues)},
        "captures": [
            {
                "path": str(cap.path),
                "frames": cap.frame_count,
                "first_ts": cap.first_ts,
                "last_ts": cap.last_ts,
                "span_s": cap.span_s,
                "error": cap.error,
                "labels": len(labs),
                "signals": len(sigs),
                "venues": {
                    v: {
                        "frames": c.frames,
                        "parse_errors": c.parse_errors,
                        "liquidations": c.liquidations,
                        "liquidation_usd": c.liquidation_usd,
                        "sampled": c.sampled,
                    }
                    for v, c in sorted(cap.venues.items())
                },
            }
            for cap, labs, sigs in zip(captures, per_capture, signals, strict=True)
        ],
        "labels": {"total": sum(len(x) for x in label_sets), "unassigned": unassigned},
        "warnings": warnings,
        "levels": levels,
        "sizing": pool_sizing(sizing_parts),
    }
