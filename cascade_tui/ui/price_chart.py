"""BTC price over the last hour, each segment coloured by the volatility regime in force.

Rebuilt only when its data, size or theme changed (cached_plot.py); the app feeds it at 1–2 Hz.
"""

from __future__ import annotations

from rich.text import Text
from textual.color import Color

from cascade_tui.engine.types import VolatilityView
from cascade_tui.ui.cached_plot import CachedPlot, short_price
from cascade_tui.ui.palette import Palette

POINT_SECONDS = 5.0  # VolatilityView.price_history has one point per 5 s


def regime_runs(regimes: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """Contiguous runs [start, end] (inclusive, overlapping by one point so lines join)."""
    runs: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(regimes) + 1):
        if i == len(regimes) or regimes[i] != regimes[start]:
            runs.append((start, min(i, len(regimes) - 1), regimes[start]))
            start = i
    return runs


def _rgb(colour: str) -> tuple[int, int, int]:
    return Color.parse(colour).rgb


class PriceChart(CachedPlot):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.volatility: VolatilityView | None = None

    def show(self, volatility: VolatilityView | None) -> None:
        if volatility is self.volatility:
            return
        self.volatility = volatility
        self.refresh()

    def cache_key(self) -> tuple[object, ...]:
        return (id(self.volatility),)

    def placeholder(self, pal: Palette) -> Text | None:
        vol = self.volatility
        if vol is None or len(vol.price_history) < 2 or self.size.width < 10 or self.size.height < 4:
            return Text("BTC price chart: waiting for BTC prices…", style=pal.dim)
        return None

    def draw(self, pal: Palette) -> None:
        vol = self.volatility
        assert vol is not None  # placeholder() shows the text while there is none
        plt = self.plt
        prices = list(vol.price_history)
        regimes = list(vol.regime_history[-len(prices) :]) if vol.regime_history else []
        regimes = (
            [regimes[0]] * (len(prices) - len(regimes)) + regimes if regimes else ["NORMAL"] * len(prices)
        )
        # decimate to about two points per column: plotext cost grows with the point count
        step = max(1, len(prices) // max(1, 2 * self.size.width))
        idx = list(range(0, len(prices), step))
        if idx[-1] != len(prices) - 1:
            idx.append(len(prices) - 1)
        xs = [(i - (len(prices) - 1)) * POINT_SECONDS / 60.0 for i in idx]
        ys = [prices[i] for i in idx]
        rs = tuple(regimes[i] for i in idx)
        for start, end, regime in regime_runs(rs):
            plt.plot(
                xs[start : end + 1], ys[start : end + 1], color=_rgb(pal.regime(regime)), marker="braille"
            )
        plt.xlabel("minutes ago")
        plt.frame(False)
        plt.ticks_color(_rgb(pal.dim))
        plt.xticks([round(x) for x in _nice_ticks(xs[0], 0.0)])
        lo, hi = min(ys), max(ys)
        ticks = [lo + (hi - lo) * k / 3 for k in range(4)] if hi > lo else [lo]
        plt.yticks(ticks, [short_price(t, hi - lo) for t in ticks])


def _nice_ticks(lo: float, hi: float) -> list[float]:
    """At most ~6 round tick positions (minutes) from lo up to hi."""
    span = max(hi - lo, 1e-9)
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60) if span / s <= 6), 60)
    count = int(span // step)
    return [hi - k * step for k in range(count, -1, -1)]
