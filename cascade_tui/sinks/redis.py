"""Publishes metrics, signals and events to Redis (docs/DESIGN.md §4, docs/redis.md).

The hooks run on the engine's loop and only enqueue: the snapshot goes into a one-slot
mailbox, events and signals into one bounded queue. Two writer tasks, each with its own
connection: the bulk writer flushes metrics, events, params and the heartbeat every ~100 ms
in pipelined round trips of at most MAX_EVENTS_PER_FLUSH events (latest value wins per
key); the signal writer is woken by each
signal and writes it (key, history, PUBLISH) at once in its own small pipeline, so a signal
never waits behind a bulk batch of events. Signals are written by that one task, oldest
first, so their order is kept. Redis down, slow or restarted never stalls the engine: both
writers reconnect with backoff, and after every (re)connect the bulk writer writes the
current state again (metrics from the latest snapshot, params, heartbeat).

Overflow policy (capacity = `RedisConfig.queue_size` items): the oldest metric write goes
first, then the oldest event, and signals are kept longest; drops are counted per kind.

Closing drains what is queued in bigger round trips (no frames wait on the loop any more)
for as long as writes go through: it gives up after CLOSE_STALL_S without a write, or after
CLOSE_MAX_S in all, so a replay run at full speed into Redis leaves nothing behind while a
dead or frozen server cannot hold the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cascade_tui import __version__
from cascade_tui.backoff import Backoff
from cascade_tui.config import RedisConfig
from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.types import LatencyView, Signal, Snapshot, signal_encoder
from cascade_tui.model import Event
from cascade_tui.redaction import redact_url, scrub_secrets
from cascade_tui.redis_client import describe_failure, make_client, raise_if_cancelling
from cascade_tui.redis_schema import (
    TTL_HEARTBEAT_S,
    TTL_SIGNAL_S,
    RedisKeys,
    heartbeat_payload,
    latency_payload,
    params_payload,
    signal_payload,
    snapshot_metrics,
    stream_entry,
)
from cascade_tui.sinks.base import Sink
from cascade_tui.sinks.redis_instance import OtherWriter, new_instance_id, other_live_writer
from cascade_tui.stats_math import percentile
from cascade_tui.text import printable

log = logging.getLogger(__name__)

TICK_S = 0.1
HEARTBEAT_EVERY_S = 1.0
# events per bulk round trip: building a pipeline runs on the engine's loop (~25 µs per
# XADD in redis-py), so a big batch stalls frame processing for its whole build; small
# batches, each followed by an await, let the loop process frames in between
MAX_EVENTS_PER_FLUSH = 40
MAX_EVENTS_PER_CLOSING_FLUSH = 1000
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 2.0
RECONNECT_BACKOFF = Backoff(base_s=0.2, cap_s=2.0, jitter=0.5)
DOWN_AFTER_S = 5.0  # "reconnecting" turns "down" after this long without a connection
CLOSE_STALL_S = 5.0  # closing: give up after this long without a successful write
CLOSE_MAX_S = 60.0  # closing: and after this long in all
OWN_LATENCY_STAGE = "redis"  # our own write round trip, next to the engine's stages
OWN_LATENCY_SAMPLES = 512

REDIS_ERRORS = (RedisError, OSError, TimeoutError)


class MetricWrite:
    """One coalescable write: SET key value EX ttl, or HSET key field value."""

    __slots__ = ("field", "key", "ttl", "value")

    def __init__(self, key: str, value: bytes, ttl: int | None = None, field: str | None = None) -> None:
        self.key = key
        self.value = value
        self.ttl = ttl
        self.field = field


class OutboundQueue:
    """Pending writes, bounded in total. Items carry sequence numbers so the writer can
    remove exactly what it wrote even if overflow dropped older items meanwhile."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.metrics: OrderedDict[str, tuple[int, MetricWrite]] = OrderedDict()
        self.events: deque[tuple[int, Event]] = deque()
        self.signals: deque[tuple[int, Signal]] = deque()
        self.drops: dict[str, int] = {"metric": 0, "event": 0, "signal": 0}
        self._seq = 0

    def __len__(self) -> int:
        return len(self.metrics) + len(self.events) + len(self.signals)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _make_room(self, incoming: str) -> bool:
        """Drop one item by priority; False when the incoming item itself must go."""
        if self.metrics:
            self.metrics.popitem(last=False)
            self.drops["metric"] += 1
        elif self.events:
            self.events.popleft()
            self.drops["event"] += 1
        elif incoming == "signal" and self.signals:
            self.signals.popleft()
            self.drops["signal"] += 1
        else:
            self.drops[incoming] += 1
            return False
        return True

    def put_metric(self, write: MetricWrite) -> None:
        ident = write.key if write.field is None else f"{write.key}\x00{write.field}"
        if ident in self.metrics:
            del self.metrics[ident]  # coalesce: the newer value replaces it, at the back
        elif len(self) >= self.capacity and not self._make_room("metric"):
            return
        self.metrics[ident] = (self._next(), write)

    def put_event(self, ev: Event) -> None:
        if len(self) >= self.capacity and not self._make_room("event"):
            return
        self.events.append((self._next(), ev))

    def put_signal(self, sig: Signal) -> None:
        if len(self) >= self.capacity and not self._make_room("signal"):
            return
        self.signals.append((self._next(), sig))

    def forget_written(self, metric_seqs: dict[str, int], last_event_seq: int, last_signal_seq: int) -> None:
        for ident, seq in metric_seqs.items():
            current = self.metrics.get(ident)
            if current is not None and current[0] == seq:
                del self.metrics[ident]
        while self.events and self.events[0][0] <= last_event_seq:
            self.events.popleft()
        while self.signals and self.signals[0][0] <= last_signal_seq:
            self.signals.popleft()


