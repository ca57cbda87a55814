"""The mechanistic market: deterministic, seen through the venue parsers, cascades from the book."""

from __future__ import annotations

import math

import numpy as np

from cascade_tui.feeds import make_parser
from cascade_tui.model import Liquidation, OpenInterest
from cascade_tui.sources.simulate.mechanistic import BUCKET_LN, MechanisticMarket, Position
from cascade_tui.sources.simulate.mechanistic_simulator import MechanisticSimulator, make_simulator
from cascade_tui.sources.simulate.simulator import MarketSimulator


def test_same_seed_same_frames_and_labels() -> None:
    a = MechanisticSimulator(11)
    b = MechanisticSimulator(11)
    fa = [(f.ts, f.venue, f.data) for f in a.frames(600)]
    fb = [(f.ts, f.venue, f.data) for f in b.frames(600)]
    assert fa == fb and len(fa) > 1000
    assert a.labels == b.labels
    c = [(f.ts, f.data) for f in MechanisticSimulator(12).frames(120)]
    assert c != [(ts, data) for ts, _, data in fa[: len(c)]]


def test_frames_parse_into_liquidations_open_interest_and_prices() -> None:
    sim = MechanisticSimulator(3)
    parsers = {}
    kinds: dict[str, int] = {}
    errors = 0
    for frame in sim.frames(900):
        parser = parsers.setdefault(frame.venue, make_parser(frame.venue))
        for ev in parser.parse(frame.data, frame.ts, frame.channel):
            kinds[type(ev).__name__] = kinds.get(type(ev).__name__, 0) + 1
            if isinstance(ev, Liquidation):
                assert ev.asset in ("BTC", "ETH", "SOL") and ev.usd > 0
            if isinstance(ev, OpenInterest):
                assert ev.oi > 0
    errors = sum(p.stats.parse_errors for p in parsers.values())
    assert errors == 0
    assert (
        kinds.get("Liquidation", 0) > 10
        and kinds.get("OpenInterest", 0) > 100
        and kinds.get("Trade", 0) > 100
    )
    # every true liquidation is counted, the Hyperliquid share included (never in frames)
    assert sum(c for c, _ in sim.true_totals.values()) >= kinds["Liquidation"]


def test_a_dense_band_near_price_liquidates_in_a_chain() -> None:
    """A wall of long liquidation prices just under the price: one push through its top
    liquidates it, and the forced selling carries price into the rest — a cascade from the
    book, with a label from the mechanics."""
    rng = np.random.Generator(np.random.PCG64(5))
    market = MechanisticMarket(rng, 1_767_225_600.0, [0])  # BTC only
    book = market.books[0]
    for pid in list(book.positions):  # quiet book: no steady-state positions
        book.remove(pid)
    market.open_rate[:] = 0.0
    market.noise_sd[:] = 0.0
    price = float(market.price[0])
    # $400 M of 50× longs with liquidation prices spread over 0.2 %–1.2 % under the price
    for i in range(400):
        liq = price * (1.0 - 0.002 - 0.01 * i / 400)
        pos = Position(True, 1e6 / price, price, 50.0, liq, 0, math.floor(math.log(liq) / BUCKET_LN))
        book.add(10_000_000 + i, pos)
    market.price[0] = price * (1.0 - 0.0021)  # a small push reaches the top of the wall
    chunk = market.run_chunk(math.inf)
    labels = market.close_all()
    assert chunk.ev_ts.size > 300  # most of the wall went, not just the first position
    assert bool(chunk.ev_long.all())
    assert chunk.price[-1, 0] < price * 0.988  # forced selling carried price through the wall
    assert np.all(np.diff(chunk.ev_ts) >= 0)
    (label,) = labels
    assert label.asset == "BTC" and label.direction == "long" and label.severity == "major"
    assert label.usd > 300e6 and label.price_move < -0.01
    # the true book is kept for scoring: what is left is the wall's bottom, if anything
    longs, shorts = market.book_bands(0, math.log1p(0.001))
    assert not shorts and sum(longs.values()) < 100e6


def test_profile_name_picks_the_simulator() -> None:
    assert isinstance(make_simulator(1, "mechanistic"), MechanisticSimulator)
    assert isinstance(make_simulator(1, "demo"), MarketSimulator)
