"""Position sizing formula (engine/sizing.py) and its evaluation on a hand-made price path."""

from __future__ import annotations

import math

import pytest

from cascade_tui.backtest.sizing_eval import evaluate_sizing, exposure_path, max_drawdown
from cascade_tui.engine.sizing import SizingParams, exposure
from cascade_tui.engine.types import Signal


def test_exposure_ramp_and_regime_cap() -> None:
    assert exposure(0.0, "NORMAL") == 1.0
    assert exposure(0.30, "NORMAL") == 1.0  # at full_below: still full
    # halfway between 0.30 and 0.80 -> 0.5; in HIGH capped by 0.75 -> 0.375
    assert exposure(0.55, "NORMAL") == pytest.approx(0.5)
    assert exposure(0.55, "HIGH") == pytest.approx(0.375)
    assert exposure(0.80, "NORMAL") == 0.0
    assert exposure(0.1, "EXTREME") == 0.5
    assert exposure(0.1, "UNKNOWN") == 1.0
    assert exposure(math.nan, "NORMAL") == 0.0  # unknown risk treated as the worst
    assert exposure(5.0, "NORMAL") == 0.0 and exposure(-1.0, "NORMAL") == 1.0
    assert exposure(0.9, "NORMAL", SizingParams(floor=0.2)) == 0.2
    with pytest.raises(ValueError):
        SizingParams(full_below=0.8, flat_above=0.3)


def sig(ts: float, asset: str, score: float, state: str, direction: str = "long") -> Signal:
    return Signal(1, ts, asset, 2, "WARNING", state, f"{asset}-1", score, {}, direction, [], "NORMAL")


def test_sizing_sits_out_a_falling_market() -> None:
    # price 100 -> 90 over seconds 10..20 while a BTC long signal at score 0.9 is open (exposure 0)
    prices = [(float(t), 100.0 if t <= 10 else max(90.0, 100.0 - (t - 10))) for t in range(0, 31)]
    signals = [sig(9.5, "BTC", 0.9, "open"), sig(20.5, "BTC", 0.0, "close")]
    path = exposure_path(prices, signals, SizingParams())
    assert path[9] == 1.0 and path[10] == 0.0 and path[20] == 0.0 and path[21] == 1.0
    result = evaluate_sizing(prices, signals)
    assert result["hold_return"] == pytest.approx(-0.10)
    assert result["sized_return"] == pytest.approx(0.0)
    assert result["hold_max_drawdown"] == pytest.approx(0.10)
    assert result["drawdown_avoided"] == pytest.approx(0.10)
    assert result["opportunity_lost"] == 0.0
    # sum of the 10 skipped falling returns: Σ 1/(100-k) for k = 0..9
    assert result["loss_avoided"] == pytest.approx(sum(1 / (100 - k) for k in range(10)))


def test_short_signals_and_other_assets_do_not_cut_a_long() -> None:
    prices = [(float(t), 100.0 + t) for t in range(10)]
    signals = [sig(0.0, "BTC", 0.9, "open", direction="short"), sig(0.0, "ETH", 0.9, "open")]
    assert exposure_path(prices, signals, SizingParams()) == [1.0] * 10
    # a market-wide long signal does
    assert exposure_path(prices, [sig(4.5, "*", 0.9, "open")], SizingParams())[5:] == [0.0] * 5


def test_max_drawdown() -> None:
    assert max_drawdown([1.0, 1.2, 0.9, 1.3, 1.0]) == pytest.approx(0.25)
    assert max_drawdown([]) == 0.0


def test_recorded_regime_path_caps_exposure_between_signals() -> None:
    prices = [(float(t), 100.0) for t in range(10)]
    # EXTREME from t=3 to t=6 (cap 0.5), NORMAL after; no signal at all
    regimes = [(0.0, "NORMAL"), (3.0, "EXTREME"), (6.0, "NORMAL")]
    path = exposure_path(prices, [], SizingParams(), regimes)
    assert path == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
    # without a recorded path the regime comes from signals only (none here): NORMAL throughout
    assert exposure_path(prices, [], SizingParams()) == [1.0] * 10
