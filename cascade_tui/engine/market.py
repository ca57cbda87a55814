"""The market-wide signal (asset "*"): breadth of alarms, an all-asset USD surge, and a
market-level burst on the sum of the assets' burst ratios.

The burst rule is what makes "*" fast: every asset's side reports its burst ratio x (its
decayed units over its own bar, burst.py) as it is evaluated; the market sums min(x, cap)
over the assets of one side, each x decayed since it was reported with the burst time
constant. Several assets bursting together on one side open "*" as soon as the first of them
is at WARNING, long before they all reach it on their own (without any asset at WARNING,
several assets stirring at once is a volatile market: on the validation markets that alone
was most of the false market-wide alarms). Breadth (assets at WARNING+
within 20 s, one of them BTC or ETH) and the USD surge stay as slower, independent rules.
"""

from __future__ import annotations

import math
from typing import Final

from cascade_tui.engine.baseline import Baseline
from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.rates import DecayedRates, SlotRing
from cascade_tui.engine.scoring import clip01
from cascade_tui.engine.signals import WARNING, LevelState, Transition
from cascade_tui.engine.state import WINDOW_CHANNELS
from cascade_tui.model import LONG, SHORT

MARKET: Final = "*"
MARKET_USD_MULT: Final = 10.0  # market USD rule: U20 >= 10 × its baseline ...
MARKET_FLOOR_MULT: Final = 4.0  # ... and >= 4 × the BTC USD reference
MAJORS: Final = frozenset({"BTC", "ETH"})
_exp = math.exp


class MarketState:
    __slots__ = (
        "baseline",
        "breadth",
        "bursts",
        "components",
        "firing",
        "level",
        "rates",
        "score",
        "venues",
        "why",
        "win60",
    )

    def __init__(self, t: float, sec: int, usd_ref: float, halflife_s: float) -> None:
        self.rates = DecayedRates(t)
        self.win60 = SlotRing(60, WINDOW_CHANNELS, sec)
        self.baseline = Baseline(sec // 60, MARKET_FLOOR_MULT * usd_ref, halflife_s)
        self.level = LevelState()
        self.score = 0.0
        self.components: dict[str, float] = {}
        self.venues: dict[str, float] = {}  # venue -> last liquidation ts
        self.breadth: dict[str, tuple[float, int, float]] = {}  # asset -> (ts, level, score)
        # side -> asset -> (ts, burst ratio then) for assets worth counting
        self.bursts: dict[str, dict[str, tuple[float, float]]] = {LONG: {}, SHORT: {}}
        # side -> assets whose side is at WARNING or above: a market burst needs one of them
        self.firing: dict[str, set[str]] = {LONG: set(), SHORT: set()}
        self.why: dict[str, float | str] = {}

    def report_burst(self, asset: str, side: str, t: float, x: float, min_x: float, level: int) -> None:
        """An asset side's burst ratio at t (dropped from the sum once below min_x) and level."""
        if level >= WARNING:
            self.firing[side].add(asset)
        else:
            self.firing[side].discard(asset)
        book = self.bursts[side]
        if x >= min_x:
            book[asset] = (t, x)
        elif asset in book:
            del book[asset]

    def burst_sum(self, side: str, t: float, tau: float, cap: float, min_x: float) -> tuple[float, int]:
        """(Σ min(x decayed to t, cap), assets at min_x or more) on one side."""
        total = 0.0
        assets = 0
        stale: list[str] = []
        for asset, (ts, x) in self.bursts[side].items():
            xd = x * _exp(-(t - ts) / tau) if t > ts else x
            if xd < min_x:
                stale.append(asset)
                continue
            total += xd if xd < cap else cap
            assets += 1
        for asset in stale:
            del self.bursts[side][asset]
        return total, assets

    def step(self, t: float, p: EngineParams, warning_score: float, usd_ref: float) -> Transition | None:
        """Move the market level; the caller emits the transition (score, components and why
        are set with a transition only)."""
        m = p.market
        contributing: list[tuple[str, int, float]] = []
        stale: list[str] = []
        for asset, (ts, level, sc) in self.breadth.items():
            if t - ts <= m.window_s:
                contributing.append((asset, level, sc))
            else:
                stale.append(asset)
        for asset in stale:
            del self.breadth[asset]
        desired = 0
        breadth_ok = len(contributing) >= m.min_assets and any(a in MAJORS for a, _, _ in contributing)
        if breadth_ok:
            desired = max(level for _, level, _ in contributing)
        # the weighted USD over τ = 20 s: this runs every second
        u20 = self.rates.score_sums_at(t)[2]
        base20 = self.baseline.usd_20s
        usd_ok = u20 >= MARKET_USD_MULT * base20 and u20 >= MARKET_FLOOR_MULT * usd_ref
        best_sum, best_assets, best_side = 0.0, 0, LONG
        for side in (LONG, SHORT):
            total, assets = self.burst_sum(side, t, p.fast.tau_s, m.burst_asset_cap, m.burst_min_x)
            if total > best_sum:
                best_sum, best_assets, best_side = total, assets, side
        # several assets stirring at once are a volatile market until more than one of them is
        # a cascade (burst_min_firing)
        burst_ok = (
            best_sum >= m.burst_sum
            and best_assets >= m.burst_min_assets
            and len(self.firing[best_side]) >= m.burst_min_firing
        )
        if usd_ok or burst_ok:
            desired = max(desired, WARNING)
        if self.level.level > 0 and desired == 0 and best_sum >= m.burst_sum * p.fast.exit_x:
            desired = min(self.level.level, WARNING)  # a fading market burst holds its WARNING
        self.baseline.frozen = self.level.level >= WARNING
        tr = self.level.step(MARKET, t, desired, p)
        if tr is None:
            # score, components and why are read only with a transition (the market signal):
            # built every second they were most of this step's cost
            return None
        self.score = max((sc for _, _, sc in contributing), default=0.0)
        if usd_ok or burst_ok:
            self.score = max(self.score, warning_score)
        self.components = {
            "breadth": clip01(len(contributing) / max(m.min_assets, 1)),
            "volume": clip01(math.log10(max(u20, 1e-9) / base20) / p.normalizers.volume_log10),
        }
        trigger = "breadth" if breadth_ok else ("burst" if burst_ok else ("usd_surge" if usd_ok else "none"))
        self.why = {
            "trigger": trigger,
            "burst_sum": round(best_sum, 2),
            "needs_sum": m.burst_sum,
            "burst_assets": best_assets,
            "burst_side": best_side,
            "assets": len(contributing),
            "needs_assets": m.min_assets,
            "usd_20s_x": round(u20 / base20, 2) if base20 > 0 else 0.0,
        }
        return tr
