"""Threshold sweep: AUC-PR by hand, shifted thresholds, and `backtest --sweep`."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from cascade_tui.backtest.cli import main_backtest
from cascade_tui.backtest.sweep import auc_pr, shifted
from cascade_tui.engine.params import EngineParams, Thresholds


def test_auc_pr_is_interpolated_average_precision() -> None:
    # points (recall, precision): (0.5, 1.0), (1.0, 0.5)
    # area = 0.5 · max(1.0, 0.5) + (1.0 - 0.5) · 0.5 = 0.5 + 0.25 = 0.75
    assert auc_pr([(1.0, 0.5), (0.5, 1.0)]) == pytest.approx(0.75)
    # a dip is interpolated away: (0.25, 0.5), (0.5, 1.0) -> 0.25·1.0 + 0.25·1.0 = 0.5
    assert auc_pr([(0.25, 0.5), (0.5, 1.0)]) == pytest.approx(0.5)
    assert auc_pr([]) is None


def test_shifted_moves_every_threshold_together() -> None:
    base = msgspec.structs.replace(EngineParams(), thresholds=Thresholds(watch=0.30, warning=0.50, critical=0.70))
    p = shifted(base, 2, 0.60)
    assert p is not None
    assert (p.thresholds.watch, p.thresholds.warning, p.thresholds.critical) == pytest.approx(
        (0.40, 0.60, 0.80)
    )
    p = shifted(base, 2, 0.85)  # critical would be 1.05: clamped to 1.0
    assert p is not None and p.thresholds.critical == 1.0
    assert shifted(base, 2, 0.20) is None  # watch would be 0: impossible
    p = shifted(base, 2, 0.95)  # 0.75 / 0.95 / 1.0 (clamped): still ordered
    assert p is not None and p.thresholds.critical == 1.0
    assert shifted(base, 3, 0.05) is None  # watch would be 0.30 - 0.65 < 0


def test_backtest_sweep_json(capsys: pytest.CaptureFixture[str], sim_capture: tuple[Path, Path]) -> None:
    cap, labels = sim_capture
    assert main_backtest([str(cap), "--labels", str(labels), "--sweep", "--level", "CRITICAL", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    sweep = report["sweep"]
    assert sweep["level"] == "CRITICAL" and sweep["operating_threshold"] == 0.70
    thresholds = [p["threshold"] for p in sweep["points"]]
    assert thresholds == sorted(thresholds) and 0.70 in thresholds
    # the point at the operating threshold is the report's own CRITICAL numbers
    at = next(p for p in sweep["points"] if p["threshold"] == 0.70)
    assert (at["precision"], at["recall"]) == (
        report["levels"]["CRITICAL"]["precision"],
        report["levels"]["CRITICAL"]["recall"],
    )