class RedisSink(Sink):
    name = "redis"
    close_timeout_s = CLOSE_MAX_S + 2 * CLOSE_STALL_S  # the drain's own limit, then time to stop

    def __init__(
        self,
        url: str,
        prefix: str = "",
        config: RedisConfig | None = None,
        display: str = "",
        *,
        instance: str | None = None,
        check_other_writers: bool = True,
    ) -> None:
        self._url = url
        self.instance = instance or new_instance_id()
        self.check_other_writers = check_other_writers
        # set once the prefix is known to be ours; refused_by names the live writer it belongs to
        self._claim_decided = asyncio.Event()
        self.refused_by: OtherWriter | None = None
        self.conflicts = 0  # heartbeats of another instance overwritten while running
        self._last_conflict_log = 0.0
        self.config = config or RedisConfig()
        self.keys = RedisKeys(prefix)
        self.display = display or redact_url(url)
        self.queue = OutboundQueue(self.config.queue_size)
        self.state = "down"
        self.published = 0  # signals PUBLISHed
        self.events_written = 0
        self.errors = 0
        self.reconnects = 0
        self.last_error = ""
        self._latest_snapshot: Snapshot | None = None
        self._snapshot_dirty = False
        self._params_payload: bytes | None = None
        self._params_dirty = False
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # the signal fast path: its own connection, task and wake-up
        self._signal_client: aioredis.Redis | None = None
        self._signal_task: asyncio.Task[None] | None = None
        self._signal_wake = asyncio.Event()
        self._closing = False
        self._abandoned = False  # the close budget ran out: writers stop at their next turn
        self._started_wall = time.time()
        self._last_heartbeat = 0.0
        self._lost_since: float | None = None
        self._own_latency: deque[float] = deque(maxlen=OWN_LATENCY_SAMPLES)

    def __repr__(self) -> str:
        return f"RedisSink({self.display!r}, prefix={self.keys.prefix!r})"

    # ------------------------------------------------------------------ hooks (engine loop)

    def on_event(self, ev: Event) -> None:
        if self.refused_by is None:
            self.queue.put_event(ev)

    def on_signal(self, sig: Signal) -> None:
        if self.refused_by is not None:
            return
        self.queue.put_signal(sig)
        self._signal_wake.set()  # signals go out at once, on their own connection
        if self._client is None:
            self._wake.set()  # and a disconnected bulk writer retries now rather than after its backoff

    def on_snapshot(self, snap: Snapshot) -> None:
        self._latest_snapshot = snap
        self._snapshot_dirty = True

    def on_params(self, params: EngineParams, version: int) -> None:
        self._params_payload = params_payload(params, version, time.time(), self.instance)
        self._params_dirty = True

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._task is None:
            self._started_wall = time.time()
            self._task = asyncio.create_task(self._run(), name="redis-sink")
            self._signal_task = asyncio.create_task(self._run_signals(), name="redis-sink-signals")

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self._signal_wake.set()
        tasks = {t for t in (self._signal_task, self._task) if t is not None}
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + CLOSE_MAX_S
        written = self._written()
        while tasks and loop.time() < give_up_at:
            _, tasks = await asyncio.wait(tasks, timeout=min(CLOSE_STALL_S, max(0.0, give_up_at - loop.time())))
            before, written = written, self._written()
            if written == before:
                break  # nothing written for CLOSE_STALL_S: the server is gone or frozen
        if tasks:
            # the writers stop at their next turn; a cancel ends a round trip that hangs
            self._abandoned = True
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=CLOSE_STALL_S)
        await self._drop_client()
        await self._drop_signal_client()
        self.state = "refused" if self.refused_by is not None else "down"

    def _written(self) -> tuple[int, int]:
        return self.events_written, self.published

    def stats(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "server": self.display,
            "drops": dict(self.queue.drops),
            "published": self.published,
            "events_written": self.events_written,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "queued": len(self.queue),
            "last_error": self.last_error,
            "instance": self.instance,
            "refused_by": self.refused_by.instance if self.refused_by is not None else None,
            "conflicts": self.conflicts,
        }

    # ------------------------------------------------------------------ writer task

    async def _run(self) -> None:
        attempt = 0
        tried_after_close = False
        rewrote_metrics = False
        while not self._abandoned:
            raise_if_cancelling()  # a cancel redis-py swallowed whole still ends the loop
            if self._client is None:
                if self._closing:
                    # closing while disconnected: one last attempt to deliver what is queued
                    if tried_after_close:
                        return
                    tried_after_close = True
                if await self._connect():
                    attempt = 0
                    if not self._claim_decided.is_set() and not await self._claim():
                        return  # the prefix is another live run's: publish nothing
                else:
                    attempt += 1
                    if not self._closing:
                        await self._sleep(RECONNECT_BACKOFF.delay(attempt))
                    continue
            # only a flush that began after close() was called has everything queued before it
            final = self._closing
            try:
                more = await self._flush()
            except REDIS_ERRORS as exc:
                raise_if_cancelling()
                self._on_error(exc)
                await self._drop_client()
                continue
            except Exception as exc:  # a bug must not end publishing for the rest of the run
                self.errors += 1
                self.last_error = scrub_secrets(f"{type(exc).__name__}: {exc}", self._url)
                log.exception("redis %s: unexpected error while writing", self.display)
                if final:
                    return
                await self._sleep(TICK_S)
                continue
            if final and not more:
                if not rewrote_metrics and self._latest_snapshot is not None:
                    # draining a long event backlog at close can outlast the metrics' TTLs
                    # (5-10 s): one last round trip rewrites them, so they stand from the stop
                    rewrote_metrics = True
                    self._snapshot_dirty = True
                    continue
                return
            if not more:
                await self._sleep(TICK_S)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _open_client(self, track_state: bool = True) -> aioredis.Redis | None:
        """A pinged client, or None (the failure counted) when the server cannot be reached.

        Only the bulk writer's connection moves `state` (track_state); the signal writer's
        failures are counted alone."""
        client = make_client(self._url, connect_timeout_s=CONNECT_TIMEOUT_S, command_timeout_s=COMMAND_TIMEOUT_S)
        try:
            await client.ping()
        except REDIS_ERRORS as exc:
            raise_if_cancelling()
            if track_state:
                self._on_error(exc)
            else:
                self._count_error(exc)
            with contextlib.suppress(Exception):
                await client.aclose()
            return None
        return client

    async def _connect(self) -> bool:
        client = await self._open_client()
        if client is None:
            return False
        if self._lost_since is not None:
            self.reconnects += 1
            log.info("redis %s: reconnected", self.display)
        self._client = client
        self.state = "connected"
        self._lost_since = None
        # a new or restarted server has none of the current state: write it again
        self._snapshot_dirty = self._latest_snapshot is not None
        self._params_dirty = self._params_payload is not None
        self._last_heartbeat = 0.0
        return True

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _drop_signal_client(self) -> None:
        client, self._signal_client = self._signal_client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    # ------------------------------------------------------------------ signal writer task

    async def _run_signals(self) -> None:
        """Write each signal as soon as it is queued, on the signal connection (opened ahead
        of the first signal, so a signal does not pay for the connect)."""
        attempt = 0
        tried_after_close = False
        while not self._abandoned:
            raise_if_cancelling()  # a cancel redis-py swallowed whole still ends the loop
            final = self._closing
            if final and not self.queue.signals:
                return
            if self._signal_client is None:
                if final:
                    # closing while disconnected: one last attempt to deliver what is queued
                    if tried_after_close:
                        return
                    tried_after_close = True
                self._signal_client = await self._open_client(track_state=False)
                if self._signal_client is None:
                    attempt += 1
                    if not self._closing:
                        await self._sleep_signals(RECONNECT_BACKOFF.delay(attempt))
                    continue
                attempt = 0
            if not self.queue.signals:
                await self._signal_wake.wait()
                self._signal_wake.clear()
                continue
            if not self._claim_decided.is_set():
                # the first signal waits for the bulk writer's check of the prefix
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._claim_decided.wait(), CLOSE_STALL_S if final else None)
            if self.refused_by is not None or not self._claim_decided.is_set():
                return
            try:
                await self._flush_signals(self._signal_client)
            except REDIS_ERRORS as exc:
                raise_if_cancelling()
                # counted; the connection state shown is the bulk writer's
                self._count_error(exc)
                await self._drop_signal_client()
            except Exception as exc:  # a bug must not end publishing for the rest of the run
                self._count_error(exc)
                log.exception("redis %s: unexpected error while writing signals", self.display)
                if final:
                    return
                await self._sleep_signals(TICK_S)

    async def _sleep_signals(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._signal_wake.wait(), seconds)
        self._signal_wake.clear()

    async def _flush_signals(self, client: aioredis.Redis) -> None:
        """One small pipeline with every queued signal, oldest first."""
        queue = self.queue
        signals = list(queue.signals)
        pipe = client.pipeline(transaction=False)
        newest_signal_ts = signals[0][1].ts
        for _, sig in signals:
            payload = signal_payload(signal_encoder.encode(sig), self.instance)
            pipe.set(self.keys.signal(sig.level_name, sig.ts), payload, ex=TTL_SIGNAL_S)
            pipe.zadd(self.keys.signals_history, {payload: sig.ts})
            pipe.publish(self.keys.signals_channel, payload)
            newest_signal_ts = max(newest_signal_ts, sig.ts)
        # age is measured on the engine clock so replayed (old) signals are kept too
        pipe.zremrangebyscore(
            self.keys.signals_history, "-inf", f"({newest_signal_ts - self.config.history_max_age_s}"
        )
        pipe.zremrangebyrank(self.keys.signals_history, 0, -(self.config.history_max + 1))
        t0 = time.perf_counter()
        results = await pipe.execute(raise_on_error=False)
        self._own_latency.append(time.perf_counter() - t0)
        self._count_refusals(results)
        queue.forget_written({}, 0, signals[-1][0])
        self.published += len(signals)

    def _count_error(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = describe_failure(exc, self._url).reason

    def _on_error(self, exc: BaseException) -> None:
        """Count a connection-level failure and move connected -> reconnecting -> down."""
        self.errors += 1
        message = describe_failure(exc, self._url).reason
        self.last_error = message
        now = time.monotonic()
        if self.state == "connected":
            self._lost_since = now
            self.state = "reconnecting"
            log.warning("redis %s: connection lost: %s (reconnecting in the background)", self.display, message)
        elif self.state == "reconnecting":
            if self._lost_since is not None and now - self._lost_since >= DOWN_AFTER_S:
                self.state = "down"
                log.warning("redis %s: still unreachable: %s", self.display, message)
        elif self.errors == 1:
            log.warning("redis %s: cannot connect: %s (retrying in the background)", self.display, message)

    def _stage_metrics(self) -> None:
        """Turn the latest snapshot into coalesced metric writes (latest wins per key)."""
        snap = self._latest_snapshot
        if snap is None or not self._snapshot_dirty:
            return
        self._snapshot_dirty = False
        put = self.queue.put_metric
        for key, value, ttl in snapshot_metrics(snap, self.keys, self.instance):
            put(MetricWrite(key, value, ttl))
        for stage, view in snap.latency.items():
            put(MetricWrite(self.keys.latency, latency_payload(view, snap.ts, self.instance), field=stage))

    async def _flush(self) -> bool:
        """One pipelined round trip. Returns True when events are still waiting."""
        client = self._client
        assert client is not None
        self._stage_metrics()
        queue = self.queue
        pipe = client.pipeline(transaction=False)
        metric_seqs: dict[str, int] = {}
        for ident, (seq, w) in queue.metrics.items():
            metric_seqs[ident] = seq
            if w.field is None:
                pipe.set(w.key, w.value, ex=w.ttl)
            else:
                pipe.hset(w.key, w.field, w.value)
        # params before events: a remote viewer reading the first events already finds them
        params_sent = False
        if self._params_dirty and self._params_payload is not None:
            pipe.set(self.keys.params, self._params_payload)
            params_sent = True
        last_event_seq = 0
        n_events = 0
        batch_limit = MAX_EVENTS_PER_CLOSING_FLUSH if self._closing else MAX_EVENTS_PER_FLUSH
        for seq, ev in queue.events:
            if n_events >= batch_limit:
                break
            fields: dict[Any, Any] = stream_entry(ev, self.instance)  # redis-py's field type is invariant
            pipe.xadd(self.keys.events, fields, maxlen=self.config.stream_maxlen, approximate=True)
            last_event_seq = seq
            n_events += 1
        now = time.monotonic()
        heartbeat = self._closing or now - self._last_heartbeat >= HEARTBEAT_EVERY_S
        heartbeat_at = -1
        if heartbeat:
            self._add_own_latency(pipe)
            heartbeat_at = len(pipe)
            # SET ... GET: the value it replaces tells whether another run wrote it meanwhile
            pipe.set(
                self.keys.heartbeat,
                heartbeat_payload(
                    self._latest_snapshot,
                    version=__version__,
                    started_wall=self._started_wall,
                    now_wall=time.time(),
                    sink={k: v for k, v in self.stats().items() if k not in ("server", "last_error")},
                    instance=self.instance,
                ),
                ex=TTL_HEARTBEAT_S,
                get=True,
            )
        if len(pipe) == 0:
            return False
        t0 = time.perf_counter()
        # a command the server refuses (OOM, WRONGTYPE) is counted, not retried for ever;
        # connection failures still raise and keep everything queued
        results = await pipe.execute(raise_on_error=False)
        self._own_latency.append(time.perf_counter() - t0)
        self._count_refusals(results)
        queue.forget_written(metric_seqs, last_event_seq, 0)
        self.events_written += n_events
        if params_sent:
            self._params_dirty = False
        if heartbeat:
            self._last_heartbeat = now
            self._check_replaced_heartbeat(results[heartbeat_at])
        return len(queue.events) > 0

    def _check_replaced_heartbeat(self, previous: Any) -> None:
        """Another instance wrote our prefix's heartbeat since our last one: two writers
        (one started alongside, or one that does not check). Counted and logged (at most
        once a minute); the payloads' `instance` fields tell readers which is which."""
        if not isinstance(previous, bytes | str):
            return
        try:
            other = msgspec.json.decode(previous).get("instance")
        except (msgspec.DecodeError, AttributeError):
            return
        if other == self.instance:
            return
        self.conflicts += 1
        now = time.monotonic()
        if now - self._last_conflict_log >= 60.0 or self.conflicts == 1:
            self._last_conflict_log = now
            log.warning(
                "redis %s: another cascade-tui (instance %s) also writes under prefix %r: their keys overwrite "
                "each other; give each run its own --redis-prefix",
                self.display, printable(str(other or "unknown")), self.keys.prefix,
            )  # fmt: skip

    async def _claim(self) -> bool:
        """Before the first write: is this prefix already another live run's? Then publish
        nothing (and say so); else go ahead. An error while checking is not a refusal."""
        if not self.check_other_writers:
            self._claim_decided.set()
            return True
        client = self._client
        assert client is not None
        try:
            other = await other_live_writer(client, self.keys, self.instance)
        except REDIS_ERRORS:
            raise_if_cancelling()
            other = None
        if other is not None:
            self.refused_by = other
            self.state = "refused"
            self.last_error = f"prefix {self.keys.prefix!r} is in use by {printable(other.describe())}"
            self.queue = OutboundQueue(self.config.queue_size)  # nothing queued will ever go out
            log.warning(
                "redis %s: not publishing: another cascade-tui (%s) is publishing under prefix %r on this server; "
                "give this run its own --redis-prefix",
                self.display, printable(other.describe()), self.keys.prefix,
            )  # fmt: skip
            await self._drop_client()
        self._claim_decided.set()
        self._signal_wake.set()
        return other is None

    def _count_refusals(self, results: list[Any]) -> None:
        refused = [r for r in results if isinstance(r, Exception)]
        if refused:
            self.errors += len(refused)
            self.last_error = scrub_secrets(f"{type(refused[0]).__name__}: {refused[0]}", self._url)
            log.warning("redis %s: %d command(s) refused: %s", self.display, len(refused), self.last_error)

    def _add_own_latency(self, pipe: Any) -> None:
        if not self._own_latency:
            return
        values = sorted(self._own_latency)
        ts = self._latest_snapshot.ts if self._latest_snapshot is not None else time.time()
        view = LatencyView(
            p50_ms=(percentile(values, 0.5, is_sorted=True) or 0.0) * 1000,
            p99_ms=(percentile(values, 0.99, is_sorted=True) or 0.0) * 1000,
            n=len(values),
        )
        pipe.hset(self.keys.latency, OWN_LATENCY_STAGE, latency_payload(view, ts, self.instance))
