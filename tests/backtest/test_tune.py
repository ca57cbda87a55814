"""Tuning: validation captures are never seen by the search; overlapping sets are refused."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from cascade_tui.backtest.cli import main_tune
from cascade_tui.backtest.matching import MatchRules
from cascade_tui.backtest.tune import OverlapError, Trial, candidates, check_disjoint, choose, tune
from cascade_tui.config import load_config
from cascade_tui.engine.params import EngineParams

Pair = tuple[tuple[Path, Path], tuple[Path, Path]]


def test_train_phase_never_opens_validation_files(tmp_path: Path, sim_pair: Pair) -> None:
    (train_cap, train_labels), (valid_cap, valid_labels) = sim_pair
    # the validation files do not exist until the validation phase starts: a search that
    # opened them would fail with "no such file"
    hidden_cap, hidden_labels = tmp_path / "v.cap.gz", tmp_path / "v.labels"
    phases: list[str] = []
    trials_seen: list[int] = []

    def on_phase(phase: str) -> None:
        phases.append(phase)
        if phase == "validate":
            assert len(trials_seen) == 3  # every candidate was scored before
            shutil.copy(valid_cap, hidden_cap)
            shutil.copy(valid_labels, hidden_labels)

    result = tune(
        [train_cap],
        [train_labels],
        [hidden_cap],
        [hidden_labels],
        EngineParams(),
        MatchRules(),
        trials=3,
        workers=1,
        on_phase=on_phase,
        on_trial=lambda t: trials_seen.append(t.candidate.index),
    )
    assert phases == ["train", "validate"]
    assert trials_seen == [0, 1, 2]
    assert [c["path"] for c in result.validation["captures"]] == [str(hidden_cap)]
    assert result.validation["levels"]["WARNING"]["level"] == "WARNING"
    assert result.best in result.trials


def test_overlapping_sets_are_refused(tmp_path: Path, sim_pair: Pair) -> None:
    (train_cap, train_labels), _ = sim_pair
    with pytest.raises(OverlapError):
        check_disjoint([train_cap], [train_cap])
    link = tmp_path / "link.cap.gz"
    os.link(train_cap, link)  # the same file under another name
    with pytest.raises(OverlapError):
        check_disjoint([train_cap], [link])
    copy = tmp_path / "copy.cap.gz"  # the same bytes: caught when validation starts
    shutil.copy(train_cap, copy)
    with pytest.raises(OverlapError, match="same content"):
        tune(
            [train_cap],
            [train_labels],
            [copy],
            [train_labels],
            EngineParams(),
            MatchRules(),
            trials=1,
            workers=1,
        )


def test_cli_refuses_overlap_with_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sim_pair: Pair
) -> None:
    (train_cap, train_labels), _ = sim_pair
    argv = [
        "--train",
        str(train_cap),
        "--train-labels",
        str(train_labels),
        "--validate",
        str(train_cap),
        "--validate-labels",
        str(train_labels),
        "--out",
        str(tmp_path / "t.toml"),
    ]
    assert main_tune(argv) == 2
    assert "both a training and a validation capture" in capsys.readouterr().err
    assert not (tmp_path / "t.toml").exists()


def test_cli_tunes_on_two_processes_and_writes_a_loadable_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sim_pair: Pair
) -> None:
    (train_cap, train_labels), (valid_cap, valid_labels) = sim_pair
    out = tmp_path / "tuned.toml"
    argv = [
        "--train",
        str(train_cap),
        "--train-labels",
        str(train_labels),
        "--validate",
        str(valid_cap),
        "--validate-labels",
        str(valid_labels),
        "--out",
        str(out),
        "--trials",
        "3",
        "--workers",
        "2",
        "--json",
    ]
    assert main_tune(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["trials"]) == 3 and summary["level"] == "WARNING"
    cfg = load_config(out)  # the written file is a valid config with the chosen engine params
    chosen = summary["chosen"]["candidate"]
    expected = candidates(EngineParams(), 3, 1)[chosen].apply(EngineParams())
    assert cfg.engine == expected


def test_candidates_are_seeded_and_start_with_the_base() -> None:
    base = EngineParams()
    first, again = candidates(base, 8, seed=5), candidates(base, 8, seed=5)
    assert first == again and len(first) == 8
    assert first[0].apply(base) == base
    for cand in first[1:]:
        params = cand.apply(base)
        assert params.thresholds.watch < params.thresholds.warning < params.thresholds.critical
    # most candidates try another fast path (WARNING opens from it alone)
    assert sum(c.fast is not None for c in first[1:]) >= 3
    assert any(c.apply(base).fast != base.fast for c in first[1:])


def test_choose_prefers_f1_among_precise_candidates() -> None:
    cands = candidates(EngineParams(), 3, seed=2)

    def trial(i: int, p: float, r: float, f1: float) -> Trial:
        return Trial(cands[i], {"precision": p, "recall": r, "f1": f1, "delay_s": {"median": 1.0}})

    # candidate 1 has the best F1 but precision 0.5 < 0.8: candidate 2 wins
    best, reached = choose([trial(0, 0.9, 0.5, 0.64), trial(1, 0.5, 1.0, 0.67), trial(2, 0.85, 0.6, 0.70)])
    assert best.candidate.index == 2 and reached
    # none precise enough: the most precise one, flagged
    best, reached = choose([trial(0, 0.5, 0.5, 0.5), trial(1, 0.7, 0.1, 0.18)])
    assert best.candidate.index == 1 and not reached


def test_every_grid_point_gives_valid_params() -> None:
    import itertools

    from cascade_tui.backtest.tune import (
        BIG_X,
        CRITICAL_OFFSETS,
        LARGE_PRINTS,
        LARGE_X,
        MIN_EVENTS,
        USD_FLOOR_SCALES,
        WARNING_STEPS,
        Candidate,
    )
    from cascade_tui.engine.params import FACTORS

    base = EngineParams()
    for i, (w, c, m, u) in enumerate(
        itertools.product(WARNING_STEPS, CRITICAL_OFFSETS, MIN_EVENTS, USD_FLOOR_SCALES)
    ):
        params = Candidate(i + 1, w, c, m, u, tuple(1.4 for _ in FACTORS)).apply(base)
        assert params.thresholds.warning == w and params.gates.min_events == m
        assert params.gates.usd_floor["BTC"] == base.gates.usd_floor["BTC"] * u
        assert all(0.0 <= getattr(params.weights, f) <= 1.0 for f in FACTORS)
        assert params.fast == base.fast  # no fast triple: the base's fast path
    # the fast path, which alone opens WARNING, is searched too
    for i, fast in enumerate(itertools.product(LARGE_PRINTS, LARGE_X, BIG_X)):
        params = Candidate(i + 1, 0.5, 0.2, 3, 1.0, tuple(1.0 for _ in FACTORS), fast).apply(base)
        assert (params.fast.large_prints, params.fast.large_x, params.fast.big_x) == fast


def test_cli_refuses_test_set_markets(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sim_pair: Pair
) -> None:
    from tests.backtest.conftest import simulate

    (train_cap, train_labels), _ = sim_pair
    test_cap, test_labels = simulate(tmp_path, "heldout", 3001, 30.0)
    argv = [
        "--train",
        str(train_cap),
        "--train-labels",
        str(train_labels),
        "--validate",
        str(test_cap),
        "--validate-labels",
        str(test_labels),
        "--out",
        str(tmp_path / "t.toml"),
    ]
    assert main_tune(argv) == 2
    err = capsys.readouterr().err
    assert "test-set market (seed 3001" in err and "never tune on test" in err
    assert not (tmp_path / "t.toml").exists()
