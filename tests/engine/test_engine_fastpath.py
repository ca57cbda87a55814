"""The event-driven fast path (engine/burst.py, printscale.py): WARNING on the first few large
prints of a burst, never on a lone whale, a cluster of small prints or a busy background;
CRITICAL only with a price move; per-side refractory; a fast market-wide signal; bounded
per-asset state; absurd timestamps."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator

import msgspec

from cascade_tui.engine import Engine, Signal
from cascade_tui.engine.params import EngineParams, Thresholds
from cascade_tui.engine.printscale import PrintScale
from cascade_tui.engine.types import signal_encoder
from cascade_tui.model import Event, Liquidation
from tests.engine.engine_synth import START_TS, trade

BODY_USD = {"BTC": 3_000.0, "ETH": 1_500.0, "SOL": 600.0, "ADA": 30.0}  # print scales 100× apart
PRICE = {"BTC": 100_000.0, "ETH": 4_000.0, "SOL": 200.0, "ADA": 1.0}


def liq(asset: str, side: str, usd: float, ts: float, venue: str = "bybit", price: float | None = None,
        sampled: bool = False) -> Liquidation:  # fmt: skip
    px = PRICE[asset] if price is None else price
    return Liquidation(
        venue=venue, instrument=f"{asset}USDT", asset=asset, side=side,  # type: ignore[arg-type]
        price=px, qty=usd / px, usd=usd, raw_size=usd / px, event_ts=ts, recv_ts=ts, sampled=sampled,
    )  # fmt: skip


def background(
    rng: random.Random,
    assets: Iterable[str],
    t0: float,
    seconds: float,
    rate: float = 0.2,
    trades: bool = True,
) -> Iterator[Event]:
    """Heavy-tailed background prints (lognormal body, σ = 1.8) on both sides, and trades."""
    assets = tuple(assets)
    t = t0
    while t < t0 + seconds:
        t = round(t + 0.1, 6)
        for a in assets:
            if trades:
                yield trade(a, PRICE[a], t)
            if rng.random() < rate * 0.1:
                side = "long" if rng.random() < 0.5 else "short"
                yield liq(a, side, BODY_USD[a] * math.exp(rng.gauss(0.0, 1.8)), t)


def run(engine: Engine, events: Iterable[Event]) -> list[Signal]:
    out: list[Signal] = []
    for ev in events:
        out.extend(engine.tick(ev.recv_ts))
        out.extend(engine.process(ev))
    return out


def warmed(
    seed: int = 1, assets: tuple[str, ...] = ("BTC",), params: EngineParams | None = None
) -> tuple[Engine, float]:
    """An engine that has seen 40 minutes of background (it has learnt each asset's prints)."""
    engine = Engine(params)
    signals = run(engine, background(random.Random(seed), assets, START_TS, 2400.0))
    assert not [s for s in signals if s.level >= 2]
    return engine, START_TS + 2400.0


BURST = EngineParams().fast.large_prints + 2  # prints in a short test burst


def large(asset: str) -> float:
    # a cascade print: well above the asset's usual prints, and big (~4.4 × its 80th
    # percentile, over fast.big_x)
    return 20.0 * BODY_USD[asset]


def test_print_scale_learns_each_assets_own_prints_and_starts_from_the_prior() -> None:
    scale = PrintScale(prior_usd=5_000.0, quantile=0.8, halflife_s=3600.0, learn_prints=20)
    assert scale.scale == 5_000.0
    rng = random.Random(3)
    for k in range(400):
        scale.add(START_TS + k, 30.0 * math.exp(rng.gauss(0.0, 1.8)))
    # the lognormal's 80th percentile is 30 × e^(0.84 × 1.8) ≈ $137
    assert 80.0 < scale.scale < 250.0
    scale.frozen = True
    scale.add(START_TS + 500, 1e9)
    assert scale.n == 400  # nothing learnt while an alarm is open


def first_warning_print(
    asset: str, params: EngineParams | None = None, spacing_s: float = 0.05
) -> tuple[int | None, list[Signal]]:
    engine, t = warmed(assets=(asset,), params=params)
    signals: list[Signal] = []
    for k in range(12):
        signals += engine.process(
            liq(asset, "long", large(asset), t + spacing_s * k, price=PRICE[asset] * (1 - k * 1e-5))
        )
        if any(s.level >= 2 for s in signals):
            return k + 1, signals
    return None, signals


def test_burst_of_large_prints_fires_warning_within_the_fifth_print() -> None:
    for asset in ("BTC", "ADA"):  # the same test at print scales 100× apart
        fired_at, signals = first_warning_print(asset)
        assert fired_at is not None and fired_at <= 5, (asset, fired_at)
        assert fired_at == EngineParams().fast.large_prints, (asset, fired_at)
        warning = next(s for s in signals if s.level >= 2)
        assert warning.direction == "long" and warning.why["trigger"] == "burst"
        assert float(warning.why["burst_x"]) >= 1.0
        assert float(warning.why["large_prints"]) >= EngineParams().fast.large_prints - 0.5


def scale_of(asset: str) -> float:
    return BODY_USD[asset] * math.exp(0.84 * 1.8)  # the lognormal body's 80th percentile


def onset_batch(asset: str, t: float, n_large: int, n_medium: int = 2) -> list[Liquidation]:
    """One Bybit batch at a cascade's onset: large prints and medium ones (1.2 scales: not
    large, but units), each a distinct order."""
    px = PRICE[asset]
    big = [liq(asset, "long", large(asset), t, price=px * (1 - k * 1e-5)) for k in range(n_large)]
    mid = [liq(asset, "long", 1.2 * scale_of(asset), t, price=px * (1 - (50 + k) * 1e-5)) for k in range(n_medium)]
    return big + mid


def test_the_quick_lane_fires_on_one_batch_of_three_large_prints() -> None:
    """Bybit sends a 500 ms batch in one frame: three large prints and the medium prints
    with them (units at quick_x × their bar) are a cascade's onset."""
    f = EngineParams().fast
    for asset in ("BTC", "ADA"):
        engine, t = warmed(assets=(asset,))
        signals = engine.process_frame(onset_batch(asset, t + 0.5, f.quick_prints))
        assert [s.level for s in signals if s.asset == asset] == [2], asset
        assert signals[0].why["quick_prints"] == f.quick_prints and signals[0].why["needs_large"] == 0
        assert float(signals[0].why["burst_x"]) >= f.quick_x
    # without the quick lane the same batch is short of the decayed count (large_prints)
    params = EngineParams(fast=msgspec.structs.replace(f, quick_prints=0))
    engine, t = warmed(params=params)
    assert all(s.level < 2 for s in engine.process_frame(onset_batch("BTC", t + 0.5, f.quick_prints)))


def test_the_quick_lane_needs_its_prints_and_its_units_margin() -> None:
    f = EngineParams().fast
    # one large print fewer, with more medium prints: not the quick lane's
    engine, t = warmed()
    assert all(s.level < 2 for s in engine.process_frame(onset_batch("BTC", t + 0.5, f.quick_prints - 1, 4)))
    # three large prints alone: their units (capped) stay under quick_x × the bar
    engine, t = warmed()
    assert all(s.level < 2 for s in engine.process_frame(onset_batch("BTC", t + 0.5, f.quick_prints, 0)))


def test_large_prints_spread_beyond_the_quick_window_need_more_of_them() -> None:
    """Three large prints over 0.8 s are not the quick lane's (0.6 s); the decayed count
    fires later, still within the fifth."""
    f = EngineParams().fast
    spacing = 0.4
    assert (f.quick_prints - 1) * spacing > f.quick_window_s
    fired_at, signals = first_warning_print("BTC", spacing_s=spacing)
    assert fired_at is not None and f.quick_prints < fired_at <= 5, fired_at
    assert "quick_prints" not in next(s for s in signals if s.level >= 2).why


def test_the_quick_lane_closes_when_the_background_brings_large_prints_together_by_chance() -> None:
    """Five times the usual pace of prints: three large ones within 0.6 s happen by chance
    several times a day, so the onset batch is not enough; more prints still fire."""
    quick = EngineParams().fast.quick_prints
    engine = Engine()
    run(engine, background(random.Random(1), ("BTC",), START_TS, 2400.0, rate=1.0))
    t = START_TS + 2400.0
    assert all(s.level < 2 for s in engine.process_frame(onset_batch("BTC", t + 0.5, quick)))
    more = [liq("BTC", "long", large("BTC"), t + 0.6, price=99_000.0 - k) for k in range(4)]
    assert any(s.level >= 2 and "quick_prints" not in s.why for s in engine.process_frame(more))


def test_the_quick_lane_ignores_a_whale_split_into_fills() -> None:
    """Six fills of one large order (same venue, time, price and side) are one print."""
    engine, t = warmed()
    fills = [liq("BTC", "long", large("BTC"), t + 0.5) for _ in range(6)]
    signals = engine.process_frame(fills)
    signals += run(engine, background(random.Random(12), ("BTC",), t + 1.0, 60.0))
    assert all(s.level < 2 for s in signals)


def test_a_cluster_of_ordinary_prints_does_not_fire() -> None:
    """Fifteen prints of up to the asset's usual large print (its scale), within 2 s: many
    prints, many units, but none of them large: the bait that fooled a units-and-prints test."""
    engine, t = warmed()
    rng = random.Random(11)
    scale = BODY_USD["BTC"] * math.exp(0.84 * 1.8)  # the lognormal body's 80th percentile
    cluster = [
        liq("BTC", "long", scale * rng.uniform(0.5, 1.0), t + 0.13 * k, price=100_000.0 - k) for k in range(15)
    ]
    signals = run(engine, cluster)
    signals += run(engine, background(rng, ("BTC",), t + 3.0, 120.0))
    assert all(s.level < 2 for s in signals)


def test_a_cluster_of_above_usual_prints_needs_a_big_one_to_fire() -> None:
    """Fifteen prints of 1.6–2.6 × the asset's scale within 2 s: each one large, none big —
    the cluster bait of a heavy-tailed asset, and the shape of most false WARNINGs left on the
    training markets. It holds at WATCH, held by `big_print`; the same cluster with one big
    print among them is a burst."""
    scale = BODY_USD["BTC"] * math.exp(0.84 * 1.8)  # the lognormal body's 80th percentile

    def cluster(t: float, big_at: int | None) -> list[Liquidation]:
        rng = random.Random(12)
        return [
            liq("BTC", "long", scale * (5.0 if k == big_at else rng.uniform(1.6, 2.6)), t + 0.13 * k,
                price=100_000.0 - k)
            for k in range(15)
        ]  # fmt: skip

    engine, t = warmed()
    signals = run(engine, cluster(t, None))
    held = [v.why for v in engine.snapshot().assets if v.asset == "BTC"]
    signals += run(engine, background(random.Random(8), ("BTC",), t + 3.0, 120.0))
    assert all(s.level < 2 for s in signals)
    assert [s for s in signals if s.level == 1], "the cluster is a partial burst: WATCH"
    assert held and held[0].get("held_by") == "big_print" and held[0].get("needs_big_x") == 3.0
    engine, t = warmed()
    fired = [s for s in run(engine, cluster(t, 2)) if s.level >= 2]
    assert fired and fired[0].why["trigger"] == "burst"


def test_a_busy_other_side_does_not_open_a_second_cascade() -> None:
    """During a long cascade the short side's flow is busy too (aftershocks, a volatile
    market); its large prints open nothing while the long side leads."""
    longs = [liq("BTC", "long", large("BTC"), round(0.1 * k, 6), price=100_000.0 - k) for k in range(100)]
    # 10 s: the long side bursts; the short side has a third as many large prints
    shorts = [liq("BTC", "short", large("BTC"), round(0.3 * k + 0.01, 6), price=100_000.0 + k) for k in range(34)]

    def at(t: float, evs: list[Liquidation]) -> list[Liquidation]:
        return [msgspec.structs.replace(e, event_ts=e.event_ts + t, recv_ts=e.recv_ts + t) for e in evs]

    engine, t = warmed()
    signals = run(engine, sorted(at(t, longs) + at(t, shorts), key=lambda e: e.recv_ts))
    assert any(s.level >= 2 and s.direction == "long" for s in signals)
    assert not [s for s in signals if s.direction == "short" and s.level >= 2]
    # the same short prints alone are a cascade of their own: what held them was the long side
    engine, t = warmed()
    alone = run(engine, at(t, shorts))
    assert any(s.level >= 2 and s.direction == "short" for s in alone)


def test_a_frame_is_counted_whole_before_it_is_evaluated() -> None:
    engine, t = warmed()
    frame = [liq("BTC", "long", large("BTC"), t + 0.5) for _ in range(BURST)]
    frame = [msgspec.structs.replace(ev, price=ev.price - k) for k, ev in enumerate(frame)]  # distinct orders
    signals = engine.process_frame(frame)
    assert [s.level for s in signals if s.asset == "BTC"] == [2]
    assert signals[0].ts == t + 0.5  # no cadence delay
    assert engine.stats()["events"]["liquidation"] > BURST


def test_the_score_alone_never_opens_warning() -> None:
    """A burst of ordinary long prints with a few large ones (short of the fast path) and a
    short whale lift the asset's score past a lowered WARNING threshold: the score holds
    WATCH, and its why says the fast path is what WARNING needs."""
    params = msgspec.structs.replace(EngineParams(), thresholds=Thresholds(watch=0.2, warning=0.3, critical=0.7))
    engine, t = warmed(params=params)
    rng = random.Random(2)
    scale = BODY_USD["BTC"] * math.exp(0.84 * 1.8)  # the lognormal body's 80th percentile
    events = [liq("BTC", "long", scale * rng.uniform(0.5, 1.0), t + 0.1 * k, price=100_000.0 - 5 * k) for k in range(80)]
    events += [liq("BTC", "long", large("BTC"), t + 0.05 + 1.5 * k, price=99_000.0 - 5 * k) for k in range(3)]
    events.append(liq("BTC", "short", 60e6, t + 2.0))
    signals = run(engine, sorted(events, key=lambda e: e.recv_ts))
    held = [
        v.why for v in engine.snapshot().assets if v.asset == "BTC" and v.why.get("score_held_by") == "fast_path"
    ]
    signals += run(engine, background(random.Random(3), ("BTC",), t + 8.1, 60.0))
    assert held, "the score never reached WARNING: the test does not exercise the gate"
    assert [s.level for s in signals if s.asset == "BTC"] and all(s.level < 2 for s in signals)


def test_a_lone_whale_print_does_not_fire() -> None:
    engine, t = warmed()
    signals = engine.process(liq("BTC", "long", 50e6, t + 0.1))
    # the same whale arriving as fills of one order (same venue, time and price) is one print
    signals += [s for k in range(6) for s in engine.process(liq("BTC", "short", 8e6, t + 0.2))]
    signals += run(engine, background(random.Random(9), ("BTC",), t + 0.3, 120.0))
    assert all(s.level < 2 for s in signals)


def test_a_cluster_of_small_prints_does_not_fire() -> None:
    engine, t = warmed()
    rng = random.Random(5)
    cluster = [
        liq("BTC", "short", BODY_USD["BTC"] * math.exp(min(rng.gauss(0.0, 1.0), 1.0)), t + 0.2 * k)
        for k in range(15)
    ]
    signals = run(engine, cluster)
    signals += run(engine, background(rng, ("BTC",), t + 3.0, 120.0))
    assert all(s.level < 2 for s in signals)


def test_a_busy_background_does_not_fire() -> None:
    engine, t = warmed(seed=4)
    # volatile hours: five times the usual pace of ordinary prints, for half an hour
    signals = run(engine, background(random.Random(6), ("BTC",), t, 1800.0, rate=1.0))
    assert all(s.level < 2 for s in signals)


def test_critical_needs_a_price_move_even_from_liquidation_prices_alone() -> None:
    for moving in (False, True):
        engine = Engine()
        # no trade or mark feed at all: only liquidations, whose prices are the only price
        run(engine, background(random.Random(2), ("SOL",), START_TS, 2400.0, trades=False))
        t = START_TS + 2400.0
        signals: list[Signal] = []
        for k in range(300):  # 30 s of a heavy cascade
            price = PRICE["SOL"] * (1.0 - (0.0001 * k if moving else 0.0))
            signals += engine.process(liq("SOL", "long", large("SOL"), t + 0.1 * k, price=price - k * 1e-6))
        top = max(s.level for s in signals)
        if moving:  # the long liquidations' prices fell 3 %: CRITICAL, with its evidence
            crit = next(s for s in signals if s.level == 3)
            assert crit.why["price_from"] == "liquidations"
            assert float(crit.why["price_move_pct"]) >= float(crit.why["needs_pct"])
        else:  # as intense, but no move: held at WARNING, and it says so
            assert top == 2
            assert (
                signals[-1].why.get("held_by") == "price_move"
                or engine.snapshot().assets[0].why["held_by"] == "price_move"
            )


def test_a_slow_moving_cascade_is_critical_only_with_the_move_lookback() -> None:
    """A cascade that runs for five minutes while the price falls 0.5 % a minute: never
    1.5 % within one 2-minute window, 2.5 % from its high. CRITICAL with
    fast.move_lookback_s (the move from the episode's high, and over how long), held at
    WARNING by the price move without it."""
    tops = {}
    for lookback in (0.0, 600.0):
        engine = Engine(msgspec.structs.replace(EngineParams(), fast=msgspec.structs.replace(
            EngineParams().fast, move_lookback_s=lookback)))  # fmt: skip
        run(engine, background(random.Random(2), ("SOL",), START_TS, 2400.0, trades=False))
        t = START_TS + 2400.0
        signals: list[Signal] = []
        for k in range(3000):  # 300 s, ten large prints a second
            price = PRICE["SOL"] * (1.0 - 0.005 * (k / 600.0))
            signals += engine.process(liq("SOL", "long", large("SOL"), t + 0.1 * k, price=price))
        assert max(s.level for s in signals) >= 2
        tops[lookback] = max(s.level for s in signals)
        if lookback:
            crit = next(s for s in signals if s.level == 3)
            assert float(crit.why["price_move_pct"]) >= float(crit.why["needs_pct"])
            assert int(crit.why["move_over_s"]) > 120
        else:
            assert engine.snapshot().assets[0].why["held_by"] == "price_move"
            assert float(engine.snapshot().assets[0].why["price_move_pct"]) < 1.5
    assert tops == {0.0: 2, 600.0: 3}


def test_critical_needs_part_of_its_move_after_the_warning() -> None:
    """fast.after_warning_share: SOL's trades fall 2 % in a minute with no liquidations, then
    a burst of long liquidations comes with the price flat. The 2-minute window holds a move
    over the bar, but the burst did not make it: WARNING, held by `move_after_warning` (with
    the share off: CRITICAL). When the price then falls a further 0.3 % (over a tenth of the
    1.5 % bar), CRITICAL."""
    tops: dict[float, int] = {}
    for share in (0.0, 0.1):
        params = msgspec.structs.replace(EngineParams(), fast=msgspec.structs.replace(
            EngineParams().fast, after_warning_share=share))  # fmt: skip
        engine = Engine(params)
        run(engine, background(random.Random(2), ("SOL",), START_TS, 2400.0))
        t = START_TS + 2400.0
        low = PRICE["SOL"] * 0.98
        # the market falls first, liquidating nobody
        run(engine, (trade("SOL", PRICE["SOL"] * (1.0 - 0.02 * k / 600), t + 0.1 * k) for k in range(601)))
        t += 60.1
        signals: list[Signal] = []
        for k in range(100):  # then ten large long prints a second for 10 s, the price flat
            signals += run(engine, (trade("SOL", low, t + 0.1 * k), liq("SOL", "long", large("SOL"),
                                                                         t + 0.1 * k + 0.01, price=low)))  # fmt: skip
        tops[share] = max(s.level for s in signals)
        if not share:
            continue
        held = engine.snapshot().assets[0].why
        assert held["held_by"] == "move_after_warning", held
        assert float(held["price_move_pct"]) >= float(held["needs_pct"])  # the window's move is there
        assert float(held["after_warning_pct"]) < float(held["needs_after_warning_pct"]) == 0.15
        t += 10.0
        for k in range(50):  # the cascade now moves the price: 0.3 % in 5 s
            px = low * (1.0 - 0.003 * k / 49)
            signals += run(engine, (trade("SOL", px, t + 0.1 * k), liq("SOL", "long", large("SOL"),
                                                                        t + 0.1 * k + 0.01, price=px)))  # fmt: skip
        crit = next(s for s in signals if s.level == 3)
        assert float(crit.why["after_warning_pct"]) >= 0.15
    assert tops == {0.0: 3, 0.1: 2}


def test_refractory_is_per_side_and_only_after_warning_episodes() -> None:
    engine, t = warmed()
    # a long-side cascade opens and closes ...
    signals = run(
        engine, (liq("BTC", "long", large("BTC"), t + 0.1 * k, price=100_000.0 - k) for k in range(20))
    )
    assert any(s.level >= 2 and s.direction == "long" for s in signals)
    signals = run(engine, background(random.Random(8), ("BTC",), t + 3.0, 60.0, rate=0.0))
    closed = [s for s in signals if s.state == "close" and s.direction == "long"]
    assert closed
    t2 = closed[-1].ts + 1.0
    # ... the short side is not in refractory: a short burst right after opens at once
    shorts = run(
        engine, (liq("BTC", "short", large("BTC"), t2 + 0.05 * k, price=100_000.0 + k) for k in range(BURST))
    )
    assert any(s.level >= 2 and s.direction == "short" and s.state == "open" for s in shorts)
    # ... while the long side waits out its refractory period
    longs = run(
        engine, (liq("BTC", "long", large("BTC"), t2 + 1.0 + 0.05 * k, price=99_000.0 - k) for k in range(10))
    )
    assert not [s for s in longs if s.direction == "long" and s.state == "open"]


def test_a_watch_only_episode_does_not_start_a_refractory_period() -> None:
    engine, t = warmed()
    # a partial burst (large prints, fewer than WARNING needs): WATCH on the long side, never WARNING
    partial = EngineParams().fast.large_prints - 1
    signals = run(
        engine, (liq("BTC", "long", large("BTC"), t + 0.4 * k, price=100_000.0 - k) for k in range(partial))
    )
    signals += run(engine, background(random.Random(3), ("BTC",), t + 1.5, 40.0, rate=0.0))
    assert max((s.level for s in signals), default=0) == 1  # a WATCH episode, opened and closed
    assert any(s.state == "close" for s in signals)
    t2 = engine.snapshot().ts + 0.5
    burst = run(
        engine, (liq("BTC", "long", large("BTC"), t2 + 0.05 * k, price=99_000.0 - k) for k in range(BURST))
    )
    assert any(s.level >= 2 and s.direction == "long" for s in burst)


def test_market_wide_opens_within_a_second_of_the_first_asset_when_breadth_is_there() -> None:
    engine, t = warmed(assets=("BTC", "ETH", "SOL"))
    events: list[Event] = []
    for k in range(30):  # three assets burst together, BTC first
        for j, a in enumerate(("BTC", "ETH", "SOL")):
            events.append(
                liq(a, "long", large(a), round(t + 0.05 * k + 0.01 * j, 6), price=PRICE[a] - k * 1e-3)
            )
    signals = run(engine, events)
    first_asset = min(s.ts for s in signals if s.asset != "*" and s.level >= 2)
    wide = [s for s in signals if s.asset == "*"]
    assert wide and wide[0].state == "open" and wide[0].direction == "long"
    assert wide[0].ts - first_asset <= 1.0
    assert wide[0].why["trigger"] in ("burst", "breadth")


def test_one_asset_bursting_alone_is_not_market_wide() -> None:
    engine, t = warmed(assets=("BTC", "ETH", "SOL"))
    signals = run(
        engine, (liq("BTC", "long", large("BTC"), t + 0.05 * k, price=100_000.0 - k) for k in range(30))
    )
    assert any(s.asset == "BTC" and s.level >= 2 for s in signals)
    assert not [s for s in signals if s.asset == "*"]


def test_per_asset_state_is_bounded_and_evictions_are_counted() -> None:
    engine = Engine(msgspec.structs.replace(EngineParams(), max_assets=100))
    for k in range(1000):
        engine.process(liq("BTC", "long", 1_000.0, START_TS + k * 0.01) if k % 10 == 0 else
                       msgspec.structs.replace(liq("BTC", "long", 1_000.0, START_TS + k * 0.01), asset=f"X{k}"))  # fmt: skip
    stats = engine.stats()
    assert stats["assets"] <= 100
    assert stats["evicted_assets"] >= 1000 - 100 - 100
    assert "BTC" in {a.asset for a in engine.snapshot().assets}  # the busy asset stays


def test_idle_assets_are_evicted() -> None:
    params = msgspec.structs.replace(EngineParams(), idle_evict_s=600.0)
    engine = Engine(params)
    engine.process(liq("ADA", "long", 10.0, START_TS))
    run(engine, background(random.Random(1), ("BTC",), START_TS, 1300.0, rate=0.05))
    assert {a.asset for a in engine.snapshot().assets} == {"BTC"}
    assert engine.stats()["evicted_assets"] == 1


def test_absurd_timestamps_are_rejected_not_crashing() -> None:
    engine = Engine()
    engine.process(liq("BTC", "long", 1_000.0, START_TS))
    for ts in (9.3e18, 1e300, -5.0, float("inf")):
        assert engine.process(liq("BTC", "long", 1_000.0, ts)) == []
        assert engine.tick(ts) == []
    assert engine.stats()["bad_time"] == 4
    assert engine.snapshot().ts == START_TS  # the clock did not jump
    engine.process(liq("BTC", "long", 1_000.0, START_TS + 1.0))
    assert engine.stats()["events"]["liquidation"] == 2


def test_replay_is_deterministic_byte_for_byte() -> None:
    def once() -> bytes:
        engine, t = warmed(seed=12, assets=("BTC", "ETH"))
        rng = random.Random(4)
        events = [liq("ETH", "short", large("ETH") * rng.uniform(0.5, 2.0), t + 0.07 * k, price=4_000.0 + k)
                  for k in range(60)]  # fmt: skip
        signals = run(engine, events)
        signals += run(engine, background(rng, ("BTC", "ETH"), t + 5.0, 200.0))
        return b"\n".join(signal_encoder.encode(s) for s in signals)

    a, b = once(), once()
    assert a and a == b


def test_a_venue_still_learning_borrows_the_assets_print_scale() -> None:
    """The engine has learnt BTC's prints on Bybit only; a burst on OKX, a venue it has never
    seen, is judged against BTC's prints, not against the prior (against which none of these
    prints would be large)."""
    engine, t = warmed()
    assert large("BTC") < EngineParams().fast.large_x * EngineParams().fast.prior_print_usd["BTC"]
    signals: list[Signal] = []
    for k in range(EngineParams().fast.large_prints):
        signals += engine.process(
            liq("BTC", "long", large("BTC"), t + 0.05 * k, venue="okx", price=100_000.0 - k)
        )
    assert any(s.level >= 2 and s.direction == "long" for s in signals)


SLOW = EngineParams(fast=msgspec.structs.replace(EngineParams().fast, long_tau_s=30.0))


def build_up(asset: str, side: str, t0: float, seconds: float, per_s: float = 1.5) -> list[Liquidation]:
    """A slow build-up: ordinary prints (one scale each: units, never large) every
    1/per_s seconds, price drifting the cascade's way; the short lane never sees its
    large prints together."""
    px, sign = PRICE[asset], (-1 if side == "long" else 1)
    n = int(seconds * per_s)
    return [
        liq(asset, side, scale_of(asset), round(t0 + k / per_s, 6), price=px * (1 + sign * k * 1e-5))
        for k in range(n)
    ]


def test_the_slow_lane_fires_on_a_build_up_the_short_lane_misses() -> None:
    f = SLOW.fast
    for asset in ("BTC", "ADA"):
        engine, t = warmed(assets=(asset,), params=SLOW)
        signals = run(engine, build_up(asset, "long", t, 60.0))
        warning = next((s for s in signals if s.level >= 2), None)
        assert warning is not None and warning.direction == "long", asset
        assert float(warning.why["long_x"]) >= 1.0 and float(warning.why["burst_x"]) < 1.0
        assert warning.why["lane"] == "slow"
        assert warning.ts - t < f.long_tau_s  # within one time constant of the build-up's start
    # the short lane alone: no WARNING on the same flow
    engine, t = warmed(params=EngineParams(fast=msgspec.structs.replace(f, long_tau_s=0.0)))
    assert all(s.level < 2 for s in run(engine, build_up("BTC", "long", t, 60.0)))


def test_the_slow_lane_needs_one_side_to_lead_and_the_flow_to_last() -> None:
    # the same flow on both sides: a busier market, not a cascade
    engine, t = warmed(params=SLOW)
    both = sorted(build_up("BTC", "long", t, 60.0) + build_up("BTC", "short", t + 0.3, 60.0), key=lambda e: e.recv_ts)
    assert all(s.level < 2 for s in run(engine, both))
    # as many prints, in four seconds: a cluster fills too few seconds
    engine, t = warmed(params=SLOW)
    cluster = build_up("BTC", "long", t, 4.0, per_s=10.0)
    signals = run(engine, cluster) + run(engine, background(random.Random(3), ("BTC",), t + 5.0, 120.0))
    assert all(s.level < 2 for s in signals)


def test_an_episode_the_slow_lane_opened_goes_critical_only_on_a_burst_of_its_own() -> None:
    """Units alone (many ordinary prints, price falling 1 %) are intense enough for a short-lane
    episode, but an episode the slow lane opened needs its large prints too."""
    engine, t = warmed(params=SLOW)
    signals = run(engine, build_up("BTC", "long", t, 20.0))
    assert any(s.level == 2 and s.why.get("lane") == "slow" for s in signals)
    t += 20.0
    px = PRICE["BTC"] * 0.995
    ordinary = [liq("BTC", "long", scale_of("BTC"), round(t + 0.05 * k, 6), price=px * (1 - k * 1e-4)) for k in range(60)]
    signals = run(engine, [*ordinary, trade("BTC", px * 0.99, t + 3.0)])
    assert all(s.level < 3 for s in signals)
    assert engine.snapshot().assets[0].why.get("held_by") == "intensity"
    # now a burst of large prints: CRITICAL, the price having moved
    t += 3.5
    bursting = [liq("BTC", "long", large("BTC"), round(t + 0.05 * k, 6), price=px * (0.99 - k * 1e-4)) for k in range(20)]
    signals = run(engine, [*bursting, trade("BTC", px * 0.985, t + 1.0)])
    assert any(s.level == 3 for s in signals)


def _one_asset_bursting_while_two_stir(params: EngineParams) -> list[Signal]:
    """BTC bursts to WARNING; ETH and SOL stir at once, with fewer large prints than WARNING
    needs: their burst ratios still fill the market sum."""
    engine, t = warmed(assets=("BTC", "ETH", "SOL"), params=params)
    stir = params.fast.large_prints - 1
    events: list[Event] = []
    for k in range(30):
        events.append(liq("BTC", "long", large("BTC"), round(t + 0.05 * k, 6), price=PRICE["BTC"] - k))
        if k < stir:
            for j, a in enumerate(("ETH", "SOL")):
                events.append(liq(a, "long", large(a), round(t + 0.05 * k + 0.01 * (j + 1), 6),
                                  price=PRICE[a] - k * 1e-3))  # fmt: skip
    return run(engine, events)


def test_one_asset_at_warning_among_stirring_ones_is_not_market_wide() -> None:
    # the same market with the rule of one firing asset opens "*": the stir is in the sum
    one = msgspec.structs.replace(EngineParams().market, burst_min_firing=1)
    loose = _one_asset_bursting_while_two_stir(msgspec.structs.replace(EngineParams(), market=one))
    assert [s for s in loose if s.asset == "*" and s.level >= 2]
    signals = _one_asset_bursting_while_two_stir(EngineParams())
    assert any(s.asset == "BTC" and s.level >= 2 for s in signals)
    assert not [s for s in signals if s.asset in ("ETH", "SOL") and s.level >= 2]
    assert not [s for s in signals if s.asset == "*"]
