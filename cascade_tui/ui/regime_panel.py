"""BTC volatility regime: badge, realized vol per window, risk multiplier, time in regime, chart."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget

from cascade_tui.engine.params import VOL_WINDOWS
from cascade_tui.engine.types import Snapshot
from cascade_tui.ui import format as fmt
from cascade_tui.ui.palette import Palette
from cascade_tui.ui.price_chart import PriceChart


class RegimeSummary(Widget):
    DEFAULT_CSS = "RegimeSummary { height: 2; }"

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: Snapshot | None = None

    def show(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot
        self.refresh()

    def render(self) -> Text:
        pal = Palette(self.app.theme_variables)
        snap = self.snapshot
        if snap is None or snap.volatility.btc_price is None:
            # before the first BTC trade the regime is only the engine's default: say so
            return Text("no data · the regime needs BTC trades", style=pal.dim)
        vol = snap.volatility
        colour = pal.regime(vol.regime)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {vol.regime} ", f"bold reverse {colour}")
        text.append(" risk ×", pal.dim)
        text.append(f"{vol.cascade_risk_multiplier:.2f}", f"bold {colour}")
        text.append(" for ", pal.dim)
        since = snap.ts - vol.regime_since if vol.regime_since is not None else None
        text.append(fmt.duration(since), "bold")
        if vol.expansion is not None:
            text.append(" σ5m/σ1h ", pal.dim)
            text.append(f"{vol.expansion:.2f}")
        text.append("\nRV ", pal.dim)
        for window in VOL_WINDOWS:
            value = vol.rv.get(window)
            text.append(f"{window} ", pal.dim)
            text.append(fmt.pct(value * 100 if value is not None else None, digits=0, sign=False), "bold")
            text.append("  ")
        return text


class RegimePanel(Widget, can_focus=True):
    """Container panel: the summary lines above the price chart."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.summary = RegimeSummary()
        self.chart = PriceChart(id="price-chart")

    def compose(self) -> ComposeResult:
        yield self.summary
        yield self.chart

    def on_mount(self) -> None:
        self.border_title = "BTC volatility regime"
        self.border_subtitle = "price, coloured by regime"

    def show_numbers(self, snapshot: Snapshot | None) -> None:
        self.summary.show(snapshot)

    def show_chart(self, snapshot: Snapshot | None) -> None:
        self.chart.show(snapshot.volatility if snapshot is not None else None)
