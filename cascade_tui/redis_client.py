"""The one way this program opens a Redis connection, and what a failure means.

Every client (the sink's two writers, the viewer, the probe of localhost and of an embedded
server) comes from `make_client`: bounded connect and command timeouts, no hidden retries
(each caller owns its backoff), the asyncio `Retry` redis-py expects (the synchronous one
made it warn on every run). `describe_failure` turns an exception into a `RedisFailure`: a
kind (`auth`, `unreachable`, `tls`, `timeout`, `refused`, `error`) and a one-line message
with no secret in it, which sinks, the viewer and the command line all show.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cascade_tui.redaction import redact_url, scrub_secrets
from cascade_tui.text import printable

REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 2.0

_HINTS = {
    "auth": "authentication failed: wrong user or password in the URL, or the user lacks rights",
    "unreachable": "cannot connect",
    "tls": "TLS handshake failed (certificate not trusted, or not a TLS port)",
    "timeout": "no answer in time",
    "refused": "the server refused a command",
    "error": "error",
}


def make_client(
    url: str, *, connect_timeout_s: float = CONNECT_TIMEOUT_S, command_timeout_s: float = COMMAND_TIMEOUT_S
) -> aioredis.Redis:
    """A client for `url` (nothing is sent until the first command)."""
    return aioredis.from_url(
        url,
        socket_connect_timeout=connect_timeout_s,
        socket_timeout=command_timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


def make_sync_client(
    url: str, *, connect_timeout_s: float = CONNECT_TIMEOUT_S, command_timeout_s: float = COMMAND_TIMEOUT_S
) -> redis.Redis:
    """A blocking client, for one-shot commands that read a value and exit."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=connect_timeout_s, socket_timeout=command_timeout_s, health_check_interval=0
    )


@dataclass(frozen=True)
class RedisFailure:
    kind: str  # auth unreachable tls timeout refused error
    reason: str  # one line, secrets masked: what went wrong, with the driver's own words
    server: str  # the URL, redacted

    @property
    def message(self) -> str:
        return f"redis {self.server}: {self.reason}"

    def __str__(self) -> str:
        return self.message


def _kind(exc: BaseException) -> str:
    text = str(exc).upper()
    if isinstance(exc, AuthenticationError) or "NOAUTH" in text or "WRONGPASS" in text or "NOPERM" in text:
        return "auth"
    if isinstance(exc, ssl.SSLError) or "SSL" in text or "CERTIFICATE" in text:
        return "tls"
    if isinstance(exc, RedisTimeoutError | TimeoutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, RedisConnectionError | OSError):
        return "unreachable"
    if isinstance(exc, ResponseError):
        return "refused"
    return "error"


def describe_failure(exc: BaseException, url: str) -> RedisFailure:
    """What went wrong talking to the Redis at `url`, safe to log, store and show."""
    kind = _kind(exc)
    detail = printable(scrub_secrets(str(exc).strip() or type(exc).__name__, url), max_len=300)
    return RedisFailure(kind, f"{_HINTS[kind]} ({type(exc).__name__}: {detail})", redact_url(url))


class RedisUnavailable(Exception):
    """A Redis the run cannot do without could not be used; str() is safe to print."""

    def __init__(self, failure: RedisFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


async def connect(
    url: str, *, connect_timeout_s: float = CONNECT_TIMEOUT_S, command_timeout_s: float = COMMAND_TIMEOUT_S
) -> aioredis.Redis:
    """A client that has answered PING; raises RedisUnavailable (classified, redacted)."""
    client = make_client(url, connect_timeout_s=connect_timeout_s, command_timeout_s=command_timeout_s)
    try:
        await asyncio.wait_for(client.ping(), connect_timeout_s + command_timeout_s)
    except (*REDIS_ERRORS, ValueError) as exc:  # type: ignore[misc]  # (mypy cannot splat a tuple here)
        with contextlib.suppress(Exception):
            await client.aclose()
        raise RedisUnavailable(describe_failure(exc, url)) from None
    except BaseException:
        with contextlib.suppress(Exception):
            await client.aclose()
        raise
    return client
