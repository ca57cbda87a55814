"""The one WebSocket loop every venue runs through (docs/DESIGN.md §1, docs/exchanges.md §0/§1.5).

A `Connection` keeps one `Subscription` of one venue alive for as long as it runs:

- connect (bounded frame size), send the subscription's messages, keep the link alive the
  way the venue wants (`VenueSpec.keepalive`: WS ping frames, a text or JSON ping, or answers
  to the server's own pings);
- reconnect with exponential backoff and full jitter (capped; the attempt count resets once
  a connection has been stable for a while) and resubscribe;
- declare the link `stale` when no frame arrived for `spec.stale_after_s`, and reconnect;
- rotate before `spec.max_connection_s`: open the new link, wait until it delivers, then
  close the old one. While both are open a frame is delivered once even when both links
  carry it (`OverlapFilter`);
- treat HTTP 403/451 on the upgrade as `blocked` (geo/IP refusal): shown as such and retried
  only every `blocked_retry_s`, never in a hot loop.
- record every failure classified (`ConnectionStatus.failure`: dns, refused, tls, timeout,
  blocked, ... from feeds/failure.py) and count every reconnect, including the retries of a
  link that never got through.

Every frame is handed to `emit` as a `RawFrame` stamped with `time.time()` at receipt, in the
order the link received it. `on_reconnect` is called when a new link is up and before it
delivers anything, so the consumer can reset per-connection parser state in order.
The clock, wall time, sleep and randomness are injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from cascade_tui.backoff import Backoff
from cascade_tui.feeds.base import Subscription, VenueSpec
from cascade_tui.feeds.failure import CLOSED as FAILURE_CLOSED
from cascade_tui.feeds.failure import ERROR as FAILURE_ERROR
from cascade_tui.feeds.failure import STALE as FAILURE_STALE
from cascade_tui.feeds.failure import classify_failure
from cascade_tui.model import RawFrame

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 4 * 1024 * 1024  # the largest venue frames (snapshots) are well under this

# Connection states, as shown in FeedStatus.state.
CONNECTING = "connecting"
LIVE = "live"
STALE = "stale"
RECONNECTING = "reconnecting"
BLOCKED = "blocked"
DISABLED = "disabled"
DONE = "done"

# Upgrade refusals that mean "this venue refuses this IP/region": retrying fast cannot help.
BLOCKED_STATUSES: dict[int, str] = {
    403: "forbidden: IP or region refused",
    451: "unavailable for legal reasons: geo-blocked",
}


@dataclass(frozen=True)
class ConnectionOptions:
    # full jitter from 1 s to 60 s, never sooner than 0.1 s
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=1.0, cap_s=60.0, jitter=1.0, floor_s=0.1))
    blocked_retry_s: float = 600.0  # a refused venue is asked again every 10 minutes
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    max_frame_bytes: int = MAX_FRAME_BYTES
    rotation_wait_s: float = 30.0  # how long a rotating link may take to deliver its first frame
    rotation_overlap_s: float = 1.0  # both links deliver (de-duplicated) this long before the old closes
    rotation_retry_s: float = 60.0  # after a failed rotation, try again this much later
    tick_s: float = 1.0  # supervision period (stale and rotation checks), capped by stale_after_s / 4
    # between subscribe messages; None = the venue's VenueSpec.message_interval_s (tests use 0)
    send_interval_s: float | None = None
    # test hook: rewrite a Subscription's URL (e.g. to a local protocol server)
    url_rewrite: Callable[[str], str] | None = None


@dataclass
class ConnectionStatus:
    """Health of one connection; the live source folds these into a venue's FeedStatus."""

    state: str = CONNECTING
    detail: str = ""
    last_message_ts: float | None = None  # wall time of the last frame
    frames: int = 0
    errors: int = 0  # failed connects, dropped links, stale links (not parse errors)
    # times the loop went back to connecting after a failed attempt or a lost link (a run
    # that never got through counts every retry: "reconnect 9" on screen is reconnects 9)
    reconnects: int = 0
    connects: int = 0  # links opened (the first, reconnections and rotations)
    # the last failure, classified (feeds/failure.py: dns refused tls timeout blocked ...),
    # its human text and wall time; kept after recovery (it is the *last* failure)
    failure: str = ""
    failure_detail: str = ""
    failure_ts: float | None = None
    rotations: int = 0
    # failed attempts since the last link that stayed up `Backoff.stable_after_s` (a server
    # that accepts and drops at once must not turn the backoff into a fixed 1 s loop)
    attempt: int = 0
    overlap_dropped: int = 0  # frames both links carried during a rotation, delivered once


