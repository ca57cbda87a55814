"""Evaluation cadence: a liquidation burst scores an asset at most once per 100 ms of engine
clock (plus the per-second sweep), and still opens its signal within 100 ms of engine time
of the liquidation that would have opened it with per-event scoring."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import pytest

from cascade_tui.engine import Engine, core
from cascade_tui.engine.types import Signal, signal_encoder
from cascade_tui.model import Event
from tests.engine.engine_synth import START_TS, Market, liquidation


def _burst_events(seed: int) -> list[Event]:
    m = Market(seed)
    return [*m.quiet(600.0), *m.burst("BTC", 40.0, peak_rate=400.0), *m.quiet(240.0)]


def _run(events: Iterable[Event]) -> tuple[Engine, list[Signal]]:
    engine = Engine()
    out: list[Signal] = []
    for ev in events:
        out.extend(engine.tick(ev.recv_ts))
        out.extend(engine.process(ev))
    return engine, out


def _count_evaluations(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []
    original = Engine._evaluate

    def counting(self: Engine, st: Any, t: float, sec: int, out: list[Signal]) -> None:
        calls.append(t)
        original(self, st, t, sec, out)

    monkeypatch.setattr(Engine, "_evaluate", counting)
    return calls


def test_a_dense_burst_is_scored_at_most_ten_times_a_second_plus_the_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _count_evaluations(monkeypatch)
    engine = Engine()
    t0 = START_TS
    for i in range(2000):  # 2000 prints over 2 s on one asset
        engine.process(liquidation("BTC", "long", 10_000.0, t0 + i * 0.001))
    # one immediate evaluation, then at most one per 100 ms, plus 2 per-second sweeps
    assert 2 <= len(calls) <= 1 + 20 + 2
    assert all(b >= a for a, b in pairwise(calls))  # in engine-clock order


def test_a_deferred_evaluation_runs_at_its_due_time_on_the_next_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_evaluations(monkeypatch)
    engine = Engine()
    engine.process(liquidation("BTC", "long", 10_000.0, START_TS + 0.20))  # scored at once
    engine.process(liquidation("BTC", "long", 10_000.0, START_TS + 0.25))  # deferred to 0.30
    assert calls == [START_TS + 0.20]
    engine.tick(START_TS + 0.90)  # no event, the clock alone reaches the due time
    assert calls == [START_TS + 0.20, pytest.approx(START_TS + 0.30)]


def test_burst_opens_within_100_ms_of_per_event_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    events = _burst_events(seed=11)
    _, cadenced = _run(events)
    monkeypatch.setattr(core, "EVAL_INTERVAL_S", 0.0)  # reference: every liquidation scored
    _, per_event = _run(events)
    first = next(s for s in per_event if s.asset == "BTC" and s.state == "open")
    opened = next(s for s in cadenced if s.asset == "BTC" and s.state == "open")
    assert 0.0 <= opened.ts - first.ts <= 0.1 + 1e-9
    assert max(s.level for s in cadenced if s.asset == "BTC") == max(s.level for s in per_event if s.asset == "BTC")


def test_cadenced_signals_are_byte_identical_between_runs() -> None:
    events = _burst_events(seed=5)
    _, a = _run(events)
    _, b = _run(events)
    assert a and [signal_encoder.encode(s) for s in a] == [signal_encoder.encode(s) for s in b]


def test_next_evaluation_ts_reports_the_pending_due_time() -> None:
    engine = Engine()
    assert engine.next_evaluation_ts is None
    engine.process(liquidation("BTC", "long", 10_000.0, START_TS + 0.20))
    assert engine.next_evaluation_ts is None  # scored at once
    engine.process(liquidation("BTC", "long", 10_000.0, START_TS + 0.25))
    assert engine.next_evaluation_ts == pytest.approx(START_TS + 0.30)
    engine.tick(START_TS + 0.30)
    assert engine.next_evaluation_ts is None
