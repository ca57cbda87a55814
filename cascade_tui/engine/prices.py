"""Per-asset last price on a 1 s grid over the last few minutes, from one locked source.

Prices of one asset differ by a few basis points across venues and contract types, which is
as large as a second's true move: mixing them would look like volatility. So each asset
follows one (venue, instrument) source, trades preferred over marks, and switches only when
that source has been silent for SOURCE_SILENCE_S.
"""

from __future__ import annotations

from typing import Final, cast

TRAIL_S: Final = 128  # seconds of 1 s last prices kept (covers the 2 min confirmation window)
SOURCE_SILENCE_S: Final = 30.0


class PriceTrail:
    __slots__ = ("full", "is_trade", "last", "last_ts", "sec", "slots", "source")

    def __init__(self) -> None:
        self.source: tuple[str, str] | None = None
        self.is_trade = False
        self.last: float | None = None
        self.last_ts = float("-inf")
        self.sec = 0
        self.slots: list[float | None] = [None] * TRAIL_S
        # every slot written since the first price (no None left: none is written after it)
        self.full = False

    def accepts(self, venue: str, instrument: str, is_trade: bool, t: float) -> bool:
        """Whether a tick from this source should move the asset's price (and lock onto it)."""
        key = (venue, instrument)
        if key == self.source:
            self.is_trade = self.is_trade or is_trade
            return True
        if self.source is None or t - self.last_ts > SOURCE_SILENCE_S or (is_trade and not self.is_trade):
            self.source, self.is_trade = key, is_trade
            return True
        return False

    def update(self, sec: int, t: float, price: float) -> None:
        if sec > self.sec:
            # the seconds before this one repeat the last price; this one's slot is written
            # below (a mark comes once a second: most updates open the next second, no call)
            if sec > self.sec + 1:
                self._advance(sec - 1)
            self.sec = sec
        self.slots[sec % TRAIL_S] = price
        self.last = price
        self.last_ts = t

    def _advance(self, sec: int) -> None:
        gap = sec - self.sec
        if gap <= 0:
            return
        carry = self.last
        for s in range(self.sec + 1, self.sec + 1 + min(gap, TRAIL_S)):
            self.slots[s % TRAIL_S] = carry
        self.sec = sec

    def extreme(self, sec: int, window_s: int, side_sign: int) -> float | None:
        """The high (side_sign -1: longs liquidated, the price falls from it) or the low (+1)
        of seconds sec - window_s .. sec; None without data. `move_from(extreme, last)` is
        the side-aligned move over the window."""
        if self.last is None:
            return None
        self._advance(sec)
        window_s = min(window_s, TRAIL_S - 1)
        # seconds sec - window_s .. sec of the ring as at most two slices: every evaluation at
        # WARNING or more reads this (max and min do not depend on the order)
        end = sec % TRAIL_S
        start = (sec - window_s) % TRAIL_S
        slots = self.slots
        window = slots[start : end + 1] if start <= end else slots[start:] + slots[: end + 1]
        if not self.full and None in slots:  # looking for None costs as much as the max itself
            prices = [p for p in window if p is not None]
            if not prices:
                return None
        else:
            self.full = True
            prices = cast("list[float]", window)
        return max(prices) if side_sign < 0 else min(prices)


def move_from(extreme: float, now: float, side_sign: int) -> float | None:
    """The side-aligned move to `now` from a high (side_sign -1) or a low (+1); None at a
    price <= 0."""
    if extreme <= 0:
        return None
    return (extreme - now) / extreme if side_sign < 0 else (now - extreme) / extreme
