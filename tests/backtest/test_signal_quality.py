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
