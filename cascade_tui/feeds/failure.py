"""Why a connection failed, as one word a program can switch on and a person can read.

`classify_failure(exc)` looks at the exceptions websockets and httpx really raise (checked
against local servers and an offline resolver, see tests/feeds/test_failure.py) and walks
the exception chain, because httpx wraps the socket error twice (httpx.ConnectError ->
httpcore.ConnectError -> socket.gaierror / OSError("All connection attempts failed") ->
ConnectionRefusedError).

Kinds (stable: they appear in `cascade-tui doctor --json`, `--stats` and the venue health):
    dns          the host name did not resolve (no network, broken resolver, typo)
    refused      TCP connection refused (nothing listens, or a firewall rejects)
    unreachable  no route to the network or host
    reset        the peer reset the connection during connect/handshake (filters do this)
    tls          TLS handshake or certificate verification failed
    timeout      no answer in time (connect, TLS or the WebSocket upgrade)
    blocked      HTTP 403 / 451 on the upgrade or a REST call: IP or region refused
    http         another HTTP status where a WebSocket upgrade or a body was expected
    handshake    something answered that is not a WebSocket server (a proxy, a captive portal)
    closed       an open link was closed or lost
    stale        an open link stayed silent past the venue's stale limit (set by the loop)
    error        anything else (the detail text says what)
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

DNS = "dns"
REFUSED = "refused"
UNREACHABLE = "unreachable"
RESET = "reset"
TLS = "tls"
TIMEOUT = "timeout"
BLOCKED = "blocked"
HTTP = "http"
HANDSHAKE = "handshake"
CLOSED = "closed"
STALE = "stale"
ERROR = "error"

KINDS: tuple[str, ...] = (
    DNS,
    REFUSED,
    UNREACHABLE,
    RESET,
    TLS,
    TIMEOUT,
    BLOCKED,
    HTTP,
    HANDSHAKE,
    CLOSED,
    STALE,
    ERROR,
)

# Statuses that mean "this venue refuses this IP or region" (WebSocket upgrade or REST).
BLOCKED_HTTP_STATUSES = frozenset({403, 451})

# Short labels (at most 12 characters) for narrow screens: the venue panel, the doctor table.
LABELS: dict[str, str] = {
    DNS: "DNS failed",
    REFUSED: "refused",
    UNREACHABLE: "unreachable",
    RESET: "reset",
    TLS: "TLS error",
    TIMEOUT: "timeout",
    BLOCKED: "geo-blocked",
    HTTP: "HTTP error",
    HANDSHAKE: "not a WS",
    CLOSED: "link lost",
    STALE: "silent",
    ERROR: "error",
}

# What a user can do about it, one line each.
HINTS: dict[str, str] = {
    DNS: "DNS failed: check the network connection and DNS resolver",
    REFUSED: "connection refused: a firewall or proxy may block this port; check the network",
    UNREACHABLE: "network unreachable: check the network connection",
    RESET: "connection reset while connecting: a firewall or filter may block this venue; try a VPN / other network",
    TLS: "TLS failed: check the system clock and CA certificates, or an intercepting proxy",
    TIMEOUT: "timed out: slow or filtered network; try again, or a VPN / other network",
    BLOCKED: "geo-blocked: this venue refuses your IP or region; try a VPN / other region, or leave it out with --venues",
    HTTP: "the venue refused the request: a proxy in the way, or the endpoint changed (please report)",
    HANDSHAKE: "something other than the venue answered (proxy, captive portal?); check the network",
    CLOSED: "the venue closed the link: the subscription may have been rejected (please report with --json)",
    STALE: "the link went silent: a filtering network or a venue outage",
    ERROR: "unexpected error: please report it with the --json output",
}

_REFUSED_ERRNOS = frozenset({errno.ECONNREFUSED})
_UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN})
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE})
_TIMEOUT_ERRNOS = frozenset({errno.ETIMEDOUT})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes, outermost first (bounded: chains can loop)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def http_status(exc: BaseException) -> int | None:
    """The HTTP status carried by a refused WebSocket upgrade (websockets InvalidStatus) or an
    httpx HTTPStatusError; None when the exception has none."""
    for item in _chain(exc):
        response = getattr(item, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def classify_failure(exc: BaseException) -> str:
    """One of KINDS for a failed connect, handshake, request or a lost link."""
    status = http_status(exc)
    if status is not None:
        return BLOCKED if status in BLOCKED_HTTP_STATUSES else HTTP
    chain = list(_chain(exc))
    # the most specific cause decides: scan innermost first
    for item in reversed(chain):
        if isinstance(item, socket.gaierror):
            return DNS
        if isinstance(item, ssl.SSLError | ssl.CertificateError):
            return TLS
        if isinstance(item, ConnectionRefusedError):
            return REFUSED
        if isinstance(item, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return RESET
        if isinstance(item, OSError) and item.errno is not None:
            if item.errno in _REFUSED_ERRNOS:
                return REFUSED
            if item.errno in _UNREACHABLE_ERRNOS:
                return UNREACHABLE
            if item.errno in _RESET_ERRNOS:
                return RESET
            if item.errno in _TIMEOUT_ERRNOS:
                return TIMEOUT
    # imported here, not at module level: the UI and offline replays import this module for
    # the labels and must not pay for the network libraries (a live run has them loaded)
    import httpx
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    if any(isinstance(item, TimeoutError | httpx.TimeoutException) for item in chain):
        return TIMEOUT
    # something answered, but not with a WebSocket upgrade / an HTTP response
    if any(isinstance(item, InvalidHandshake | httpx.RemoteProtocolError) for item in chain):
        return HANDSHAKE
    if any(isinstance(item, ConnectionClosed | httpx.ReadError | EOFError) for item in chain):
        return CLOSED
    return ERROR


def failure_label(kind: str) -> str:
    """Short label of a failure kind ("DNS failed", "geo-blocked"); "" for no failure."""
    return LABELS.get(kind, kind)


def failure_hint(kind: str) -> str:
    return HINTS.get(kind, HINTS[ERROR]) if kind else ""
