"""Colours for Rich text built in Python (table cells, bars), read from the active theme.

TCSS uses theme variables directly; cells rendered as Rich `Text` need concrete colours, so
panels ask this palette, which resolves the same variables (`$level-critical`, ...) from the
app's current theme. A theme change rebuilds it and the panels repaint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cascade_tui.ui.themes import APP_VARIABLE_DEFAULTS

LEVEL_KEYS = ("level-none", "level-watch", "level-warning", "level-critical")
TIERS = ((10_000_000.0, "tier-10m"), (1_000_000.0, "tier-1m"), (100_000.0, "tier-100k"))


@dataclass(frozen=True)
class Palette:
    variables: Mapping[str, str]

    def get(self, name: str) -> str:
        value = self.variables.get(name) or APP_VARIABLE_DEFAULTS.get(name)
        return value or self.variables.get("foreground", "white")

    @property
    def fg(self) -> str:
        return self.get("foreground")

    @property
    def dim(self) -> str:
        return self.get("dim-text")

    @property
    def primary(self) -> str:
        return self.get("primary")

    @property
    def accent(self) -> str:
        return self.get("accent")

    def level(self, level: int) -> str:
        return self.get(LEVEL_KEYS[max(0, min(3, level))])

    def regime(self, regime: str) -> str:
        return self.get(f"regime-{regime.lower()}")

    def side(self, side: str) -> str:
        """Colour of a liquidated side / signal direction ("long" = longs liquidated)."""
        return self.get("long-liq" if side == "long" else "short-liq")

    def tier(self, usd: float) -> str | None:
        for floor, key in TIERS:
            if usd >= floor:
                return self.get(key)
        return None

    def state(self, state: str) -> str:
        if state in ("live", "done"):
            return self.get("state-live")
        if state in ("stale", "connecting", "reconnecting", "unknown"):
            return self.get("state-stale")
        return self.get("state-down")
