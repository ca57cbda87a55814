"""Signal levels per asset (and market-wide): hysteresis, gates, holds, refractory, episodes.

`desired_level` turns a score into the level it supports (entering at a threshold, staying
until exit_gap below it) and applies the gates; `LevelState.step` moves the state machine
and returns the transition, if any. Pure logic: the caller builds the Signal.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from cascade_tui.engine.params import LEVEL_NAMES, EngineParams

WATCH: Final = 1
WARNING: Final = 2
CRITICAL: Final = 3
PRICE_CONFIRM_WINDOW_S: Final = 120
PRICE_CONFIRM_MOVE: Final[dict[str, float]] = {"BTC": 0.005, "ETH": 0.008}
PRICE_CONFIRM_DEFAULT: Final = 0.015


class Thresholds(NamedTuple):
    """Entry thresholds in force (base × regime factor) and the exit gap."""

    enter: tuple[float, float, float]
    exit_gap: float


def thresholds_in_force(p: EngineParams, regime: str) -> Thresholds:
    """Always from the base values: applying it twice gives the same result (no compounding)."""
    f = p.regime.threshold_factor.get(regime, 1.0)
    t = p.thresholds
    return Thresholds((min(t.watch * f, 1.0), min(t.warning * f, 1.0), min(t.critical * f, 1.0)), t.exit_gap)


def level_from_score(score: float, current: int, th: Thresholds) -> int:
    """Highest level whose entry is met, or which is held and not yet exit_gap below entry."""
    level = 0
    for idx, enter in enumerate(th.enter, start=1):
        if score >= enter or (idx <= current and score >= enter - th.exit_gap):
            level = idx
    return level


def price_confirm_move(asset: str) -> float:
    return PRICE_CONFIRM_MOVE.get(asset, PRICE_CONFIRM_DEFAULT)


class Transition(NamedTuple):
    state: str  # open escalate deescalate close
    level: int
    episode: str


class LevelState:
    """One asset's alarm state: level, since when, its episode, and the refractory clock."""

    __slots__ = ("episode", "last_close_ts", "level", "level_since", "max_level")

    def __init__(self) -> None:
        self.level = 0
        self.level_since = 0.0
        self.episode: str | None = None
        # when the last WARNING+ episode closed: only those start a refractory period (a
        # WATCH-only episode on one side must not delay a real cascade)
        self.last_close_ts: float | None = None
        self.max_level = 0

    def in_refractory(self, t: float, p: EngineParams) -> bool:
        return (
            self.level == 0
            and self.last_close_ts is not None
            and t - self.last_close_ts < p.gates.refractory_s
        )

    def step(self, asset: str, t: float, desired: int, p: EngineParams) -> Transition | None:
        if desired > self.level:
            if self.level == 0:
                if self.last_close_ts is not None and t - self.last_close_ts < p.gates.refractory_s:
                    return None
                self.episode = f"{asset}-{int(t * 1000)}"
                self.level, self.level_since, self.max_level = desired, t, desired
                return Transition("open", desired, self.episode)
            self.level, self.level_since = desired, t
            self.max_level = max(self.max_level, desired)
            return Transition("escalate", desired, self.episode or "")
        if desired < self.level:
            hold = p.gates.hold_s.get(LEVEL_NAMES[self.level], 0.0)
            if t - self.level_since < hold:
                return None
            episode = self.episode or ""
            self.level, self.level_since = desired, t
            if desired == 0:
                self.episode = None
                if self.max_level >= WARNING:
                    self.last_close_ts = t
                return Transition("close", 0, episode)
            return Transition("deescalate", desired, episode)
        return None
