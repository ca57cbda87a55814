"""The live source: every enabled venue's WebSocket connections and REST polls, merged.

Start-up (`prepare()`, also run by the first `batches()` call):
  1. contract metadata for every venue (feeds/metadata.py: cache, network, bundled), which
     also fills `parser_metadata` — hand that dict to `Pipeline(metadata=...)` when building
     the pipeline (it is filled in place, before the first frame);
  2. a plan per venue: the SubscribeRequest (all-market liquidations, or the full perpetual
     list where liquidation topics are per symbol; trades/OI/funding on the main symbols;
     BTC trades on `VenueConfig.btc_trades_venue`), the connections it implies and the REST
     polls. A venue whose module is missing or broken is shown `disabled` with the error;
     the others go on.
Running: one `Connection` task per Subscription and one poller group per venue push frames
into per-venue queues under one total bound (`queue_size`). When the total is full, the
venue holding the most queued frames loses its oldest one (counted per venue): a flood on
one venue drops that venue's frames, never a quiet venue's. `batches()` merges the venues
oldest-first (by arrival), so without drops the order is exactly the arrival order, and a
venue's own frames always keep their receive order. A reconnect is a marker in the venue's
queue: its `reconnect_hook` runs when the marker is reached, after every earlier frame of
that venue was processed, so a parser never resets in the middle of the old connection's
frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from cascade_tui.config import VenueConfig
from cascade_tui.feeds import spec as venue_spec
from cascade_tui.feeds.base import (
    RestPoll,
    SubscribeRequest,
    Subscription,
    VenueSpec,
    base_asset,
    normalize_asset,
)
from cascade_tui.feeds.connection import (
    BLOCKED,
    CONNECTING,
    DISABLED,
    DONE,
    LIVE,
    RECONNECTING,
    STALE,
    Connection,
    ConnectionOptions,
)
from cascade_tui.feeds.metadata import VenueMetadata, load_metadata
from cascade_tui.feeds.polling import BLOCKED as POLL_BLOCKED
from cascade_tui.feeds.polling import PollerGroup, make_pollers
from cascade_tui.model import RawFrame
from cascade_tui.sources.base import FeedStatus, Item, Source

log = logging.getLogger(__name__)

MAX_BATCH = 2048
DEFAULT_QUEUE_SIZE = 100_000
# worst first: the state a venue shows when its connections disagree
_STATE_RANK = {DISABLED: 0, BLOCKED: 1, RECONNECTING: 2, STALE: 3, CONNECTING: 4, LIVE: 5, DONE: 6}


def _asset_of(instrument: str, info: dict[str, Any]) -> str:
    """The asset id (docs/DESIGN.md §5.1: 1000PEPE -> PEPE) an instrument trades, for --symbols."""
    row = info.get(instrument)
    base = row.get("baseAsset") if isinstance(row, dict) else None
    name = str(base) if base else base_asset(instrument)
    norm = normalize_asset(name if name.startswith("k") else name.upper())
    return norm[0] if norm is not None else ""


def _last_failure(conns: Sequence[Connection]) -> str:
    """The venue's failure to show: the latest of its connections that are not live, else
    the latest of all (a recovered venue keeps its last failure)."""
    failed = [c.status for c in conns if c.status.failure]
    down = [st for st in failed if st.state != LIVE]
    pool = down or failed
    return max(pool, key=lambda st: st.failure_ts or 0.0).failure if pool else ""


@dataclass(frozen=True)
class _Reconnect:
    """Queue marker: `venue` opened a new connection; reset its parser when reached."""

    venue: str


class VenueQueues:
    """Items of every venue in one arrival-ordered queue, under one total capacity.

    Reading is a plain FIFO pop (no scan of the venues per frame). Overflow evicts the oldest
    item of the venue holding the most (the flooding venue): that venue's own FIFO of arrival
    numbers says which, and the item is skipped when the main queue reaches it (lazy
    deletion, compacted once skipped entries pile up, so memory stays bounded)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._order: deque[tuple[int, RawFrame | _Reconnect]] = deque()  # arrival order
        self.queues: dict[str, deque[tuple[int, RawFrame | _Reconnect]]] = {}  # per venue, for eviction
        self._evicted: set[int] = set()  # arrival numbers still in _order but dropped
        self._len = 0
        self._arrivals = 0

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __iter__(self) -> Iterator[RawFrame | _Reconnect]:
        """Everything queued, in the order it will be read."""
        evicted = self._evicted
        for n, item in self._order:
            if n not in evicted:
                yield item

    def put(self, item: RawFrame | _Reconnect) -> RawFrame | _Reconnect | None:
        """Queue `item` at the back; returns the item evicted to make room, if any."""
        queue = self.queues.get(item.venue)
        if queue is None:
            queue = self.queues[item.venue] = deque()
        self._arrivals += 1
        entry = (self._arrivals, item)
        self._order.append(entry)
        queue.append(entry)
        self._len += 1
        if self._len <= self.capacity:
            return None
        longest = max(self.queues.values(), key=len)
        number, evicted = longest.popleft()
        self._evicted.add(number)
        self._len -= 1
        if len(self._evicted) > self.capacity:
            self._compact()
        return evicted

    def _compact(self) -> None:
        evicted = self._evicted
        self._order = deque(entry for entry in self._order if entry[0] not in evicted)
        evicted.clear()

    def _head(self) -> tuple[int, RawFrame | _Reconnect]:
        order = self._order
        evicted = self._evicted
        if evicted:
            while order and order[0][0] in evicted:
                evicted.discard(order.popleft()[0])
        if not order:
            raise IndexError("pop from empty VenueQueues")
        return order[0]

    def peek(self) -> RawFrame | _Reconnect:
        return self._head()[1]

    def pop(self) -> RawFrame | _Reconnect:
        """The item that arrived first."""
        self._head()
        _, item = self._order.popleft()
        self.queues[item.venue].popleft()
        self._len -= 1
        return item

    def pop_batch(self, limit: int) -> list[RawFrame | _Reconnect]:
        """Up to `limit` items in arrival order; a reconnect marker is always first in its batch
        (the frames before it are handed on before the parser is reset)."""
        out: list[RawFrame | _Reconnect] = []
        order = self._order
        queues = self.queues
        evicted = self._evicted
        while self._len and len(out) < limit:
            if evicted:
                self._head()
            entry = order[0]
            item = entry[1]
            if out and type(item) is _Reconnect:
                break
            order.popleft()
            queues[item.venue].popleft()
            self._len -= 1
            out.append(item)
            if type(item) is _Reconnect:
                break
        return out


