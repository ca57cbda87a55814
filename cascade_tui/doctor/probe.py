"""The doctor's run: each selected venue through the live path, watched channel by channel.

Nothing here is a second client. The venue's plan comes from `LiveSource.prepare()` (same
metadata, same SubscribeRequest, same Subscriptions and REST polls as a live run); every
WebSocket goes through `feeds.connection.Connection`, every REST poll through
`feeds.polling`, every frame through the venue's own parser. What the doctor adds is
accounting per channel (one WebSocket subscription or one REST endpoint): connect result,
subscribe answers, frames, parse results, the first event of each kind, and the venue clock.

A channel is *settled* when it has shown what it can within the run:
  - WebSocket: a normalised event arrived after the subscription was acknowledged (or on a
    venue that subscribes in the URL); or it was acknowledged (URL subscriptions: connected)
    and then stayed quiet for `quiet_s` (a liquidation-only link in a calm market); or it
    failed for good (blocked, refused subscription, or `give_up_after` failed attempts
    without ever connecting).
  - REST: one body arrived, or one request failed (pollers back off far beyond a run), or
    the venue's shared gate holds it back after another endpoint was blocked.
The run ends when every channel is settled, or after `seconds`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from cascade_tui.config import VenueConfig
from cascade_tui.doctor.acks import ACK, subscribe_reply
from cascade_tui.feeds import make_parser
from cascade_tui.feeds.base import META_CHANNEL, FrameParser
from cascade_tui.feeds.connection import BLOCKED, DISABLED, Backoff, Connection, ConnectionOptions
from cascade_tui.feeds.failure import BLOCKED as FAILURE_BLOCKED
from cascade_tui.feeds.failure import classify_failure
from cascade_tui.feeds.metadata import (
    SOURCES,
    VenueMetadata,
    bundled_instruments,
    default_cache_dir,
    fetch_venue,
    read_cache,
)
from cascade_tui.feeds.polling import Poller, PollerGroup, make_pollers
from cascade_tui.model import Event, RawFrame
from cascade_tui.sinks.recorder import RecorderSink
from cascade_tui.sources.live import LiveSource, VenuePlan

MAX_CLOCK_SAMPLES = 2000  # per channel: enough for a median, bounded for a flood


@dataclass
class DoctorOptions:
    venues: Sequence[str]
    seconds: float = 30.0
    config: VenueConfig = field(default_factory=VenueConfig)
    symbols: Sequence[str] | None = None
    record: str | None = None
    quiet_s: float = 10.0  # an acknowledged link silent this long is settled ("quiet")
    give_up_after: int = 3  # failed attempts without a connect that settle a channel
    metadata_timeout_s: float = 8.0
    # tests: local servers (ConnectionOptions.url_rewrite) and an HTTP transport for REST
    connection_options: ConnectionOptions | None = None
    http_transport: httpx.AsyncBaseTransport | None = None
    cache_dir: Path | None = None


@dataclass
class MetadataResult:
    venue: str
    source: str = "fallback"  # live (fetched now) | fallback (cache or shipped table)
    origin: str = "none"  # network | cache | bundled | none
    instruments: int = 0
    perpetuals: int = 0
    result: str = "ok"  # ok, or the failure kind of the request (feeds/failure.py)
    detail: str = ""
    elapsed_s: float = 0.0
    metadata: VenueMetadata | None = None


def _gate_closed(poller: Poller) -> bool:
    return poller.gate.resume_at > time.monotonic() and bool(poller.gate.reason)


@dataclass
class ChannelProbe:
    """What one WebSocket subscription or one REST endpoint of a venue did during the run."""

    venue: str
    name: str  # the subscription's name ("market", "linear-0") or "rest:<endpoint>"
    kind: str  # ws | rest
    url: str
    expects_ack: bool = False  # the venue answers subscribe messages (not URL subscriptions)
    connection: Connection | None = None
    pollers: list[Poller] = field(default_factory=list)  # REST: one per symbol of the endpoint
    siblings: list[Poller] = field(default_factory=list)  # REST: every poller of the venue (one shared gate)
    frames: int = 0
    parsed: int = 0
    ignored: int = 0
    parse_errors: int = 0
    rejected: int = 0  # events or rows dropped by validation
    stale: int = 0  # rows far older than the venue clock allows (snapshots, replays), counted apart
    duplicates: int = 0  # liquidations the venue sent twice
    last_parse_error: str = ""
    acks: int = 0
    ack_error: str = ""
    acked_at: float | None = None  # monotonic
    connected_at: float | None = None  # monotonic, first seen connected (URL subscriptions: the "ack")
    events: dict[str, int] = field(default_factory=dict)
    first: dict[str, Event] = field(default_factory=dict)
    offsets: list[float] = field(default_factory=list)  # receive time - venue time, seconds
    last_event_at: float | None = None  # monotonic
    settled_at: float | None = None  # monotonic, seconds into the run when it was first settled

    def paused(self) -> bool:
        """REST: the venue's pollers are held back (blocked or rate limited on another endpoint)."""
        return any(_gate_closed(p) for p in self.pollers) and not any(
            p.status.frames or p.status.errors for p in self.pollers
        )

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url

    def clock_offset_s(self) -> float | None:
        return statistics.median(self.offsets) if self.offsets else None

    def settled(self, now: float, quiet_s: float, give_up_after: int) -> bool:
        if self.kind == "rest":
            # each poller answered, or is held back by the venue's gate (another endpoint failed)
            return all(p.status.frames or p.status.errors or _gate_closed(p) for p in self.pollers)
        conn = self.connection
        if conn is None:
            return True
        st = conn.status
        if self.ack_error or st.state in (BLOCKED, DISABLED):
            return True
        if st.connects == 0:
            return st.attempt >= give_up_after
        if self.connected_at is None:
            self.connected_at = now
        acked = self.acks > 0 or not self.expects_ack
        if acked and self.events:
            return True
        # a subscription in the URL has no answer: being connected is all the venue confirms
        quiet_since = self.acked_at if self.expects_ack else self.connected_at
        return quiet_since is not None and now - quiet_since >= quiet_s


