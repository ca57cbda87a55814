"""BTC realized volatility against numpy, and the regime state machine's hysteresis."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cascade_tui.engine.params import REGIMES, RegimeParams
from cascade_tui.engine.volatility import SECONDS_PER_YEAR, BtcVolatility, RegimeTracker

P = RegimeParams()
SEC0 = 1_700_000_000


def feed_path(ticks: list[tuple[int, float]]) -> tuple[BtcVolatility, np.ndarray]:
    """Feed (second offset, price) ticks; return the engine and the 1 s forward-filled grid."""
    vol = BtcVolatility()
    last_sec = ticks[-1][0]
    grid = np.empty(last_sec + 1)
    price = ticks[0][1]
    by_sec = {}
    for s, p in ticks:
        by_sec[s] = p  # last tick of the second wins
    for s in range(last_sec + 1):
        price = by_sec.get(s, price)
        grid[s] = price
    for s, p in ticks:
        vol.advance(SEC0 + s, float(SEC0 + s), P)
        vol.on_price(SEC0 + s, p)
    vol.advance(SEC0 + last_sec + 1, float(SEC0 + last_sec + 1), P)
    return vol, grid


def annualized(r: np.ndarray, step: float) -> float:
    return math.sqrt(float(np.sum(r * r)) * SECONDS_PER_YEAR / (len(r) * step))


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**31),
    st.integers(400, 3000),
    st.floats(1e-5, 1e-3),
    st.floats(0.2, 1.0),
)
def test_rv_matches_numpy_on_random_paths(seed: int, seconds: int, sigma: float, tick_prob: float) -> None:
    rng = np.random.default_rng(seed)
    ticks = [(0, 50_000.0)]
    price = 50_000.0
    for s in range(1, seconds):
        if rng.random() < tick_prob:
            price *= math.exp(rng.normal(0.0, sigma))
            ticks.append((s, price))
    vol, grid = feed_path(ticks)
    # 1 s returns for every closed second; the very first second has no predecessor (r = 0)
    r1 = np.concatenate([[0.0], np.diff(np.log(grid))])
    rv = vol.rv()
    for name, n in (("1m", 60), ("5m", 300)):
        expected = annualized(r1[-n:], 1.0)
        assert rv[name] is not None and math.isclose(rv[name], expected, rel_tol=1e-6, abs_tol=1e-9)
    usable = len(r1) - len(r1) % 5
    r5 = r1[:usable].reshape(-1, 5).sum(axis=1)
    if len(r5) >= 36:
        assert math.isclose(vol.rv()["15m"], annualized(r5[-180:], 5.0), rel_tol=1e-6, abs_tol=1e-9)
    if len(r5) >= 180:
        assert math.isclose(vol.rv()["1h"], annualized(r5[-720:], 5.0), rel_tol=1e-6, abs_tol=1e-9)
    if len(r5) >= 361:
        a = np.abs(r5)
        prods = (a[1:] * a[:-1])[-720:]
        expected_bv = math.sqrt(math.pi / 2 * float(prods.sum()) * SECONDS_PER_YEAR / (len(prods) * 5.0))
        assert math.isclose(vol.bv(), expected_bv, rel_tol=1e-6, abs_tol=1e-9)


def test_silence_gives_zero_returns_and_no_crash() -> None:
    vol = BtcVolatility()
    vol.on_price(SEC0, 100.0)
    vol.advance(SEC0 + 100, float(SEC0 + 100), P)
    assert vol.rv()["1m"] == 0.0
    vol.advance(SEC0 + 100_000, float(SEC0 + 100_000), P)  # a long outage restarts the grid
    assert vol.rv()["1m"] is None


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(range(len(P.enter))),
    st.lists(st.floats(-1.0, 1.0), min_size=50, max_size=400),
    st.floats(0.01, 0.99),
)
def test_regime_never_flaps_around_a_band_edge(edge_idx: int, noise: list[float], amp_frac: float) -> None:
    edge = P.enter[edge_idx]
    # oscillate inside the hysteresis band: never below the exit level of the upper regime
    amplitude = amp_frac * edge * (1.0 - P.exit_ratio)
    tracker = RegimeTracker()
    t = 0.0
    changes = 0
    last = None
    for x in noise:
        t += 5.0
        tracker.update(t, edge + amplitude * x, None, P)
        if last is not None and tracker.level != last:
            changes += 1
        last = tracker.level
    assert changes <= 1  # at most the one step up into the upper regime, never back


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.05, 2.0), min_size=2, max_size=300))
def test_regime_moves_one_level_down_at_a_time_after_dwell(sigmas: list[float]) -> None:
    tracker = RegimeTracker()
    t = 0.0
    prev_level, prev_change = None, 0.0
    for s in sigmas:
        t += 5.0
        tracker.update(t, s, None, P)
        if prev_level is not None and tracker.level != prev_level:
            assert tracker.level is not None
            if tracker.level < prev_level:
                assert prev_level - tracker.level == 1
                assert t - prev_change >= P.min_dwell_s
            else:
                assert tracker.level - prev_level == 1  # no two-level jump without X > 2
            prev_change = t
        prev_level = tracker.level
    assert tracker.name in REGIMES


def test_escalation_needs_two_consecutive_updates() -> None:
    tracker = RegimeTracker()
    tracker.update(0.0, 0.40, None, P)
    assert tracker.name == "NORMAL"
    tracker.update(5.0, 0.70, None, P)
    assert tracker.name == "NORMAL"
    tracker.update(10.0, 0.40, None, P)
    tracker.update(15.0, 0.70, None, P)
    assert tracker.name == "NORMAL"
    tracker.update(20.0, 0.70, None, P)
    assert tracker.name == "HIGH"
    tracker.update(25.0, 1.5, 2.5, P)
    tracker.update(30.0, 1.5, 2.5, P)
    assert tracker.name == "EXTREME"


def test_multiplier_follows_regime_and_expansion() -> None:
    vol = BtcVolatility()
    assert vol.multiplier(P) == P.multiplier["NORMAL"]
    rng = np.random.default_rng(3)
    price = 100_000.0
    # 30 calm minutes then 5 volatile ones: X = σ5m/σ1h > 1 raises M above the regime base
    for s in range(2100):
        sigma = 2e-5 if s < 1800 else 3e-4
        price *= math.exp(rng.normal(0.0, sigma))
        vol.advance(SEC0 + s, float(SEC0 + s), P)
        vol.on_price(SEC0 + s, price)
    x = vol.expansion()
    assert x is not None and x > 2.0
    base = P.multiplier[vol.regime.name]
    assert math.isclose(vol.multiplier(P), base * (1 + 0.25 * min(math.log2(x), 2.0)))
    assert len(vol.price_history) == len(vol.regime_history) <= 720
