"""The one way this program opens a Redis connection, and what a failure means.

Every client (the sink's two writers, the viewer, the probe of localhost and of an embedded
server) comes from `make_client`: bounded connect and command timeouts, no hidden retries
(each caller owns its backoff), the asyncio `Retry` redis-py expects (the synchronous one
made it warn on every run). `describe_failure` turns an exception into a `RedisFailure`: a
kind (`auth`, `unreachable`, `tls`, `timeout`, `refused`, `error`), a short hint of the
likely cause (connection refused, host not found, a password needed, ...) and a one-line
message with the driver's own words and no secret in it, which sinks, the viewer and the
command line all show.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
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
_LEADS = {"auth": "authentication failed"}  # what leads a specific cause, where not the hint


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
    hint: str = ""  # the likely cause in a few words, for a status line that shows the kind

    @property
    def message(self) -> str:
        return f"redis {self.server}: {self.reason}"

    def __str__(self) -> str:
        return self.message


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from (redis-py wraps the OS error)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _kind(chain: list[BaseException], text: str) -> str:
    exc = chain[0]
    if any(isinstance(e, AuthenticationError) for e in chain) or any(
        word in text for word in ("NOAUTH", "WRONGPASS", "NOPERM")
    ):
        return "auth"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSL" in text or "CERTIFICATE" in text:
        return "tls"
    if isinstance(exc, RedisTimeoutError | TimeoutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, RedisConnectionError | OSError):
        return "unreachable"
    if isinstance(exc, ResponseError):
        return "refused"
    return "error"


def _specific_cause(kind: str, chain: list[BaseException], text: str) -> str:
    """The likely cause, more precisely than the kind, when the exceptions say it ("" if not)."""
    if kind == "auth" and ("NOAUTH" in text or "AUTHENTICATION REQUIRED" in text):
        return "the server needs a password (put it in the URL)"
    if kind == "unreachable":
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "REFUSED" in text:
            return "connection refused (is Redis running there?)"
        if any(isinstance(e, socket.gaierror) for e in chain):
            return "host not found"
        if any(isinstance(e, FileNotFoundError) for e in chain) or "NO SUCH FILE" in text:
            return "no socket at that path"
    return ""


def describe_failure(exc: BaseException, url: str) -> RedisFailure:
    """What went wrong talking to the Redis at `url`, safe to log, store and show."""
    chain = _causes(exc)
    text = " ".join(str(e) for e in chain).upper()
    kind = _kind(chain, text)
    cause = _specific_cause(kind, chain, text)
    lead = f"{_LEADS.get(kind, _HINTS[kind])}: {cause}" if cause else _HINTS[kind]
    detail = printable(scrub_secrets(str(exc).strip() or type(exc).__name__, url), max_len=300)
    return RedisFailure(kind, f"{lead} ({type(exc).__name__}: {detail})", redact_url(url), cause or _HINTS[kind])


def raise_if_cancelling() -> None:
    """Re-raise a cancel that redis-py turned into a Redis error.

    redis-py closes the connection of a command interrupted by a cancel and may raise a
    ConnectionError or TimeoutError in place of the CancelledError (seen with 8.x). A loop
    that catches Redis errors and tries again would then run on under the cancel for ever,
    and whoever waits for the cancelled task (asyncio.wait_for, Pipeline.stop) would wait
    for ever. Every such handler calls this first."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


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
