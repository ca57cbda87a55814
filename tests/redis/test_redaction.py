"""Passwords never appear in logs, stats, display strings, reprs or exception messages."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from cascade_tui.config import RedisConfig
from cascade_tui.redaction import redact_url, scrub_secrets
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.runtime.redis_server import resolve_redis
from cascade_tui.sinks.redis import RedisSink
from cascade_tui.sources.redis import RedisSource
from tests.redis.redis_market import EventSource, ScriptedEngine, market_events

PASSWORD = "Pa55-w0rd-very-secret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:pw12345@host:6379/0", "redis://user:***@host:6379/0"),
        ("redis://:pw12345@host:6379", "redis://:***@host:6379"),
        ("rediss://host:6380/1", "rediss://host:6380/1"),
        ("unix:///tmp/r.sock?db=2", "unix:///tmp/r.sock?db=2"),
        ("https://hooks.example.com/a?token=tok123&x=1", "https://hooks.example.com/a?token=***&x=1"),
        ("https://tok123@hooks.example.com/a", "https://***@hooks.example.com/a"),
        ("redis://u:p@[::1]:6379/0", "redis://u:***@[::1]:6379/0"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_hides_the_path_of_webhooks_on_request() -> None:
    assert redact_url("https://hooks.slack.com/services/T0/B0/XYZ", keep_path=False) == "https://hooks.slack.com/***"
    assert scrub_secrets("failed: redis://u:pw12345@h:1/0 said pw12345", "redis://u:pw12345@h:1/0") == (
        "failed: redis://u:***@h:1/0 said ***"
    )


async def test_acl_password_never_shows(make_redis_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = make_redis_server(user="cascade", password=PASSWORD)
    good = server.url
    wrong = good.replace(PASSWORD, PASSWORD + "-wrong")

    target = await resolve_redis(good, RedisConfig(), env={})
    sink = RedisSink(target.url, display=target.display)
    engine = ScriptedEngine()
    await Pipeline(EventSource(market_events(seed=3, duration_s=40.0)), engine, [sink]).run()
    assert sink.stats()["published"] == len(engine.signals) > 0  # the ACL user works

    bad_sink = RedisSink(wrong)
    await bad_sink.start()
    bad_source = RedisSource(wrong)
    batches = bad_source.batches()
    reader = asyncio.ensure_future(anext(batches))
    for _ in range(100):
        if bad_sink.stats()["errors"] and bad_source.errors:
            break
        await asyncio.sleep(0.02)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    await batches.aclose()
    await bad_source.close()
    await bad_sink.close()
    assert bad_sink.stats()["errors"] > 0 and bad_source.errors > 0
    assert "WRONGPASS" in bad_sink.stats()["last_error"] or "invalid" in bad_sink.stats()["last_error"]

    shown = " ".join(
        [
            caplog.text,
            json.dumps(sink.stats()),
            json.dumps(bad_sink.stats()),
            json.dumps(bad_source.stats()),
            repr(target),
            target.display,
            repr(sink),
            repr(bad_sink),
            bad_source.label(),
        ]
    )
    assert PASSWORD not in shown
    assert "cascade:***@127.0.0.1" in shown
