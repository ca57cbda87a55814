"""One evaluation: signals of each capture + labels -> the report dict (JSON-ready).

Captures are independent runs (each replayed by its own engine). A label belongs to the
capture whose time span holds its start (allowing the pre-window); labels that fall in no
capture are counted as `unassigned` and left out (the data cannot say anything about them).
"""

from __future__ import annotations

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
from cascade_tui.sources.simulate.labels import Label

LEVELS: tuple[int, ...] = (1, 2, 3)  # WATCH, WARNING, CRITICAL


def assign_labels(
    captures: Sequence[ParsedCapture], labels: Sequence[Label], pre_s: float
) -> tuple[list[list[Label]], int]:
    """Labels per capture (first capture whose span holds the start), and how many fit none."""
    per: list[list[Label]] = [[] for _ in captures]
    unassigned = 0
    for label in labels:
        for i, cap in enumerate(captures):
            if cap.first_ts is None or cap.last_ts is None:
                continue
            if cap.first_ts - pre_s <= label.start <= cap.last_ts:
                per[i].append(label)
                break
        else:
            unassigned += 1
    return per, unassigned


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
    labels: Sequence[Label],
    rules: MatchRules,
    replay_filter: ReplayFilter | None = None,
    sizing: SizingParams | None = None,
) -> dict[str, Any]:
    per_capture, unassigned = assign_labels(captures, labels, rules.pre_s)
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
    sizing_parts = [
        evaluate_sizing(cap.btc_prices, sigs, sizing) for cap, sigs in zip(captures, signals, strict=True)
    ]
    flt = replay_filter or ReplayFilter()
    return {
        "v": 1,
        "rules": asdict(rules),
        "filter": {"only_throttled": flt.only_throttled, "drop_venues": sorted(flt.drop_venues)},
        "captures": [
            {
                "path": str(cap.path),
                "frames": len(cap.frames),
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
        "labels": {"total": len(labels), "unassigned": unassigned},
        "levels": levels,
        "sizing": pool_sizing(sizing_parts),
    }
