"""A small deterministic market for the Redis tests: a source of normalized events and a
scripted engine that turns liquidation bursts into signals.

The scripted engine is a stand-in with the real Engine's API and output types (Signal,
Snapshot): its rule is trivial on purpose (count of liquidations per asset over 10 s ->
level) so the tests can say exactly which signals must appear in Redis, independent of the
real engine's tuning.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from cascade_tui.engine import EngineParams
from cascade_tui.engine.params import LEVEL_NAMES, WINDOWS
from cascade_tui.engine.types import (
    AssetView,
    LatencyView,
    Signal,
    Snapshot,
    Velocity,
    VenueView,
    VolatilityView,
)
from cascade_tui.model import Event, Liquidation, Trade
from cascade_tui.sources.base import FeedStatus, Item, Source

WINDOW_S = 10.0
LEVEL_AT = (4, 8, 12)  # liquidations in 10 s for WATCH, WARNING, CRITICAL
START_TS = 1_700_000_000.0
VENUES = ("binance", "bybit", "okx")


def market_events(seed: int, duration_s: float, *, bursts: tuple[float, ...] = (20.0, 60.0)) -> list[Event]:
    """Quiet background liquidations plus dense bursts (cascades) starting at `bursts` seconds."""
    rng = random.Random(seed)
    events: list[Event] = []
    t = 0.0
    while t < duration_s:
        in_burst = any(b <= t < b + 6.0 for b in bursts)
        t += rng.uniform(0.05, 0.2) if in_burst else rng.uniform(1.5, 4.0)
        ts = START_TS + t
        venue = rng.choice(VENUES)
        asset = "BTC" if in_burst or rng.random() < 0.5 else "ETH"
        price = 60_000.0 if asset == "BTC" else 3_000.0
        qty = rng.uniform(0.1, 2.0)
        events.append(
            Liquidation(venue=venue, instrument=f"{asset}USDT", asset=asset, side="long", price=price, qty=qty,
                        usd=price * qty, raw_size=qty, event_ts=ts - 0.05, recv_ts=ts)
        )  # fmt: skip
        events.append(
            Trade(venue="binance", instrument="BTCUSDT", asset="BTC", price=60_000.0, qty=0.01, usd=600.0,
                  taker_side="sell", event_ts=ts - 0.01, recv_ts=ts + 0.001)
        )  # fmt: skip
    return events


class EventSource(Source):
    """Yields already-normalized events in batches, as the Redis remote source does."""

    kind = "demo"

    def __init__(self, events: list[Event], batch: int = 16) -> None:
        self.events = events
        self.batch = batch
        self._status: dict[str, FeedStatus] = {}

    async def batches(self) -> AsyncIterator[list[Item]]:
        for i in range(0, len(self.events), self.batch):
            chunk: list[Item] = list(self.events[i : i + self.batch])
            for ev in chunk:
                st = self._status.setdefault(ev.venue, FeedStatus(venue=ev.venue, state="live"))  # type: ignore[union-attr]
                st.frames += 1
            yield chunk

    def feed_status(self) -> dict[str, FeedStatus]:
        return self._status


class ScriptedEngine:
    def __init__(self, params: EngineParams | None = None) -> None:
        self.params = params or EngineParams()
        self.clock: float | None = None
        self.started: float | None = None
        self.events_total = 0
        self.recent: dict[str, deque[tuple[float, float]]] = {}
        self.levels: dict[str, int] = {}
        self.episodes: dict[str, str] = {}
        self.venues_seen: dict[str, set[str]] = {}
        self.signals: list[Signal] = []
        self.params_version = 0
        self.feed: dict[str, dict[str, Any]] = {}
        self.latency: dict[str, list[float]] = {}

    def set_params(self, params: EngineParams) -> None:
        self.params = params
        self.params_version += 1

    def set_feed_status(self, venue: str, **status: Any) -> None:
        self.feed[venue] = status

    def record_latency(self, stage: str, seconds: float) -> None:
        self.latency.setdefault(stage, []).append(seconds)

    def stats(self) -> dict[str, Any]:
        return {"events": self.events_total, "signals": len(self.signals)}

    def process(self, ev: Event) -> list[Signal]:
        out = self.tick(ev.recv_ts)
        self.events_total += 1
        if self.started is None:
            self.started = ev.recv_ts
        if isinstance(ev, Liquidation):
            self.recent.setdefault(ev.asset, deque()).append((ev.recv_ts, ev.usd))
            self.venues_seen.setdefault(ev.asset, set()).add(ev.venue)
            out.extend(self._update(ev.asset))
        return out

    def process_frame(self, events: Iterable[Event]) -> list[Signal]:
        """The pipeline hands a frame whole (as to the real engine)."""
        out: list[Signal] = []
        for ev in events:
            out.extend(self.process(ev))
        return out

    def tick(self, ts: float) -> list[Signal]:
        if self.clock is not None and ts <= self.clock:
            return []
        self.clock = ts
        out: list[Signal] = []
        for asset in list(self.recent):
            out.extend(self._update(asset))
        return out

    def _count(self, asset: str) -> int:
        q = self.recent.get(asset, deque())
        assert self.clock is not None
        while q and q[0][0] <= self.clock - WINDOW_S:
            q.popleft()
        return len(q)

    def _level(self, asset: str) -> int:
        n = self._count(asset)
        return sum(1 for at in LEVEL_AT if n >= at)

    def _update(self, asset: str) -> list[Signal]:
        new, old = self._level(asset), self.levels.get(asset, 0)
        if new == old:
            return []
        assert self.clock is not None
        if old == 0:
            state = "open"
            self.episodes[asset] = f"{asset}-{round(self.clock * 1000)}"
        else:
            state = "close" if new == 0 else ("escalate" if new > old else "deescalate")
        self.levels[asset] = new
        sig = Signal(v=1, ts=self.clock, asset=asset, level=new, level_name=LEVEL_NAMES[new], state=state,
                     episode=self.episodes[asset], score=round(new / 3, 4), components={"velocity": new / 3},
                     direction="long", venues=sorted(self.venues_seen.get(asset, ())), regime="NORMAL")  # fmt: skip
        self.signals.append(sig)
        return [sig]

    def _velocities(self, asset: str | None, now: float) -> tuple[Velocity, ...]:
        rows = [x for a, q in self.recent.items() if asset in (None, a) for x in q]
        out = []
        for w in WINDOWS:
            inside = [usd for ts, usd in rows if ts > now - w]
            out.append(Velocity(window_s=w, events_per_s=len(inside) / w, usd_per_s=sum(inside) / w, acceleration=0.0))
        return tuple(out)

    def snapshot(self) -> Snapshot:
        ts = self.clock if self.clock is not None else START_TS
        assets = tuple(
            AssetView(asset=a, score=round(self.levels.get(a, 0) / 3, 4), level=self.levels.get(a, 0),
                      level_name=LEVEL_NAMES[self.levels.get(a, 0)], direction="long",
                      components={"velocity": self.levels.get(a, 0) / 3}, raw={}, velocity=self._velocities(a, ts),
                      usd_60s=0.0, events_60s=len(self.recent[a]), price=None, oi_change_pct={}, funding_rate=None,
                      funding_annualized=None, funding_trend=None, venues=tuple(sorted(self.venues_seen[a])),
                      episode=self.episodes.get(a) if self.levels.get(a) else None, history=())
            for a in sorted(self.recent)
        )  # fmt: skip
        venues = tuple(
            VenueView(venue=v, sampled=False, velocity=(), occupancy=None, saturated=False, history=(),
                      usd_history=(), long_count=0, long_usd=0.0, short_count=0, short_usd=0.0,
                      last_event_ts=None, state=str(st.get("state", "unknown")), frames=int(st.get("frames", 0)))
            for v, st in sorted(self.feed.items())
        )  # fmt: skip
        latency = {
            stage: LatencyView(p50_ms=sorted(xs)[len(xs) // 2] * 1000, p99_ms=max(xs) * 1000, n=len(xs))
            for stage, xs in self.latency.items()
            if xs
        }
        vol = VolatilityView(regime="NORMAL", regime_since=None, rv={"1m": 0.4, "5m": 0.4, "15m": None, "1h": None},
                             bv_1h=None, expansion=None, cascade_risk_multiplier=1.0, btc_price=60_000.0,
                             price_history=(), regime_history=())  # fmt: skip
        return Snapshot(v=1, ts=ts, started_ts=self.started, events_total=self.events_total, events_per_s=0.0,
                        market=self._velocities(None, ts), market_level=0, market_episode=None, venues=venues,
                        assets=assets, volatility=vol, tape=(), signals=tuple(reversed(self.signals[-500:])),
                        signal_counts={}, latency=latency, params_version=self.params_version)  # fmt: skip


class PacedEventSource(EventSource):
    """Plays the events against the wall clock at `speed` × market time (outage tests need a
    run that lasts a few real seconds)."""

    def __init__(self, events: list[Event], speed: float, batch: int = 8) -> None:
        super().__init__(events, batch)
        self.speed = speed

    async def batches(self) -> AsyncIterator[list[Item]]:
        loop = asyncio.get_running_loop()
        wall0 = loop.time()
        ts0 = self.events[0].recv_ts if self.events else 0.0
        async for chunk in super().batches():
            due = wall0 + (chunk[-1].recv_ts - ts0) / self.speed  # type: ignore[union-attr]
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield chunk
