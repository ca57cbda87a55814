"""Unit behaviour of the engine's smaller parts: baselines, prices, OI/funding, latency, levels."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascade_tui.engine.baseline import MIN_RATE, PRIOR_RATE, Baseline
from cascade_tui.engine.latency import LatencyReservoir
from cascade_tui.engine.openinterest import AssetFunding, AssetOpenInterest
from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.prices import TRAIL_S, PriceTrail, move_from
from cascade_tui.engine.scoring import throttle_correction
from cascade_tui.engine.side import SideState
from cascade_tui.engine.signals import LevelState, Thresholds, level_from_score

P = EngineParams()
DAY_MIN = 1440


def test_baseline_starts_from_priors_then_learns_the_assets_own_rate() -> None:
    bl = Baseline(0, usd_floor=2e6, halflife_s=6 * 3600)
    assert bl.rate_full == pytest.approx(PRIOR_RATE)
    assert bl.usd_20s == pytest.approx(2e6 / 20)
    for minute in range(1, 121):  # two hours at 6 prints/min of $5k
        for _ in range(6):
            bl.add(minute - 1, 1.0, 5_000.0, sampled=False)
        bl.roll(minute)
    assert bl.rate_full == pytest.approx(0.1, rel=0.1)
    assert bl.usd_20s == pytest.approx(max(10_000.0, 2e6 / 100), rel=0.15)


def test_baseline_is_floored_frozen_and_robust_to_bursts() -> None:
    bl = Baseline(0, usd_floor=5e4, halflife_s=3600)
    bl.roll(DAY_MIN)  # a silent day
    assert bl.rate_full == MIN_RATE and bl.usd_20s == pytest.approx(5e4 / 100)
    before = (bl.rate_full, bl.usd_20s)
    bl.frozen = True
    for _ in range(10_000):
        bl.add(DAY_MIN, 1.0, 1e6, sampled=False)
    bl.roll(DAY_MIN + 1)
    assert (bl.rate_full, bl.usd_20s) == before  # a cascade does not raise its own baseline
    bl.frozen = False
    for _ in range(10_000):
        bl.add(DAY_MIN + 1, 1.0, 1e6, sampled=False)
    bl.roll(DAY_MIN + 2)
    assert bl.rate_full < 0.2  # one wild minute is winsorized, not averaged in raw


def test_throttle_correction_inverts_the_one_per_second_snapshot() -> None:
    assert throttle_correction(0, 20) == 1.0
    assert throttle_correction(1, 20) == pytest.approx(-math.log(0.95) / 0.05)
    assert throttle_correction(10, 20) == pytest.approx(math.log(2.0) / 0.5)
    assert 1.0 < throttle_correction(10, 20) < throttle_correction(20, 20) < 3.5


def test_price_trail_locks_one_source_and_measures_side_aligned_moves() -> None:
    trail = PriceTrail()
    assert trail.extreme(100, 120, -1) is None
    assert trail.accepts("bybit", "BTCUSDT", True, 100.0)
    trail.update(100, 100.0, 100_000.0)
    assert not trail.accepts("okx", "BTC-USDT-SWAP", True, 101.0)  # another venue's print
    assert not trail.accepts("bybit", "BTCPERP", False, 101.0)  # a mark never replaces trades
    for s in range(101, 161):
        trail.update(s, float(s), 100_000.0 * (1 - 0.0002 * (s - 100)))
    high, low = trail.extreme(160, 120, -1), trail.extreme(160, 120, 1)
    assert high is not None and low is not None and trail.last is not None
    assert move_from(high, trail.last, -1) == pytest.approx(0.012, rel=1e-6)
    assert move_from(low, trail.last, 1) == pytest.approx(0.0)
    assert trail.accepts("okx", "BTC-USDT-SWAP", True, 160.0 + 31.0)  # the locked source went silent


def _plain_extreme(trail: PriceTrail, sec: int, window_s: int, side_sign: int) -> float | None:
    """PriceTrail.extreme as first written (inside `move`): the window's slots one by one,
    newest first."""
    if trail.last is None:
        return None
    trail._advance(sec)
    window_s = min(window_s, TRAIL_S - 1)
    prices = [p for k in range(window_s + 1) if (p := trail.slots[(sec - k) % TRAIL_S]) is not None]
    if not prices:
        return None
    return max(prices) if side_sign < 0 else min(prices)


def test_price_extreme_reads_its_window_exactly_as_the_plain_loop() -> None:
    """`extreme` reads the ring as (at most) two slices: the same floats as the slot-by-slot
    loop, across the ring's wrap, gaps of silence, a trail still filling, and every window
    length."""
    rng = random.Random(7)
    fast, plain = PriceTrail(), PriceTrail()
    sec, price, compared = 1_000, 50_000.0, 0
    for _ in range(3_000):
        sec += rng.choice((0, 1, 1, 1, 2, 5, 40, 200))
        price *= 1.0 + rng.gauss(0.0, 0.002)
        for trail in (fast, plain):
            trail.update(sec, float(sec), price)
        read_at = sec + rng.choice((0, 0, 1, 3, 130))
        for window in (0, 1, 60, 120, TRAIL_S - 1, TRAIL_S + 10):
            for sign in (-1, 1):
                assert fast.extreme(read_at, window, sign) == _plain_extreme(plain, read_at, window, sign)
                compared += 1
    assert compared == 3_000 * 12


def test_move_anchor_keeps_the_episodes_extreme_within_the_lookback() -> None:
    """CRITICAL's move with fast.move_lookback_s: from the episode's high (longs) over its
    whole course, not only the last window's; a new episode, a new price source or an
    extreme older than the lookback starts again from the window."""
    ss = SideState("long", 0.0, 2.0, 600.0)
    ss.level.episode = "e1"
    assert ss.move_anchor(100.0, 10, "trades", 600.0) == (100.0, 10)
    # the window's high falls (a slow build-up): the episode's high, seen at 10, stays
    assert ss.move_anchor(99.6, 200, "trades", 600.0) == (100.0, 10)
    assert move_from(100.0, 99.0, -1) == pytest.approx(0.01)
    # a higher high replaces it, and is seen now
    assert ss.move_anchor(100.5, 300, "trades", 600.0) == (100.5, 300)
    # too old: the window's own extreme again
    assert ss.move_anchor(99.0, 901, "trades", 600.0) == (99.0, 901)
    # another price source, or another episode: start from the window
    assert ss.move_anchor(98.0, 902, "liquidations", 600.0) == (98.0, 902)
    ss.level.episode = "e2"
    assert ss.move_anchor(97.0, 903, "liquidations", 600.0) == (97.0, 903)
    shorts = SideState("short", 0.0, 2.0, 600.0)
    shorts.level.episode = "e3"
    assert shorts.move_anchor(100.0, 10, "trades", 600.0) == (100.0, 10)
    assert shorts.move_anchor(100.4, 100, "trades", 600.0) == (100.0, 10)  # the low stays
    assert shorts.move_anchor(99.9, 120, "trades", 600.0) == (99.9, 120)
    assert move_from(99.9, 101.0, 1) == pytest.approx(1.1 / 99.9)


def test_open_interest_change_is_oi_weighted_across_instruments() -> None:
    oi = AssetOpenInterest()
    oi.update("bybit", "BTCUSDT", 0, 1000.0)
    oi.update("okx", "BTC-SWAP", 0, 3000.0)
    assert oi.change_pct(0, 5) is None  # no history yet
    oi.update("bybit", "BTCUSDT", 5, 900.0)  # -10 %
    oi.update("okx", "BTC-SWAP", 5, 3000.0)  # flat
    assert oi.change_pct(5, 5) == pytest.approx(-100.0 / 4000.0 * 100.0)
    changes = oi.changes(5)
    assert set(changes) == {"1m", "5m", "1h"} and changes["1h"] is None


def test_funding_is_annualized_averaged_and_trended() -> None:
    f = AssetFunding()
    assert f.annualized() is None and f.trend(0.0) is None
    f.update("binance", 0.0001, 8.0, 0.0)  # 10.95 % a year
    f.update("hyperliquid", 0.0000125, 1.0, 0.0)  # same, hourly
    assert f.annualized() == pytest.approx(0.1095)
    for minute in range(1, 61):
        f.update("binance", 0.0001 + minute * 1e-6, 8.0, minute * 60.0)
    now = (0.00016 * 1095 + 0.1095) / 2  # mean of the two venues
    assert f.trend(3600.0) == pytest.approx(now - 0.1095)
    assert f.latest_rate == pytest.approx(0.00016)


def test_latency_reservoir_is_bounded_and_reports_percentiles() -> None:
    res = LatencyReservoir(size=100)
    for i in range(1000):
        assert res.add(i / 1000.0)
    assert not res.add(float("nan")) and not res.add(-1.0)
    view = res.view()
    assert view.n == 1000 and len(res.samples) == 100
    # the last 100 samples are 900..999 ms; percentiles interpolate between ranks
    assert view.p50_ms == pytest.approx(949.5)
    assert view.p99_ms == pytest.approx(998.01)
    assert LatencyReservoir().view().n == 0


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 1.0), st.integers(0, 3))
def test_level_from_score_has_hysteresis(score: float, current: int) -> None:
    th = Thresholds((0.3, 0.5, 0.7), 0.08)
    level = level_from_score(score, current, th)
    fresh = level_from_score(score, 0, th)
    assert fresh <= level  # holding a level never lowers what the score supports
    if level > fresh:
        assert level <= current and score >= th.enter[level - 1] - th.exit_gap


def test_level_state_holds_levels_and_respects_refractory() -> None:
    lvl = LevelState()
    tr = lvl.step("ETH", 100.0, 2, P)
    assert tr is not None and tr.state == "open" and tr.episode == "ETH-100000"
    assert lvl.step("ETH", 110.0, 0, P) is None  # WARNING is held 30 s
    tr = lvl.step("ETH", 130.0, 3, P)
    assert tr is not None and tr.state == "escalate"
    tr = lvl.step("ETH", 161.0, 0, P)
    assert tr is not None and tr.state == "close" and tr.level == 0
    assert lvl.step("ETH", 200.0, 1, P) is None  # refractory: 60 s after the close
    tr = lvl.step("ETH", 222.0, 1, P)
    assert tr is not None and tr.state == "open" and tr.episode == "ETH-222000"
