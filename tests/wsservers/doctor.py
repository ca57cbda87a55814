"""What `cascade-tui doctor` tests need beside the venue protocols: venue frames stamped with
the current time (a venue clock that can run behind ours), a feeder that streams them once a
link has subscribed, REST answers on the same local server, and an httpx client that sends
each venue's REST requests to its local server (or to a closed port, or to a name that never
resolves: `.invalid` is reserved, RFC 6761, so no request leaves the machine).

How the doctor is pointed at local servers (the same mechanism as the live-venue tests):
`ConnectionOptions.url_rewrite` maps each venue WebSocket URL to a local one, and the
`http_transport` argument of `main_doctor` carries the REST requests. There is no environment or
config override of venue URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import httpx

from tests.wsservers.bybit import BybitProtocol
from tests.wsservers.core import Frame, ProtocolServer, dumps

UNRESOLVABLE_HOST = "nonexistent.invalid"


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveClockBybit(BybitProtocol):
    """Bybit frames stamped now (minus `lag_s`: the venue clock running behind ours), so the
    doctor's clock column has a known answer and no stale-row rule can drop them."""

    def __init__(self, lag_s: float = 0.0) -> None:
        self.lag_s = lag_s

    def liquidation(self, i: int) -> Frame:
        venue_ms = int((time.time() - self.lag_s) * 1000)
        row = {"T": venue_ms, "s": "ICPUSDT", "S": "Buy", "v": f"{19.7 + i:.1f}", "p": "2.585"}
        return dumps({"topic": "allLiquidation.ICPUSDT", "type": "snapshot", "ts": venue_ms, "data": [row]})


BYBIT_INSTRUMENTS = {
    "retCode": 0,
    "result": {
        "category": "linear",
        "list": [
            {"symbol": "ICPUSDT", "status": "Trading", "baseCoin": "ICP", "quoteCoin": "USDT",
             "settleCoin": "USDT", "contractType": "LinearPerpetual"},
            {"symbol": "BTCUSDT", "status": "Trading", "baseCoin": "BTC", "quoteCoin": "USDT",
             "settleCoin": "USDT", "contractType": "LinearPerpetual"},
        ],
        "nextPageCursor": "",
    },
}  # fmt: skip


def serve_bybit_instruments(server: ProtocolServer) -> None:
    server.http_routes["/v5/market/instruments-info"] = json.dumps(BYBIT_INSTRUMENTS)


@contextlib.asynccontextmanager
async def feeding(server: ProtocolServer, every_s: float = 0.05) -> AsyncIterator[None]:
    """Streams the protocol's liquidation frames to subscribed links while the block runs."""

    async def feed() -> None:
        i = 0
        while True:
            if await server.broadcast(server.protocol.liquidation(i)):
                i += 1
            await asyncio.sleep(every_s)

    task = asyncio.create_task(feed())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def host_map(targets: dict[str, str]) -> Callable[[str], str]:
    """URL rewrite: the first host fragment found in a URL's host picks the target base
    ("ws://127.0.0.1:5555", "wss://nonexistent.invalid"); path and query are kept."""

    def rewrite(url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        for fragment, base in targets.items():
            if fragment in host:
                query = f"?{parts.query}" if parts.query else ""
                return f"{base}{parts.path or '/'}{query}"
        return f"ws://127.0.0.1:{closed_port()}/unexpected"

    return rewrite


class RewritingTransport(httpx.AsyncBaseTransport):
    """Sends each request to the URL `rewrite` gives, over a real network transport."""

    def __init__(self, rewrite: Callable[[str], str]) -> None:
        self._rewrite = rewrite
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = (
            self._rewrite(str(request.url)).replace("ws://", "http://", 1).replace("wss://", "https://", 1)
        )
        request.url = httpx.URL(target)
        request.headers["Host"] = request.url.netloc.decode()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
