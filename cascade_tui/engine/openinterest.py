"""Open interest change and funding per asset.

OI arrives per (venue, instrument) in base units, from streams or REST polls at any pace.
Each instrument keeps the last value seen in each of the last 61 minutes; the change over
k minutes compares the latest value with the value held k minutes ago. An asset's change is
OI-weighted across its instruments: Σ(now − then) / Σ then over instruments with both.
Funding keeps the latest rate per venue, annualized, and one sample per minute for the trend.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from cascade_tui.model import annualized_funding

OI_MINUTES: Final = 61
OI_SPANS: Final[dict[str, int]] = {"1m": 1, "5m": 5, "1h": 60}
FUNDING_TREND_MIN_S: Final = 300.0  # a trend needs at least this much history


class OiTrack:
    """One instrument's OI: last value per minute over the last hour."""

    __slots__ = ("last", "minute", "slots")

    def __init__(self, minute: int) -> None:
        self.minute = minute
        self.slots: list[float | None] = [None] * OI_MINUTES
        self.last: float | None = None

    def _advance(self, minute: int) -> None:
        gap = minute - self.minute
        if gap <= 0:
            return
        for m in range(self.minute + 1, self.minute + 1 + min(gap, OI_MINUTES)):
            self.slots[m % OI_MINUTES] = self.last
        self.minute = minute

    def update(self, minute: int, oi: float) -> None:
        if minute > self.minute:  # most updates fall in the minute already open: no call
            self._advance(minute)
        self.slots[minute % OI_MINUTES] = oi
        self.last = oi

    def then(self, minute: int, span: int) -> float | None:
        self._advance(minute)
        return self.slots[(minute - span) % OI_MINUTES]


class AssetOpenInterest:
    """All instruments of one asset."""

    __slots__ = ("_cached", "_cached_key", "_span_cache", "_updates", "tracks")

    def __init__(self) -> None:
        self.tracks: dict[tuple[str, str], OiTrack] = {}
        self._updates = 0
        self._cached_key: tuple[int, int] | None = None
        self._cached: dict[str, float | None] = {}
        # one span's change, for the score's per-evaluation read: span -> (minute, updates, value)
        self._span_cache: dict[str, tuple[int, int, float | None]] = {}

    def update(self, venue: str, instrument: str, minute: int, oi: float) -> None:
        track = self.tracks.get((venue, instrument))
        if track is None:
            track = self.tracks[(venue, instrument)] = OiTrack(minute)
        track.update(minute, oi)
        self._updates += 1

    def change_pct(self, minute: int, span: int) -> float | None:
        delta = 0.0
        base = 0.0
        for track in self.tracks.values():
            then = track.then(minute, span)
            if then is None or track.last is None or then <= 0.0:
                continue
            delta += track.last - then
            base += then
        return 100.0 * delta / base if base > 0.0 else None

    def _fresh(self, minute: int) -> dict[str, float | None]:
        """% change per span; recomputed only when the minute or the data changed."""
        key = (minute, self._updates)
        if key != self._cached_key:
            self._cached = {name: self.change_pct(minute, span) for name, span in OI_SPANS.items()}
            self._cached_key = key
        return self._cached

    def changes(self, minute: int) -> dict[str, float | None]:
        return dict(self._fresh(minute))

    def change(self, minute: int, span_name: str) -> float | None:
        """One span's % change; recomputed (that span only) when the minute or the data changed."""
        hit = self._span_cache.get(span_name)
        if hit is not None and hit[0] == minute and hit[1] == self._updates:
            return hit[2]
        value = self.change_pct(minute, OI_SPANS[span_name])
        self._span_cache[span_name] = (minute, self._updates, value)
        return value


class AssetFunding:
    """Latest funding per venue, the mean annualized value, and its change over an hour."""

    __slots__ = ("_annualized", "by_venue", "latest_rate", "samples")

    def __init__(self) -> None:
        self.by_venue: dict[str, float] = {}  # venue -> annualized fraction
        self.latest_rate: float | None = None
        self._annualized: float | None = None
        self.samples: deque[tuple[float, float]] = deque(maxlen=OI_MINUTES + 1)

    def update(self, venue: str, rate: float, interval_h: float, t: float) -> None:
        ann_venue = annualized_funding(rate, interval_h)
        self.latest_rate = rate
        samples = self.samples
        if self.by_venue.get(venue) == ann_venue and samples and t - samples[-1][0] < 60.0:
            return  # the same rate again within the sample's minute: nothing else changes
        self.by_venue[venue] = ann_venue
        ann = self._annualized = sum(self.by_venue.values()) / len(self.by_venue)
        # one trend sample per minute is enough for an hourly change
        if not self.samples or t - self.samples[-1][0] >= 60.0:
            self.samples.append((t, ann))
        else:
            self.samples[-1] = (self.samples[-1][0], ann)

    def annualized(self) -> float | None:
        """Mean annualized funding across venues (None before any funding event)."""
        return self._annualized

    def trend(self, t: float) -> float | None:
        """Annualized now minus an hour ago (or the oldest sample if at least 5 min old)."""
        ann = self.annualized()
        if ann is None or not self.samples:
            return None
        ref = None
        for ts, value in self.samples:
            if t - ts <= 3600.0:
                ref = (ts, value)
                break
        if ref is None or t - ref[0] < FUNDING_TREND_MIN_S:
            return None
        return ann - ref[1]
