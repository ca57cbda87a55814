"""REST pollers for open interest / funding where a venue has no stream (`VenueSpec.rest_polls`).

- Adaptive interval: `interval_fast` while the BTC regime is HIGH or EXTREME (cascades move
  OI fast), `interval_normal` otherwise. The regime comes from a callable, read before
  every wait, so a regime change takes effect at the next poll.
- Rate limits are shared by a venue's pollers (`VenueGate`): HTTP 429 pauses all of them for
  `Retry-After` (or a backoff when absent); 418 (Binance IP ban), 403 and 451 mark the venue
  `blocked` and ask again only every `blocked_retry_s`.
- Network errors back off exponentially (capped), so a machine without network is not
  hammering DNS.
- A successful body is emitted as `RawFrame(channel=f"rest:{poll.name}")`, stamped with
  `time.time()` at receipt, exactly as the parser and captures expect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from cascade_tui.backoff import Backoff
from cascade_tui.feeds.base import RestPoll
from cascade_tui.feeds.failure import BLOCKED as FAILURE_BLOCKED
from cascade_tui.feeds.failure import HTTP as FAILURE_HTTP
from cascade_tui.feeds.failure import classify_failure
from cascade_tui.model import RawFrame

log = logging.getLogger(__name__)

FAST_REGIMES = frozenset({"HIGH", "EXTREME"})
BLOCKING_STATUSES = {418: "IP banned for exceeding limits", 403: "forbidden", 451: "geo-blocked"}
DEFAULT_RETRY_AFTER_S = 60.0
ERROR_BACKOFF_CAP_S = 300.0
MAX_BODY_BYTES = 4 * 1024 * 1024

# Poller states (the live source folds them into the venue's FeedStatus detail).
WAITING = "waiting"
OK = "ok"
FAILING = "failing"
RATE_LIMITED = "rate-limited"
BLOCKED = "blocked"


@dataclass
class PollStatus:
    state: str = WAITING
    detail: str = ""
    requests: int = 0
    frames: int = 0
    errors: int = 0
    last_ok_ts: float | None = None  # wall time of the last good body
    failure: str = ""  # the last failure, classified (feeds/failure.py); kept after recovery


class VenueGate:
    """Shared by one venue's pollers: nobody polls before `resume_at` (monotonic clock)."""

    def __init__(self) -> None:
        self.resume_at = 0.0
        self.reason = ""

    def pause_until(self, when: float, reason: str) -> None:
        if when > self.resume_at:
            self.resume_at = when
            self.reason = reason


def retry_after_s(value: str | None, now_wall: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_wall)
    except (TypeError, ValueError, IndexError):
        return None


def regime_interval(poll: RestPoll, regime: str | None) -> float:
    return poll.interval_fast if (regime or "").upper() in FAST_REGIMES else poll.interval_normal


class Poller:
    """Polls one RestPoll until cancelled or closed."""

    def __init__(
        self,
        venue: str,
        poll: RestPoll,
        client: httpx.AsyncClient,
        emit: Callable[[RawFrame], None],
        *,
        regime: Callable[[], str | None] | None = None,
        gate: VenueGate | None = None,
        blocked_retry_s: float = 600.0,
        stagger_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.venue = venue
        self.poll = poll
        self.status = PollStatus()
        self.gate = gate or VenueGate()
        self.blocked_retry_s = blocked_retry_s
        self.stagger_s = stagger_s
        self._client = client
        self._emit = emit
        self._regime = regime
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._rng = rng
        self._failures = 0

    @property
    def channel(self) -> str:
        return f"rest:{self.poll.name}"

    def interval(self) -> float:
        regime: str | None = None
        if self._regime is not None:
            try:
                regime = self._regime()
            except Exception:  # a failing regime source means "not in a fast regime"
                regime = None
        return regime_interval(self.poll, regime)

    async def run(self) -> None:
        # stagger the venue's pollers so they do not all fire in the same instant
        await self._sleep(self._rng() * min(self.interval(), self.stagger_s))
        while True:
            wait = self.gate.resume_at - self._clock()
            if wait > 0:
                await self._sleep(wait)
                continue
            delay = await self.poll_once()
            await self._sleep(delay)

    async def poll_once(self) -> float:
        """One request; returns how long to wait before the next one."""
        status = self.status
        status.requests += 1
        interval = self.interval()
        try:
            response = await self._client.get(self.poll.url)
        except httpx.HTTPError as exc:
            status.failure = classify_failure(exc)
            return self._failed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, interval)
        code = response.status_code
        if code == 200:
            if len(response.content) > MAX_BODY_BYTES:
                return self._failed(f"body of {len(response.content)} bytes refused", interval)
            recv_ts = self._wall()
            self._failures = 0
            status.state, status.detail = OK, ""
            status.frames += 1
            status.last_ok_ts = recv_ts
            self._emit(RawFrame(ts=recv_ts, venue=self.venue, data=response.text, channel=self.channel))
            return interval
        if code == 429:
            status.errors += 1
            wait = retry_after_s(response.headers.get("Retry-After"), self._wall())
            wait = DEFAULT_RETRY_AFTER_S if wait is None else wait
            self.gate.pause_until(self._clock() + wait, f"HTTP 429 rate limited for {wait:.0f} s")
            status.state, status.detail = RATE_LIMITED, f"HTTP 429: pausing {wait:.0f} s"
            log.warning("%s %s: rate limited, pausing the venue's polls for %.0f s", self.venue, self.channel, wait)
            return max(wait, interval)
        if code in BLOCKING_STATUSES:
            status.errors += 1
            status.failure = FAILURE_BLOCKED
            wait = retry_after_s(response.headers.get("Retry-After"), self._wall()) or 0.0
            wait = max(wait, self.blocked_retry_s)
            reason = f"HTTP {code} ({BLOCKING_STATUSES[code]})"
            self.gate.pause_until(self._clock() + wait, reason)
            status.state, status.detail = BLOCKED, f"{reason}; next try in {wait / 60:.0f} min"
            log.warning("%s %s: %s; polling again in %.0f min", self.venue, self.channel, reason, wait / 60)
            return wait
        status.failure = FAILURE_HTTP
        return self._failed(f"HTTP {code}", interval)

    def _failed(self, reason: str, interval: float) -> float:
        self._failures += 1
        self.status.errors += 1
        self.status.state, self.status.detail = FAILING, reason[:200]
        # exponential backoff from the regular interval, with jitter, capped
        backoff = Backoff(base_s=min(max(interval, 0.1), ERROR_BACKOFF_CAP_S), cap_s=ERROR_BACKOFF_CAP_S, jitter=0.5)
        return backoff.delay(self._failures, self._rng)


class PollerGroup:
    """All pollers of one venue, sharing a gate; started and stopped together."""

    def __init__(self, pollers: list[Poller]) -> None:
        self.pollers = pollers
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(p.run(), name=f"poll {p.venue} {p.channel}") for p in self.pollers
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []


def make_pollers(
    venue: str,
    polls: list[RestPoll],
    client: httpx.AsyncClient,
    emit: Callable[[RawFrame], None],
    *,
    regime: Callable[[], str | None] | None = None,
    blocked_retry_s: float = 600.0,
    stagger_s: float = 2.0,
) -> PollerGroup:
    gate = VenueGate()
    return PollerGroup(
        [
            Poller(
                venue, poll, client, emit, regime=regime, gate=gate, blocked_retry_s=blocked_retry_s, stagger_s=stagger_s
            )
            for poll in polls
        ]
    )
