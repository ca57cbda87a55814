"""Score factors, the burst-surprise statistic and thresholds that never compound."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascade_tui.engine import Engine
from cascade_tui.engine.params import (
    REGIMES,
    EngineParams,
    MarketParams,
    ParamError,
    RegimeParams,
    Thresholds,
)
from cascade_tui.engine.scoring import ScoreInputs, SurpriseCache, negbin_surprise, occupancy_rate, score
from cascade_tui.engine.signals import thresholds_in_force


def brute_negbin_tail(k: int, mean: float, fano: float) -> float:
    """P(N >= k) summed term by term (5000 terms of the pmf, each from lgamma)."""
    p = 1.0 / fano
    r = mean / (fano - 1.0)

    def log_pmf(n: int) -> float:
        return (
            math.lgamma(n + r) - math.lgamma(r) - math.lgamma(n + 1) + r * math.log(p) + n * math.log(1 - p)
        )

    return math.fsum(math.exp(log_pmf(n)) for n in range(k, k + 5000))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 120), st.floats(0.05, 60.0), st.floats(1.5, 6.0))
def test_negbin_surprise_matches_brute_force(k: int, mean: float, fano: float) -> None:
    tail = brute_negbin_tail(k, mean, fano)
    expected = min(-math.log10(tail), 30.0)  # the statistic is capped at p = 1e-30
    assert math.isclose(negbin_surprise(k, mean, fano), expected, rel_tol=1e-6, abs_tol=1e-6)


def test_poisson_case_and_edges() -> None:
    # P(N >= 1) for Poisson(0.1) = 1 - e^-0.1
    assert math.isclose(negbin_surprise(1, 0.1, 1.0), -math.log10(1 - math.exp(-0.1)), rel_tol=1e-9)
    assert negbin_surprise(0, 0.1) == 0.0
    assert negbin_surprise(100_000, 0.1) == 30.0  # capped, and computed without a long loop
    assert negbin_surprise(20, 0.1) > negbin_surprise(10, 0.1) > negbin_surprise(5, 0.1)


def test_occupancy_rate_inverts_the_throttle_and_is_capped() -> None:
    assert occupancy_rate(0, 20) == 0.0
    assert math.isclose(occupancy_rate(10, 20), math.log(2.0))
    assert occupancy_rate(20, 20) == occupancy_rate(19, 20) < 4.0


def quiet_inputs() -> ScoreInputs:
    inp = ScoreInputs()
    inp.base_rate_full = 0.05
    inp.base_usd20 = 20_000.0
    inp.floor_units = 8.0
    inp.count5_full = 0.25
    inp.r5 = inp.r60 = 0.05
    inp.u20 = 20_000.0
    inp.units60 = 0.5
    return inp


def test_quiet_inputs_score_near_zero_and_burst_scores_high() -> None:
    p = EngineParams()
    cache = SurpriseCache()
    quiet, comps, raw = score(quiet_inputs(), p, 1.0, cache)
    assert quiet < 0.05 and len(comps) == 6 and len(raw) == 14
    inp = quiet_inputs()
    inp.count5_full, inp.r5, inp.r60 = 200.0, 40.0, 1.5
    inp.u20, inp.units60 = 3e6, 20.0
    inp.oi_change_5m = -3.0
    inp.funding_ann, inp.direction_sign = 0.6, -1
    inp.vol_expansion = 4.0
    total, comps, _ = score(inp, p, 1.0, cache)
    assert comps == (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert total == 1.0


def test_volume_factor_is_gated_by_the_print_units_floor() -> None:
    inp = quiet_inputs()
    inp.u20 = 200_000.0  # 10× baseline ...
    inp.units60 = 1.9  # ... but below a quarter of the units floor (one capped whale print)
    _, comps, _ = score(inp, EngineParams(), 1.0, SurpriseCache())
    assert comps[2] == 0.0


def test_funding_factor_is_side_aligned() -> None:
    inp = quiet_inputs()
    inp.funding_ann = 0.6  # crowded longs
    inp.direction_sign = -1  # longs liquidated
    assert score(inp, EngineParams(), 1.0, SurpriseCache())[1][4] == 1.0
    inp.direction_sign = 1  # shorts liquidated: positive funding does not support it
    assert score(inp, EngineParams(), 1.0, SurpriseCache())[1][4] == 0.0


@settings(max_examples=30, deadline=None)
@given(st.floats(0.5, 2.0), st.integers(1, 20), st.sampled_from(REGIMES))
def test_thresholds_never_compound_under_repeated_set_params(
    factor: float, repeats: int, regime: str
) -> None:
    base = EngineParams()
    factors = dict.fromkeys(REGIMES, factor)
    p = msgspec.structs.replace(base, regime=msgspec.structs.replace(base.regime, threshold_factor=factors))
    engine = Engine()
    for _ in range(repeats):
        engine.set_params(p)
    th = thresholds_in_force(engine.params, regime)
    t = Thresholds()
    expected = tuple(min(x * factor, 1.0) for x in (t.watch, t.warning, t.critical))
    assert th.enter == pytest.approx(expected)
    assert engine.params.thresholds == Thresholds()  # the base values are never rewritten
    assert engine.snapshot().params_version == repeats


def test_set_params_rejects_bad_values_and_keeps_the_old_ones() -> None:
    engine = Engine()
    bad = msgspec.structs.replace(EngineParams(), thresholds=Thresholds(watch=0.6, warning=0.5))
    with pytest.raises(ParamError):
        engine.set_params(bad)
    assert engine.params.thresholds.watch == Thresholds().watch
    assert engine.snapshot().params_version == 0
    with pytest.raises(ParamError):
        engine.set_params(
            msgspec.structs.replace(EngineParams(), regime=RegimeParams(enter=(0.5, 0.4, 0.6, 1.0)))
        )
    zero_factor = RegimeParams(threshold_factor=dict.fromkeys(REGIMES, 0.0))
    with pytest.raises(ParamError, match="threshold_factor"):
        engine.set_params(msgspec.structs.replace(EngineParams(), regime=zero_factor))
    with pytest.raises(ParamError, match="min_assets"):
        engine.set_params(msgspec.structs.replace(EngineParams(), market=MarketParams(min_assets=0)))
    for firing in (0, MarketParams().burst_min_assets + 1):
        with pytest.raises(ParamError, match=r"market\.burst_min_firing"):
            engine.set_params(msgspec.structs.replace(EngineParams(), market=MarketParams(burst_min_firing=firing)))
