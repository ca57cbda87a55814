"""Threshold / gate / weight search on TRAINING captures, scored once on VALIDATION captures.

Protocol (docs/detection-science.md §4.3): candidates are compared on the training set only; the
chosen one is then replayed, frozen, on validation captures that the search never opened.
The two sets must be different files (`check_disjoint`: same path, same file through a link,
or — checked when validation starts — the same bytes under another name, are refused).

Search space (random sample of a small grid, candidate 0 = the base parameters):
  the fast path, which alone opens WARNING: the base one, or fast.large_prints in {3, 4, 5, 6}
    with fast.large_x in {1.25, 1.5, 2.0} and fast.big_x in {0 (off), 2.5, 3, 4}
  thresholds.warning in 0.40..0.65 (watch = warning - 0.2, critical = warning + 0.15 or 0.25)
    — the score's levels: WATCH, and the score's hold on WARNING and CRITICAL
  gates.min_events in {2, 3, 5, 8}
  gates.usd_floor scaled by {0.5, 1, 2, 4}
  weights: the base ones, or each multiplied by a random factor in [0.6, 1.4] (clipped to 1)
Objective: event F1 at the tuning level (WARNING by default) subject to precision >= 0.8;
ties go to the shorter median detection delay. When no candidate reaches the precision
floor, the most precise one wins (and the result says so).

Each worker process parses the training captures once (events cached per capture) and then
only re-runs the engine per candidate.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import msgspec

from cascade_tui.backtest.evaluate import assign_labels, headline
from cascade_tui.backtest.matching import MatchRules
from cascade_tui.backtest.offline import ParsedCapture, RegimeLog, parse_capture, run_engine
from cascade_tui.engine.params import FACTORS, EngineParams, Gates, ParamError, Thresholds, Weights, validate
from cascade_tui.labels import Label

WARNING_STEPS: tuple[float, ...] = (0.40, 0.45, 0.50, 0.55, 0.60, 0.65)
CRITICAL_OFFSETS: tuple[float, ...] = (0.15, 0.25)
MIN_EVENTS: tuple[int, ...] = (2, 3, 5, 8)
USD_FLOOR_SCALES: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
LARGE_PRINTS: tuple[int, ...] = (3, 4, 5, 6)
LARGE_X: tuple[float, ...] = (1.25, 1.5, 2.0)
BIG_X: tuple[float, ...] = (0.0, 2.5, 3.0, 4.0)
WEIGHT_JITTER = (0.6, 1.4)


class OverlapError(ValueError):
    """Training and validation share a capture."""


def check_disjoint(train: Sequence[Path], validate_paths: Sequence[Path]) -> None:
    """Refuse a capture given in both sets (same path or the same file); opens nothing."""
    train_resolved = {p.resolve() for p in train}
    for v in validate_paths:
        if v.resolve() in train_resolved:
            raise OverlapError(f"{v} is both a training and a validation capture")
        for t in train:
            if v.exists() and t.exists() and os.path.samefile(v, t):
                raise OverlapError(f"{v} and {t} are the same file")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Candidate:
    index: int
    warning: float
    critical_offset: float
    min_events: int
    usd_floor_scale: float
    weight_factors: tuple[float, ...]  # one per FACTORS entry, 1.0 = base
    # the fast path's (large_prints, large_x, big_x); None keeps the base's
    fast: tuple[int, float, float] | None = None

    def describe(self) -> str:
        w = (
            "base"
            if all(f == 1.0 for f in self.weight_factors)
            else "×(" + ", ".join(f"{f:.2f}" for f in self.weight_factors) + ")"
        )
        fast = (
            "fast base"
            if self.fast is None
            else f"large_prints={self.fast[0]} large_x={self.fast[1]:g} big_x={self.fast[2]:g}"
        )
        return (
            f"{fast} warning={self.warning:.2f} critical=+{self.critical_offset:.2f} "
            f"min_events={self.min_events} usd_floor×{self.usd_floor_scale:g} weights {w}"
        )

    def apply(self, base: EngineParams) -> EngineParams:
        if self.index == 0:
            return validate(base)  # candidate 0 is the base parameters exactly
        t = base.thresholds
        thresholds = Thresholds(
            watch=round(max(0.1, self.warning - 0.2), 4),
            warning=self.warning,
            critical=round(min(0.98, self.warning + self.critical_offset), 4),
            exit_gap=min(t.exit_gap, round(max(0.1, self.warning - 0.2) * 0.9, 4)),
        )
        g = base.gates
        gates = Gates(
            min_events=self.min_events,
            usd_floor={k: v * self.usd_floor_scale for k, v in g.usd_floor.items()},
            hold_s=dict(g.hold_s),
            refractory_s=g.refractory_s,
        )
        w = base.weights
        weights = Weights(
            **{
                name: round(min(1.0, getattr(w, name) * f), 4)
                for name, f in zip(FACTORS, self.weight_factors, strict=True)
            }
        )
        fast = base.fast
        if self.fast is not None:
            large_prints, large_x, big_x = self.fast
            fast = msgspec.structs.replace(fast, large_prints=large_prints, large_x=large_x, big_x=big_x)
        return validate(
            msgspec.structs.replace(base, fast=fast, thresholds=thresholds, gates=gates, weights=weights)
        )


def base_candidate(base: EngineParams) -> Candidate:
    t = base.thresholds
    scale = 1.0
    return Candidate(
        0,
        t.warning,
        round(t.critical - t.warning, 4),
        base.gates.min_events,
        scale,
        tuple(1.0 for _ in FACTORS),
    )


def candidates(base: EngineParams, trials: int, seed: int) -> list[Candidate]:
    """Candidate 0 is the base parameters; the others a seeded random sample of the grid."""
    rng = random.Random(seed)
    out = [base_candidate(base)]
    seen: set[tuple[Any, ...]] = {(out[0].warning, out[0].critical_offset, out[0].min_events, 1.0, None)}
    attempts = 0
    while len(out) < trials and attempts < trials * 50:
        attempts += 1
        # WARNING opens from the fast path only: most candidates vary it
        fast: tuple[int, float, float] | None = None
        if rng.random() < 0.75:
            fast = (rng.choice(LARGE_PRINTS), rng.choice(LARGE_X), rng.choice(BIG_X))
        key = (
            rng.choice(WARNING_STEPS),
            rng.choice(CRITICAL_OFFSETS),
            rng.choice(MIN_EVENTS),
            rng.choice(USD_FLOOR_SCALES),
            fast,
        )
        jitter = rng.random() < 0.5
        factors = tuple(round(rng.uniform(*WEIGHT_JITTER), 2) if jitter else 1.0 for _ in FACTORS)
        if key in seen and not jitter:
            continue
        seen.add(key)
        cand = Candidate(len(out), key[0], key[1], key[2], key[3], factors, fast)
        try:
            cand.apply(base)
        except ParamError:
            continue
        out.append(cand)
    return out


# ----------------------------------------------------------------------------- worker side


@dataclass
class _TrainSet:
    captures: list[ParsedCapture]
    labels: list[list[Label]]
    base: EngineParams
    rules: MatchRules
    level: int


_WORKER_SET: _TrainSet | None = None  # one per worker process: the parsed training captures


def _load_train_set(
    paths: Sequence[str],
    label_sets: Sequence[Sequence[Label]],
    base: EngineParams,
    rules: MatchRules,
    level: int,
) -> _TrainSet:
    captures = [parse_capture(p) for p in paths]
    per, _, _ = assign_labels(captures, label_sets, rules.pre_s)
    return _TrainSet(captures, per, base, rules, level)


def _init_worker(
    paths: Sequence[str],
    label_sets: Sequence[Sequence[Label]],
    base: EngineParams,
    rules: MatchRules,
    level: int,
) -> None:
    global _WORKER_SET
    _WORKER_SET = _load_train_set(paths, label_sets, base, rules, level)


def score_candidate(train: _TrainSet, cand: Candidate) -> dict[str, Any]:
    params = cand.apply(train.base)
    signals = [run_engine(c, params) for c in train.captures]
    return headline(train.captures, signals, train.labels, train.level, train.rules)


def _score_in_worker(cand: Candidate) -> tuple[int, dict[str, Any]]:
    assert _WORKER_SET is not None, "worker not initialized"
    return cand.index, score_candidate(_WORKER_SET, cand)


# ----------------------------------------------------------------------------- driver


@dataclass
class Trial:
    candidate: Candidate
    metrics: dict[str, Any]

    @property
    def feasible(self) -> bool:
        p = self.metrics.get("precision")
        return p is not None and p >= self.min_precision

    min_precision: float = 0.8


@dataclass
class TuneResult:
    trials: list[Trial]
    best: Trial
    best_params: EngineParams
    reached_precision: bool
    validation: dict[str, Any] = field(default_factory=dict)  # full evaluate() report, tuned params
    validation_base: dict[str, Any] = field(default_factory=dict)  # same with the base params


def _rank(trial: Trial) -> tuple[float, float, float]:
    m = trial.metrics
    f1 = m.get("f1") or 0.0
    delay = m.get("delay_s", {}).get("median")
    return (f1, -(delay if delay is not None else 1e9), -trial.candidate.index)


def choose(trials: Sequence[Trial]) -> tuple[Trial, bool]:
    feasible = [t for t in trials if t.feasible]
    if feasible:
        return max(feasible, key=_rank), True
    return max(trials, key=lambda t: (t.metrics.get("precision") or 0.0, *_rank(t))), False


def search(
    train_paths: Sequence[Path],
    train_labels: Sequence[Sequence[Label]],
    base: EngineParams,
    rules: MatchRules,
    *,
    level: int = 2,
    trials: int = 24,
    seed: int = 1,
    workers: int = 2,
    min_precision: float = 0.8,
    on_trial: Callable[[Trial], None] | None = None,
) -> tuple[list[Trial], Trial, bool]:
    """Score every candidate on the training captures (only those files are opened)."""
    cands = candidates(base, trials, seed)
    str_paths = [str(p) for p in train_paths]
    label_sets = [list(ls) for ls in train_labels]
    results: dict[int, dict[str, Any]] = {}

    def record(index: int, metrics: dict[str, Any]) -> None:
        results[index] = metrics
        if on_trial is not None:
            on_trial(Trial(cands[index], metrics, min_precision))

    if workers <= 1:
        train = _load_train_set(str_paths, label_sets, base, rules, level)
        for cand in cands:
            record(cand.index, score_candidate(train, cand))
    else:
        # spawn: the parent may run threads (progress bar refresh), which fork does not like
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(str_paths, label_sets, base, rules, level),
        ) as pool:
            for index, metrics in pool.map(_score_in_worker, cands):
                record(index, metrics)
    done = [Trial(c, results[c.index], min_precision) for c in cands]
    best, reached = choose(done)
    return done, best, reached


def tune(
    train_paths: Sequence[Path],
    train_label_paths: Sequence[Path],
    validate_paths: Sequence[Path],
    validate_label_paths: Sequence[Path],
    base: EngineParams,
    rules: MatchRules,
    *,
    level: int = 2,
    trials: int = 24,
    seed: int = 1,
    workers: int = 2,
    min_precision: float = 0.8,
    on_trial: Callable[[Trial], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> TuneResult:
    """Search on training captures, then evaluate the winner (and the base) on validation.

    Validation files are not touched before `on_phase("validate")` has been called.
    """
    from cascade_tui.backtest.evaluate import evaluate
    from cascade_tui.labels import read_labels

    check_disjoint(train_paths, validate_paths)
    if on_phase is not None:
        on_phase("train")
    train_labels = [read_labels(p) for p in train_label_paths]
    done, best, reached = search(
        train_paths,
        train_labels,
        base,
        rules,
        level=level,
        trials=trials,
        seed=seed,
        workers=workers,
        min_precision=min_precision,
        on_trial=on_trial,
    )
    train_digests = {file_digest(p): p for p in train_paths}
    if on_phase is not None:
        on_phase("validate")
    check_disjoint(train_paths, validate_paths)  # links may have appeared meanwhile
    for v in validate_paths:
        twin = train_digests.get(file_digest(v))
        if twin is not None:
            raise OverlapError(f"validation capture {v} has the same content as training capture {twin}")
    best_params = best.candidate.apply(base)
    validate_labels = [read_labels(p) for p in validate_label_paths]
    captures = [parse_capture(p) for p in validate_paths]
    reports = []
    for params in (best_params, base):
        regimes: list[RegimeLog] = [[] for _ in captures]
        signals = [run_engine(c, params, None, r) for c, r in zip(captures, regimes, strict=True)]
        reports.append(evaluate(captures, signals, validate_labels, rules, regime_paths=regimes))
    tuned_report, base_report = reports
    return TuneResult(done, best, best_params, reached, tuned_report, base_report)
