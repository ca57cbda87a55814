"""Failure classification (feeds/failure.py) on the exceptions websockets and httpx really
raise, produced here against local sockets and the system resolver (the `.invalid` top-level
domain never resolves, RFC 6761: no internet is contacted), and the connection loop's
classified last failure and reconnect count (issue 14 item 7)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from cascade_tui.feeds.base import FrameParser, Keepalive, Subscription, VenueSpec
from cascade_tui.feeds.connection import Connection
from cascade_tui.feeds.failure import (
    BLOCKED,
    DNS,
    HANDSHAKE,
    HTTP,
    KINDS,
    REFUSED,
    STALE,
    TIMEOUT,
    TLS,
    classify_failure,
    failure_hint,
    failure_label,
)
from tests.wsservers.bitget import BitgetProtocol
from tests.wsservers.core import ProtocolServer
from tests.wsservers.fixtures import eventually, fast_options

UNRESOLVABLE = "nonexistent.invalid"


async def ws_error(url: str, timeout: float = 2.0) -> BaseException:
    try:
        async with connect(url, open_timeout=timeout):
            pass
    except Exception as exc:
        return exc
    raise AssertionError(f"{url} connected")


async def http_error(url: str, timeout: float = 2.0) -> BaseException:
    async with httpx.AsyncClient(timeout=timeout) as http:
        try:
            response = await http.get(url)
            response.raise_for_status()
        except Exception as exc:
            return exc
    raise AssertionError(f"{url} answered")


@contextlib.asynccontextmanager
async def mute_tcp() -> AsyncIterator[int]:
    """Accepts TCP connections and never says a word."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(Exception):
            await reader.read()  # until the client gives up

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in writers:
            writer.transport.abort()
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def http_answer(raw: bytes) -> AsyncIterator[int]:
    """Answers any request with `raw` bytes and closes."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(raw)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def test_dns_failure_is_dns_for_websockets_and_httpx() -> None:
    assert classify_failure(await ws_error(f"wss://{UNRESOLVABLE}/ws")) == DNS
    assert classify_failure(await http_error(f"https://{UNRESOLVABLE}/api")) == DNS


async def test_closed_port_is_refused_for_websockets_and_httpx() -> None:
    # httpx wraps it as OSError("All connection attempts failed") <- ConnectionRefusedError
    assert classify_failure(await ws_error("ws://127.0.0.1:9/")) == REFUSED
    assert classify_failure(await http_error("http://127.0.0.1:9/")) == REFUSED


async def test_silent_peer_is_a_timeout() -> None:
    async with mute_tcp() as port:
        assert classify_failure(await ws_error(f"ws://127.0.0.1:{port}/", timeout=0.3)) == TIMEOUT
        assert classify_failure(await http_error(f"http://127.0.0.1:{port}/", timeout=0.3)) == TIMEOUT


@pytest.mark.parametrize(("status", "kind"), [(403, BLOCKED), (451, BLOCKED), (404, HTTP), (502, HTTP)])
async def test_http_status_on_upgrade_and_rest(status: int, kind: str) -> None:
    async with ProtocolServer(BitgetProtocol()) as server:
        server.reject_status = status
        assert classify_failure(await ws_error(f"ws://127.0.0.1:{server.port}/ws")) == kind
        assert classify_failure(await http_error(f"http://127.0.0.1:{server.port}/api")) == kind


async def test_something_that_is_not_a_websocket_server_is_a_handshake_failure() -> None:
    async with http_answer(b"SSH-2.0-OpenSSH_9.2\r\n\r\n") as port:
        assert classify_failure(await ws_error(f"ws://127.0.0.1:{port}/")) == HANDSHAKE
    # a web page instead of an upgrade (captive portal): an HTTP status, not a geo-block
    async with http_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi") as port:
        assert classify_failure(await ws_error(f"ws://127.0.0.1:{port}/")) == HTTP


async def test_untrusted_certificate_is_tls(tmp_path: Path) -> None:
    context = self_signed(tmp_path)

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        assert classify_failure(await ws_error(f"wss://localhost:{port}/")) == TLS
        assert classify_failure(await http_error(f"https://localhost:{port}/")) == TLS
    finally:
        server.close()
        await server.wait_closed()


def test_every_kind_has_a_short_label_and_a_hint() -> None:
    for kind in KINDS:
        assert 0 < len(failure_label(kind)) <= 12 and failure_hint(kind)
    assert failure_label("") == "" and failure_hint("") == ""
    assert "VPN" in failure_hint(BLOCKED) and "network" in failure_hint(DNS)


# ---------------------------------------------------------------------- the connection loop


class _NullParser(FrameParser):
    venue = "toy"


def toy_spec(stale_s: float = 5.0) -> VenueSpec:
    return VenueSpec(
        id="toy", name="Toy", parser=_NullParser, subscriptions=lambda req: [],
        keepalive=Keepalive(kind="text", interval=0.05, message="ping"), stale_after_s=stale_s,
    )  # fmt: skip


async def _run_until(conn: Connection, predicate: object) -> None:
    task = asyncio.create_task(conn.run())
    try:
        await eventually(predicate)  # type: ignore[arg-type]
    finally:
        await conn.close()
        await asyncio.wait_for(task, 2)


async def test_unresolvable_venue_counts_every_retry_and_says_dns() -> None:
    spec = toy_spec()
    subscription = Subscription(url=f"wss://{UNRESOLVABLE}/ws", messages=('{"op":"subscribe"}',))
    conn = Connection(spec, subscription, lambda frame: None, options=fast_options())
    await _run_until(conn, lambda: conn.status.attempt >= 3)
    st = conn.status
    assert st.failure == DNS and UNRESOLVABLE in st.failure_detail and st.failure_ts is not None
    # every retry is a reconnect: the screen's "reconnect N" and the health rc agree
    assert st.reconnects == st.attempt >= 3 and st.connects == 0


async def test_recovered_link_keeps_its_last_failure_and_counts_one_reconnect() -> None:
    async with ProtocolServer(BitgetProtocol()) as server:
        conn = Connection(
            toy_spec(), Subscription(url="wss://ws.example/ws"), lambda f: None, options=fast_options(server)
        )
        task = asyncio.create_task(conn.run())
        try:
            await eventually(lambda: conn.status.state == "live")
            assert conn.status.failure == "" and conn.status.connects == 1
            server.drop()
            await eventually(lambda: conn.status.connects == 2 and conn.status.state == "live")
            assert conn.status.reconnects == 1 and conn.status.failure == "closed"
        finally:
            await conn.close()
            await asyncio.wait_for(task, 2)


async def test_silent_link_is_recorded_as_stale() -> None:
    async with ProtocolServer(BitgetProtocol()) as server:
        conn = Connection(
            toy_spec(stale_s=0.3),
            Subscription(url="wss://ws.example/ws"),
            lambda f: None,
            options=fast_options(server),
        )
        task = asyncio.create_task(conn.run())
        try:
            await eventually(lambda: conn.status.state == "live")
            server.half_open()
            await eventually(lambda: conn.status.failure == STALE)
            assert conn.status.reconnects >= 1
        finally:
            await conn.close()
            await asyncio.wait_for(task, 2)


async def test_no_network_shows_the_reason_and_the_reconnects_in_health_and_stats() -> None:
    """Issue 14 item 7: live without network showed `reconnect 9` but health rc 0, no reason."""
    from cascade_tui.config import VenueConfig
    from cascade_tui.feeds.metadata import VenueMetadata
    from cascade_tui.runtime.pipeline import Pipeline
    from cascade_tui.runtime.stats import build_stats
    from cascade_tui.sources.live import LiveSource
    from tests.wsservers.fixtures import offline_http

    async with offline_http() as http:
        source = LiveSource(
            ["okx"],
            VenueConfig(oi_symbols=["BTC"]),
            metadata={"okx": VenueMetadata("okx", source="bundled")},
            options=fast_options(url_rewrite=lambda url: f"wss://{UNRESOLVABLE}/ws"),
            http_client=http,
        )
        pipeline = Pipeline(source, metadata=source.parser_metadata)
        task = asyncio.create_task(pipeline.run())

        def health() -> object:
            snap = pipeline.latest_snapshot
            return next((v for v in snap.venues if v.venue == "okx"), None) if snap else None

        try:
            await eventually(lambda: (v := health()) is not None and v.reconnects >= 2 and v.failure == DNS)
            assert source.feed_status()["okx"].failure == DNS
        finally:
            pipeline.stop()
            await asyncio.wait_for(task, 5)
    stats = build_stats(pipeline, {})
    assert stats["venues"]["okx"]["failure"] == DNS and stats["venues"]["okx"]["reconnects"] >= 2
