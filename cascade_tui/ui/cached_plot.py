"""A plotext chart that is rebuilt only when what it shows changed.

Building a plotext figure costs tens of milliseconds, and Textual may call `render()` far
more often than the data changes (every resize, theme switch, or a refresh of a
neighbour). Each chart says what its picture depends on (`cache_key`), how to draw its
figure (`draw`), and what to say while it has too little to draw (`placeholder`); this
class keeps the last picture and reuses it while the key is the same.

Wraps textual-plotext (unmaintained, pinned to plotext 5) so it can be swapped in one place.
"""

from __future__ import annotations

from rich.text import Text
from textual_plotext import PlotextPlot

from cascade_tui.ui.palette import Palette


class CachedPlot(PlotextPlot):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._cache_key: tuple[object, ...] | None = None
        self._cached: Text | None = None

    def cache_key(self) -> tuple[object, ...]:
        """What the picture depends on besides the widget's size and the theme."""
        raise NotImplementedError

    def placeholder(self, pal: Palette) -> Text | None:
        """The text shown instead of a chart while there is too little to draw, else None."""
        raise NotImplementedError

    def draw(self, pal: Palette) -> None:
        """Build the figure on `self.plt` (cleared first)."""
        raise NotImplementedError

    def _full_key(self) -> tuple[object, ...]:
        return (*self.cache_key(), self.size.width, self.size.height, self.app.theme)

    def is_current(self) -> bool:
        """Whether the picture drawn last is still the one to show."""
        return self._cached is not None and self._full_key() == self._cache_key

    def render(self) -> Text:
        key = self._full_key()
        if key == self._cache_key and self._cached is not None:
            return self._cached
        pal = Palette(self.app.theme_variables)
        text = self.placeholder(pal)
        if text is None:
            plt = self.plt
            plt.clear_data()
            plt.clear_figure()
            self.draw(pal)
            drawn = super().render()
            assert isinstance(drawn, Text)
            text = drawn
        self._cache_key = key
        self._cached = text
        return text


def short_price(value: float, span: float = float("inf")) -> str:
    """Axis labels narrow enough to leave the width to the chart (91.7k), yet distinct when
    the axis spans a narrow range (81,652 where the whole span is under 400)."""
    if value >= 10_000 and span >= 400:
        return f"{value / 1000:.1f}k"
    return f"{value:,.0f}" if value >= 100 else f"{value:.4g}"
