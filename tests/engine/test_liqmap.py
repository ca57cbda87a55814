"""The liquidation-map estimator: the formula, OI in and out, band crossing, bounded memory,
calibration and the near_cluster context."""

from __future__ import annotations

import math

import msgspec
import pytest

from cascade_tui.engine.liqmap import LiqMapParams, LiquidationMap, liquidation_price, validate_liqmap
from cascade_tui.model import Liquidation, Mark, OpenInterest, Trade

T0 = 1_767_225_600.0
ONE_10X = LiqMapParams(leverage_mix=((10.0, 1.0),), mmr={"binance": 0.004}, min_history_s=0.0)


def trade(t: float, price: float, usd: float, side: str, asset: str = "BTC") -> Trade:
    return Trade("binance", f"{asset}USDT", asset, price, usd / price, usd, side, t, t)  # type: ignore[arg-type]


def oi(t: float, qty: float, venue: str = "binance", asset: str = "BTC") -> OpenInterest:
    return OpenInterest(venue, f"{asset}USDT", asset, qty, t, t)


def mark(t: float, price: float, asset: str = "BTC") -> Mark:
    return Mark("binance", f"{asset}USDT", asset, price, t, t)


def liq(t: float, price: float, usd: float, side: str = "long", asset: str = "BTC") -> Liquidation:
    return Liquidation("binance", f"{asset}USDT", asset, side, price, usd / price, usd, usd / price, t, t)  # type: ignore[arg-type]


def feed(m: LiquidationMap, *events: object) -> None:
    for ev in events:
        m.on_event(ev, ev.recv_ts)  # type: ignore[attr-defined]


def test_liquidation_price_formula() -> None:
    assert liquidation_price(100_000.0, 10.0, 0.004, True) == pytest.approx(100_000 * (1 - 0.1 + 0.004))
    assert liquidation_price(100_000.0, 10.0, 0.004, False) == pytest.approx(100_000 * (1 + 0.1 - 0.004))
    assert liquidation_price(50.0, 100.0, 0.005, True) == pytest.approx(50 * 0.995)
    # higher leverage sits closer to the entry
    assert liquidation_price(1.0, 50.0, 0.004, True) > liquidation_price(1.0, 5.0, 0.004, True)


def test_oi_increase_is_placed_at_the_liquidation_price_split_by_taker_flow() -> None:
    m = LiquidationMap(ONE_10X)
    feed(m, mark(T0, 100_000.0), oi(T0, 1000.0))  # the first OI is a baseline: nothing placed
    assert m.band_usd("BTC") == ({}, {})
    # 3:1 taker buying over the interval, then OI +10 BTC at 100k
    feed(m, trade(T0 + 1, 100_000.0, 3e6, "buy"), trade(T0 + 2, 100_000.0, 1e6, "sell"), oi(T0 + 3, 1010.0))
    longs, shorts = m.band_usd("BTC")
    assert sum(longs.values()) == pytest.approx(0.75 * 1e6)
    assert sum(shorts.values()) == pytest.approx(0.25 * 1e6)
    (kl,) = longs
    (ks,) = shorts
    assert kl == m.band_of(liquidation_price(100_000.0, 10.0, 0.004, True))
    assert ks == m.band_of(liquidation_price(100_000.0, 10.0, 0.004, False))
    # the band holds that price
    assert m.band_low(kl) <= 90_400.0 < m.band_low(kl + 1)


def test_no_trades_splits_evenly_and_unknown_venue_uses_default_mmr() -> None:
    m = LiquidationMap(LiqMapParams(leverage_mix=((20.0, 1.0),), min_history_s=0.0))
    feed(m, mark(T0, 2000.0, "ETH"), oi(T0, 100.0, "kraken", "ETH"), oi(T0 + 5, 110.0, "kraken", "ETH"))
    longs, shorts = m.band_usd("ETH")
    assert sum(longs.values()) == pytest.approx(sum(shorts.values())) == pytest.approx(10_000.0)
    (kl,) = longs
    assert kl == m.band_of(2000.0 * (1 - 0.05 + m.params.default_mmr))
    # ... and the view says the split is not from trades, until one is seen
    view = m.view("ETH", T0 + 5)
    assert view is not None and not view.trades_seen
    feed(m, trade(T0 + 6, 2000.0, 5e4, "buy", "ETH"))
    view = m.view("ETH", T0 + 6)
    assert view is not None and view.trades_seen


