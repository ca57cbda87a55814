"""benchmarks/signal_quality.py end to end on one short market: every figure the README's
tables quote is present, the markdown is written, and the README markers are respected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import signal_quality
from cascade_tui.engine.params import EngineParams

LEVEL_FIELDS = {
    "precision",
    "true_alarms",
    "false_alarms",
    "major_recall",
    "major_labels",
    "major_detected",
    "minor_recall",
    "minor_labels",
    "minor_detected",
    "major_lag_p50_s",
    "major_lag_p90_s",
    "minor_lag_p50_s",
    "minor_lag_p90_s",
    "false_alarms_per_quiet_day",
    "quiet_days",
}


def test_quick_run_reports_every_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--quick", "--set", "train", "--markets", "1", "--hours", "0.25", "--jobs", "1"]
    argv += ["--workdir", str(tmp_path / "work"), "--out", str(tmp_path)]
    assert signal_quality.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "signal_quality_train.json").read_text())
    assert printed == saved
    assert saved["seeds"] == [1001] and saved["profile"] == "bench"
    assert set(saved["levels"]) == {"WATCH", "WARNING", "CRITICAL"}
    for figures in saved["levels"].values():
        assert set(figures) >= LEVEL_FIELDS
    # the market has a labelled cascade (bench plants a minor one within 10 minutes)
    assert saved["levels"]["WATCH"]["minor_labels"] + saved["levels"]["WATCH"]["major_labels"] >= 1
    assert saved["bait"].get("whale", 0) + saved["bait"].get("cluster-small", 0) >= 1
    frontier = saved["frontier"]
    knob = frontier["knob"]
    assert signal_quality.has_knob(EngineParams(), knob)
    values = [p["value"] for p in frontier["points"]]
    assert len(values) == 3 and values == sorted(values)
    assert signal_quality.knob_value(EngineParams(), knob) in values
    md = (tmp_path / "SIGNAL_QUALITY_TRAIN.md").read_text()
    assert "| WARNING |" in md and "Frontier over" in md


def test_knob_override_builds_valid_params() -> None:
    params = signal_quality.with_knob(EngineParams(), "thresholds.warning", 0.42)
    assert params.thresholds.warning == 0.42
    assert params.thresholds.critical == EngineParams().thresholds.critical


def test_readme_tables_go_between_the_markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{signal_quality.README_BEGIN}\nold\n{signal_quality.README_END}\nafter\n")
    monkeypatch.setattr(signal_quality, "REPO", tmp_path)
    assert signal_quality.write_readme("| new |\n")
    assert (
        readme.read_text()
        == f"intro\n{signal_quality.README_BEGIN}\n| new |\n{signal_quality.README_END}\nafter\n"
    )


def test_lag_by_onset_says_when_the_feeds_first_show_the_cascade() -> None:
    """The 1st and 3rd liquidation of the cascade's asset and side as delivered after its onset
    (earlier ones, the other side and other assets do not count), per kind of onset."""
    from cascade_tui.backtest.matching import MatchRules
    from cascade_tui.backtest.offline import ObservedLiquidation, ParsedCapture
    from cascade_tui.labels import Label

    def liq(ts: float, asset: str = "BTC", side: str = "long") -> ObservedLiquidation:
        return ObservedLiquidation(ts, "bybit", asset, side, 50_000.0, False)

    cap = ParsedCapture(Path("x.cap.gz"), frames=[], first_ts=0.0, last_ts=400.0)
    cap.liquidations = [liq(99.5), liq(100.1, side="short"), liq(100.2, asset="ETH"), liq(100.4)]
    cap.liquidations += [liq(100.9), liq(101.3), liq(102.0)]
    label = Label(100.0, 130.0, "BTC", "long", 5e6, "major", exogenous=True, onset=100.0)
    by_onset = signal_quality.lag_by_onset(([cap], [[]], [[]]), [[label]], MatchRules(floor="minor"))
    shock = by_onset["shock first"]
    assert shock["labels"] == 1 and shock["detected"] == 0
    assert shock["first_visible_p50_s"] == pytest.approx(0.4)
    assert shock["third_visible_p50_s"] == pytest.approx(1.3)
    assert by_onset["slow build-up"]["first_visible_p50_s"] is None


def test_false_alarms_are_told_by_the_bait_they_fell_on() -> None:
    """A false WARNING on a whale of its asset and direction is the whale's; one during a
    volatility spike with no whale or cluster of its own is the spike's; one on neither is
    the background's. A CRITICAL one counts at both levels; a true alarm at neither."""
    from cascade_tui.backtest.matching import MatchRules
    from cascade_tui.backtest.offline import ParsedCapture
    from cascade_tui.engine.types import Signal
    from cascade_tui.labels import Label

    def alarm(ts: float, asset: str, level: int, direction: str = "long") -> list[Signal]:
        names = ("NONE", "WATCH", "WARNING", "CRITICAL")
        episode = f"{asset}-{int(ts * 1000)}"
        common = {"v": 1, "asset": asset, "episode": episode, "score": 0.5, "components": {}}
        common |= {"direction": direction, "venues": ["bybit"], "regime": "NORMAL"}
        return [
            Signal(ts=ts, level=level, level_name=names[level], state="open", **common),
            Signal(ts=ts + 20.0, level=0, level_name="NONE", state="close", **common),
        ]

    cap = ParsedCapture(Path("x.cap.gz"), frames=[], first_ts=0.0, last_ts=20_000.0)
    signals = alarm(1_000.0, "ETH", 2) + alarm(5_100.0, "SOL", 3) + alarm(9_000.0, "BTC", 2)
    signals += alarm(9_500.0, "ADA", 2, "short") + alarm(15_000.0, "XRP", 2)
    signals += alarm(5_300.0, "DOGE", 2) + alarm(12_000.0, "*", 2) + alarm(13_000.0, "LTC", 2)
    signals += alarm(14_000.0, "SUI", 2)
    labels = [Label(15_000.0, 15_060.0, "XRP", "long", 5e6, "major", cls="moderate", onset=15_000.0)]
    bait = [
        Label(998.0, 998.0, "ETH", "long", 2e6, "minor", cls="whale"),  # 2 s before the alarm: on it
        Label(5_000.0, 5_600.0, "*", "none", 0.0, "minor", cls="volspike"),
        Label(5_298.0, 5_301.0, "DOGE", "long", 9e3, "minor", cls="cluster-medium"),  # in the spike
        Label(9_499.0, 9_501.0, "ADA", "long", 9e3, "minor", cls="cluster-small"),  # the other side
        Label(11_999.0, 12_001.0, "BTC", "long", 9e3, "minor", cls="cluster-small"),  # under "*"
        Label(13_006.0, 13_006.0, "LTC", "long", 1e6, "minor", cls="whale"),  # 6 s after: not on it
        Label(14_003.0, 14_003.0, "SUI", "long", 1e6, "minor", cls="whale"),  # 3 s after: on it
    ]
    out = signal_quality.false_by_bait(([cap], [signals], [[]]), [labels], [bait], MatchRules(floor="minor"))
    assert out["WARNING"] == {
        "background": 3, "whale": 2, "volspike": 1, "cluster-medium": 1, "cluster-small": 1
    }  # fmt: skip
    assert out["CRITICAL"] == {"volspike": 1}
    md = signal_quality.markdown_false_by_bait(out)
    assert "WARNING 8 (no bait: the background's own surges 3, a lone whale print 2" in md
