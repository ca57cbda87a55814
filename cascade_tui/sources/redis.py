"""Remote viewer (`--source redis`): what a headless ingester publishes.

XREAD BLOCK on `cascade:events` from now ("$", resolved once to a concrete id so nothing is
skipped across a reconnect) or from a given id ("0" = everything retained). Entries are
decoded into model events and yielded as batches; the pipeline feeds them to its own engine
for the tape, velocities and venue panels.

That stream is lossy (the writer drops events before signals under load), so the signals,
levels, scores and regime the viewer shows are the ingester's own: it subscribes to
`cascade:signals`, loads `cascade:signals:history` when it connects (again after a
reconnect, for what it missed), and reads `cascade:score:*` and `btc:vol:current` once a
second; `overlay_snapshot` lays them over the local snapshot (sources/redis_view.py).

Once a second it also reads `cascade:params` (the ingester's thresholds: handed to
`on_params`, which the runtime wires to `Pipeline.set_params`) and `cascade:heartbeat`
(venue connection states, shown as this source's feed status).

A failure is classified as every Redis client's is (redis_client.describe_failure):
unreachable (refused, host not found, timed out) or refused credentials, so the dashboard
can say which.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from cascade_tui.backoff import Backoff
from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.types import Signal, Snapshot
from cascade_tui.model import Event
from cascade_tui.redaction import redact_url, scrub_secrets
from cascade_tui.redis_client import REDIS_ERRORS, describe_failure, make_client, raise_if_cancelling
from cascade_tui.redis_schema import RedisKeys, decode_params, decode_stream_entry
from cascade_tui.sources.base import FeedStatus, Item, Source
from cascade_tui.sources.redis_view import (
    MAX_SIGNALS,
    RemoteView,
    decode_payload,
    decode_signal,
    merge_signals,
    overlay,
)

log = logging.getLogger(__name__)

BLOCK_MS = 250  # also how long a published signal may wait before the viewer drains it
READ_COUNT = 2000
SCAN_COUNT = 500
POLL_STATE_S = 1.0
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 3.0  # must exceed BLOCK_MS
RECONNECT_BACKOFF = Backoff(base_s=0.2, cap_s=2.0, jitter=0.5)


# the viewer's connection state for each kind of failure (redis_client.describe_failure)
_STATE_OF_KIND = {"auth": "auth failed", "unreachable": "unreachable", "timeout": "unreachable"}


class RedisSource(Source):
    kind = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = "",
        start_id: str = "$",
        *,
        display: str = "",
        follow_params: bool = True,
        on_params: Callable[[EngineParams], None] | None = None,
    ) -> None:
        self._url = url
        self.keys = RedisKeys(prefix)
        self.start_id = start_id
        self.display = display or redact_url(url)
        self.follow_params = follow_params
        self.on_params = on_params
        self.state = "connecting"  # connecting live reconnecting unreachable "auth failed" error
        self.last_id: str | None = None
        self.entries = 0
        self.decode_errors = 0
        self.errors = 0
        self.reconnects = 0
        self.params_version: int | None = None
        self.last_error = ""
        self.reason = ""  # the classified last failure, for the dashboard
        self.remote = RemoteView()  # the ingester's own signals, scores and regime
        self._pubsub: PubSub | None = None
        self._was_live = False
        self._overlaid: tuple[int, int, Snapshot | None] | None = None
        self._status: dict[str, FeedStatus] = {}
        self._ingester_venues: dict[str, dict[str, Any]] = {}
        self._client: aioredis.Redis | None = None
        self._closed = False
        self._last_state_poll = 0.0

    def label(self) -> str:
        return f"redis {self.display}"

    def feed_status(self) -> dict[str, FeedStatus]:
        for venue, st in self._status.items():
            remote = self._ingester_venues.get(venue)
            if self.state != "live":
                st.state, st.detail = "reconnecting", f"redis {self.reason or self.state}"
            elif remote is not None:
                st.state = str(remote.get("state", "live"))
                st.detail = f"via redis: {remote.get('detail') or st.state}"
                st.reconnects = int(remote.get("reconnects") or 0)
            else:
                st.state, st.detail = "live", "via redis"
        return self._status

    def progress(self) -> dict[str, Any]:
        return {"ts": None, "start": None, "end": None, "speed": 1.0, "paused": False}

    def stats(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "server": self.display,
            "entries": self.entries,
            "decode_errors": self.decode_errors,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "last_id": self.last_id,
            "params_version": self.params_version,
            "last_error": self.last_error,
            "reason": self.reason,
            "signals": len(self.remote.signals),
        }

    def overlay_snapshot(self, local: Snapshot | None, now_ts: float) -> Snapshot | None:
        """The local snapshot with the ingester's signals, scores and regime laid over it
        (cached: the same inputs give the same object, so an unchanged frame is not redrawn)."""
        remote = self.remote
        cached = self._overlaid
        if cached is not None and cached[0] == id(local) and cached[1] == remote.version:
            return cached[2]
        snap = overlay(local, remote, now_ts)
        self._overlaid = (id(local), remote.version, snap)
        return snap

    async def close(self) -> None:
        self._closed = True
        await self._drop_client()

    async def _drop_client(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    # ------------------------------------------------------------------ reading

    async def batches(self) -> AsyncIterator[list[Item]]:
        attempt = 0
        while not self._closed:
            raise_if_cancelling()  # a cancel redis-py swallowed whole still ends the loop
            try:
                if self._client is None:
                    await self._connect()
                    attempt = 0
                await self._poll_state()
                await self._drain_signals()
                batch = await self._read()
            except REDIS_ERRORS as exc:
                raise_if_cancelling()
                await self._on_error(exc)
                attempt += 1
                await asyncio.sleep(RECONNECT_BACKOFF.delay(attempt))
                continue
            if batch:
                if self.params_version is None and self.follow_params:
                    # apply the ingester's params before its first events reach our engine
                    self._last_state_poll = 0.0
                    try:
                        await self._poll_state()
                    except REDIS_ERRORS:
                        raise_if_cancelling()
                yield batch

    async def _connect(self) -> None:
        client = make_client(self._url, connect_timeout_s=CONNECT_TIMEOUT_S, command_timeout_s=COMMAND_TIMEOUT_S)
        pubsub: PubSub | None = None
        try:
            await client.ping()
            if self.last_id is None:
                self.last_id = await self._resolve_start(client)
            # subscribe before reading the history: a signal published in between is in one
            # or the other (duplicates are merged away), never in neither
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(self.keys.signals_channel)
            history: list[bytes] = await client.zrevrange(  # type: ignore[assignment]  # see _read
                self.keys.signals_history, 0, MAX_SIGNALS - 1
            )
        except BaseException:
            with contextlib.suppress(Exception):
                if pubsub is not None:
                    await pubsub.aclose()
                await client.aclose()
            raise
        if self._was_live:
            self.reconnects += 1
        self._was_live = True
        self._client = client
        self._pubsub = pubsub
        self.state = "live"
        self.reason = ""
        self._last_state_poll = 0.0
        self._add_signals(history)

    def _add_signals(self, raws: list[bytes]) -> None:
        signals: list[Signal] = []
        for raw in raws:
            try:
                signals.append(decode_signal(raw))
            except ValueError:
                self.decode_errors += 1
        if signals:
            self._set_remote(signals=merge_signals(self.remote.signals, signals))

    def _set_remote(self, **changes: Any) -> None:
        r = self.remote
        values = {"signals": r.signals, "scores": r.scores, "volatility": r.volatility, **changes}
        self.remote = RemoteView(version=r.version + 1, **values)  # one reference swap: the UI reads it

    async def _drain_signals(self) -> None:
        """Every signal published since the last call (the channel never blocks us)."""
        pubsub = self._pubsub
        if pubsub is None:
            return
        raws: list[bytes] = []
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.0)
            if message is None:
                break
            if message.get("type") == "message":
                raws.append(message["data"])
        self._add_signals(raws)

    async def _resolve_start(self, client: aioredis.Redis) -> str:
        """"$" -> the stream's current last id, so a reconnect resumes exactly there."""
        if self.start_id != "$":
            return self.start_id
        newest = await client.xrevrange(self.keys.events, count=1)
        if newest:
            entry_id = newest[0][0]
            return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        return "0-0"  # no stream yet: everything written from now on is new

    async def _on_error(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = scrub_secrets(f"{type(exc).__name__}: {exc}", self._url)
        failure = describe_failure(exc, self._url)
        state = _STATE_OF_KIND.get(failure.kind, "error")
        self.reason = failure.hint if state != "error" else failure.reason
        if self.state == "live":
            log.warning("redis source %s: %s (reconnecting)", self.display, self.last_error)
            self.state = "reconnecting"
        elif self.state != "reconnecting" or state == "auth failed":
            self.state = state
        await self._drop_client()

    async def _read(self) -> list[Item]:
        client = self._client
        assert client is not None and self.last_id is not None
        response: list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None = await client.xread(
            {self.keys.events: self.last_id}, count=READ_COUNT, block=BLOCK_MS
        )  # type: ignore[assignment]  # redis-py types every reply as a union of all shapes
        batch: list[Item] = []
        for _stream, entries in response or ():
            for entry_id, fields in entries:
                self.last_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                self.entries += 1
                try:
                    ev = decode_stream_entry(fields)
                except ValueError:
                    self.decode_errors += 1
                    continue
                self._note(ev)
                batch.append(ev)
        return batch

    def _note(self, ev: Event) -> None:
        st = self._status.get(ev.venue)
        if st is None:
            st = self._status[ev.venue] = FeedStatus(venue=ev.venue, state="live", detail="via redis")
        st.frames += 1
        st.last_message_ts = ev.recv_ts

    async def _read_scores(self, client: aioredis.Redis, volatility: dict[str, Any] | None) -> None:
        """Every `cascade:score:{asset}` still alive (5 s TTL: a stopped ingester's expire)."""
        prefix = self.keys.score("")
        names = [k async for k in client.scan_iter(match=prefix + "*", count=SCAN_COUNT)]
        scores: dict[str, dict[str, Any]] = {}
        if names:
            for name, raw in zip(names, await client.mget(names), strict=True):
                key = name.decode() if isinstance(name, bytes) else str(name)
                payload = decode_payload(raw)
                if payload is not None:
                    scores[key.removeprefix(prefix)] = payload
        if scores != self.remote.scores or volatility != self.remote.volatility:
            self._set_remote(scores=scores, volatility=volatility)

    async def _poll_state(self) -> None:
        """Params and heartbeat, at most once a second (cheap: one MGET)."""
        now = time.monotonic()
        if now - self._last_state_poll < POLL_STATE_S:
            return
        self._last_state_poll = now
        client = self._client
        assert client is not None
        raw_params, raw_heartbeat, raw_vol = await client.mget(
            self.keys.params, self.keys.heartbeat, self.keys.volatility
        )
        await self._read_scores(client, decode_payload(raw_vol))
        if raw_heartbeat is not None:
            try:
                venues = msgspec.json.decode(raw_heartbeat).get("venues", {})
                self._ingester_venues = venues if isinstance(venues, dict) else {}
            except (msgspec.DecodeError, AttributeError):
                self.decode_errors += 1
        if raw_params is None or not self.follow_params:
            return
        try:
            version, params = decode_params(raw_params)
        except ValueError:
            self.decode_errors += 1
            return
        if version != self.params_version:
            self.params_version = version
            if self.on_params is not None:
                try:
                    self.on_params(params)
                except Exception:  # bad remote params must not stop the viewer
                    self.decode_errors += 1
                    log.exception("redis source: applying the ingester's params failed")
