"""Remote viewer (`--source redis`): the normalized events a headless ingester publishes.

XREAD BLOCK on `cascade:events` from now ("$", resolved once to a concrete id so nothing is
skipped across a reconnect) or from a given id ("0" = everything retained). Entries are
decoded into model events and yielded as batches; the pipeline feeds them to its own engine,
so with the same params the viewer raises the same signals as the ingester.

Once a second it also reads `cascade:params` (the ingester's thresholds: handed to
`on_params`, which the runtime wires to `Pipeline.set_params`) and `cascade:heartbeat`
(venue connection states, shown as this source's feed status).
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
from redis.exceptions import RedisError

from cascade_tui.backoff import Backoff
from cascade_tui.engine.params import EngineParams
from cascade_tui.model import Event
from cascade_tui.redaction import redact_url
from cascade_tui.redis_client import describe_failure, make_client
from cascade_tui.redis_schema import RedisKeys, decode_params, decode_stream_entry
from cascade_tui.sources.base import FeedStatus, Item, Source

log = logging.getLogger(__name__)

BLOCK_MS = 500
READ_COUNT = 2000
POLL_STATE_S = 1.0
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 3.0  # must exceed BLOCK_MS
RECONNECT_BACKOFF = Backoff(base_s=0.2, cap_s=2.0, jitter=0.5)
REDIS_ERRORS = (RedisError, OSError, TimeoutError)


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
        self.state = "connecting"  # connecting live reconnecting
        self.last_id: str | None = None
        self.entries = 0
        self.decode_errors = 0
        self.errors = 0
        self.reconnects = 0
        self.params_version: int | None = None
        self.last_error = ""
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
                st.state, st.detail = "reconnecting", f"redis {self.state}"
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
        }

    async def close(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    # ------------------------------------------------------------------ reading

    async def batches(self) -> AsyncIterator[list[Item]]:
        attempt = 0
        while not self._closed:
            try:
                if self._client is None:
                    await self._connect()
                    attempt = 0
                await self._poll_state()
                batch = await self._read()
            except REDIS_ERRORS as exc:
                await self._on_error(exc)
                attempt += 1
                await asyncio.sleep(RECONNECT_BACKOFF.delay(attempt))
                continue
            if batch:
                if self.params_version is None and self.follow_params:
                    # apply the ingester's params before its first events reach our engine
                    self._last_state_poll = 0.0
                    with contextlib.suppress(*REDIS_ERRORS):
                        await self._poll_state()
                yield batch

    async def _connect(self) -> None:
        client = make_client(self._url, connect_timeout_s=CONNECT_TIMEOUT_S, command_timeout_s=COMMAND_TIMEOUT_S)
        try:
            await client.ping()
            if self.last_id is None:
                self.last_id = await self._resolve_start(client)
        except BaseException:
            with contextlib.suppress(Exception):
                await client.aclose()
            raise
        if self.state == "reconnecting":
            self.reconnects += 1
        self._client = client
        self.state = "live"
        self._last_state_poll = 0.0

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
        failure = describe_failure(exc, self._url)
        self.last_error = failure.reason
        if self.state == "live":
            log.warning("redis source %s: %s (reconnecting)", self.display, self.last_error)
        elif self.errors == 1 or failure.kind == "auth":
            # never silent: the first failure, and every refused password, is in the log
            log.error("redis source %s: %s (retrying)", self.display, self.last_error)
        if self.state != "connecting":
            self.state = "reconnecting"
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _read(self) -> list[Item]:
        client = self._client
        assert client is not None and self.last_id is not None
        response = await client.xread({self.keys.events: self.last_id}, count=READ_COUNT, block=BLOCK_MS)
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

    async def _poll_state(self) -> None:
        """Params and heartbeat, at most once a second (cheap: one MGET)."""
        now = time.monotonic()
        if now - self._last_state_poll < POLL_STATE_S:
            return
        self._last_state_poll = now
        client = self._client
        assert client is not None
        raw_params, raw_heartbeat = await client.mget(self.keys.params, self.keys.heartbeat)
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
