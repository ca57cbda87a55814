"""Matching rules on hand-made signals and labels; every expected number is worked out in comments.

Times are small integers (seconds) to keep the arithmetic readable. Defaults: P = 30, G = 120,
R = 60, floor "moderate" (so "minor" is don't-care).
"""

from __future__ import annotations

import pytest

from cascade_tui.backtest.matching import MatchRules, build_alarms, match
from cascade_tui.backtest.metrics import Pooled, level_report, quiet_seconds
from cascade_tui.engine.params import LEVEL_NAMES
from cascade_tui.engine.types import Signal
from cascade_tui.labels import Label

WARNING = 2
RULES = MatchRules()


def sig(ts: float, asset: str, level: int, state: str, direction: str = "long", episode: str = "") -> Signal:
    return Signal(
        v=1,
        ts=float(ts),
        asset=asset,
        level=level,
        level_name=LEVEL_NAMES[level],
        state=state,
        episode=episode or f"{asset}-x",
        score=0.2 * level,
        components={},
        direction=direction,
        venues=["bybit"],
        regime="NORMAL",
    )


def lab(
    start: float,
    end: float,
    asset: str = "BTC",
    severity: str = "major",
    direction: str = "long",
    peak: float = 0.0,
) -> Label:
    return Label(
        start=start, end=end, asset=asset, direction=direction, usd=1e7, severity=severity, peak_ts=peak
    )


def run(signals: list[Signal], labels: list[Label], end: float = 10_000.0, rules: MatchRules = RULES):
    alarms = build_alarms(signals, WARNING, rules.refractory_s, end)
    return match(alarms, labels, WARNING, rules)


def test_hit_gives_delay_and_lead_to_peak() -> None:
    # cascade 1000..1300, peak 1200; WARNING rises at 1010 -> TP, delay 1010-1000 = +10,
    # lead to peak 1200-1010 = 190
    result = run(
        [sig(1000, "BTC", 1, "open"), sig(1010, "BTC", 2, "escalate"), sig(1400, "BTC", 0, "close")],
        [lab(1000, 1300, peak=1200)],
    )
    (outcome,) = result.labels
    assert outcome.detected and outcome.delay_s == 10.0 and outcome.lead_to_peak_s == 190.0
    assert [a.kind for a in result.alarms] == ["tp"]


def test_watch_only_is_a_miss_at_warning() -> None:
    # the signal never reaches WARNING: no alarm at that level -> FN, no FP
    result = run([sig(1000, "BTC", 1, "open"), sig(1100, "BTC", 0, "close")], [lab(1000, 1300)])
    assert not result.labels[0].detected and result.alarms == []


def test_early_inside_pre_window_counts_with_negative_delay() -> None:
    # alarm at 980 = start - 20, inside P = 30 -> TP with delay -20 (20 s of warning)
    result = run([sig(980, "BTC", 2, "open"), sig(1100, "BTC", 0, "close")], [lab(1000, 1300)])
    assert result.labels[0].detected and result.labels[0].delay_s == -20.0
    assert result.count("tp") == 1


def test_too_early_is_a_false_alarm_and_the_cascade_a_miss() -> None:
    # alarm 900..950 ends before start - P = 970 -> no overlap with [970, 1300] -> FN, and
    # it overlaps no extended window [970, 1420] either -> FP
    result = run([sig(900, "BTC", 2, "open"), sig(950, "BTC", 0, "close")], [lab(1000, 1300)])
    assert not result.labels[0].detected
    assert [a.kind for a in result.alarms] == ["fp"]


def test_late_alarm_inside_grace_is_neither_tp_nor_fp() -> None:
    # alarm at 1350 > end 1300 but < end + G = 1420 -> FN for the label, alarm is "late"
    result = run([sig(1350, "BTC", 2, "open"), sig(1360, "BTC", 0, "close")], [lab(1000, 1300)])
    assert not result.labels[0].detected
    assert [a.kind for a in result.alarms] == ["late"]
    # after the grace (1500 > 1420) it is false
    result = run([sig(1500, "BTC", 2, "open"), sig(1510, "BTC", 0, "close")], [lab(1000, 1300)])
    assert [a.kind for a in result.alarms] == ["fp"]


