"""Decayed rates, slot rings and occupancy against brute-force references."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from cascade_tui.engine.rates import TAUS, DecayedRates, OccupancyMask, SlotRing, acceleration

T0 = 1_700_000_000.0

# (gap to previous event in seconds, usd, weight)
events_strategy = st.lists(
    st.tuples(
        st.one_of(st.just(0.0), st.floats(0.0, 0.01), st.floats(0.0, 200.0)),
        st.floats(0.0, 1e7),
        st.sampled_from([0.0, 0.5, 1.0]),
    ),
    min_size=1,
    max_size=200,
)


def brute_sums(events: list[tuple[float, float, float]], t: float, tau: float) -> tuple[float, float, float]:
    count = sum(math.exp(-(t - ti) / tau) for ti, _, _ in events)
    usd = sum(u * math.exp(-(t - ti) / tau) for ti, u, _ in events)
    wcount = sum(w * math.exp(-(t - ti) / tau) for ti, _, w in events)
    return count, usd, wcount


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, abs(b)))


@settings(max_examples=60, deadline=None)
@given(events_strategy, st.floats(0.0, 100.0))
def test_decayed_sums_equal_brute_force(gaps: list[tuple[float, float, float]], query_after: float) -> None:
    rates = DecayedRates(T0)
    t = T0
    seen: list[tuple[float, float, float]] = []
    for gap, usd, w in gaps:
        t += gap
        rates.add(t, usd, w)
        seen.append((t, usd, w))
    q = t + query_after
    count, usd = rates.sums_at(q)
    for j, tau in enumerate(TAUS):
        bc, bu, _ = brute_sums(seen, q, tau)
        assert close(count[j], bc) and close(usd[j], bu)
    wc5, wc60, wu20, full5 = rates.score_sums_at(q)
    assert close(wc5, brute_sums(seen, q, 5.0)[2]) and close(wc60, brute_sums(seen, q, 60.0)[2])
    assert close(wu20, sum(u * w * math.exp(-(q - ti) / 20.0) for ti, u, w in seen))
    # every event here comes from a full feed: the full-feed count is the weighted count
    assert close(full5, wc5)
    ev_rates, _ = rates.rates_at(q)
    assert all(close(r, c / tau) for r, c, tau in zip(ev_rates, count, TAUS, strict=True))


def test_burst_of_ten_thousand_events_in_one_millisecond_is_counted_exactly() -> None:
    rates = DecayedRates(T0)
    for i in range(10_000):
        rates.add(T0 + i * 1e-7, 100.0)
    count, usd = rates.sums_at(T0 + 0.001)
    full5 = rates.score_sums_at(T0 + 0.001)[3]
    for j, tau in enumerate(TAUS):
        expected = sum(math.exp(-(T0 + 0.001 - (T0 + i * 1e-7)) / tau) for i in range(10_000))
        assert math.isclose(count[j], expected, rel_tol=1e-9)
        assert math.isclose(usd[j], 100.0 * expected, rel_tol=1e-9)
    assert full5 > 9_990  # nothing capped: a burst is as big as it is


def test_sampled_events_do_not_count_as_full_feed() -> None:
    rates = DecayedRates(T0)
    rates.add(T0, 10.0, 1.0, full_feed=False)
    rates.add(T0, 10.0, 1.0, full_feed=True)
    assert rates.score_sums_at(T0)[3] == 1.0


def test_acceleration_is_positive_while_rate_rises_and_negative_after() -> None:
    rates = DecayedRates(T0)
    t = T0
    for i in range(200):
        t = T0 + i * (1.0 / (1 + i / 20))  # inter-arrival shrinking: rate rising
        rates.add(t, 1.0)
    rising, _ = rates.rates_at(t)
    assert acceleration(rising)[1] > 0
    falling, _ = rates.rates_at(t + 30.0)
    assert acceleration(falling)[1] < 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 90), st.floats(0.0, 1e6)), min_size=1, max_size=150))
def test_slot_ring_sums_match_brute_force(steps: list[tuple[int, float]]) -> None:
    ring = SlotRing(60, 1, 1000)
    sec = 1000
    history: list[tuple[int, float]] = []
    for gap, value in steps:
        sec += gap
        ring.add(sec, 0, value)
        history.append((sec, value))
        expected = sum(v for s, v in history if sec - 60 < s <= sec)
        assert math.isclose(ring.total(0), expected, rel_tol=1e-9, abs_tol=1e-6)
    hist = ring.history(0, sec)
    assert len(hist) == 60
    assert math.isclose(hist[-1], sum(v for s, v in history if s == sec), rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 90), st.booleans(), st.sampled_from((0.0, -0.0, 1.5, 2e5, 123.456, 1e-12))),
        min_size=1,
        max_size=150,
    )
)
def test_add_three_is_add_row_with_the_other_channels_at_zero(steps: list[tuple[int, bool, float]]) -> None:
    """The per-liquidation windows name their three channels: the same slots and sums to the
    bit as the five-value row with zeros elsewhere, a zero value included."""
    fast, row = SlotRing(60, 5, 1000), SlotRing(60, 5, 1000)
    sec = 1000
    for gap, long, value in steps:
        sec += gap
        if long:
            fast.add_three(sec, 0, 1.0, 1, value, 3, value * 0.5)
            row.add_row(sec, (1.0, value, 0.0, value * 0.5, 0.0))
        else:
            fast.add_three(sec, 0, 1.0, 2, value, 4, value * 0.5)
            row.add_row(sec, (1.0, 0.0, value, 0.0, value * 0.5))
        assert fast.sums == row.sums and fast.channels == row.channels
        assert [math.copysign(1.0, x) for x in fast.sums] == [math.copysign(1.0, x) for x in row.sums]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=120), st.integers(0, 40))
def test_occupancy_matches_brute_force(gaps: list[int], query_after: int) -> None:
    mask = OccupancyMask(0)
    sec = 0
    marked: set[int] = set()
    for gap in gaps:
        sec += gap
        mask.mark(sec)
        marked.add(sec)
    q = sec + query_after
    for window in (20, 60):
        expected = sum(1 for s in marked if q - window < s <= q)
        assert mask.occupied(q, window) == expected