@dataclass
class VenueProbe:
    venue: str
    name: str = ""
    disabled: str = ""  # why the venue could not be planned
    metadata: MetadataResult | None = None
    channels: list[ChannelProbe] = field(default_factory=list)
    parser: FrameParser | None = None

    @property
    def parsed_frames(self) -> int:
        return sum(ch.parsed for ch in self.channels)


@dataclass
class DoctorRun:
    started: float
    seconds: float
    venues: dict[str, VenueProbe]
    duration_s: float = 0.0
    stopped_early: bool = False
    interrupted: bool = False  # Ctrl+C: the report covers what was seen until then
    record_path: str | None = None
    recorded_frames: int = 0
    record_error: str = ""


# ----------------------------------------------------------------------------- metadata


async def probe_metadata(
    venue: str, client: httpx.AsyncClient, cache_dir: Path, timeout_s: float
) -> MetadataResult:
    """The venue's instrument list fetched now (never from the cache: the point is to see
    whether REST works); on failure the fallback a live run would use, and why."""
    out = MetadataResult(venue)
    started = time.monotonic()
    if venue not in SOURCES:
        out.result, out.detail = "error", "no instrument endpoint known"
        out.metadata = VenueMetadata(venue, instruments=bundled_instruments(venue), source="bundled")
    else:
        try:
            meta = await asyncio.wait_for(fetch_venue(venue, client), timeout_s)
        except Exception as exc:
            out.result = classify_failure(exc)
            text = str(exc) or type(exc).__name__
            out.detail = f"{type(exc).__name__}: {text[:200]}" if str(exc) else text
            cached = read_cache(cache_dir, venue)
            if cached is not None:
                cached.source = "stale-cache"
                out.metadata = cached
            else:
                out.metadata = VenueMetadata(venue, instruments=bundled_instruments(venue), source="bundled")
        else:
            out.source = "live"
            out.metadata = meta
    meta = out.metadata
    out.origin = {"network": "network", "cache": "cache", "stale-cache": "cache", "bundled": "bundled"}.get(
        meta.source, "none"
    )
    if not meta.instruments:
        out.origin = "none"
    out.instruments = len(meta.instruments)
    out.perpetuals = len(meta.perpetuals)
    out.elapsed_s = time.monotonic() - started
    return out


# ----------------------------------------------------------------------------- the run


def default_connection_options(seconds: float) -> ConnectionOptions:
    """Live defaults, with retries and timeouts sized for a run of `seconds`."""
    return ConnectionOptions(
        backoff=Backoff(base_s=0.5, cap_s=4.0),
        open_timeout_s=max(2.0, min(10.0, seconds / 3.0)),
    )


