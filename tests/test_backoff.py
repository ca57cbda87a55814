"""The shared retry schedule: doubling ceiling, cap, jitter band, floor."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cascade_tui.backoff import Backoff


def test_ceiling_doubles_up_to_the_cap() -> None:
    b = Backoff(base_s=0.5, cap_s=4.0)
    assert [b.ceiling(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.ceiling(10**9) == 4.0  # no overflow however long the outage


def test_no_jitter_is_the_ceiling() -> None:
    b = Backoff(base_s=0.25, cap_s=4.0, jitter=0.0)
    assert [b.delay(n, lambda: 0.7) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]


@given(st.integers(1, 200), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_delay_stays_in_its_band(attempt: int, jitter: float, draw: float) -> None:
    b = Backoff(base_s=1.0, cap_s=60.0, jitter=jitter, floor_s=0.1)
    ceiling = b.ceiling(attempt)
    d = b.delay(attempt, lambda: draw)
    assert max(0.1, ceiling * (1 - jitter)) - 1e-9 <= d <= ceiling + 1e-9


def test_full_jitter_keeps_the_floor() -> None:
    assert Backoff(base_s=1.0, cap_s=60.0, jitter=1.0, floor_s=0.1).delay(3, lambda: 0.0) == 0.1


@pytest.mark.parametrize("kwargs", [{"jitter": 1.5}, {"base_s": 0.0}, {"base_s": 5.0, "cap_s": 1.0}])
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
