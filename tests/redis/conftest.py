"""Fixtures: a real redis-server per test (tests/redis/server.py); a missing one skips, or fails under CI."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.redis.server import RedisServer, redis_server_binary
from tests.services import missing_service

if redis_server_binary() is None:
    missing_service("redis-server is not installed", module_level=True)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def make_redis_server() -> Iterator[Callable[..., RedisServer]]:
    """Factory for servers with options (ACL user/password); all are stopped at teardown."""
    made: list[RedisServer] = []

    def make(**kwargs: str | None) -> RedisServer:
        server = RedisServer(**kwargs)
        made.append(server)
        server.start()
        return server

    yield make
    for server in made:
        server.close()
