"""Redis failing under the real program (`cascade-tui --demo --no-ui --speed 0`): killed
with SIGKILL and restarted, frozen (SIGSTOP), refusing writes (`maxmemory` + `noeviction`).
In each case the pipeline keeps running and printing signals, the Redis queue stays at its
bound with the overflow counted in --stats, memory stays bounded, and publishing resumes
once Redis is back.

Every fault lasts until the program has shown it keeps going (a new signal line, waited for
with a generous deadline), never a fixed second: on two busy cores a quiet stretch of the
simulated market can take longer than that to print anything.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.faults.cli_process import CliRun
from tests.redis.server import RedisServer, redis_server_binary
from tests.services import missing_service

if redis_server_binary() is None:
    missing_service("redis-server is not installed", module_level=True)

QUEUE_SIZE = 2_000  # small, so an outage of a few seconds overflows it even on a slow machine
RSS_BOUND_MB = 400.0
DEADLINE_S = 60.0


class DebugRedisServer(RedisServer):
    """The suite's redis-server with DEBUG allowed (Redis 7 disables it by default)."""

    def argv(self) -> list[str]:
        return [*super().argv(), "--enable-debug-command", "yes"]


@pytest.fixture
def server() -> Iterator[DebugRedisServer]:
    with DebugRedisServer() as s:
        yield s


@pytest.fixture
def app(tmp_path: Path, server: DebugRedisServer) -> Iterator[CliRun]:
    config = tmp_path / "config.toml"
    config.write_text(f"[redis]\nqueue_size = {QUEUE_SIZE}\n")
    run = CliRun(tmp_path, "--demo", "--no-ui", "--speed", "0", "--redis-url", server.url, "--config", str(config))
    yield run
    if run.alive():
        run.kill()


def heartbeat_ts(client: redis.Redis) -> float:
    try:
        raw = client.get("cascade:heartbeat")
    except redis.RedisError:
        return 0.0
    return float(json.loads(raw)["ts"]) if raw else 0.0


def wait_published_after(client: redis.Redis, wall: float, timeout: float = DEADLINE_S) -> None:
    """The app wrote its heartbeat after `wall`: the writer is publishing again."""
    deadline = time.monotonic() + timeout
    while heartbeat_ts(client) <= wall:
        assert time.monotonic() < deadline, "publishing did not resume"
        time.sleep(0.05)


def wait_signal_published(client: redis.Redis, timeout: float = DEADLINE_S) -> dict:
    pubsub = client.pubsub()
    pubsub.subscribe("cascade:signals")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if msg is not None:
                return json.loads(msg["data"])
        raise AssertionError("no signal published on cascade:signals")
    finally:
        pubsub.close()


def keeps_printing(app: CliRun, what: str, at_least_s: float = 0.0) -> None:
    """A new signal line after now (and at least `at_least_s` of fault), the program alive."""
    start = time.monotonic()
    before = len(app.lines)
    deadline = start + DEADLINE_S
    while len(app.lines) <= before or time.monotonic() - start < at_least_s:
        assert app.alive(), f"the program died: {app.stderr()[-1500:]}"
        assert time.monotonic() < deadline, f"no signal printed in {DEADLINE_S:g} s while Redis was {what}"
        app.sample_rss()
        time.sleep(0.05)


def wait_refused_writes(client: redis.Redis, timeout: float = DEADLINE_S) -> None:
    """The server has answered at least one write with OOM (its own error count says so)."""
    deadline = time.monotonic() + timeout
    while int(client.info("errorstats").get("errorstat_OOM", {}).get("count", 0)) == 0:
        assert time.monotonic() < deadline, "the program wrote nothing while Redis refused writes"
        time.sleep(0.05)


def finish(app: CliRun) -> dict:
    assert app.terminate() == 0, app.stderr()[-2000:]
    stats = app.stats()
    sink = stats["sinks"]["redis"]
    assert sink["queued"] <= QUEUE_SIZE
    assert app.peak_rss_mb < RSS_BOUND_MB
    return stats


def test_redis_killed_and_restarted(app: CliRun, server: DebugRedisServer) -> None:
    client = server.client()
    wait_published_after(client, 0.0)
    app.wait_lines(3)
    assert server.proc is not None
    server.proc.kill()  # SIGKILL: no goodbye, connections reset
    server.proc.wait()
    keeps_printing(app, "dead", at_least_s=2.0)  # long enough to overflow the queue
    restarted = time.time()
    server.start()  # same port, empty
    client = server.client()
    wait_published_after(client, restarted)
    assert client.xlen("cascade:events") > 0
    sig = wait_signal_published(client)
    assert sig["v"] == 1 and sig["level_name"] in ("NONE", "WATCH", "WARNING", "CRITICAL")
    app.sample_rss()
    stats = finish(app)
    sink = stats["sinks"]["redis"]
    assert sink["reconnects"] >= 1 and sink["errors"] >= 1 and sink["state"] in ("connected", "down")
    assert stats["drops"].get("redis:event", 0) > 0, "events that could not be queued are counted"
    client.close()


def test_redis_frozen(app: CliRun, server: DebugRedisServer) -> None:
    client = server.client()
    wait_published_after(client, 0.0)
    app.wait_lines(3)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGSTOP)  # the whole server stops answering, connections stay open
    try:
        keeps_printing(app, "frozen", at_least_s=2.5)  # longer than the writer's command timeout
    finally:
        server.proc.send_signal(signal.SIGCONT)
    woke = time.time()
    wait_published_after(client, woke)
    wait_signal_published(client)
    stats = finish(app)
    assert stats["sinks"]["redis"]["events_written"] > 0
    client.close()


def test_redis_refusing_writes(app: CliRun, server: DebugRedisServer) -> None:
    client = server.client()
    wait_published_after(client, 0.0)
    app.wait_lines(3)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1mb")
    xlen_frozen = client.xlen("cascade:events")
    # a signal line can come sooner than the writer's next round trip: the fault lasts until
    # the server has refused one of the program's writes, not just until the next line
    wait_refused_writes(client)
    keeps_printing(app, "refusing writes")
    assert client.xlen("cascade:events") == xlen_frozen, "the server really refused the writes"
    refused_until = time.time()
    client.config_set("maxmemory", "0")
    deadline = time.monotonic() + DEADLINE_S
    while client.xlen("cascade:events") == xlen_frozen:
        assert time.monotonic() < deadline, "writes did not resume after the limit was lifted"
        time.sleep(0.05)
    wait_published_after(client, refused_until)
    stats = finish(app)
    sink = stats["sinks"]["redis"]
    assert sink["errors"] > 0, "refused commands are counted"
    # the refusal is logged when it happens; last_error may since hold a later error (a
    # reconnect that timed out on a loaded machine), so the log is where it must be found
    refusals = [line for line in app.stderr().splitlines() if "refused" in line]
    assert any("OOM" in line or "maxmemory" in line for line in [*refusals, sink["last_error"]]), app.stderr()[-2000:]
    client.close()
