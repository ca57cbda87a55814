"""One side (longs or shorts being liquidated) of one asset: its burst test, its own level state
machine and episode, the liquidation prices that can confirm its price move, and its `why`.

Each side has its own state machine, so a WATCH on the short side cannot delay a cascade on
the long side, and an episode keeps its direction: it is the side's episode.
"""

from __future__ import annotations

from typing import Final

from cascade_tui.engine.burst import SideBurst
from cascade_tui.engine.prices import PriceTrail
from cascade_tui.engine.rates import OccupancyMask
from cascade_tui.engine.signals import LevelState
from cascade_tui.model import LONG

SIDE_SIGN: Final = {"long": -1, "short": 1}  # price direction of a cascade on this side


class SideState:
    __slots__ = ("burst", "level", "liq_price", "occ", "peak_x", "prints", "side", "sign", "slow_open", "why", "x")

    def __init__(self, side: str, t: float, tau: float, tau_bg: float, tau_long: float = 0.0) -> None:
        self.side = side
        self.sign = -1 if side == LONG else 1
        self.burst = SideBurst(t, tau, tau_bg, tau_long)
        self.occ = OccupancyMask(int(t))  # seconds with this side's prints (the slow lane)
        self.level = LevelState()
        # this side's liquidation prices (bankruptcy / fill prices): they confirm the price
        # move when the asset has no trade or mark feed; one side only, because long and
        # short liquidation prices sit on opposite sides of the market
        self.liq_price = PriceTrail()
        self.x = 0.0  # burst ratio at the last evaluation
        self.prints = 0.0  # decayed prints at the last evaluation
        self.peak_x = 0.0  # highest burst ratio of the open episode
        self.slow_open = False  # the open episode was opened by the slow lane
        self.why: dict[str, float | str] = {}
