"""CRITICAL alerts on the dashboard: one bell and one toast per episode, coalesced.

In a market-wide cascade many assets reach CRITICAL within seconds; a toast for each stacked
eight deep over the panels. Here an episode alerts once (the first time it reaches CRITICAL;
a later re-escalation of the same episode stays quiet), the episodes that arrive together
share one toast, and while that toast is on screen a newly critical episode replaces it with
one that names them all.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cascade_tui.engine.types import Signal
from cascade_tui.text import printable

TOAST_S = 10.0
SEEN_MAX = 1000
NAMED_MAX = 4  # assets named in one toast; the rest are counted


@dataclass(frozen=True)
class Toast:
    title: str
    message: str


def asset_name(asset: str) -> str:
    # a venue's symbol can carry control characters (a title-setting escape): never raw
    return "MARKET-WIDE" if asset == "*" else printable(asset)


def who(direction: str) -> str:
    return "longs" if direction == "long" else "shorts"


def toast_for(signals: list[Signal]) -> Toast:
    """One toast for every episode in `signals` (oldest first; the latest signal per episode)."""
    if len(signals) == 1:
        sig = signals[0]
        return Toast(
            "CRITICAL cascade",
            f"{asset_name(sig.asset)} {who(sig.direction)} liquidating · score {sig.score:.2f}"
            f" · {', '.join(sig.venues)}",
        )
    ranked = sorted(signals, key=lambda s: (s.asset != "*", -s.score))
    named = ", ".join(f"{asset_name(s.asset)} {s.score:.2f}" for s in ranked[:NAMED_MAX])
    more = f" +{len(ranked) - NAMED_MAX} more" if len(ranked) > NAMED_MAX else ""
    sides = {s.direction for s in signals}
    side = f"{who(sides.pop())} liquidating" if len(sides) == 1 else "longs and shorts liquidating"
    return Toast(f"CRITICAL cascade · {len(signals)} assets", f"{named}{more} · {side}")


class CriticalAlerts:
    """Picks the episodes that newly reached CRITICAL and keeps the toast that names them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: deque[tuple[str, float, str, int, str]] = deque(maxlen=SEEN_MAX)
        self._alerted: deque[str] = deque(maxlen=SEEN_MAX)
        self._primed = False
        self._on_screen: dict[str, Signal] = {}  # episode -> its signal, in the current toast
        self._toast_until = 0.0

    def new_critical(self, signals: Iterable[Signal]) -> list[Signal]:
        """Signals (oldest first) of episodes that reached CRITICAL since the last call.

        `signals` is newest first, as in the snapshot. What was there at the first call is
        history, never alerted."""
        fresh: list[Signal] = []
        for sig in signals:  # stop at the first one already seen
            key = (sig.episode, sig.ts, sig.state, sig.level, sig.direction)
            if key in self._seen:
                break
            fresh.append(sig)
        fresh.reverse()
        self._seen.extend((s.episode, s.ts, s.state, s.level, s.direction) for s in fresh)
        if not self._primed:
            self._primed = True
            self._alerted.extend(s.episode for s in fresh if s.level == 3)
            return []
        out: list[Signal] = []
        for sig in fresh:
            if sig.level == 3 and sig.state in ("open", "escalate") and sig.episode not in self._alerted:
                self._alerted.append(sig.episode)
                out.append(sig)
        return out

    def toast(self, new: list[Signal]) -> Toast:
        """The toast to show now: the new episodes, plus those still on screen."""
        now = self._clock()
        if now >= self._toast_until:
            self._on_screen = {}
        for sig in new:
            self._on_screen[sig.episode] = sig
        self._toast_until = now + TOAST_S
        return toast_for(list(self._on_screen.values()))
