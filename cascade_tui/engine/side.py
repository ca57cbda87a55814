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
    __slots__ = (
        "anchor",
        "anchor_key",
        "anchor_sec",
        "burst",
        "level",
        "liq_price",
        "occ",
        "peak_x",
        "prints",
        "side",
        "sign",
        "slow_open",
        "warn_px",
        "why",
        "x",
    )

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
        # the episode's price extreme (high for longs, low for shorts) that CRITICAL's move
        # is measured from, the second it was last seen, and (episode, price source) it
        # belongs to
        self.anchor = 0.0
        self.anchor_sec = 0
        self.anchor_key: tuple[str | None, str] | None = None
        # the prices (per source) when this side's WARNING last opened: CRITICAL needs
        # part of its move after that (fast.after_warning_share)
        self.warn_px: dict[str, float | None] = {}

    def move_anchor(self, extreme: float, sec: int, source: str, lookback_s: float) -> tuple[float, int]:
        """The extreme to measure the episode's move from, and the second it was last seen:
        the window's `extreme`, or one seen earlier in the same episode (same price source)
        when it is further out and at most `lookback_s` old. A build-up that moves the
        price a little each minute has moved it by the sum since the extreme."""
        key = (self.level.episode, source)
        a = self.anchor
        further = extreme >= a if self.sign < 0 else extreme <= a
        if key != self.anchor_key or further or sec - self.anchor_sec > lookback_s:
            self.anchor, self.anchor_sec, self.anchor_key = extreme, sec, key
        return self.anchor, self.anchor_sec
