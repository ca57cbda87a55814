"""resolve_redis: the order of choices, and the private embedded server's life cycle."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cascade_tui.config import RedisConfig
from cascade_tui.runtime.redis_server import RedisUrlError, ping, resolve_redis
from tests.redis.server import free_port


def dead_localhost() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_embedded_server_starts_answers_and_stops_without_leftovers() -> None:
    target = await resolve_redis(None, RedisConfig(), env={}, localhost_url=dead_localhost())
    assert target.kind == "embedded" and target.enabled
    assert target.server is not None and target.server.proc is not None
    pid, workdir = target.server.proc.pid, target.server.dir
    assert target.url.startswith("unix://") and await ping(target.url)
    assert process_exists(pid)
    await target.close()
    assert not process_exists(pid), "the embedded redis-server must be gone"
    assert not Path(workdir).exists(), "its temp dir must be removed"
    assert not await ping(target.url)
    await target.close()  # idempotent


async def test_without_a_binary_redis_is_off_with_a_reason() -> None:
    target = await resolve_redis(
        None, RedisConfig(), env={}, localhost_url=dead_localhost(), server_binary="/nonexistent/redis-server"
    )
    assert target.kind == "off" and not target.enabled
    assert "redis-server" in target.reason
    await target.close()


async def test_order_option_env_config_localhost(redis_server: Any) -> None:
    cfg = RedisConfig(url="redis://config-host:6379/2")
    env = {"CASCADE_REDIS_URL": "redis://env-host:6379/1"}
    assert (await resolve_redis("off", cfg, env=env)).kind == "off"
    explicit = await resolve_redis("rediss://u:pw123456@tls-host:6380/3", cfg, env=env)
    assert (explicit.kind, explicit.display) == ("url", "rediss://u:***@tls-host:6380/3")
    assert (await resolve_redis(None, cfg, env=env)).kind == "env"
    from_config = await resolve_redis(None, cfg, env={})
    assert (from_config.kind, from_config.url) == ("url", "redis://config-host:6379/2")
    local = await resolve_redis(None, RedisConfig(), env={}, localhost_url=redis_server.url)
    assert (local.kind, local.url) == ("localhost", redis_server.url)
    assert (await resolve_redis(None, RedisConfig(), env={"CASCADE_REDIS_URL": "off"})).kind == "off"


@pytest.mark.parametrize(
    "bad", ["http://u:topsecret1@host:6379", "redis://host:notaport", "redis:///nohost", "localhost:6379"]
)
async def test_bad_urls_raise_a_clear_error_without_the_password(bad: str) -> None:
    with pytest.raises(RedisUrlError) as info:
        await resolve_redis(bad, RedisConfig(), env={})
    assert "--redis-url" in str(info.value)
    assert "topsecret1" not in str(info.value)


async def test_long_temp_dir_falls_back_to_a_local_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    target = await resolve_redis(None, RedisConfig(), env={}, localhost_url=dead_localhost())
    try:
        assert target.kind == "embedded" and target.url.startswith("redis://127.0.0.1:")
        assert await ping(target.url)
    finally:
        await target.close()
    assert not await ping(target.url)
