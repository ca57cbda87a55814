"""Does sizing by cascade risk pay? A long BTC holder scaled by engine/sizing.py, second by second.

The price path is the capture's own BTC trades/marks (last price per second). At each second
the exposure is decided from the signals known by then (risk = max score of the open BTC and
market-wide "*" signals whose direction is "long"; a closed signal is score 0) and applied
to the return to the next second; the regime is the engine's BTC regime at that second
(sampled from its snapshot every 10 s of market time during the run). Compared with holding the full position:
  - drawdown_avoided = max drawdown(hold) - max drawdown(sized)   (fractions, >0 is good)
  - loss_avoided     = Σ (1 - e) · max(-r, 0)   (falling seconds sat out)
  - opportunity_lost = Σ (1 - e) · max(r, 0)    (rising seconds missed)
"""

from __future__ import annotations

from collections.abc import Sequence

from cascade_tui.backtest.matching import MARKET
from cascade_tui.engine.sizing import SizingParams, exposure
from cascade_tui.engine.types import Signal

HELD_ASSET = "BTC"
HELD_DIRECTION = "long"  # a long holder fears longs being liquidated


def max_drawdown(equity: Sequence[float]) -> float:
    peak = 0.0
    worst = 0.0
    for value in equity:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, 1.0 - value / peak)
    return worst


def exposure_path(
    prices: Sequence[tuple[float, float]],
    signals: Sequence[Signal],
    params: SizingParams,
    regimes: Sequence[tuple[float, str]] | None = None,
) -> list[float]:
    """Exposure decided at each price second from what was known by then: the signals with
    ts <= that second, and the regime (from `regimes` when the run recorded it, else the
    regime carried by the latest BTC / "*" signal)."""
    relevant = sorted((s for s in signals if s.asset in (HELD_ASSET, MARKET)), key=lambda s: s.ts)
    scores = {HELD_ASSET: 0.0, MARKET: 0.0}
    regime = "NORMAL"
    out: list[float] = []
    j = k = 0
    for ts, _ in prices:
        while regimes is not None and k < len(regimes) and regimes[k][0] <= ts:
            regime = regimes[k][1]
            k += 1
        while j < len(relevant) and relevant[j].ts <= ts:
            sig = relevant[j]
            if regimes is None:
                regime = sig.regime or regime
            open_and_long = sig.state != "close" and sig.direction == HELD_DIRECTION
            scores[sig.asset] = sig.score if open_and_long else 0.0
            j += 1
        out.append(exposure(max(scores.values()), regime, params))
    return out


def evaluate_sizing(
    prices: Sequence[tuple[float, float]],
    signals: Sequence[Signal],
    params: SizingParams | None = None,
    regimes: Sequence[tuple[float, str]] | None = None,
) -> dict[str, float | int]:
    p = params or SizingParams()
    exposures = exposure_path(prices, signals, p, regimes)
    hold = [1.0]
    sized = [1.0]
    lost = avoided = 0.0
    reduced = 0
    for i in range(len(prices) - 1):
        r = prices[i + 1][1] / prices[i][1] - 1.0
        e = exposures[i]
        hold.append(hold[-1] * (1.0 + r))
        sized.append(sized[-1] * (1.0 + e * r))
        lost += (1.0 - e) * max(r, 0.0)
        avoided += (1.0 - e) * max(-r, 0.0)
        reduced += e < 1.0
    steps = max(1, len(prices) - 1)
    hold_dd, sized_dd = max_drawdown(hold), max_drawdown(sized)
    return {
        "seconds": len(prices) - 1 if prices else 0,
        "hold_return": hold[-1] - 1.0,
        "sized_return": sized[-1] - 1.0,
        "hold_max_drawdown": hold_dd,
        "sized_max_drawdown": sized_dd,
        "drawdown_avoided": hold_dd - sized_dd,
        "loss_avoided": avoided,
        "opportunity_lost": lost,
        "mean_exposure": (sum(exposures[:-1]) / steps) if len(exposures) > 1 else 1.0,
        "time_reduced_share": reduced / steps,
    }


def pool_sizing(parts: Sequence[dict[str, float | int]]) -> dict[str, float | int]:
    """Several captures: returns compound, drawdowns take the worst, sums add, shares weight by time."""
    if not parts:
        return {}
    seconds = sum(int(p["seconds"]) for p in parts)
    hold_growth = sized_growth = 1.0
    for p in parts:
        hold_growth *= 1.0 + float(p["hold_return"])
        sized_growth *= 1.0 + float(p["sized_return"])
    weight = [max(1, int(p["seconds"])) for p in parts]
    total_w = sum(weight)
    hold_dd = max(float(p["hold_max_drawdown"]) for p in parts)
    sized_dd = max(float(p["sized_max_drawdown"]) for p in parts)
    return {
        "seconds": seconds,
        "hold_return": hold_growth - 1.0,
        "sized_return": sized_growth - 1.0,
        "hold_max_drawdown": hold_dd,
        "sized_max_drawdown": sized_dd,
        "drawdown_avoided": hold_dd - sized_dd,
        "loss_avoided": sum(float(p["loss_avoided"]) for p in parts),
        "opportunity_lost": sum(float(p["opportunity_lost"]) for p in parts),
        "mean_exposure": sum(float(p["mean_exposure"]) * w for p, w in zip(parts, weight, strict=True))
        / total_w,
        "time_reduced_share": sum(
            float(p["time_reduced_share"]) * w for p, w in zip(parts, weight, strict=True)
        )
        / total_w,
    }
