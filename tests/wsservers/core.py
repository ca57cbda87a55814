"""The shared local WebSocket server: one `ProtocolServer` driven by a `VenueProtocol`.

The protocol decides what a venue answers (acks, pongs, snapshots on subscribe) and which
frames it sends; the server runs sessions and offers the fault knobs the connection tests
need: drop every link mid-stream, half-open (stop reading: no pongs, no data), stall (no
data, keepalive still answered), mute (accept and read, never send a byte: no ack either),
refuse the upgrade with an HTTP status, close a link after N data frames. It can also answer
plain HTTP GET/POST requests on the same port (`http_routes`: the venue's REST endpoints).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

Frame = str | bytes


@dataclass
class Session:
    """One client link as the server sees it."""

    ws: ServerConnection
    path: str
    received: list[Frame] = field(default_factory=list)
    subscribed: bool = False
    data_sent: int = 0
    pings_answered: int = 0  # app-level server pings the client answered (HTX, Deribit)
    half_open: bool = False

    def texts(self) -> list[str]:
        return [m.decode() if isinstance(m, bytes) else m for m in self.received]


class VenueProtocol:
    """A venue's server-side behaviour. Override the hooks a venue needs."""

    venue = ""
    binary = False  # frames are gzip-compressed bytes (HTX)
    app_ping_interval: float | None = None  # server-initiated app pings (HTX, Deribit)
    ws_ping_interval: float | None = None  # server WS ping frames (Binance, dYdX); no pong => close

    def welcome(self, session: Session) -> list[Frame]:
        """Frames sent right after the upgrade."""
        return []

    def on_message(self, session: Session, message: str) -> list[Frame]:
        """Answers to one client message: acks, pongs, snapshots. Marks subscriptions."""
        return []

    def app_ping(self, session: Session, seq: int) -> Frame | None:
        return None

    def is_ping_answer(self, message: str) -> bool:
        return False

    def liquidation(self, i: int) -> Frame:
        """A valid liquidation frame, distinct for every i (for exactly-once counting)."""
        raise NotImplementedError

    def snapshot(self, session: Session) -> list[Frame]:
        """History a venue replays on subscribe (counted by nobody)."""
        return []

    def garbage(self) -> Frame:
        return "{not json"

    def encode(self, frame: Frame) -> Frame:
        if self.binary and isinstance(frame, str):
            return gzip.compress(frame.encode())
        return frame


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class ProtocolServer:
    def __init__(self, protocol: VenueProtocol) -> None:
        self.protocol = protocol
        self.sessions: list[Session] = []
        self.reject_status: int | None = None  # refuse the upgrade with this HTTP status
        self.rejected = 0
        self.close_after: int | None = None  # close a link after this many data frames
        self.stalled = False  # no data frames; keepalive still answered
        self.close_on_connect = False  # accept the upgrade, send the welcome, hang up
        self.mute = False  # accept the upgrade and read, but never send anything (no acks, no data)
        self.http_routes: dict[str, str] = {}  # URL path -> JSON body for plain HTTP requests
        self.http_requests: list[str] = []  # paths (with query) of the plain HTTP requests served
        self._server: Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> ProtocolServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            ping_interval=self.protocol.ws_ping_interval,
            ping_timeout=self.protocol.ws_ping_interval,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        for session in self.sessions:  # half-open links would otherwise hold the close up
            session.ws.transport.abort()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def local(self, url: str) -> str:
        """A venue URL pointed at this server, path and query kept."""
        parts = urlsplit(url)
        query = f"?{parts.query}" if parts.query else ""
        return f"ws://127.0.0.1:{self.port}{parts.path or '/'}{query}"

    # ------------------------------------------------------------------ serving

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.reject_status is not None:
            self.rejected += 1
            return connection.respond(HTTPStatus(self.reject_status), "refused by test server\n")
        if "upgrade" not in request.headers.get("Connection", "").lower():
            path = urlsplit(request.path).path
            self.http_requests.append(request.path)
            if path in self.http_routes:
                return connection.respond(HTTPStatus.OK, self.http_routes[path])
            return connection.respond(HTTPStatus.NOT_FOUND, "no such route\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        session = Session(ws=ws, path=ws.request.path if ws.request else "/")
        self.sessions.append(session)
        pinger = None
        if self.protocol.app_ping_interval:
            pinger = asyncio.create_task(self._app_pings(session))
            self._tasks.add(pinger)
        try:
            for frame in self.protocol.welcome(session):
                await self._send(session, frame)
            if self.close_on_connect:
                await ws.close(1011, "test server: hang up at once")
                return
            async for message in ws:
                text = message.decode() if isinstance(message, bytes) else message
                session.received.append(message)
                if self.protocol.is_ping_answer(text):
                    session.pings_answered += 1
                for frame in self.protocol.on_message(session, text):
                    await self._send(session, frame)
        except ConnectionClosed:
            pass
        finally:
            if pinger is not None:
                pinger.cancel()
                self._tasks.discard(pinger)

    async def _app_pings(self, session: Session) -> None:
        seq = 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.protocol.app_ping_interval or 1.0)
                seq += 1
                frame = self.protocol.app_ping(session, seq)
                if frame is not None and not session.half_open:
                    await self._send(session, frame)

    async def _send(self, session: Session, frame: Frame) -> None:
        if session.half_open or self.mute:
            return
        await session.ws.send(self.protocol.encode(frame))

    # ------------------------------------------------------------------ test controls

    def live(self) -> list[Session]:
        return [s for s in self.sessions if s.ws.state.name == "OPEN" and not s.half_open]

    async def broadcast(self, frame: Frame, where: Callable[[Session], bool] | None = None) -> int:
        """Send a data frame to every subscribed, open link (optionally only those `where`
        accepts, e.g. one socket path); returns how many got it."""
        if self.stalled:
            return 0
        sent = 0
        for session in self.live():
            if not session.subscribed or (where is not None and not where(session)):
                continue
            with contextlib.suppress(ConnectionClosed):
                await self._send(session, frame)
                session.data_sent += 1
                sent += 1
                if self.close_after is not None and session.data_sent >= self.close_after:
                    await session.ws.close(1001, "test server: close after N frames")
        return sent

    def drop(self) -> None:
        """Cut every link without a close frame (a network drop)."""
        for session in self.live():
            session.ws.transport.abort()

    def half_open(self) -> None:
        """Links stay open but the server goes deaf and mute: no pongs, no data."""
        for session in self.live():
            session.half_open = True
            session.ws.transport.pause_reading()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        await wait_until(predicate, timeout)


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
