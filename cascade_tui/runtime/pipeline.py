"""The pipeline: source -> parser -> engine -> sinks, on one asyncio loop.

Headless mode runs it as the main loop; the dashboard runs it in a thread worker with its
own loop and reads `latest_snapshot` (rebuilt ~8 times a second on the engine's loop, so the
UI never touches live engine state). Everything the UI asks of the engine goes through
`call()`, which hops onto the engine's loop thread-safely.

The per-frame loop (`process_batch`) does only what a frame needs: the sink hooks a sink
actually overrides (runtime/sink_hooks.py), one clock read per frame, and parse/engine
latency timed on one frame in LATENCY_SAMPLE_EVERY (signals are always timed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import msgspec

from cascade_tui.engine import Engine, EngineParams, Signal, Snapshot
from cascade_tui.engine.params import validate
from cascade_tui.feeds import make_parser
from cascade_tui.feeds.base import META_CHANNEL, FrameParser
from cascade_tui.feeds.metadata import bundled_instruments
from cascade_tui.model import Event, Mark, RawFrame, Trade
from cascade_tui.runtime.sink_hooks import SinkHooks
from cascade_tui.sinks.base import Sink
from cascade_tui.sources.base import FeedStatus, Source

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL_S = 0.0625  # twice the UI's 8 Hz, so every UI tick finds a fresh snapshot (~0.2 ms each)
PUBLISH_INTERVAL_S = 0.1  # sinks' on_snapshot (Redis metrics are coalesced to this)
# with no dashboard and no sink reading snapshots (`--no-ui` without Redis), the snapshot only
# dates the venues' health and the final stats: rebuilding it 16 times a wall second cost ~5 %
# of a fast replay's time (each build walks every asset's liquidation map)
HEADLESS_SNAPSHOT_INTERVAL_S = 1.0
SLICE = 256  # frames processed between two yields to the loop
# parse and engine latency are timed on one frame in this many (timing every frame, with two
# reservoir updates, cost more than the engine's per-event work); signals are always timed
LATENCY_SAMPLE_EVERY = 16
# a stopped reading loop normally ends at its next await; a library that swallows the cancel
# (redis-py can, inside a blocking read) is given this long, then its source is closed under it
STOP_GRACE_S = 2.0


class Pipeline:
    def __init__(
        self,
        source: Source,
        engine: Engine | None = None,
        sinks: Iterable[Sink] = (),
        *,
        duration_s: float | None = None,
        symbols: Iterable[str] | None = None,
        metadata: dict[str, dict[str, Any]] | None = None,
        on_signal: Callable[[Signal], None] | None = None,
        latency_sample_every: int = LATENCY_SAMPLE_EVERY,
    ) -> None:
        self.source = source
        self.engine = engine or Engine()
        self.sinks = list(sinks)
        self.duration_s = duration_s
        self.symbols = {s.upper() for s in symbols} if symbols else None
        self.metadata = metadata or {}
        self.parsers: dict[str, FrameParser] = {}
        self._unknown_venues: set[str] = set()
        self.unknown_venue_frames = 0
        self.latency_sample_every = max(1, latency_sample_every)
        self._sample_countdown = 1  # the first frame is timed
        self._hooks: SinkHooks | None = None
        self._end_ts: float | None = None  # first_ts + duration_s, once first_ts is known
        self.on_signal_hooks: list[Callable[[Signal], None]] = [on_signal] if on_signal else []
        self.first_ts: float | None = None
        self.frames = 0
        self.events = 0
        self.signals_emitted = 0
        self.wall_started: float | None = None
        self.wall_finished: float | None = None
        self.latest_snapshot: Snapshot | None = None
        self.final_feed_status: dict[str, FeedStatus] | None = None
        self._pending_meta: list[RawFrame] = []
        self._due_timer: asyncio.TimerHandle | None = None
        self._due_at = 0.0
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self._stop_requested = False
        self._last_snapshot_wall = 0.0
        self._last_publish_wall = 0.0
        # how often the snapshot is rebuilt while no sink reads it (a dashboard reads
        # `latest_snapshot` at 8 Hz; build_pipeline sets HEADLESS_SNAPSHOT_INTERVAL_S for --no-ui)
        self.snapshot_interval_s = SNAPSHOT_INTERVAL_S
        source.reconnect_hook = self._on_reconnect
        # async setup/teardown run on the pipeline's own loop (e.g. resolving Redis and
        # starting an embedded server, which must live and die with this loop)
        self.startup_hooks: list[Callable[[Pipeline], Awaitable[None]]] = []
        self.shutdown_hooks: list[Callable[[Pipeline], Awaitable[None]]] = []
        # what the status bar shows: {"source": label, "redis": display}
        self.info: dict[str, str] = {"source": source.label(), "redis": "off"}

    def _on_reconnect(self, venue: str) -> None:
        parser = self.parsers.get(venue)
        if parser is not None:
            parser.reconnected()  # resets, and marks where the new connection's replays end

    # ----------------------------------------------------------------- thread-safe controls

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) on the engine's loop (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            fn(*args)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        """Ask the pipeline to finish (from any thread); sinks are flushed and closed."""
        self._stop_requested = True
        self.call(self._stop.set)

    def set_params(self, params: EngineParams) -> None:
        """Validate now (raises ParamError in the caller's thread), apply on the engine loop."""
        validate(params)
        self.call(self._apply_params, params)

    def _apply_params(self, params: EngineParams) -> None:
        self.engine.set_params(params)
        snap = self._refresh_snapshot(force=True)
        version = snap.params_version if snap is not None else 0
        for hook in self._sink_hooks().on_params:
            hook(params, version)

    def _sink_hooks(self) -> SinkHooks:
        """The hooks the sinks override, rebound when the sink list changed (a startup hook
        adds the Redis sink)."""
        hooks = self._hooks
        if hooks is None or hooks.count != len(self.sinks):
            hooks = self._hooks = SinkHooks(self.sinks)
        return hooks

    # ----------------------------------------------------------------- running

    def parser(self, venue: str) -> FrameParser | None:
        p = self.parsers.get(venue)
        if p is None:
            if venue in self._unknown_venues:
                return None
            # live metadata when the source fetched it, else the tables shipped with the package
            metadata = self.metadata.get(venue) or bundled_instruments(venue)
            try:
                p = make_parser(venue, metadata)
            except (KeyError, ImportError, AttributeError):
                if len(self._unknown_venues) < 1000:  # a capture full of made-up names stays bounded
                    self._unknown_venues.add(venue)
                return None
            self.parsers[venue] = p
            if self.source.kind == "live" and metadata:
                # a recording starts each venue with the metadata in force, so its replay
                # sizes contracts exactly as this run did
                meta = RawFrame(0.0, venue, msgspec.json.encode(metadata).decode(), META_CHANNEL)
                self._pending_meta.append(meta)
        return p

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.wall_started = time.time()
        if self.source.kind == "live" and self.first_ts is None:
            # live market time is wall time: --duration counts from now, even if no frame arrives
            self.first_ts = self.wall_started
        if self._stop_requested:
            self._stop.set()
        started: list[Sink] = []
        try:
            for hook in self.startup_hooks:
                await hook(self)
            for sink in self.sinks:
                await sink.start()
                started.append(sink)
            # sinks learn the parameters in force before any signal (e.g. Redis cascade:params)
            version = self.engine.snapshot().params_version
            for params_hook in self._sink_hooks().on_params:
                params_hook(self.engine.params, version)
            housekeeping = asyncio.create_task(self._housekeeping())
            try:
                await self._consume()
            finally:
                housekeeping.cancel()
                if self._due_timer is not None:
                    self._due_timer.cancel()
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                self.error = exc
                log.exception("pipeline failed")
            raise
        finally:
            self.wall_finished = time.time()
            self._refresh_snapshot(force=True)
            # what each venue looked like while running (closing marks them all "done")
            self.final_feed_status = {
                v: msgspec.structs.replace(st) for v, st in self.source.feed_status().items()
            }
            await self.source.close()
            for sink in reversed(started):
                try:
                    await asyncio.wait_for(sink.close(), timeout=sink.close_timeout_s)
                except Exception:  # one sink failing to close must not stop the others
                    log.exception("closing sink %s failed", sink.name)
            for hook in self.shutdown_hooks:
                try:
                    await asyncio.wait_for(hook(self), timeout=10)
                except Exception:
                    log.exception("shutdown hook failed")
            self.finished.set()

    async def _consume(self) -> None:
        """Batches until the source ends or stop() is asked. The stop is watched by one waiter
        for the whole run (a task and a wait per batch cost ~20 µs, a frame's worth of work
        when live frames arrive one at a time); it cancels the reading loop at its next await."""
        reading = asyncio.ensure_future(self._read_batches())
        stop_wait = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({reading, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (reading, stop_wait):
                if not fut.done():
                    fut.cancel()
            await self._wait_for_reading_to_end(reading)
            stop_wait.cancel()
        if reading.done() and not reading.cancelled():
            error = reading.exception()
            if error is not None:
                raise error

    async def _wait_for_reading_to_end(self, reading: asyncio.Future[None]) -> None:
        """The cancelled reading loop, within bounds: a read that ignored the cancel is ended
        by closing the source (its connection fails the read); one that still hangs is left."""
        for attempt in range(2):
            await asyncio.wait({reading}, timeout=STOP_GRACE_S)
            if reading.done():
                return
            if attempt == 0:
                log.info("%s source ignored the stop; closing it under its read", self.source.kind)
                await self.source.close()
        log.warning("%s source still reading %.0f s after the stop; left behind", self.source.kind, 2 * STOP_GRACE_S)

    async def _read_batches(self) -> None:
        batches = self.source.batches()
        live = self.source.kind == "live"
        try:
            async for batch in batches:
                if self._stop.is_set() or await self._process_in_slices(batch):
                    break
                if live:
                    self._schedule_due_evaluation()
                if time.monotonic() - self._last_snapshot_wall >= SNAPSHOT_INTERVAL_S:
                    self._refresh_snapshot()  # returns at once until its own interval is due
        finally:
            aclose = getattr(batches, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(RuntimeError, StopAsyncIteration, asyncio.CancelledError):
                    await aclose()

    async def _process_in_slices(self, batch: list[RawFrame | Event]) -> bool:
        """A big batch is processed in slices with a yield between them, so sink tasks (the
        Redis signal writer) are not held behind thousands of frames."""
        if len(batch) <= SLICE:
            return self.process_batch(batch)
        for i in range(0, len(batch), SLICE):
            if self.process_batch(batch[i : i + SLICE]):
                return True
            await asyncio.sleep(0)
        return False

    def _schedule_due_evaluation(self) -> None:
        """Live: the engine defers a burst's evaluation to the end of its 100 ms slot; tick it
        then instead of waiting for the next frame, so a signal is never held by silence."""
        due = getattr(self.engine, "next_evaluation_ts", None)
        loop = self._loop
        if due is None or loop is None or (self._due_timer is not None and self._due_at <= due):
            return
        if self._due_timer is not None:
            self._due_timer.cancel()
        self._due_at = due
        self._due_timer = loop.call_later(max(0.0, due - time.time()), self._run_due_evaluation)

    def _run_due_evaluation(self) -> None:
        self._due_timer = None
        signals = self.engine.tick(max(time.time(), self._due_at))
        if signals:
            self._emit(signals)
        self._schedule_due_evaluation()

    def process_batch(self, batch: list[RawFrame | Event]) -> bool:
        """Feed one batch through parser and engine. Returns True when --duration is reached."""
        engine = self.engine
        tick = engine.tick
        process = engine.process
        perf = time.perf_counter
        symbols = self.symbols
        hooks = self._sink_hooks()
        frame_hooks = hooks.on_frame
        event_hooks = hooks.on_event
        parsers = self.parsers
        sample_every = self.latency_sample_every
        countdown = self._sample_countdown
        end_ts = self._end_ts
        frames = events_total = 0
        try:
            for item in batch:
                t0 = perf()
                countdown -= 1
                sampled = not countdown
                if sampled:
                    countdown = sample_every
                if type(item) is RawFrame:
                    frames += 1
                    parser = parsers.get(item.venue) or self.parser(item.venue)
                    if self._pending_meta:
                        self._record_metadata(item)
                    for frame_hook in frame_hooks:
                        frame_hook(item)
                    if parser is None:
                        self.unknown_venue_frames += 1
                        continue
                    ts = item.ts
                    events = parser.parse(item.data, ts, item.channel)
                    if sampled:
                        engine.record_latency("parse", perf() - t0)
                else:
                    event = cast(Event, item)  # a source yields raw frames or ready events
                    events = [event]
                    ts = event.recv_ts
                if end_ts is None:
                    if self.first_ts is None:
                        self.first_ts = ts
                    if self.duration_s is not None:
                        end_ts = self._end_ts = self.first_ts + self.duration_s
                if end_ts is not None and ts >= end_ts:
                    return True
                if sampled:
                    t1 = perf()
                signals = tick(ts)
                if symbols is None and not event_hooks:
                    events_total += len(events)
                    for ev in events:
                        out = process(ev)
                        if out:
                            signals.extend(out)
                else:
                    for ev in events:
                        # the BTC volatility engine needs BTC prices whatever the filter
                        if (
                            symbols is not None
                            and ev.asset not in symbols
                            and not (ev.asset == "BTC" and isinstance(ev, Trade | Mark))
                        ):
                            continue
                        events_total += 1
                        out = process(ev)
                        if out:
                            signals.extend(out)
                        for hook in event_hooks:
                            hook(ev)
                if sampled and events:
                    engine.record_latency("engine", (perf() - t1) / len(events))
                if signals:
                    self._emit(signals)
                    engine.record_latency("signal", perf() - t0)
        finally:
            self.frames += frames
            self.events += events_total
            self._sample_countdown = countdown
        return False

    def _record_metadata(self, before: RawFrame) -> None:
        for meta in self._pending_meta:
            stamped = RawFrame(before.ts, meta.venue, meta.data, meta.channel)
            for hook in self._sink_hooks().on_frame:
                hook(stamped)
        self._pending_meta.clear()

    def _emit(self, signals: list[Signal]) -> None:
        sink_hooks = self._sink_hooks().on_signal
        for sig in signals:
            self.signals_emitted += 1
            for hook in sink_hooks:
                hook(sig)
            for hook in self.on_signal_hooks:
                hook(sig)
        self.source.on_signal()

    def _refresh_snapshot(self, force: bool = False) -> Snapshot | None:
        now = time.monotonic()
        if not force and now - self._last_snapshot_wall < self._snapshot_interval():
            return self.latest_snapshot
        self._push_feed_status()
        try:
            snap = self.engine.snapshot()
        except Exception:
            log.exception("snapshot failed")
            return self.latest_snapshot
        self.latest_snapshot = snap
        self._last_snapshot_wall = now
        if force or now - self._last_publish_wall >= PUBLISH_INTERVAL_S:
            self._last_publish_wall = now
            for hook in self._sink_hooks().on_snapshot:
                hook(snap)
        return snap

    def _snapshot_interval(self) -> float:
        """Sinks that publish snapshots (Redis) get them at the full rate, whatever is set."""
        return SNAPSHOT_INTERVAL_S if self._sink_hooks().on_snapshot else self.snapshot_interval_s

    def _push_feed_status(self) -> None:
        wall = time.time()
        clock = self.latest_snapshot.ts if self.latest_snapshot else None
        live = self.source.kind == "live"
        for venue, st in self.source.feed_status().items():
            parser = self.parsers.get(venue)
            ref = wall if live else clock
            age = None if st.last_message_ts is None or ref is None else max(0.0, ref - st.last_message_ts)
            self.engine.set_feed_status(
                venue,
                state=st.state,
                state_detail=st.detail,
                last_message_age_s=age,
                frames=st.frames,
                parse_errors=parser.stats.parse_errors if parser else 0,
                reconnects=st.reconnects,
                failure=st.failure,
            )

    async def _housekeeping(self) -> None:
        """Keeps the snapshot fresh and, for live sources, the clock moving in silence
        (ticked at the snapshot interval)."""
        live = self.source.kind == "live"
        while True:
            await asyncio.sleep(SNAPSHOT_INTERVAL_S)
            if live and self.first_ts is not None:
                signals = self.engine.tick(time.time())
                if signals:
                    self._emit(signals)
                if self.duration_s is not None and time.time() - self.first_ts >= self.duration_s:
                    self._stop.set()
            self._refresh_snapshot()
