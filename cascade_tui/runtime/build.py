"""Builds the pipeline for one run from RunOptions: source, engine, sinks, Redis.

Shared by headless mode and the dashboard, so both run exactly the same engine and sinks.
Redis is resolved on the pipeline's own loop (a startup hook): an embedded redis-server
started for this run lives and dies with that loop.
"""

from __future__ import annotations

import logging
from functools import partial

from cascade_tui.engine import Engine
from cascade_tui.feeds import venue_ids
from cascade_tui.runtime.options import RunOptions
from cascade_tui.runtime.pipeline import HEADLESS_SNAPSHOT_INTERVAL_S, Pipeline
from cascade_tui.sinks.base import Sink
from cascade_tui.sources.base import Source

log = logging.getLogger(__name__)


def make_source(opts: RunOptions) -> Source:
    if opts.source == "demo":
        from cascade_tui.sources.demo import DemoSource

        return DemoSource(seed=opts.seed, speed=opts.speed, profile=opts.profile)
    if opts.source == "replay":
        from cascade_tui.sources.replay import ReplaySource

        return ReplaySource(opts.replay, speed=opts.speed)
    if opts.source == "redis":
        from cascade_tui.sources.redis import RedisSource

        return RedisSource(viewer_redis_url(opts), prefix=redis_prefix(opts), start_id=opts.redis_from)
    from cascade_tui.sources.live import LiveSource

    venues = opts.venues or list(opts.config.venues.enabled)
    return LiveSource(venues, opts.config.venues, symbols=opts.symbols)


def viewer_redis_url(opts: RunOptions) -> str:
    """The Redis a remote viewer reads: option, then CASCADE_REDIS_URL, then the config, then
    localhost (never an embedded server: a fresh one would hold no events)."""
    import os

    from cascade_tui.runtime.redis_server import ENV_VAR, LOCALHOST_URL, check_url

    for value, origin in (
        (opts.redis_url, "--redis-url"),
        (os.environ.get(ENV_VAR), ENV_VAR),
        (opts.config.redis.url, "redis.url"),
    ):
        if value and value.strip() and value.strip().lower() != "off":
            return check_url(value.strip(), origin)
    return LOCALHOST_URL


def check_viewer_redis(opts: RunOptions, timeout_s: float = 3.0) -> None:
    """A viewer (`--source redis`) shows nothing without its Redis: before anything starts,
    connect once and raise RedisUnavailable (auth refused, unreachable, TLS...: a clear,
    redacted message; the command line exits 2) instead of showing an empty, calm market."""
    import asyncio

    from cascade_tui.redis_client import connect

    async def probe() -> None:
        client = await connect(viewer_redis_url(opts), connect_timeout_s=timeout_s, command_timeout_s=timeout_s)
        await client.aclose()

    asyncio.run(probe())


def redis_prefix(opts: RunOptions) -> str:
    if opts.redis_prefix is not None:
        return opts.redis_prefix
    if opts.source == "replay":
        return opts.config.redis.prefix + opts.config.redis.replay_prefix
    return opts.config.redis.prefix


async def _attach_redis(opts: RunOptions, pipeline: Pipeline) -> None:
    from cascade_tui.runtime.redis_server import resolve_redis
    from cascade_tui.sinks.redis import RedisSink

    target = await resolve_redis(opts.redis_url, opts.config.redis)
    if target.kind == "off":
        pipeline.info["redis"] = target.display or "off"
        return
    prefix = redis_prefix(opts)
    pipeline.sinks.append(RedisSink(target.url, prefix=prefix, config=opts.config.redis, display=target.display))
    label = target.display if target.display.startswith(target.kind) else f"{target.kind}: {target.display}"
    pipeline.info["redis"] = label + (f" prefix {prefix!r}" if prefix else "")

    async def _close(_: Pipeline) -> None:
        await target.close()

    pipeline.shutdown_hooks.append(_close)


def history_sink(opts: RunOptions) -> Sink | None:
    """Live markets are kept by default; a demo, a replay or a Redis viewer is only stored
    when `--history-url` asks, so simulated, replayed or second-hand signals never mix into
    the real history by accident (the ingester a viewer watches keeps its own).

    Only a live run prunes old rows (by the wall clock): a replay's or a viewer's clock says
    nothing about how old the stored rows are."""
    from cascade_tui.sinks.history import history_sink_for

    if opts.history_url is None and opts.source in ("demo", "replay", "redis"):
        return None
    return history_sink_for(opts.history_url, opts.config.history.url, retention=opts.source == "live")


def build_pipeline(opts: RunOptions) -> Pipeline:
    cfg = opts.config
    engine = Engine(cfg.engine, venue_order=venue_ids())
    source = make_source(opts)
    sinks: list[Sink] = []
    stdout_sink = None
    if opts.no_ui:
        from cascade_tui.sinks.jsonl import JsonLinesSink

        stdout_sink = JsonLinesSink()
        sinks.append(stdout_sink)
    if opts.record:
        from cascade_tui.sinks.recorder import RecorderSink

        sinks.append(RecorderSink(opts.record, header={"mode": opts.source, "venues": opts.venues or []}))
    if cfg.alerts.webhooks or cfg.alerts.command:
        from cascade_tui.sinks.alerts import AlertSink

        sinks.append(AlertSink(cfg.alerts))
    history = history_sink(opts)
    if history is not None:
        sinks.append(history)
    # live: contract metadata is filled in place by the source before its first frame
    metadata = getattr(source, "parser_metadata", None)
    pipeline = Pipeline(source, engine, sinks, duration_s=opts.duration_s, symbols=opts.symbols, metadata=metadata)
    if opts.no_ui:
        pipeline.snapshot_interval_s = HEADLESS_SNAPSHOT_INTERVAL_S
    if stdout_sink is not None:
        stdout_sink.on_closed = pipeline.stop  # `| head -5`: the reader left, the run ends (exit 0)
    set_regime_source = getattr(source, "set_regime_source", None)
    if set_regime_source is not None:
        # REST pollers speed up (30 s -> 5 s) while BTC volatility is HIGH or EXTREME
        set_regime_source(lambda: pipeline.latest_snapshot.volatility.regime if pipeline.latest_snapshot else None)
    if opts.config_path:
        pipeline.info["config_path"] = opts.config_path
    # a remote viewer reads Redis; publishing back into it would loop its own events
    if opts.source != "redis" and opts.redis_url != "off":
        pipeline.startup_hooks.append(partial(_attach_redis, opts))
    elif opts.source == "redis":
        from cascade_tui.redaction import redact_url

        # the viewer follows the ingester's thresholds as they change
        source.on_params = pipeline.set_params  # type: ignore[attr-defined]
        pipeline.info["redis"] = f"source: {redact_url(viewer_redis_url(opts))}"
    return pipeline