@dataclass
class VenuePlan:
    """What one venue runs: its connections and REST polls."""

    spec: VenueSpec
    request: SubscribeRequest
    subscriptions: list[Subscription]
    polls: list[RestPoll]
    connections: list[Connection] = field(default_factory=list)
    pollers: PollerGroup | None = None


class LiveSource(Source):
    kind = "live"

    def __init__(
        self,
        venues: Sequence[str],
        config: VenueConfig | None = None,
        symbols: Sequence[str] | None = None,
        *,
        regime: Callable[[], str | None] | None = None,
        metadata: dict[str, VenueMetadata] | None = None,
        cache_dir: Path | None = None,
        metadata_timeout_s: float = 5.0,
        options: ConnectionOptions | None = None,
        http_client: httpx.AsyncClient | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        poll_stagger_s: float = 2.0,
    ) -> None:
        self.venues = list(dict.fromkeys(venues))
        self.config = config or VenueConfig()
        self.symbols = [s.upper() for s in symbols] if symbols else None
        self.options = options or ConnectionOptions()
        # venue -> instrument metadata for its parser: give this dict to Pipeline(metadata=...).
        # One entry per venue from the start (so the dict is never empty, and the pipeline keeps
        # this very object); prepare() fills the entries in place before the first frame.
        self.parser_metadata: dict[str, dict[str, Any]] = {venue: {} for venue in self.venues}
        self.metadata: dict[str, VenueMetadata] = dict(metadata) if metadata is not None else {}
        self.plans: dict[str, VenuePlan] = {}
        self.disabled: dict[str, str] = {}  # venue -> why
        self._preloaded = metadata is not None
        self._regime = regime
        self._cache_dir = cache_dir
        self._metadata_timeout_s = metadata_timeout_s
        self._client = http_client
        self._own_client = http_client is None
        self._queue = VenueQueues(queue_size)
        self._poll_stagger_s = poll_stagger_s  # spreads a venue's first REST polls over this many s
        self._ready = asyncio.Event()
        self._drops: dict[str, int] = {}
        self._resets_due: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._warned: set[str] = set()
        self._prepared = False
        self._started = False
        self._closed = False

    def label(self) -> str:
        return f"live · {len(self.venues)} venue{'s' if len(self.venues) != 1 else ''}"

    def set_regime_source(self, regime: Callable[[], str | None]) -> None:
        """The BTC regime for adaptive polling, wired once the pipeline exists, e.g.
        `lambda: p.latest_snapshot.volatility.regime if p.latest_snapshot else None`."""
        self._regime = regime

    def _current_regime(self) -> str | None:
        return self._regime() if self._regime is not None else None

    # ------------------------------------------------------------------ start-up

    async def prepare(self) -> None:
        """Load metadata and plan every venue. Idempotent; never raises for one venue's sake."""
        if self._prepared:
            return
        self._prepared = True
        if not self._preloaded:
            wanted = [v for v in self.venues if v not in self.metadata]
            self.metadata.update(
                await load_metadata(
                    wanted,
                    max_age_h=self.config.metadata_cache_hours,
                    cache_dir=self._cache_dir,
                    client=self._client,
                    timeout_s=self._metadata_timeout_s,
                )
            )
        for venue, meta in self.metadata.items():
            if meta.instruments and venue in self.parser_metadata:
                self.parser_metadata[venue].update(meta.instruments)
        for venue in self.venues:
            try:
                self.plans[venue] = self._plan(venue)
            except Exception as exc:  # a missing or broken venue module disables that venue only
                reason = f"{type(exc).__name__}: {str(exc)[:200]}"
                self.disabled[venue] = reason
                log.warning("%s: disabled (%s)", venue, reason)

    def _plan(self, venue: str) -> VenuePlan:
        spec = venue_spec(venue)
        assets = self.symbols or [a.upper() for a in self.config.oi_symbols]
        instruments = list(spec.instruments_for(assets)) if spec.instruments_for else []
        liquidation_instruments: list[str] = []
        if spec.has_liquidations and spec.liquidations_per_symbol:
            liquidation_instruments = self._liquidation_instruments(venue, instruments)
        request = SubscribeRequest(
            liquidation_instruments=liquidation_instruments,
            instruments=instruments,
            btc_trades=venue == self.config.btc_trades_venue,
        )
        subscriptions = spec.subscriptions(request)
        polls = list(spec.rest_polls(instruments)) if spec.rest_polls else []
        if not subscriptions and not polls:
            raise ValueError("the venue module produced no connection and no poll")
        return VenuePlan(spec, request, subscriptions, polls)

    def _liquidation_instruments(self, venue: str, main: list[str]) -> list[str]:
        meta = self.metadata.get(venue)
        perps = list(dict.fromkeys(meta.perpetuals)) if meta is not None else []
        if perps and self.symbols:
            wanted = set(self.symbols)
            info = meta.instruments if meta is not None else {}
            perps = [p for p in perps if _asset_of(p, info) in wanted]
        if not perps:
            log.warning(
                "%s: no instrument list (metadata %s); liquidations watched on the main symbols only: %s",
                venue,
                meta.source if meta is not None else "missing",
                ", ".join(main) or "none",
            )
            return list(main)
        return perps

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if any(plan.polls for plan in self.plans.values()) and self._client is None:
            self._client = httpx.AsyncClient(timeout=10.0, follow_redirects=True)
        for venue, plan in self.plans.items():
            for subscription in plan.subscriptions:
                conn = Connection(
                    plan.spec,
                    subscription,
                    self.deliver,
                    on_reconnect=partial(self.mark_reconnect, venue),
                    on_failure=self._on_failure,
                    options=self.options,
                )
                plan.connections.append(conn)
                self._tasks.append(asyncio.create_task(conn.run(), name=f"live {conn.label}"))
            if plan.polls and self._client is not None:
                plan.pollers = make_pollers(
                    venue,
                    plan.polls,
                    self._client,
                    self.deliver,
                    regime=self._current_regime,
                    blocked_retry_s=self.options.blocked_retry_s,
                    stagger_s=self._poll_stagger_s,
                )
                plan.pollers.start()

    # ------------------------------------------------------------------ the queue

    def deliver(self, item: RawFrame | _Reconnect) -> None:
        """Queue a frame as a venue connection hands it in (bounded: the flooding venue's
        oldest frame is dropped and counted). Connections call this; so do tests."""
        evicted = self._queue.put(item)
        if evicted is not None:
            if isinstance(evicted, _Reconnect):
                # all of its venue's earlier frames were handed out or dropped: reset before the
                # next batch
                self._resets_due.append(evicted.venue)
            else:
                self._drops[evicted.venue] = self._drops.get(evicted.venue, 0) + 1
        self._ready.set()

    def mark_reconnect(self, venue: str) -> None:
        """A venue reconnected: its parser resets once every earlier frame is handed on."""
        self.deliver(_Reconnect(venue))

    def queued_frames(self) -> list[RawFrame]:
        """The frames waiting to be handed on, oldest first (a copy)."""
        return [item for item in self._queue if isinstance(item, RawFrame)]

    @property
    def drops(self) -> dict[str, int]:
        """Frames dropped per venue by the queue's bound (a copy)."""
        return dict(self._drops)

    def _reset(self, venue: str) -> None:
        hook = self.reconnect_hook
        if hook is not None:
            try:
                hook(venue)
            except Exception:
                log.exception("%s: reconnect hook failed", venue)

    async def batches(self) -> AsyncIterator[list[Item]]:
        await self.prepare()
        self._start()
        if not self.plans:
            log.warning("live: no venue could be started; try `cascade-tui --demo` for a simulated market")
        queue = self._queue
        while not self._closed:
            if not queue and not self._resets_due:
                self._ready.clear()
                await self._ready.wait()
                continue
            while self._resets_due:
                self._reset(self._resets_due.pop(0))
            items = queue.pop_batch(MAX_BATCH)
            if items and type(items[0]) is _Reconnect:
                self._reset(items[0].venue)  # every earlier frame of the venue was handed on
                continue
            if items:
                yield items  # type: ignore[misc]

    # ------------------------------------------------------------------ status

    def _on_failure(self, conn: Connection, detail: str) -> None:
        venue = conn.spec.id
        blocked = conn.status.state == BLOCKED
        key = f"{venue}:{'blocked' if blocked else 'unreachable'}"  # one line per venue and kind
        if key in self._warned:
            log.debug("%s: %s", conn.label, detail)
            return
        self._warned.add(key)
        if blocked:
            log.warning(
                "%s: %s. This venue refuses this network; leave it out with --venues, or try `cascade-tui --demo`.",
                venue,
                detail,
            )
        else:
            log.warning(
                "%s: cannot connect (%s); retrying with backoff. No network? Try `cascade-tui --demo` for a simulated market.",
                venue,
                detail,
            )

    def feed_status(self) -> dict[str, FeedStatus]:
        out: dict[str, FeedStatus] = {}
        for venue in self.venues:
            if venue in self.disabled:
                out[venue] = FeedStatus(venue=venue, state=DISABLED, detail=self.disabled[venue])
                continue
            plan = self.plans.get(venue)
            if plan is None:
                out[venue] = FeedStatus(venue=venue, state=CONNECTING, detail="loading instrument metadata")
                continue
            out[venue] = self._venue_status(venue, plan)
        return out

    def _venue_status(self, venue: str, plan: VenuePlan) -> FeedStatus:
        status = FeedStatus(venue=venue, state=CONNECTING, detail="starting", drops=self._drops.get(venue, 0))
        conns = plan.connections
        if conns:
            worst = min(conns, key=lambda c: _STATE_RANK.get(c.status.state, 4))
            status.state = worst.status.state
            detail = worst.status.detail
            if len(conns) > 1 and detail:
                detail = f"{worst.subscription.name or 'ws'}: {detail}"
            status.detail = detail
        last = [c.status.last_message_ts for c in conns if c.status.last_message_ts is not None]
        status.frames = sum(c.status.frames for c in conns)
        status.errors = sum(c.status.errors for c in conns)
        status.reconnects = sum(c.status.reconnects for c in conns)
        status.failure = _last_failure(conns)
        if plan.pollers is not None:
            for poller in plan.pollers.pollers:
                status.frames += poller.status.frames
                status.errors += poller.status.errors
                if poller.status.last_ok_ts is not None:
                    last.append(poller.status.last_ok_ts)
                if poller.status.state == POLL_BLOCKED and status.state == LIVE:
                    status.detail = f"REST {poller.channel}: {poller.status.detail}"
            if not conns and plan.pollers.pollers:
                status.state = LIVE if any(p.status.last_ok_ts for p in plan.pollers.pollers) else CONNECTING
        status.last_message_ts = max(last) if last else None
        return status

    # ------------------------------------------------------------------ shutdown

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ready.set()
        connections = [c for plan in self.plans.values() for c in plan.connections]
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
        for plan in self.plans.values():
            if plan.pollers is not None:
                await plan.pollers.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._own_client and self._client is not None:
            await self._client.aclose()