def test_split_episode_is_counted_once() -> None:
    # engine episode A 1010..1050, closed, episode B reopens at 1080: 30 s < R = 60 -> one
    # alarm with two onsets; one TP, zero duplicates
    signals = [
        sig(1010, "BTC", 2, "open", episode="BTC-a"),
        sig(1050, "BTC", 0, "close", episode="BTC-a"),
        sig(1080, "BTC", 2, "open", episode="BTC-b"),
        sig(1200, "BTC", 0, "close", episode="BTC-b"),
    ]
    result = run(signals, [lab(1000, 1300)])
    assert len(result.alarms) == 1 and result.alarms[0].alarm.onsets == [1010.0, 1080.0]
    assert result.count("tp") == 1
    # reopening after R (1050 -> 1200 = 150 s) gives a second alarm on the same label: duplicate
    signals[2] = sig(1200, "BTC", 2, "open", episode="BTC-b")
    signals[3] = sig(1250, "BTC", 0, "close", episode="BTC-b")
    result = run(signals, [lab(1000, 1300)])
    assert [a.kind for a in result.alarms] == ["tp", "duplicate"]


def test_market_wide_label_matched_by_per_asset_alarm_but_not_the_reverse() -> None:
    # "*" label is detected by an ETH alarm
    result = run([sig(1010, "ETH", 2, "open"), sig(1100, "ETH", 0, "close")], [lab(1000, 1300, asset="*")])
    assert result.labels[0].detected and result.count("tp") == 1
    # a "*" alarm does not detect the per-asset BTC label (FN), but it is compatible with it
    # and active in its window [970, 1300], so for precision it is a true alarm
    result = run([sig(1010, "*", 2, "open"), sig(1100, "*", 0, "close")], [lab(1000, 1300, asset="BTC")])
    assert not result.labels[0].detected
    assert [a.kind for a in result.alarms] == ["tp"]
    # a SOL alarm during a BTC-only cascade is false (assets differ, label not "*")
    result = run([sig(1010, "SOL", 2, "open"), sig(1100, "SOL", 0, "close")], [lab(1000, 1300, asset="BTC")])
    assert [a.kind for a in result.alarms] == ["fp"]


def test_direction_must_agree() -> None:
    result = run(
        [sig(1010, "BTC", 2, "open", direction="short"), sig(1100, "BTC", 0, "close", direction="short")],
        [lab(1000, 1300)],
    )
    assert not result.labels[0].detected and [a.kind for a in result.alarms] == ["fp"]


def test_each_side_keeps_its_own_alarm() -> None:
    # the long side is at WARNING 1000..1100; the short side opens WATCH at 1000 (same ts) and
    # closes at 1030. Its transitions end nothing: the long alarm runs 1000..1100 and detects
    # the long cascade starting at 1020 (delay 1000 - 1020 = -20, inside P = 30)
    result = run(
        [
            sig(1000, "BTC", 2, "open", "long", "BTC-l"),
            sig(1000, "BTC", 1, "open", "short", "BTC-s"),
            sig(1030, "BTC", 0, "close", "short", "BTC-s"),
            sig(1100, "BTC", 0, "close", "long", "BTC-l"),
        ],
        [lab(1020, 1300)],
    )
    (alarm,) = [a.alarm for a in result.alarms]
    assert (alarm.direction, alarm.start, alarm.end) == ("long", 1000.0, 1100.0)
    assert result.labels[0].detected and result.labels[0].delay_s == -20.0
    # and the short side's own WARNING is an alarm of its own, in its direction
    alarms = build_alarms(
        [
            sig(1000, "BTC", 2, "open", "long", "BTC-l"),
            sig(1010, "BTC", 2, "open", "short", "BTC-s"),
            sig(1020, "BTC", 0, "close", "long", "BTC-l"),
            sig(1040, "BTC", 0, "close", "short", "BTC-s"),
        ],
        WARNING, RULES.refractory_s, 10_000.0,
    )  # fmt: skip
    assert [(a.direction, a.start, a.end) for a in alarms] == [("long", 1000.0, 1020.0), ("short", 1010.0, 1040.0)]


