"""Numbers from a match: precision, recall, F1, delays, lead times, false alarms per quiet day,
split by label severity and by venue coverage.

Venue coverage of a label = the venues whose liquidations of the labelled asset (any asset
for "*") and direction reached the engine during [start, end]:
  - "complete": at least one complete (unsampled, e.g. Bybit allLiquidation) feed saw it;
  - "throttled": only throttled feeds (1 event/s/symbol snapshots) saw it;
  - "unobserved": no feed saw a single liquidation of it.
Quiet market = the captures' time minus every label's extended window [start - P, end + G].
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cascade_tui.backtest.matching import MARKET, AlarmOutcome, LabelOutcome, MatchResult
from cascade_tui.backtest.offline import ObservedLiquidation
from cascade_tui.engine.params import LEVEL_NAMES
from cascade_tui.labels import Label
from cascade_tui.stats_math import percentile

DAY_S = 86400.0
COVERAGE_CLASSES: tuple[str, ...] = ("complete", "throttled", "unobserved")


def ratio(num: int, den: int) -> float | None:
    return num / den if den > 0 else None


def f1_score(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def merge_intervals(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def quiet_seconds(
    spans: Sequence[tuple[float, float]], labels: Sequence[Label], pre_s: float, grace_s: float
) -> float:
    """Seconds of captured time outside every label's extended window."""
    busy = merge_intervals((lb.start - pre_s, lb.end + grace_s) for lb in labels)
    total = 0.0
    for lo, hi in merge_intervals(spans):
        covered = sum(max(0.0, min(hi, b_hi) - max(lo, b_lo)) for b_lo, b_hi in busy)
        total += max(0.0, (hi - lo) - covered)
    return total


class LiquidationIndex:
    """Observed liquidations by (asset, side), sorted by time, for coverage look-ups."""

    def __init__(self, liquidations: Iterable[ObservedLiquidation]) -> None:
        groups: dict[tuple[str, str], list[ObservedLiquidation]] = {}
        for liq in liquidations:
            groups.setdefault((liq.asset, liq.side), []).append(liq)
        self._by_key = {k: sorted(v, key=lambda x: x.ts) for k, v in groups.items()}
        self._times = {k: [x.ts for x in v] for k, v in self._by_key.items()}

    def venues(self, asset: str, side: str, lo: float, hi: float) -> dict[str, bool]:
        """venue -> sampled, for the venues with a liquidation of asset/side in [lo, hi]."""
        keys = [k for k in self._by_key if k[1] == side and (asset == MARKET or k[0] == asset)]
        seen: dict[str, bool] = {}
        for key in keys:
            times = self._times[key]
            rows = self._by_key[key]
            for i in range(bisect.bisect_left(times, lo), bisect.bisect_right(times, hi)):
                seen[rows[i].venue] = rows[i].sampled
        return seen


def coverage_class(venues: dict[str, bool]) -> str:
    if not venues:
        return "unobserved"
    return "complete" if any(not sampled for sampled in venues.values()) else "throttled"


def _delay_stats(outcomes: Sequence[LabelOutcome]) -> dict[str, float | None]:
    delays = [o.delay_s for o in outcomes if o.detected and o.delay_s is not None]
    return {
        "median": percentile(delays, 0.5),
        "p90": percentile(delays, 0.9),
        "max": max(delays) if delays else None,
        "n": len(delays),
    }


def _lead_stats(outcomes: Sequence[LabelOutcome]) -> dict[str, float | None]:
    leads = [o.lead_to_peak_s for o in outcomes if o.detected and o.lead_to_peak_s is not None]
    return {"median": percentile(leads, 0.5), "p90": percentile(leads, 0.9), "n": len(leads)}


