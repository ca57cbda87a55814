"""MarketSimulator: a seeded, labelled synthetic market emitted as raw venue frames.

Same seed + profile (+ assets/venues) → byte-identical frames; a shorter duration gives a
prefix of a longer run's frames, because the market is always advanced in whole chunks and
only the emission stops at the end.
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
    PROFILES,
    VENUE_SHARES,
    check_profile,
    choose_assets_and_venues,
)
from cascade_tui.sources.simulate.episodes import labels_for
from cascade_tui.sources.simulate.market import Chunk, Market
from cascade_tui.sources.simulate.observe import Observer

VENUE_NAMES: tuple[str, ...] = tuple(name for name, _ in VENUE_SHARES)


class MarketSimulator:
    """Synthetic liquidation/price market seen through Binance, Bybit and OKX frames.

    `frames(duration_s)` yields `RawFrame`s in receive-time order, generated lazily one
    minute at a time (forever when `duration_s` is None). `labels` grows as episodes end
    (and with every episode still running when `frames()` finishes, which also sorts it by
    start). `injected` lists the non-cascade events a profile adds on purpose (whale
    prints, vol spikes) for false-alarm analysis; they are not labels.
    `true_totals[(asset, venue, side)]` = [count, usd] of every true liquidation emitted so
    far, including the unobserved Hyperliquid share — the ground truth the lower-bound feeds
    are compared against. `gaps` lists simulated disconnects (profiles with network faults).
    `start_ts` is rounded down to a whole second so venue windows align with the clock.
    `sigma_base` fixes BTC's base annualised volatility instead of drawing it from the
    profile's range (calibration runs at the §2.5 reference level, regime sweeps).
    """

    def __init__(
        self,
        seed: int,
        start_ts: float = 1_767_225_600.0,
        profile: str = "demo",
        assets: Sequence[str] | None = None,
        venues: Sequence[str] | None = None,
        sigma_base: float | None = None,
    ) -> None:
        check_profile(profile)
        self.assets, self.venues = choose_assets_and_venues(assets, venues, ASSET_NAMES)
        self.seed = seed
        self.profile = profile
        self.start_ts = float(math.floor(start_ts))
        self.labels: list[Label] = []
        self.true_totals: dict[tuple[str, str, str], list[float]] = {}
        rng = np.random.Generator(np.random.PCG64(seed))
        self._market = Market(
            rng, self.start_ts, PROFILES[profile], [ASSET_NAMES.index(a) for a in self.assets], sigma_base
        )
        self._observer = Observer(rng, self._market.specs, self.venues, PROFILES[profile].network_faults)
        self._started = False

    @property
    def injected(self) -> list[Label]:
        return self._market.injected

    @property
    def gaps(self) -> list[tuple[str, float, float]]:
        """WebSocket disconnects (venue, start, end) of profiles with network faults."""
        return self._observer.gaps

    @property
    def sigma_base(self) -> float:
        """BTC's base annualised volatility drawn for this seed."""
        return self._market.sigma_base

    def frames(self, duration_s: float | None) -> Iterator[RawFrame]:
        if self._started:
            raise RuntimeError("frames() can be iterated once per simulator")
        self._started = True
        end = math.inf if duration_s is None else self.start_ts + max(0.0, float(duration_s))
        pending: list[RawFrame] = []
        keys: list[float] = []
        market = self._market
        while market.t < end:
            chunk = market.run_chunk(end)
            self._count_truth(chunk, end)
            pending.extend(self._observer.frames(chunk))
            pending.sort(key=lambda f: f.ts)
            keys = [f.ts for f in pending]
            ready = bisect.bisect_left(keys, min(market.t, end))
            yield from pending[:ready]
            del pending[:ready]
            for episode in market.finished_episodes():
                self.labels.extend(labels_for(episode, VENUE_NAMES))
        for frame in pending:
            if frame.ts < end:
                yield frame
        for episode in market.close_all():
            self.labels.extend(labels_for(episode, VENUE_NAMES))
        # while running, labels arrive as episodes end; the finished list is in start order
        self.labels.sort(key=lambda label: (label.start, label.asset == "*", label.asset))

    def _count_truth(self, chunk: Chunk, end: float) -> None:
        mask = chunk.ev_ts < end
        if not mask.any():
            return
        names = self._market.specs
        asset = chunk.ev_asset[mask]
        venue = chunk.ev_venue[mask]
        long = chunk.ev_long[mask]
        usd = chunk.ev_usd[mask]
        key = (asset * len(VENUE_NAMES) + venue) * 2 + long.astype(np.int64)
        uniq, inv = np.unique(key, return_inverse=True)
        counts = np.bincount(inv)
        sums = np.bincount(inv, usd)
        for k, c, u in zip(uniq.tolist(), counts.tolist(), sums.tolist(), strict=True):
            a, rest = divmod(k, len(VENUE_NAMES) * 2)
            v, is_long = divmod(rest, 2)
            entry = self.true_totals.setdefault(
                (names[a].name, VENUE_NAMES[v], "long" if is_long else "short"), [0, 0.0]
            )
            entry[0] += c
            entry[1] += u