def test_oi_decrease_removes_pro_rata_net_of_liquidations_seen() -> None:
    m = LiquidationMap(LiqMapParams(leverage_mix=((10.0, 0.5), (50.0, 0.5)), min_history_s=0.0))
    feed(m, mark(T0, 100.0), oi(T0, 0.0), oi(T0 + 1, 1000.0))  # $100k placed, 50/50
    before_l, before_s = m.band_usd("BTC")
    total = sum(before_l.values()) + sum(before_s.values())
    assert total == pytest.approx(100_000.0)
    feed(m, oi(T0 + 2, 750.0))  # a quarter closed voluntarily: every band keeps 75 %
    after_l, after_s = m.band_usd("BTC")
    for before, after in ((before_l, after_l), (before_s, after_s)):
        assert set(before) == set(after)
        for j in before:
            assert after[j] == pytest.approx(0.75 * before[j])
    # a decrease that the venue's own liquidation prints explain removes nothing more
    feed(m, liq(T0 + 3, 99.9, 100 * 99.9, "short"), oi(T0 + 4, 650.0))
    kept_l, kept_s = m.band_usd("BTC")
    assert sum(kept_l.values()) + sum(kept_s.values()) == pytest.approx(75_000.0)


def test_price_crossing_a_band_removes_it_and_counts_the_match() -> None:
    m = LiquidationMap(ONE_10X)
    feed(m, mark(T0, 100_000.0), oi(T0, 0.0), trade(T0 + 1, 100_000.0, 1e6, "buy"), oi(T0 + 2, 10.0))
    (kl,) = m.band_usd("BTC")[0]
    feed(m, mark(T0 + 10, 91_000.0))
    assert kl in m.band_usd("BTC")[0]  # not there yet
    feed(m, mark(T0 + 20, 90_300.0))  # through 90 400
    assert m.band_usd("BTC")[0] == {}
    feed(m, liq(T0 + 21, 90_250.0, 400_000.0))  # seen a few bp beyond: matched
    feed(m, liq(T0 + 22, 95_000.0, 100_000.0))  # nowhere near an estimated band
    view = m.view("BTC", T0 + 23)
    assert view is not None
    assert view.crossed_usd == pytest.approx(1e6)
    assert view.seen_usd == pytest.approx(500_000.0)
    assert view.coverage == pytest.approx(0.8)
    assert view.seen_per_est == pytest.approx(0.4)


def test_a_band_already_through_the_price_is_not_placed() -> None:
    m = LiquidationMap(LiqMapParams(leverage_mix=((100.0, 1.0),), min_history_s=0.0))
    # trades at 100 (the entry VWAP), then the price falls 2 % before the OI update arrives
    feed(m, mark(T0, 100.0), oi(T0, 0.0), trade(T0 + 1, 100.0, 1e5, "buy"), mark(T0 + 2, 98.0))
    feed(m, oi(T0 + 3, 1000.0))
    assert m.band_usd("BTC")[0] == {}  # liquidated at 99.4 already