class OverlapFilter:
    """While two links of one subscription are open, deliver each frame once.

    Both links carry the same stream, so a frame the other link already delivered is a
    duplicate. Counted as a multiset (digest -> link, pending count) so that two genuinely
    identical frames on one link are still both delivered once.
    """

    def __init__(self, capacity: int = 65_536) -> None:
        self._capacity = capacity
        self._pending: OrderedDict[bytes, list[int]] = OrderedDict()  # digest -> [link serial, count]
        self.active = False

    def start(self) -> None:
        self._pending.clear()
        self.active = True

    def stop(self) -> None:
        self.active = False
        self._pending.clear()

    def admit(self, serial: int, data: str | bytes) -> bool:
        if not self.active:
            return True
        raw = data.encode() if isinstance(data, str) else data
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        entry = self._pending.get(digest)
        if entry is not None and entry[0] != serial:
            entry[1] -= 1
            if entry[1] <= 0:
                del self._pending[digest]
            return False
        if entry is None:
            self._pending[digest] = [serial, 1]
            if len(self._pending) > self._capacity:
                self._pending.popitem(last=False)
        else:
            entry[1] += 1
        return True


def describe_error(exc: BaseException, url: str = "") -> str:
    """A short human reason for a failed connect or a dropped link."""
    host = urlsplit(url).hostname or url
    if isinstance(exc, InvalidStatus):
        code = exc.response.status_code
        why = BLOCKED_STATUSES.get(code, "refused the WebSocket upgrade")
        return f"HTTP {code} from {host} ({why})"
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed for {host} (no network?)"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {host}"
    if isinstance(exc, TimeoutError):
        return f"{host} did not answer in time"
    if isinstance(exc, ConnectionClosed):
        close_code = exc.rcvd.code if exc.rcvd is not None else None
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        if close_code is None:
            return f"link to {host} lost without a close frame"
        return f"closed by {host} (code {close_code}{': ' + reason if reason else ''})"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"


def blocked_status(exc: BaseException) -> int | None:
    if isinstance(exc, InvalidStatus) and exc.response.status_code in BLOCKED_STATUSES:
        return exc.response.status_code
    return None


class _Link:
    """One open WebSocket of a connection, with its reader and keepalive tasks."""

    def __init__(self, serial: int, ws: ClientConnection, opened_at: float) -> None:
        self.serial = serial
        self.ws = ws
        self.opened_at = opened_at
        self.last_frame_at = opened_at
        self.delivered = asyncio.Event()  # set by the first frame
        self.ended: str | None = None  # why the reader stopped; None while reading
        self.failure = FAILURE_CLOSED  # its classified kind (feeds/failure.py), once ended
        self.tasks: list[asyncio.Task[None]] = []

    async def close(self, timeout: float) -> None:
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(self.ws.close(), timeout)
        for task in self.tasks:
            if task is not asyncio.current_task():
                with contextlib.suppress(BaseException):
                    await task
        if self.ended is None:
            self.ended = "closed by us"