def test_dont_care_minor_label() -> None:
    # minor label 1000..1100 hit by an alarm: neither TP nor FP, not in recall.
    # major label 5000..5200 missed. So: labels counted = 1, detected 0 -> recall 0/1 = 0;
    # alarms: 1 dont_care, 0 tp, 0 fp -> precision undefined (None)
    labels = [lab(1000, 1100, severity="minor"), lab(5000, 5200)]
    result = run([sig(1010, "BTC", 2, "open"), sig(1050, "BTC", 0, "close")], labels, end=6000)
    assert [a.kind for a in result.alarms] == ["dont_care"]
    report = level_report(Pooled.from_results(WARNING, [(result, ["complete", "complete"], 0.0)]))
    assert report["labels"] == 1 and report["recall"] == 0.0 and report["precision"] is None
    # by severity the minor label shows as detected (informational) and flagged don't-care
    assert report["by_severity"]["minor"]["recall"] == 1.0 and report["by_severity"]["minor"]["dont_care"]
    # with floor "minor" the same alarm is a TP: precision 1/1, recall 1/2 = 0.5, F1 = 2·1·0.5/1.5 = 2/3
    result = run(
        [sig(1010, "BTC", 2, "open"), sig(1050, "BTC", 0, "close")],
        labels,
        end=6000,
        rules=MatchRules(floor="minor"),
    )
    report = level_report(Pooled.from_results(WARNING, [(result, ["complete", "complete"], 0.0)]))
    assert report["precision"] == 1.0 and report["recall"] == 0.5
    assert report["f1"] == pytest.approx(2 / 3)


def test_mixed_day_numbers() -> None:
    # three major BTC cascades, one FP:
    #   L1 1000..1300 alarm at 1005 (delay 5)      -> TP
    #   L2 3000..3300 alarm at 2990 (delay -10)    -> TP
    #   L3 6000..6300 no alarm                      -> FN
    #   alarm at 8000 (far from any label)          -> FP
    # precision 2/3, recall 2/3, F1 2/3; delays [-10, 5] -> median -2.5, p90 = -10 + 0.9·15 = 3.5
    # quiet time in span 0..10000: busy windows [970,1420] [2970,3420] [5970,6420] = 3·450 s
    # -> 10000 - 1350 = 8650 s quiet = 0.10012 days; FP/day = 1/0.10012 ≈ 9.99
    labels = [lab(1000, 1300), lab(3000, 3300), lab(6000, 6300)]
    signals = [
        sig(1005, "BTC", 2, "open"),
        sig(1100, "BTC", 0, "close"),
        sig(2990, "BTC", 2, "open"),
        sig(3100, "BTC", 0, "close"),
        sig(8000, "BTC", 2, "open"),
        sig(8050, "BTC", 0, "close"),
    ]
    result = run(signals, labels, end=10_000)
    quiet = quiet_seconds([(0.0, 10_000.0)], labels, RULES.pre_s, RULES.grace_s)
    assert quiet == 8650.0
    report = level_report(
        Pooled.from_results(WARNING, [(result, ["complete", "throttled", "complete"], quiet)])
    )
    assert (report["tp"], report["fp"], report["detected"], report["missed"]) == (2, 1, 2, 1)
    assert report["precision"] == pytest.approx(2 / 3) and report["recall"] == pytest.approx(2 / 3)
    assert report["delay_s"]["median"] == -2.5 and report["delay_s"]["p90"] == pytest.approx(3.5)
    assert report["false_alarms_per_quiet_day"] == pytest.approx(86400 / 8650)
    # coverage split: complete labels L1 (hit), L3 (miss) -> 1/2; throttled L2 (hit) -> 1/1
    assert report["by_coverage"]["complete"]["recall"] == 0.5
    assert report["by_coverage"]["throttled"]["recall"] == 1.0