def test_memory_is_bounded_by_the_window_as_price_walks() -> None:
    m = LiquidationMap(LiqMapParams(min_history_s=0.0))
    span = math.ceil(math.log1p(0.15) / math.log1p(0.001))
    price = 100.0
    feed(m, mark(T0, price), oi(T0, 0.0))
    qty = 0.0
    for step in range(3000):
        t = T0 + step
        price *= math.exp(0.004 * math.sin(step / 40.0) + 0.001)  # walks far from the start
        qty += 50.0
        feed(m, trade(t, price, 1e4, "buy" if step % 3 else "sell"), oi(t + 0.5, qty))
        longs, shorts = m.band_usd("BTC")
        k = m.band_of(price)
        assert all(k - span <= j <= k + span for j in (*longs, *shorts))
    assert price > 100.0 * 1.15**3  # it walked out of several windows
    venues = 1
    assert m.bands_kept("BTC") <= 2 * (2 * span + 1) * (1 + venues)


NEAR_TEST = LiqMapParams(
    leverage_mix=((100.0, 1.0),),
    near_pct=3.0,
    near_horizon_s=86_400.0,
    near_cluster_mult=4.0,
    near_cluster_floor_usd=1e5,
    min_history_s=0.0,
    near_approach_pct=0.0,  # its own test below: these ones check the rest of the rule
)


def map_with_a_long_cluster_near(params: LiqMapParams) -> tuple[LiquidationMap, float]:
    """$500k of 100× longs placed at ~99.4 (price 100) at t + 1, after 6 h of $50k of
    liquidations an hour and a price swinging 0.5 % a minute; returns the map and t."""
    m = LiquidationMap(params)
    feed(m, mark(T0, 100.0), oi(T0, 0.0))
    for h in range(6):
        feed(m, liq(T0 + h * 3600 + 10, 60.0, 50_000.0, "short"))
    for i in range(1, 360):
        feed(m, mark(T0 + 60 * i, 100.5 if i % 2 else 100.0))
    t = T0 + 6 * 3600
    feed(m, trade(t, 100.0, 1e6, "buy"), oi(t + 1, 5000.0))
    return m, t


def test_near_cluster_needs_size_against_usual_flow_and_proximity() -> None:
    params = NEAR_TEST
    m, t = map_with_a_long_cluster_near(params)
    assert m.usual_hourly_usd("BTC", t + 1) == pytest.approx(50_000.0, rel=0.25)
    why = m.near_cluster("BTC", t + 2)
    assert why is not None and why["trigger"] == "near_cluster" and why["side"] == "long"
    # 0.6 % away at σ√h ≈ 19 %: all but certain to be reached within the day
    reach = m.reach_probability("BTC", math.log(0.995), 86_400.0)
    assert 0.9 < reach < 1.0
    assert float(why["expected_usd"]) == pytest.approx(500_000.0 * reach, rel=0.02)
    assert m.near_cluster("BTC", t + 2, "short") is None
    assert m.assets_near(t + 2) == ["BTC"]
    # far away it is not "near": price up 4 % puts the band outside the 3 % radius — but a
    # raised near_cluster is held for near_min_hold_s first (no flicker for the trader)
    feed(m, mark(t + 3, 104.0))
    held = m.near_cluster("BTC", t + 4)
    assert held is not None and held["side"] == "long" and float(held["expected_usd"]) == 0.0
    assert m.near_cluster("BTC", t + 2 + params.near_min_hold_s - 1) is not None
    assert m.near_cluster("BTC", t + 2 + params.near_min_hold_s + 1) is None
    # small against the usual flow: nothing
    m2 = LiquidationMap(params)
    feed(m2, mark(T0, 100.0), oi(T0, 0.0))
    for h in range(6):
        feed(m2, liq(T0 + h * 3600 + 10, 60.0, 1e6, "short"))
    feed(m2, trade(t, 100.0, 1e6, "buy"), oi(t + 1, 5000.0))
    assert m2.near_cluster("BTC", t + 2) is None


