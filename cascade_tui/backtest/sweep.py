"""Precision/recall sweep of one level's threshold (docs/detection-science.md §4.3).

Every threshold keeps the others at the same distance (they move together, clamped to keep
0 < WATCH < WARNING < CRITICAL <= 1), the engine re-runs over the cached events, and the
level's event precision/recall are recorded. AUC-PR is the interpolated average precision:
Σ (r_i - r_{i-1}) · max precision at recall >= r_i, over the points sorted by recall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from cascade_tui.backtest.evaluate import headline
from cascade_tui.backtest.matching import MatchRules
from cascade_tui.backtest.offline import ParsedCapture, ReplayFilter, run_engine
from cascade_tui.engine.params import LEVEL_NAMES, EngineParams, ParamError, validate
from cascade_tui.labels import Label

SWEEP_THRESHOLDS: tuple[float, ...] = tuple(round(0.20 + 0.05 * i, 2) for i in range(15))  # 0.20 .. 0.90
_LEVEL_FIELDS = {1: "watch", 2: "warning", 3: "critical"}


def shifted(base: EngineParams, level: int, value: float) -> EngineParams | None:
    """Base params with `level`'s threshold at `value` and the others moved alike; None if impossible."""
    t = base.thresholds
    delta = value - getattr(t, _LEVEL_FIELDS[level])
    watch, warning, critical = t.watch + delta, t.warning + delta, t.critical + delta
    critical = min(1.0, critical)
    try:
        thresholds = msgspec.structs.replace(
            t,
            watch=round(watch, 4),
            warning=round(warning, 4),
            critical=round(critical, 4),
            exit_gap=min(t.exit_gap, round(watch * 0.9, 4)) if watch > 0 else t.exit_gap,
        )
        return validate(msgspec.structs.replace(base, thresholds=thresholds))
    except ParamError:
        return None


def auc_pr(points: Sequence[tuple[float, float]]) -> float | None:
    """Interpolated average precision from (recall, precision) points."""
    if not points:
        return None
    ordered = sorted(points)
    area = 0.0
    previous_recall = 0.0
    for i, (recall, _) in enumerate(ordered):
        best_precision = max(p for _, p in ordered[i:])
        area += (recall - previous_recall) * best_precision
        previous_recall = recall
    return area


def sweep(
    captures: Sequence[ParsedCapture],
    labels_per_capture: Sequence[Sequence[Label]],
    base: EngineParams,
    rules: MatchRules,
    level: int,
    replay_filter: ReplayFilter | None = None,
    thresholds: Sequence[float] = SWEEP_THRESHOLDS,
    on_point: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    points: list[dict[str, Any]] = []
    for value in thresholds:
        params = shifted(base, level, value)
        if params is None:
            continue
        signals = [run_engine(c, params, replay_filter) for c in captures]
        m = headline(captures, signals, labels_per_capture, level, rules)
        points.append(
            {
                "threshold": value,
                "precision": m["precision"],
                "recall": m["recall"],
                "f1": m["f1"],
                "tp": m["tp"],
                "fp": m["fp"],
                "delay_median_s": m["delay_s"]["median"],
            }
        )
        if on_point is not None:
            on_point(value)
    pr = [
        (p["recall"], p["precision"])
        for p in points
        if p["recall"] is not None and p["precision"] is not None
    ]
    return {
        "level": LEVEL_NAMES[level],
        "operating_threshold": getattr(base.thresholds, _LEVEL_FIELDS[level]),
        "points": points,
        "auc_pr": auc_pr(pr),
    }
