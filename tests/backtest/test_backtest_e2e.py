"""`cascade-tui backtest` end to end on a short simulator capture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascade_tui.backtest.cli import main_backtest
from cascade_tui.labels import read_labels


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main_backtest([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_backtest_is_reproducible_and_consistent(
    capsys: pytest.CaptureFixture[str], sim_capture: tuple[Path, Path]
) -> None:
    cap, labels = sim_capture
    assert main_backtest([str(cap), "--labels", str(labels), "--json"]) == 0
    first = capsys.readouterr().out
    assert main_backtest([str(cap), "--labels", str(labels), "--json"]) == 0
    assert capsys.readouterr().out == first  # byte-identical for the same capture and settings
    report = json.loads(first)
    n_labels = len(read_labels(labels))
    assert report["labels"] == {"total": n_labels, "unassigned": 0}
    assert report["captures"][0]["frames"] > 1000 and report["captures"][0]["error"] is None
    majors = sum(1 for lb in read_labels(labels) if lb.severity == "major")
    for name, level in report["levels"].items():
        assert level["level"] == name
        assert level["labels"] == majors  # minor labels are don't-care by default
        # every alarm is classified exactly once
        assert (
            level["alarms"]
            == level["tp"] + level["fp"] + level["duplicate"] + level["late"] + level["dont_care"]
        )
        for value in (level["precision"], level["recall"]):
            assert value is None or 0.0 <= value <= 1.0
        assert sum(c["labels"] for c in level["by_coverage"].values()) == majors
    # alarms at a higher level are a subset in time of the lower level's: never more detections
    assert report["levels"]["CRITICAL"]["detected"] <= report["levels"]["WARNING"]["detected"]
    assert report["levels"]["WARNING"]["detected"] <= report["levels"]["WATCH"]["detected"]
    sizing = report["sizing"]
    assert sizing["seconds"] > 200 and 0.0 <= sizing["mean_exposure"] <= 1.0
    assert sizing["drawdown_avoided"] == pytest.approx(
        sizing["hold_max_drawdown"] - sizing["sized_max_drawdown"]
    )


def test_venue_coverage_experiments(
    capsys: pytest.CaptureFixture[str], sim_capture: tuple[Path, Path]
) -> None:
    cap, labels = sim_capture
    full = run_json(capsys, str(cap), "--labels", str(labels))
    assert "complete" in full["levels"]["WARNING"]["by_coverage"]  # Bybit (complete) sees the episodes
    # Bybit is the only complete feed in the simulator: without it, nothing is "complete"
    for extra in (["--only-throttled"], ["--drop-venue", "bybit"]):
        report = run_json(capsys, str(cap), "--labels", str(labels), *extra)
        assert "complete" not in report["levels"]["WARNING"]["by_coverage"]
    throttled = run_json(capsys, str(cap), "--labels", str(labels), "--only-throttled")
    assert throttled["filter"] == {"only_throttled": True, "drop_venues": []}
    # the engine sees a subset of the liquidations: it cannot detect more episodes at WATCH
    assert throttled["levels"]["WATCH"]["detected"] <= full["levels"]["WATCH"]["detected"]
    weighted = run_json(capsys, str(cap), "--labels", str(labels), "--venue-weight", "binance=0")
    assert weighted["venue_weights"] == {"binance": 0.0}


def test_table_output_names_the_levels(
    capsys: pytest.CaptureFixture[str], sim_capture: tuple[Path, Path]
) -> None:
    cap, labels = sim_capture
    assert main_backtest([str(cap), "--labels", str(labels), "--level", "critical"]) == 0
    out = capsys.readouterr().out
    for word in ("WATCH", "WARNING", "CRITICAL", "By label severity", "By venue coverage", "Sizing"):
        assert word in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.cap.gz", "--labels", "{labels}"], "no such file"),
        (["{cap}", "--labels", "missing.labels"], "no such file"),
        (["{cap}", "--labels", "{bad}"], "not a label"),
        (["{cap}", "--labels", "{labels}", "--venue-weight", "binance"], "VENUE=WEIGHT"),
        (["{cap}", "--labels", "{labels}", "--level", "LOUD"], "--level"),
        (["{cap}", "--labels", "{labels}", "{labels}"], "one per capture"),
        (["{labels}", "--labels", "{labels}"], "capture"),
        (["{cap}"], "--labels"),
    ],
)
def test_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sim_capture: tuple[Path, Path],
    args: list[str],
    message: str,
) -> None:
    cap, labels = sim_capture
    bad = tmp_path / "bad.labels"
    bad.write_text('{"start": "soon"}\n')
    argv = [a.format(cap=cap, labels=labels, bad=bad) for a in args]
    assert main_backtest(argv) == 2
    assert message in capsys.readouterr().err


def test_same_seed_gives_the_same_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from .conftest import simulate

    reports = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        cap, labels = simulate(d, "run", 7, 120.0)
        report = run_json(capsys, str(cap), "--labels", str(labels))
        for c in report["captures"]:
            c.pop("path")
        reports.append(report)
    assert reports[0] == reports[1]


def test_streamed_replay_equals_cached_replay(sim_capture: tuple[Path, Path]) -> None:
    from cascade_tui.backtest.offline import parse_capture, replay_capture, run_engine
    from cascade_tui.engine import EngineParams

    cap, _ = sim_capture
    parsed = parse_capture(cap)
    streamed, signals = replay_capture(cap, EngineParams())
    assert signals == run_engine(parsed, EngineParams()) and signals
    assert streamed.frame_count == parsed.frame_count == len(parsed.frames)
    assert streamed.btc_prices == parsed.btc_prices and streamed.liquidations == parsed.liquidations


def test_labels_shared_or_paired_across_captures(
    capsys: pytest.CaptureFixture[str], sim_capture: tuple[Path, Path]
) -> None:
    cap, labels = sim_capture
    n = len(read_labels(labels))
    single = run_json(capsys, str(cap), "--labels", str(labels))
    # one labels file per capture: each capture gets its own copy of the labels
    paired = run_json(capsys, str(cap), str(cap), "--labels", str(labels), str(labels))
    assert paired["labels"] == {"total": 2 * n, "unassigned": 0} and paired["warnings"] == []
    assert [c["labels"] for c in paired["captures"]] == [n, n]
    assert paired["levels"]["WARNING"]["labels"] == 2 * single["levels"]["WARNING"]["labels"]
    assert paired["levels"]["WARNING"]["detected"] == 2 * single["levels"]["WARNING"]["detected"]
    # one shared file over captures covering the same time: ambiguous, said so
    shared = run_json(capsys, str(cap), str(cap), "--labels", str(labels))
    assert shared["warnings"] and [c["labels"] for c in shared["captures"]] == [n, 0]