@dataclass
class Pooled:
    """Match results of one level over several captures, pooled.

    Labels and alarms are concatenated; an alarm's label indices are shifted to the pooled list.
    """

    level: int
    labels: list[LabelOutcome]
    alarms: list[AlarmOutcome]
    coverage: list[str]  # per label
    quiet_s: float

    @classmethod
    def from_results(cls, level: int, results: Sequence[tuple[MatchResult, list[str], float]]) -> Pooled:
        labels: list[LabelOutcome] = []
        alarms: list[AlarmOutcome] = []
        cover: list[str] = []
        quiet = 0.0
        for result, coverage, quiet_s in results:
            offset = len(labels)
            labels.extend(result.labels)
            for a in result.alarms:
                alarms.append(
                    AlarmOutcome(
                        a.alarm, a.kind, [i + offset for i in a.labels], [i + offset for i in a.credited]
                    )
                )
            cover.extend(coverage)
            quiet += quiet_s
        return cls(level, labels, alarms, cover, quiet)

    def count(self, kind: str) -> int:
        return sum(1 for a in self.alarms if a.kind == kind)


def _group_metrics(outcomes: Sequence[LabelOutcome], tp_alarms: int, fp_alarms: int) -> dict[str, object]:
    counted = [o for o in outcomes if o.counted]
    detected = sum(1 for o in counted if o.detected)
    precision = ratio(tp_alarms, tp_alarms + fp_alarms)
    recall = ratio(detected, len(counted))
    return {
        "labels": len(counted),
        "detected": detected,
        "missed": len(counted) - detected,
        "precision": precision,
        "recall": recall,
        "f1": f1_score(precision, recall),
        "delay_s": _delay_stats(counted),
        "lead_to_peak_s": _lead_stats(counted),
    }


def level_report(pooled: Pooled) -> dict[str, object]:
    """All numbers for one level (the JSON report's per-level object)."""
    tp = pooled.count("tp")
    fp = pooled.count("fp")
    report: dict[str, object] = {
        "level": LEVEL_NAMES[pooled.level],
        "alarms": len(pooled.alarms),
        "tp": tp,
        "fp": fp,
        "duplicate": pooled.count("duplicate"),
        "late": pooled.count("late"),
        "dont_care": pooled.count("dont_care"),
        **_group_metrics(pooled.labels, tp, fp),
        "quiet_days": pooled.quiet_s / DAY_S,
        "false_alarms_per_quiet_day": (fp / (pooled.quiet_s / DAY_S)) if pooled.quiet_s > 0 else None,
    }
    by_severity: dict[str, object] = {}
    for severity in sorted({o.label.severity for o in pooled.labels}):
        idx = {i for i, o in enumerate(pooled.labels) if o.label.severity == severity}
        group = [pooled.labels[i] for i in sorted(idx)]
        # a true alarm counts for a severity when it was the first alarm of a label of it;
        # false alarms belong to no severity, so every severity's precision shares them
        sev_tp = sum(1 for a in pooled.alarms if a.kind == "tp" and idx.intersection(a.credited))
        if not group[0].counted:
            # a don't-care severity: its "true alarms" are the don't-care alarms that hit it
            sev_tp = sum(1 for a in pooled.alarms if a.kind == "dont_care" and idx.intersection(a.labels))
        # recall per severity is over all its labels (don't-care ones too: informational)
        as_counted = [
            LabelOutcome(o.label, True, o.detected, o.alarm, o.delay_s, o.lead_to_peak_s) for o in group
        ]
        stats = _group_metrics(as_counted, sev_tp, fp)
        stats["dont_care"] = not group[0].counted
        by_severity[severity] = stats
    report["by_severity"] = by_severity
    by_coverage: dict[str, object] = {}
    for klass in COVERAGE_CLASSES:
        group = [o for o, c in zip(pooled.labels, pooled.coverage, strict=True) if c == klass]
        counted = [o for o in group if o.counted]
        if not group:
            continue
        detected = sum(1 for o in counted if o.detected)
        by_coverage[klass] = {
            "labels": len(counted),
            "detected": detected,
            "recall": ratio(detected, len(counted)),
            "delay_s": _delay_stats(counted),
        }
    report["by_coverage"] = by_coverage
    return report
