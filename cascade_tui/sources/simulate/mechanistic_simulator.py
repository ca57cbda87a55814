"""MechanisticSimulator: the position-book market (mechanistic.py) seen through the venues.

Same interface as `MarketSimulator` (`frames()`, `labels`, `injected`, `gaps`, `true_totals`)
so the CLI, the demo and the benchmarks take either. Same seed → byte-identical frames.
Labels come from the mechanics: an episode is a run of true liquidations with gaps under
EPISODE_GAP_S whose USD reaches the minor floor; nothing is injected.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence

import numpy as np

from cascade_tui.labels import Label
from cascade_tui.model import RawFrame
from cascade_tui.sources.simulate.config import (
    ASSET_NAMES,
    MECHANISTIC_PROFILE,
    VENUE_SHARES,
    choose_assets_and_venues,
)
from cascade_tui.sources.simulate.mechanistic import DEFAULT_ASSETS, MechanisticMarket
from cascade_tui.sources.simulate.observe import Observer
from cascade_tui.sources.simulate.simulator import MarketSimulator

__all__ = ["MECHANISTIC_PROFILE", "MechanisticSimulator", "make_simulator"]


class MechanisticSimulator:
    """Leveraged-position market whose cascades come from the book, as raw venue frames."""

    def __init__(
        self,
        seed: int,
        start_ts: float = 1_767_225_600.0,
        assets: Sequence[str] | None = None,
        venues: Sequence[str] | None = None,
        keep_liquidations: bool = False,
    ) -> None:
        self.assets, self.venues = choose_assets_and_venues(assets, venues, DEFAULT_ASSETS)
        self.seed = seed
        self.profile = MECHANISTIC_PROFILE
        self.start_ts = float(math.floor(start_ts))
        self.labels: list[Label] = []
        self.injected: list[Label] = []  # nothing is injected in this market
        self.true_totals: dict[tuple[str, str, str], list[float]] = {}
        rng = np.random.Generator(np.random.PCG64(seed))
        self.market = MechanisticMarket(rng, self.start_ts, [ASSET_NAMES.index(a) for a in self.assets])
        self.market.keep_liquidations = keep_liquidations
        self._observer = Observer(rng, self.market.specs, self.venues, False)
        self._started = False

    @property
    def gaps(self) -> list[tuple[str, float, float]]:
        return self._observer.gaps

    def frames(self, duration_s: float | None) -> Iterator[RawFrame]:
        if self._started:
            raise RuntimeError("frames() can be iterated once per simulator")
        self._started = True
        end = math.inf if duration_s is None else self.start_ts + max(0.0, float(duration_s))
        pending: list[RawFrame] = []
        market = self.market
        while market.t < end:
            chunk = market.run_chunk(end)
            self._count_truth(chunk.ev_asset, chunk.ev_venue, chunk.ev_long, chunk.ev_usd, chunk.ev_ts < end)
            pending.extend(self._observer.frames(chunk))
            pending.sort(key=lambda f: f.ts)
            ready = bisect.bisect_left([f.ts for f in pending], min(market.t, end))
            yield from pending[:ready]
            del pending[:ready]
            self.labels.extend(market.finished_labels())
        for frame in pending:
            if frame.ts < end:
                yield frame
        self.labels.extend(market.close_all())
        self.labels.sort(key=lambda label: (label.start, label.asset))

    def _count_truth(
        self, asset: np.ndarray, venue: np.ndarray, long: np.ndarray, usd: np.ndarray, mask: np.ndarray
    ) -> None:
        for a, v, is_long, u in zip(
            asset[mask].tolist(), venue[mask].tolist(), long[mask].tolist(), usd[mask].tolist(), strict=True
        ):
            key = (self.market.specs[a].name, VENUE_SHARES[v][0], "long" if is_long else "short")
            entry = self.true_totals.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += u


def make_simulator(seed: int, profile: str, **kwargs: float) -> MechanisticSimulator | MarketSimulator:
    """The simulator for a profile name: "mechanistic" is the position-book market, every
    other profile the injected-episode MarketSimulator (which rejects unknown names)."""
    if profile == MECHANISTIC_PROFILE:
        return MechanisticSimulator(seed, **kwargs)  # type: ignore[arg-type]
    return MarketSimulator(seed, profile=profile, **kwargs)  # type: ignore[arg-type]