def test_alarm_still_open_at_the_end_of_data() -> None:
    # opened at 1290 and never closed: active until the data end, still a TP for 1000..1300
    result = run([sig(1290, "BTC", 3, "open")], [lab(1000, 1300)], end=1500)
    assert result.labels[0].detected and result.alarms[0].alarm.end == 1500


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        MatchRules(floor="huge")
    with pytest.raises(ValueError):
        MatchRules(pre_s=-1)


def test_floor_minor_counts_minor_cascades_and_lag_runs_from_the_onset() -> None:
    # a major 1000..1300 whose onset (4 prints in 2 s) is 1020, a minor 3000..3060 (onset 3005)
    # and bait at 5000 that no label covers. WARNING at 1021 (lag +1 s from the onset, +21 s
    # from the start), at 3010 (lag +5 s) and at 5000 (false).
    rules = MatchRules(floor="minor")
    major = Label(1000, 1300, "BTC", "long", 1e7, "major", onset=1020)
    minor = Label(3000, 3060, "ETH", "long", 1e6, "minor", onset=3005)
    signals = [
        sig(1021, "BTC", 2, "open"),
        sig(1400, "BTC", 0, "close"),
        sig(3010, "ETH", 2, "open"),
        sig(3100, "ETH", 0, "close"),
        sig(5000, "SOL", 2, "open"),
        sig(5050, "SOL", 0, "close"),
    ]
    result = run(signals, [major, minor], rules=rules)
    assert [o.counted for o in result.labels] == [True, True]
    assert [o.delay_s for o in result.labels] == [pytest.approx(1.0), pytest.approx(5.0)]
    assert [a.kind for a in result.alarms] == ["tp", "tp", "fp"]
    report = level_report(Pooled.from_results(WARNING, [(result, ["complete", "complete"], 86_400.0)]))
    assert report["precision"] == pytest.approx(2 / 3)
    by = report["by_severity"]
    assert by["major"]["recall"] == 1.0 and by["minor"]["recall"] == 1.0
    assert by["major"]["delay_s"]["median"] == pytest.approx(1.0)
    assert by["minor"]["delay_s"] == {"median": 5.0, "p90": 5.0, "max": 5.0, "n": 1}
    assert report["false_alarms_per_quiet_day"] == pytest.approx(1.0)
    # with the default floor the minor is don't-care: its alarm is neither true nor false
    default = run(signals, [major, minor])
    assert [a.kind for a in default.alarms] == ["tp", "dont_care", "fp"]


def test_lag_percentiles_over_many_labels() -> None:
    # ten majors, WARNING k seconds after each onset (k = 0..9): p50 4.5 s, p90 8.1 s
    labels = [
        Label(10_000.0 * k, 10_000.0 * k + 300, "BTC", "long", 1e7, "major", onset=10_000.0 * k + 5)
        for k in range(10)
    ]
    signals = []
    for k in range(10):
        signals += [sig(10_000 * k + 5 + k, "BTC", 2, "open"), sig(10_000 * k + 400, "BTC", 0, "close")]
    result = run(signals, labels, end=200_000.0)
    report = level_report(Pooled.from_results(WARNING, [(result, ["complete"] * 10, 86_400.0)]))
    assert report["delay_s"]["median"] == pytest.approx(4.5)
    assert report["delay_s"]["p90"] == pytest.approx(8.1)
    assert report["delay_s"]["n"] == 10