def test_near_confirm_raises_only_a_cluster_that_stays_at_the_bar() -> None:
    params = msgspec.structs.replace(NEAR_TEST, near_confirm_s=30.0)
    m, t = map_with_a_long_cluster_near(params)
    assert m.near_cluster("BTC", t + 2) is None  # at the bar, not yet for near_confirm_s
    # a touch: the price leaves (the cluster is 4.4 % away, outside the radius) and comes back
    feed(m, mark(t + 10, 104.0))
    assert m.near_cluster("BTC", t + 11) is None
    feed(m, mark(t + 20, 100.0))
    assert m.near_cluster("BTC", t + 21) is None
    assert m.near_cluster("BTC", t + 2 + params.near_confirm_s + 1) is None  # the clock restarted
    assert m.near_cluster("BTC", t + 21 + params.near_confirm_s - 1) is None
    why = m.near_cluster("BTC", t + 21 + params.near_confirm_s)
    assert why is not None and why["side"] == "long"
    with pytest.raises(ValueError, match="near_confirm_s"):
        validate_liqmap(LiqMapParams(near_confirm_s=-1.0))


def test_near_approach_raises_a_side_only_when_price_came_toward_it() -> None:
    """The approach gate: a cluster at the bar is raised only when the price has come down
    (for longs) by near_approach_pct within near_approach_s — sampled at each read — not
    when the price sits still by it, nor on a move older than the window."""
    params = msgspec.structs.replace(NEAR_TEST, near_approach_pct=0.25, near_approach_s=60.0)
    m, t = map_with_a_long_cluster_near(params)
    assert m.near_cluster("BTC", t + 2) is None  # at the bar, but the price has not moved
    feed(m, mark(t + 3, 100.4))
    assert m.near_cluster("BTC", t + 3) is None  # away from the longs: not an approach
    feed(m, mark(t + 4, 100.0))
    assert m.near_cluster("BTC", t + 74) is None  # 0.4 % down, but 71 s ago: out of the window
    feed(m, mark(t + 80, 100.2))
    assert m.near_cluster("BTC", t + 80) is None
    feed(m, mark(t + 90, 100.0))
    assert m.near_cluster("BTC", t + 90) is None  # 0.2 % toward: under the gate
    feed(m, mark(t + 100, 100.3))
    assert m.near_cluster("BTC", t + 100) is None
    feed(m, mark(t + 110, 100.0))
    why = m.near_cluster("BTC", t + 110)  # 0.3 % toward within the minute
    assert why is not None and why["side"] == "long"
    for bad in ({"near_approach_pct": -0.1}, {"near_approach_s": 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            validate_liqmap(LiqMapParams(**bad))  # type: ignore[arg-type]


def test_approach_extremes_equal_the_plain_window_max_and_min() -> None:
    """The sliding extremes the approach gate reads keep only the samples that can still be an
    extreme; they must equal max/min over every sample of the window, on a walk with ties,
    gaps between samples and trends both ways."""
    import random

    params = LiqMapParams(near_approach_pct=0.25, near_approach_s=60.0)
    m = LiquidationMap(params)
    feed(m, mark(T0, 100.0))
    am = m._assets["BTC"]
    rng = random.Random(7)
    samples: list[tuple[int, float]] = []
    second, price = int(T0), 100.0
    longest = 0
    for _ in range(5000):
        second += rng.choice((1, 1, 1, 2, 7))
        price = round(price * (1.0 + rng.choice((-1, 0, 1)) * rng.random() * 0.002), 2)
        m._sample_extremes(am, second, price)
        samples.append((second, price))
        window = [p for s, p in samples if s >= second - params.near_approach_s]
        assert am.near_hi[0][1] == max(window) and am.near_lo[0][1] == min(window)
        longest = max(longest, len(am.near_hi), len(am.near_lo))
    assert longest < 60  # fewer than one per second of the window


def test_reach_probability_uses_the_measured_volatility() -> None:
    m = LiquidationMap()
    feed(m, mark(T0, 100.0))
    quiet = m.reach_probability("BTC", 0.01, 3600.0)  # the 50 %-a-year default
    for i in range(1, 400):  # ±1 % every 5 s: very volatile
        feed(m, mark(T0 + 5 * i, 101.0 if i % 2 else 100.0))
    assert m.reach_probability("BTC", 0.01, 3600.0) > quiet
    assert m.reach_probability("BTC", 0.0, 1.0) == pytest.approx(1.0)
    assert m.reach_probability("BTC", 0.05, 60.0) < m.reach_probability("BTC", 0.01, 60.0)


def test_view_reports_within_and_nearest_dense() -> None:
    m = LiquidationMap(LiqMapParams(leverage_mix=((50.0, 1.0),), min_history_s=0.0))
    feed(m, mark(T0, 100.0), oi(T0, 0.0), trade(T0 + 1, 100.0, 1.0, "sell"), oi(T0 + 2, 2e5))
    view = m.view("BTC", T0 + 3)
    assert view is not None
    assert view.total_short_usd == pytest.approx(2e7) and view.total_long_usd == 0.0
    # 50× short: 100 × (1 + 0.02 − 0.004) = 101.6 → within 2 % and 5 %, not within 1 %
    assert view.short_within["1"] == 0.0
    assert view.short_within["2"] == pytest.approx(2e7) == view.short_within["5"]
    assert view.nearest_dense_short_pct == pytest.approx(1.6, abs=0.11)
    assert view.nearest_dense_long_pct is None
    assert [b.short_usd for b in view.bands] == [pytest.approx(2e7)]


def test_bad_events_are_counted_not_raised() -> None:
    m = LiquidationMap()
    feed(
        m,
        mark(T0, float("nan")),
        oi(T0, -1.0),
        Trade("binance", "BTCUSDT", "BTC", 0.0, 1.0, 1.0, "buy", T0, T0),
    )
    assert m.rejected == 3
    assert m.view("BTC", T0) is None or m.view("BTC", T0).price is None  # type: ignore[union-attr]


def test_params_are_validated() -> None:
    with pytest.raises(ValueError, match="leverage_mix"):
        validate_liqmap(LiqMapParams(leverage_mix=()))
    with pytest.raises(ValueError, match="mmr"):
        validate_liqmap(LiqMapParams(mmr={"binance": 0.9}))


def test_engine_raises_near_cluster_watch_and_never_more() -> None:
    from cascade_tui.engine import Engine

    engine = Engine()
    engine.liqmap = LiquidationMap(
        LiqMapParams(
            leverage_mix=((100.0, 1.0),),
            near_horizon_s=86_400.0,
            near_cluster_floor_usd=1e6,
            min_history_s=0.0,
            near_approach_pct=0.0,
        )
    )
    signals = []
    for ev in (mark(T0, 100_000.0), oi(T0, 0.0), trade(T0 + 1, 100_000.0, 1e6, "buy"), oi(T0 + 2, 100.0)):
        signals += engine.process(ev)
    # $10 M of 100× longs liquidate at ~99 400: 0.6 % under the price, no liquidation anywhere
    for s in range(3, 40):  # ±0.1 % wiggles (a day's horizon: reaching 0.6 % is likely)
        signals += engine.process(mark(T0 + s, 100_000.0 if s % 10 < 5 else 100_100.0))
    opened = [s for s in signals if s.state == "open"]
    assert len(opened) == 1
    sig = opened[0]
    assert (sig.asset, sig.level_name, sig.direction) == ("BTC", "WATCH", "long")
    assert sig.why["trigger"] == "near_cluster" and sig.why["side"] == "long"
    assert max(s.level for s in signals) == 1
    snap = engine.snapshot()
    (view,) = snap.liqmap
    assert view.asset == "BTC" and view.total_long_usd == pytest.approx(1e7)
    # the price moves away: the WATCH is held near_min_hold_s from when it was raised, then closes
    hold = engine.liqmap.params.near_min_hold_s
    for s in range(40, round(hold) + 100):
        signals += engine.process(mark(T0 + s, 104_000.0))
    assert signals[-1].state == "close"
    assert signals[-1].ts >= sig.ts + hold


def test_expected_near_equals_its_plain_form_to_the_bit() -> None:
    """`expected_near` (run for every asset every second) hoists the spread out of its loop;
    it must give exactly the float the band-by-band `reach_probability` sum gives, on maps
    with a measured volatility and without, for both sides, several radii and horizons."""
    from tests.engine.liqmap_scenarios import scripted_events

    m = LiquidationMap()
    compared = nonzero = 0
    for i, ev in enumerate(scripted_events(15, 4000)):
        m.on_event(ev, ev.recv_ts)  # type: ignore[attr-defined]
        if i % 97 == 0 or i < 40:  # early: the default volatility; later: the measured one
            for long in (True, False):
                for horizon, radius in ((1800.0, 3.0), (60.0, 0.5), (86_400.0, 10.0)):
                    fast = m.expected_near("BTC", long, horizon, radius)
                    plain = m.expected_near_reference("BTC", long, horizon, radius)
                    assert fast == plain and math.copysign(1.0, fast) == math.copysign(1.0, plain)
                    compared += 1
                    nonzero += fast > 0.0
    assert m.expected_near("ETH", True, 1800.0, 3.0) == m.expected_near_reference("ETH", True, 1800.0, 3.0) == 0.0
    assert compared > 200 and nonzero > 100


@pytest.mark.parametrize(
    "params",
    [
        LiqMapParams(),
        LiqMapParams(near_pct=0.5, near_horizon_s=60.0),
        LiqMapParams(near_pct=10.0, near_horizon_s=1e9),  # reach ~ 1 everywhere: the tight case
        LiqMapParams(near_pct=3.0, near_horizon_s=1.0),  # reach ~ 0 past the first bands
    ],
    ids=["defaults", "narrow", "everything-reached", "nothing-reached"],
)
def test_near_bound_is_never_under_the_expectation(params: LiqMapParams) -> None:
    """The near check settles a side (not held) whose bound is under the bar without the
    band-by-band expectation: the bound, cached while the bands, the price's band and the
    variance stay, must never be under the expectation computed at any price in between."""
    from tests.engine.liqmap_scenarios import scripted_events

    m = LiquidationMap(params)
    checked = tight = 0
    for i, ev in enumerate(scripted_events(16, 4000)):
        m.on_event(ev, ev.recv_ts)  # type: ignore[attr-defined]
        am = m._assets.get("BTC")
        if am is None or am.price is None or i % 7:
            continue
        for long in (True, False):
            bound = m.near_bound(am, long)
            expected = m.expected_near("BTC", long, params.near_horizon_s, params.near_pct)
            assert bound >= expected, (i, long, bound, expected)
            checked += expected > 0.0
            tight += expected > 0.5 * bound
    assert checked > 200
    if params.near_horizon_s >= 1e9:
        assert tight > 100  # the bound follows the expectation where every band is reached


def eager_near_params() -> LiqMapParams:
    """A map that calls a cluster near at once: one leverage, a day's horizon, a low bar and
    no history needed (an engine test's burst is the map's whole "usual" flow)."""
    return LiqMapParams(
        leverage_mix=((100.0, 1.0),),
        near_horizon_s=86_400.0,
        near_cluster_mult=0.01,
        near_cluster_floor_usd=1e6,
        min_history_s=0.0,
        near_approach_pct=0.0,
    )


def test_a_partial_bursts_watch_names_a_near_cluster_of_its_side() -> None:
    """A side already at WATCH from its own prints (a partial burst) cannot open a second WATCH:
    when the map puts a dense band of that side near the price, its why names the cluster
    (context near_cluster with the map's numbers) while the level and trigger stay its own —
    and the other side, and the same WATCH without a cluster, carry no such context."""
    from cascade_tui.engine import Engine
    from cascade_tui.engine.params import EngineParams
    from tests.engine.test_engine_fastpath import large, liq, run, warmed

    def partial_burst(with_cluster: bool) -> tuple[Engine, list, tuple[int, dict], tuple[int, dict]]:
        engine, t = warmed()
        # a fresh map: the burst's own prints are its whole "usual" flow, so the bar is low here
        params = eager_near_params()
        engine.liqmap = LiquidationMap(params)
        partial = EngineParams().fast.large_prints - 1
        prints = [liq("BTC", "long", large("BTC"), t + 0.4 * k, price=100_000.0 - k) for k in range(partial)]
        signals = run(engine, [mark(t, 100_000.0), oi(t, 0.0), *prints])
        assert [(s.state, s.level, s.why["trigger"]) for s in signals] == [("open", 1, "burst")]
        t1 = t + 0.4 * partial
        if with_cluster:  # $10 M of 100× longs liquidate at ~99 400, 0.6 % under the price
            signals += run(engine, [trade(t1, 100_000.0, 1e6, "buy"), oi(t1 + 0.1, 100.0)])
        signals += run(engine, [mark(t1 + 0.2 + 0.5 * i, 100_000.0) for i in range(4)])
        return engine, signals, engine.side_state("BTC", "long"), engine.side_state("BTC", "short")

    engine, signals, (level, why), (_, short_why) = partial_burst(with_cluster=True)
    assert engine.liqmap.near_cluster("BTC", engine.snapshot().ts, "long") is not None
    assert level == 1 and why["trigger"] == "burst" and why["context"] == "near_cluster"
    assert float(why["near_expected_usd"]) > 1e6 and float(why["near_cluster_x"]) >= 0.0
    assert "context" not in short_why
    # no new line and never more than WATCH: the context rides on the WATCH in force
    assert len(signals) == 1 and max(s.level for s in signals) == 1
    _, _, (level, why), _ = partial_burst(with_cluster=False)
    assert level == 1 and why["trigger"] == "burst" and "context" not in why


def test_restart_near_drops_the_hold_but_not_a_cluster_still_there() -> None:
    params = LiqMapParams(
        leverage_mix=((100.0, 1.0),),
        near_horizon_s=86_400.0,
        near_cluster_floor_usd=1e5,
        min_history_s=0.0,
        near_approach_pct=0.0,
    )
    m = LiquidationMap(params)
    feed(m, mark(T0, 100.0), oi(T0, 0.0), trade(T0 + 1, 100.0, 1e6, "buy"), oi(T0 + 2, 5000.0))
    assert m.near_cluster("BTC", T0 + 3, "long") is not None
    # still there: decided afresh on its own bar, it holds
    m.restart_near("BTC", "long")
    assert m.near_cluster("BTC", T0 + 3, "long") is not None
    # price runs through the band (~99.4): nothing is left near, yet the hold would keep it
    feed(m, mark(T0 + 4, 99.0))
    held = m.near_cluster("BTC", T0 + 5, "long")
    assert held is not None and float(held["expected_usd"]) == 0.0
    m.restart_near("BTC", "long")
    assert m.near_cluster("BTC", T0 + 5, "long") is None
    assert m.near_cluster("BTC", T0 + 6, "long") is None
    m.restart_near("BTC", "short")  # a side with no near state: nothing to do
    m.restart_near("ETH", "long")  # an asset the map does not hold


def test_a_cascade_through_its_near_cluster_leaves_no_stale_near_watch() -> None:
    """The map's near_cluster WATCH, then the cascade runs through that band (WARNING): once
    it is over the side closes, instead of sitting at a near_cluster WATCH of ~$0 for what is
    left of the near hold."""
    from cascade_tui.engine.params import EngineParams
    from tests.engine.test_engine_fastpath import large, liq, run, warmed

    engine, t = warmed()
    params = eager_near_params()
    engine.liqmap = LiquidationMap(params)
    # $10 M of 100× longs liquidate at ~99 400, 0.6 % under the price
    events = [mark(t, 100_000.0), oi(t, 0.0), trade(t + 0.1, 100_000.0, 1e6, "buy"), oi(t + 0.2, 100.0)]
    signals = run(engine, events + [mark(t + 0.5 + i, 100_000.0) for i in range(3)])
    assert [(s.state, s.direction, s.why["trigger"]) for s in signals] == [("open", "long", "near_cluster")]
    opened = signals[0].ts
    t1 = t + 4.0
    burst = EngineParams().fast.large_prints + 2
    prints = [liq("BTC", "long", large("BTC"), t1 + 0.05 * k, price=99_300.0 - k) for k in range(burst)]
    signals += run(engine, [mark(t1, 99_300.0), *prints])
    assert any(s.level >= 2 and s.direction == "long" for s in signals)
    signals += run(engine, [mark(t1 + 1.0 + i, 99_300.0) for i in range(300)])
    longs = [s for s in signals if s.direction == "long"]
    assert longs[-1].state == "close" and longs[-1].ts < opened + params.near_min_hold_s
    assert not [s for s in longs if s.state == "deescalate" and s.level == 1 and s.why["trigger"] == "near_cluster"]
    assert engine.side_state("BTC", "long")[0] == 0
    assert engine.liqmap.near_cluster("BTC", engine.snapshot().ts, "long") is None


def _walk(m: LiquidationMap, seed: int) -> list[tuple[float, ...]]:
    """Three venues' OI going up and down every second while price walks through bands (so
    bands are placed, closed pro rata, crossed and dropped off the window), read now and then."""
    import random

    rng = random.Random(seed)
    price, t = 100.0, T0
    qty = {"binance": 0.0, "bybit": 0.0, "okx": 0.0}
    feed(m, mark(t, price), *(oi(t, 0.0, v) for v in qty))
    readings: list[tuple[float, ...]] = []
    for step in range(3000):
        t += 1.0
        price *= math.exp(rng.gauss(0.0, 0.004))
        feed(m, trade(t, price, rng.uniform(1e3, 1e5), rng.choice(("buy", "sell"))))
        for venue in qty:
            qty[venue] = max(0.0, qty[venue] + rng.gauss(5.0, 40.0))
            feed(m, oi(t + 0.1, qty[venue], venue))
        if rng.random() < 0.05:  # a liquidation print: the match reads the bands
            feed(m, liq(t + 0.2, price * 0.999, rng.uniform(1e3, 1e4), rng.choice(("long", "short"))))
        if step % 97 == 0:
            readings.append((
                m.expected_near("BTC", True, 300.0, 3.0), m.expected_near("BTC", False, 300.0, 3.0),
                m.within("BTC", True, 2.0), m.within("BTC", False, 5.0),
            ))  # fmt: skip
    view = m.view("BTC", t)
    assert view is not None
    readings.append((view.crossed_usd, view.total_long_usd, view.total_short_usd, view.seen_usd))
    longs, shorts = m.band_usd("BTC")
    readings.append(tuple(sorted(longs.items())) + tuple(sorted(shorts.items())))  # type: ignore[arg-type]
    return readings


def test_pending_closes_read_as_closes_applied_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import cascade_tui.engine.liqmap as liqmap_module

    params = LiqMapParams(min_history_s=0.0)
    lazy = _walk(LiquidationMap(params), seed=5)
    monkeypatch.setattr(liqmap_module, "_SETTLE_BELOW", 2.0)  # every close applied when it comes
    eager = _walk(LiquidationMap(params), seed=5)
    assert len(lazy) == len(eager)
    for got, want in zip(lazy[:-1], eager[:-1], strict=True):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-6)
    got_bands, want_bands = lazy[-1], eager[-1]
    assert [band for band, _ in got_bands] == [band for band, _ in want_bands]  # type: ignore[misc]
    assert [usd for _, usd in got_bands] == pytest.approx([usd for _, usd in want_bands], rel=1e-9)  # type: ignore[misc]
    assert eager[-2][0] > 0 and eager[-2][1] > 0  # the walk crossed bands and kept some