class Doctor:
    """Runs the probes; `run()` returns a DoctorRun (the report is built from it)."""

    def __init__(self, options: DoctorOptions) -> None:
        self.options = options
        self.recorder: RecorderSink | None = None
        self._conn_options = options.connection_options or default_connection_options(options.seconds)
        self._connections: list[Connection] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._poller_groups: list[PollerGroup] = []

    async def run(self) -> DoctorRun:
        opts = self.options
        started = time.monotonic()
        venues = list(dict.fromkeys(opts.venues))
        report = DoctorRun(
            started=time.time(), seconds=opts.seconds, venues={v: VenueProbe(v) for v in venues}
        )
        client = httpx.AsyncClient(
            timeout=opts.metadata_timeout_s, follow_redirects=True, transport=opts.http_transport
        )
        try:
            source = await self._plan(report, client)
            if opts.record:
                parser_metadata = {
                    v: p.parser.metadata for v, p in report.venues.items() if p.parser is not None
                }
                await self._start_recording(opts.record, venues, parser_metadata)
                report.record_path = opts.record
            for venue, plan in source.plans.items():
                self._start_websockets(report.venues[venue], plan)
                self._start_polls(report.venues[venue], plan, client)
            try:
                report.stopped_early = await self._wait(report, started)
            except asyncio.CancelledError:  # Ctrl+C in asyncio.run cancels this (the main) task once
                task = asyncio.current_task()
                if task is None or task.uncancel() > 0:
                    raise  # cancelled more than once: do not swallow it
                report.interrupted = True
        finally:
            await self._stop(client)
            await self._stop_recording(report)
            report.duration_s = time.monotonic() - started
        return report

    async def _plan(self, report: DoctorRun, client: httpx.AsyncClient) -> LiveSource:
        """Instrument lists fetched now, then each venue planned by the live source exactly as a
        live run would plan it, with the parser a live pipeline would build (Pipeline.parser)."""
        opts = self.options
        venues = list(report.venues)
        cache_dir = opts.cache_dir or default_cache_dir()
        results = await asyncio.gather(
            *(probe_metadata(v, client, cache_dir, opts.metadata_timeout_s) for v in venues)
        )
        metadata: dict[str, VenueMetadata] = {}
        for result in results:
            report.venues[result.venue].metadata = result
            if result.metadata is not None:
                metadata[result.venue] = result.metadata
        source = LiveSource(
            venues,
            opts.config,
            opts.symbols,
            metadata=metadata,
            options=self._conn_options,
            http_client=client,
        )
        await source.prepare()
        for venue in venues:
            probe = report.venues[venue]
            if venue in source.disabled:
                probe.disabled = source.disabled[venue]
                continue
            probe.name = source.plans[venue].spec.name
            probe.parser = make_parser(venue, source.parser_metadata.get(venue) or bundled_instruments(venue))
        return source

    def _start_websockets(self, probe: VenueProbe, plan: VenuePlan) -> None:
        parser = probe.parser
        assert parser is not None  # planned venues have one
        for subscription in plan.subscriptions:
            channel = ChannelProbe(
                probe.venue,
                subscription.name or "ws",
                "ws",
                subscription.url,
                expects_ack=bool(subscription.messages),
            )
            conn = Connection(
                plan.spec, subscription, self._emitter(probe, channel), on_reconnect=parser.reset,
                options=self._conn_options,
            )  # fmt: skip
            channel.connection = conn
            probe.channels.append(channel)
            self._connections.append(conn)
            self._tasks.append(asyncio.create_task(conn.run(), name=f"doctor {conn.label}"))

    def _start_polls(self, probe: VenueProbe, plan: VenuePlan, client: httpx.AsyncClient) -> None:
        if not plan.polls:
            return
        # one row per endpoint: the polls of one endpoint for several symbols share it
        rest: dict[str, ChannelProbe] = {}
        for poll in plan.polls:
            if poll.name not in rest:
                rest[poll.name] = ChannelProbe(probe.venue, f"rest:{poll.name}", "rest", poll.url)
                probe.channels.append(rest[poll.name])
        group = make_pollers(
            probe.venue,
            plan.polls,
            client,
            self._rest_emitter(probe, rest),
            blocked_retry_s=self._conn_options.blocked_retry_s,
            stagger_s=min(2.0, self.options.seconds / 10.0),
        )
        for poller in group.pollers:
            rest[poller.poll.name].pollers.append(poller)
        for channel in rest.values():
            channel.siblings = list(group.pollers)
        group.start()
        self._poller_groups.append(group)

    async def _stop(self, client: httpx.AsyncClient) -> None:
        await asyncio.gather(*(c.close() for c in self._connections), return_exceptions=True)
        for group in self._poller_groups:
            await group.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await client.aclose()

    async def _wait(self, report: DoctorRun, started: float) -> bool:
        """Until every channel is settled (True) or the time is up (False)."""
        opts = self.options
        deadline = started + opts.seconds
        channels = [ch for probe in report.venues.values() for ch in probe.channels]
        while True:
            now = time.monotonic()
            for ch in channels:
                if ch.settled_at is None and ch.settled(now, opts.quiet_s, opts.give_up_after):
                    ch.settled_at = now - started
            if all(ch.settled_at is not None for ch in channels):
                return True
            if now >= deadline:
                return False
            await asyncio.sleep(min(0.05, max(0.0, deadline - now)))

    # ------------------------------------------------------------------ frames

    def _emitter(self, probe: VenueProbe, channel: ChannelProbe) -> Callable[[RawFrame], None]:
        def emit(frame: RawFrame) -> None:
            self._account(probe, channel, frame)

        return emit

    def _rest_emitter(
        self, probe: VenueProbe, channels: dict[str, ChannelProbe]
    ) -> Callable[[RawFrame], None]:
        def emit(frame: RawFrame) -> None:
            name = frame.channel.removeprefix("rest:")
            channel = channels.get(name)
            if channel is not None:
                self._account(probe, channel, frame)

        return emit

    def _account(self, probe: VenueProbe, channel: ChannelProbe, frame: RawFrame) -> None:
        if self.recorder is not None:
            self.recorder.on_frame(frame)
        channel.frames += 1
        parser = probe.parser
        if parser is None:
            return
        stats = parser.stats
        ignored, errors, rejected = stats.ignored, stats.parse_errors, stats.rejected
        stale, duplicates = stats.stale, stats.duplicates
        events = parser.parse(frame.data, frame.ts, frame.channel)
        channel.rejected += stats.rejected - rejected
        channel.stale += stats.stale - stale
        channel.duplicates += stats.duplicates - duplicates
        if stats.parse_errors > errors:
            channel.parse_errors += stats.parse_errors - errors
            channel.last_parse_error = stats.last_error
        elif stats.ignored > ignored:
            channel.ignored += 1
        else:
            channel.parsed += 1
        if channel.kind == "ws" and (
            channel.acks == 0 or stats.ignored > ignored or stats.parse_errors > errors
        ):
            reply = subscribe_reply(frame.data)
            if reply is not None:
                verdict, why = reply
                if verdict == ACK:
                    channel.acks += 1
                    if channel.acked_at is None:
                        channel.acked_at = time.monotonic()
                elif not channel.ack_error:
                    channel.ack_error = why or "refused"
        if not events:
            return
        channel.last_event_at = time.monotonic()
        for ev in events:
            kind = str(type(ev).__struct_config__.tag)  # every event kind is tagged
            channel.events[kind] = channel.events.get(kind, 0) + 1
            channel.first.setdefault(kind, ev)
            if ev.event_ts > 0 and len(channel.offsets) < MAX_CLOCK_SAMPLES:
                channel.offsets.append(ev.recv_ts - ev.event_ts)

    # ------------------------------------------------------------------ recording

    async def _start_recording(
        self, path: str, venues: list[str], metadata: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """The project's recorder, fed the way a live pipeline feeds it: each venue's
        instrument metadata first (so a replay sizes contracts as this run did), then frames."""
        self.recorder = RecorderSink(path, header={"mode": "doctor", "venues": venues})
        await self.recorder.start()
        now = time.time()
        for venue in venues:
            if metadata.get(venue):
                data = msgspec.json.encode(metadata[venue]).decode()
                self.recorder.on_frame(RawFrame(now, venue, data, META_CHANNEL))

    async def _stop_recording(self, report: DoctorRun) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        try:
            await recorder.close()
        except OSError as exc:
            report.record_error = str(exc)
        report.recorded_frames = recorder.written
        if recorder.errors and not report.record_error:
            report.record_error = f"{recorder.errors} write error(s)"


def geo_blocked(channel: ChannelProbe) -> bool | None:
    """True when the venue answered 403/451; False when it answered otherwise; None when no
    HTTP answer was ever seen (DNS, refused, timeout: the question stays open)."""
    if channel.kind == "rest":
        # a channel held back by its venue's gate shares the answer that closed the gate
        statuses = [p.status for p in (channel.siblings if channel.paused() else channel.pollers)]
        if any(st.failure == FAILURE_BLOCKED for st in statuses):
            return True
        return False if any(st.frames or st.failure == "http" for st in statuses) else None
    conn = channel.connection
    if conn is None:
        return None
    if conn.status.failure == FAILURE_BLOCKED:
        return True
    return False if conn.status.connects or conn.status.failure == "http" else None