class Connection:
    """Keeps one Subscription of one venue connected; see the module docstring."""

    def __init__(
        self,
        spec: VenueSpec,
        subscription: Subscription,
        emit: Callable[[RawFrame], None],
        *,
        on_reconnect: Callable[[], None] | None = None,
        on_failure: Callable[[Connection, str], None] | None = None,
        options: ConnectionOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.spec = spec
        self.subscription = subscription
        self.options = options or ConnectionOptions()
        self.status = ConnectionStatus()
        self._emit = emit
        self._on_reconnect = on_reconnect
        self._on_failure = on_failure
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._rng = rng
        self._overlap = OverlapFilter()
        self._current: _Link | None = None
        self._links: set[_Link] = set()
        self._serial = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        rewrite = self.options.url_rewrite
        self.url = rewrite(subscription.url) if rewrite else subscription.url

    @property
    def label(self) -> str:
        return f"{self.spec.id}/{self.subscription.name or 'ws'}"

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Connect and stay connected until `close()`. Never raises on network trouble."""
        self._task = asyncio.current_task()
        backoff = self.options.backoff
        ever_connected = False
        try:
            while not self._closing:
                try:
                    link = await self._connect()
                except asyncio.CancelledError:
                    raise
                except InvalidURI as exc:  # a broken spec: retrying cannot help
                    self.status.errors += 1
                    self._set(DISABLED, f"bad URL: {exc}")
                    self._record_failure(FAILURE_ERROR, self.status.detail)
                    self._failed(self.status.detail)
                    return
                except Exception as exc:
                    self.status.errors += 1
                    reason = describe_error(exc, self.url)
                    self._record_failure(classify_failure(exc), reason)
                    self.status.reconnects += 1
                    if blocked_status(exc) is not None:
                        minutes = self.options.blocked_retry_s / 60.0
                        self._set(BLOCKED, f"{reason}; next try in {minutes:.0f} min")
                        self._failed(self.status.detail)
                        await self._sleep(self.options.blocked_retry_s)
                        continue
                    self.status.attempt += 1
                    self._set(RECONNECTING, f"attempt {self.status.attempt}: {reason}")
                    self._failed(self.status.detail)
                    await self._sleep(backoff.delay(self.status.attempt, self._rng))
                    continue
                if ever_connected:
                    self._reconnected()
                ever_connected = True
                self._current = link
                await self._start(link)
                if link.ended is None:
                    self._set(LIVE, "")  # open and subscribed; silence from here on is the stale timer's job
                reason = await self._supervise(link)
                if self._closing:
                    break
                current = self._current or link
                if self._clock() - current.opened_at >= backoff.stable_after_s:
                    self.status.attempt = 0
                self.status.errors += 1
                self.status.attempt += 1
                self.status.reconnects += 1
                self._record_failure(FAILURE_STALE if self.status.state == STALE else current.failure, reason)
                if self.status.state != STALE:
                    self._set(RECONNECTING, f"attempt {self.status.attempt}: {reason}")
                log.info("%s: link ended (%s); reconnecting", self.label, reason)
                await self._close_links()
                await self._sleep(backoff.delay(self.status.attempt, self._rng))
                if self.status.state == STALE:
                    self._set(RECONNECTING, f"attempt {self.status.attempt}: {reason}")
        except asyncio.CancelledError:
            if not self._closing:
                raise  # cancelled by someone else: let them see it
        finally:
            await self._close_links()
            self._set(DONE, "closed" if self._closing else self.status.detail)

    async def close(self) -> None:
        """Stop: close every link and end `run()`. Idempotent."""
        self._closing = True
        await self._close_links()
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self.status.state = DONE
        self.status.detail = "closed"

    # ------------------------------------------------------------------ links

    async def _connect(self) -> _Link:
        opts = self.options
        ws_pings = self.spec.keepalive.kind == "ws-ping"
        interval = max(self.spec.keepalive.interval, 0.05)
        ws = await connect(
            self.url,
            open_timeout=opts.open_timeout_s,
            close_timeout=opts.close_timeout_s,
            # library pings where the venue expects them; other venues get their own pings
            # and are watched by the stale timer. Server pings are always answered.
            ping_interval=interval if ws_pings else None,
            ping_timeout=interval if ws_pings else None,
            max_size=opts.max_frame_bytes,
            max_queue=1024,
            user_agent_header="cascade-tui",
        )
        self._serial += 1
        link = _Link(self._serial, ws, self._clock())
        self._links.add(link)
        self.status.connects += 1
        return link

    async def _start(self, link: _Link) -> None:
        """Start reading and keepalive, then subscribe."""
        link.tasks.append(asyncio.create_task(self._read(link), name=f"{self.label}#{link.serial} read"))
        if self.spec.keepalive.kind in ("text", "json"):
            link.tasks.append(
                asyncio.create_task(self._keepalive(link), name=f"{self.label}#{link.serial} keepalive")
            )
        interval = self.options.send_interval_s
        if interval is None:
            interval = self.spec.message_interval_s
        try:
            for i, message in enumerate(self.subscription.messages):
                if i and interval > 0:
                    await self._sleep(interval)
                await link.ws.send(message)
        except ConnectionClosed as exc:
            if link.ended is None:
                link.ended = describe_error(exc, self.url)
                link.failure = classify_failure(exc)

    async def _read(self, link: _Link) -> None:
        keepalive = self.spec.keepalive
        reply = keepalive.reply if keepalive.kind == "reply" else None
        try:
            async for data in link.ws:
                recv_ts = self._wall()
                link.last_frame_at = self._clock()
                if reply is not None:
                    await self._answer(link, reply, data)
                link.delivered.set()
                self._deliver(link, data, recv_ts)
            code, reason = link.ws.close_code, link.ws.close_reason
            suffix = f" (code {code}{': ' + reason if reason else ''})" if code is not None else ""
            link.ended = f"closed by {urlsplit(self.url).hostname}{suffix}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # ConnectionClosedError, PayloadTooBig, OSError ...
            link.ended = describe_error(exc, self.url)
            link.failure = classify_failure(exc)

    async def _answer(
        self, link: _Link, reply: Callable[[str | bytes], str | None], data: str | bytes
    ) -> None:
        try:
            answer = reply(data)
        except Exception as exc:  # a reply function must not take the link down
            log.debug("%s: keepalive reply failed: %s", self.label, exc)
            return
        if answer is not None:
            await link.ws.send(answer)

    async def _keepalive(self, link: _Link) -> None:
        keepalive = self.spec.keepalive
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self._sleep(keepalive.interval)
                await link.ws.send(keepalive.render(self._wall()))

    def _deliver(self, link: _Link, data: str | bytes, recv_ts: float) -> None:
        if not self._overlap.admit(link.serial, data):
            self.status.overlap_dropped += 1
            return
        status = self.status
        status.frames += 1
        status.last_message_ts = recv_ts
        self._emit(RawFrame(ts=recv_ts, venue=self.spec.id, data=data))

    # ------------------------------------------------------------------ supervision

    def _tick(self) -> float:
        return max(0.01, min(self.options.tick_s, self.spec.stale_after_s / 4.0))

    async def _supervise(self, link: _Link) -> str:
        """Watch the current link until it ends or goes stale; rotate it when due."""
        self._current = link
        rotate_at = link.opened_at + self.spec.max_connection_s
        while True:
            await self._sleep(self._tick())
            if self._closing:
                return "closed"
            current = self._current
            if current.ended is not None:
                return current.ended
            now = self._clock()
            # rotation first: a due rotation replaces a silent link as well as a reconnect would
            if now >= rotate_at:
                fresh = await self._rotate(current)
                if fresh is None:
                    rotate_at = self._clock() + self.options.rotation_retry_s
                else:
                    rotate_at = fresh.opened_at + self.spec.max_connection_s
                continue
            silent = now - current.last_frame_at
            if silent > self.spec.stale_after_s:
                self._set(STALE, f"no frame for {silent:.1f} s")
                return f"stale: no frame for {silent:.1f} s"

    async def _rotate(self, old: _Link) -> _Link | None:
        """Planned rotation: the new link must deliver before the old one closes."""
        opts = self.options
        self._overlap.start()
        try:
            try:
                fresh = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.status.errors += 1
                log.info("%s: rotation postponed: %s", self.label, describe_error(exc, self.url))
                return None
            self._reconnected()
            await self._start(fresh)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(fresh.delivered.wait(), opts.rotation_wait_s)
            if not fresh.delivered.is_set() or fresh.ended is not None:
                self.status.errors += 1
                log.info("%s: rotation postponed: the new link delivered nothing", self.label)
                await self._drop(fresh)
                return None
            self.status.rotations += 1
            self._current = fresh
            await self._sleep(opts.rotation_overlap_s)
            await self._drop(old)
            return fresh
        finally:
            self._overlap.stop()

    # ------------------------------------------------------------------ helpers

    async def _drop(self, link: _Link) -> None:
        self._links.discard(link)
        await link.close(self.options.close_timeout_s)

    async def _close_links(self) -> None:
        for link in list(self._links):
            await self._drop(link)

    def _reconnected(self) -> None:
        if self._on_reconnect is not None:
            try:
                self._on_reconnect()
            except Exception:  # the consumer's hook must not take the connection down
                log.exception("%s: reconnect hook failed", self.label)

    def _failed(self, detail: str) -> None:
        if self._on_failure is not None:
            try:
                self._on_failure(self, detail)
            except Exception:
                log.exception("%s: failure hook failed", self.label)

    def _record_failure(self, kind: str, detail: str) -> None:
        self.status.failure = kind
        self.status.failure_detail = detail
        self.status.failure_ts = self._wall()

    def _set(self, state: str, detail: str) -> None:
        self.status.state = state
        self.status.detail = detail
