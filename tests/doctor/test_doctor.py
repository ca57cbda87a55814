"""`cascade-tui doctor` against local venue servers (tests/wsservers; see tests/wsservers/doctor.py
for how the venue URLs are pointed at them): a healthy venue, a silent one, one that refuses
connections, one geo-blocked with HTTP 451 and one whose host name never resolves. Checks the
rows, the JSON document, the exit code, the early stop, and that --record writes a capture
that replays through the same parsers."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from cascade_tui.doctor.cli import main_doctor
from cascade_tui.doctor.render import render_plain, render_rich
from cascade_tui.feeds.connection import Backoff
from tests.wsservers.binance import BinanceProtocol
from tests.wsservers.core import ProtocolServer
from tests.wsservers.doctor import (
    UNRESOLVABLE_HOST,
    LiveClockBybit,
    RewritingTransport,
    closed_port,
    feeding,
    host_map,
    serve_bybit_instruments,
)
from tests.wsservers.fixtures import eventually, fast_options
from tests.wsservers.okx import OkxProtocol

ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7]m|\x1b\[[0-9;]*9[0-7]m|\x1b\[1;3[0-7]m")


async def run_doctor(argv: list[str], rewrite: Any, **kwargs: Any) -> tuple[int, str]:
    """main_doctor in a worker thread (it runs its own event loop) while the servers run on
    this one, pointed at them by URL rewriting for WebSockets and REST alike."""
    out = io.StringIO()
    options = fast_options(
        url_rewrite=rewrite, backoff=Backoff(base_s=0.05, cap_s=0.2, floor_s=0.02), blocked_retry_s=600.0
    )
    code = await asyncio.wait_for(
        asyncio.to_thread(
            main_doctor,
            argv,
            connection_options=options,
            http_transport=RewritingTransport(rewrite),
            out=out,
            **kwargs,
        ),
        120,
    )
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no cached instrument lists from the user's data dir, nothing written there
    monkeypatch.setenv("CASCADE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NO_COLOR", raising=False)


async def test_five_kinds_of_venue_rows_json_and_exit_code() -> None:
    async with (
        ProtocolServer(LiveClockBybit(lag_s=2.0)) as healthy,
        ProtocolServer(OkxProtocol()) as silent,
        ProtocolServer(BinanceProtocol()) as blocked,
    ):
        serve_bybit_instruments(healthy)
        silent.mute = True
        blocked.reject_status = 451
        refused_port = closed_port()
        rewrite = host_map(
            {
                "bybit": f"ws://127.0.0.1:{healthy.port}",
                "okx": f"ws://127.0.0.1:{silent.port}",
                "binance": f"ws://127.0.0.1:{blocked.port}",
                "gate": f"ws://127.0.0.1:{refused_port}",
                "kraken": f"ws://{UNRESOLVABLE_HOST}",
            }
        )
        async with feeding(healthy):
            code, text = await run_doctor(
                ["--venues", "bybit,okx,binance,gate,kraken", "--seconds", "6", "--symbols", "BTC", "--json"],
                rewrite,
            )
    assert code == 1
    report = json.loads(text)
    assert report["v"] == 1 and report["kind"] == "cascade-tui-doctor" and report["exit_code"] == 1
    assert not report["ok"] and sorted(report["failed"]) == ["binance", "gate", "kraken", "okx"]
    venues = report["venues"]

    # healthy: REST instruments live, subscribed and acknowledged, liquidations parsed
    bybit = venues["bybit"]
    assert bybit["ok"] and bybit["failure"] == "" and bybit["parsed_frames"] >= 1
    assert bybit["metadata"] == {
        **bybit["metadata"],
        "source": "live",
        "origin": "network",
        "instruments": 2,
        "result": "ok",
    }
    [linear] = bybit["channels"]
    assert linear["connect"] == "ok" and linear["subscribe_ack"] == "yes" and linear["geo_blocked"] is False
    assert linear["frames"] >= linear["parsed"] >= 1 and linear["parse_errors"] == 0
    assert linear["stale"] == 0 and linear["duplicates"] == 0  # fresh, distinct rows
    liq = linear["first"]["liquidation"]
    assert (liq["side"], liq["asset"], liq["instrument"]) == (
        "long",
        "ICP",
        "ICPUSDT",
    )  # Bybit "Buy" = long liquidated
    assert liq["usd"] == pytest.approx(liq["qty"] * 2.585)
    # the venue's clock runs 2 s behind: receive time - venue time is about +2000 ms
    assert 1800 <= linear["clock_offset_ms"] <= 3500 and 1800 <= bybit["clock_offset_ms"] <= 3500
    # planned like a live run: the fetched perpetuals of --symbols BTC
    assert '"args":["allLiquidation.BTCUSDT"' in healthy.sessions[0].texts()[0]
    assert any(p.startswith("/v5/market/instruments-info") for p in healthy.http_requests)

    # silent: accepted, then not a byte
    okx = venues["okx"]
    [public] = okx["channels"]
    assert okx["failure"] == "silent" and public["connect"] == "ok" and public["subscribe_ack"] == "no"
    assert public["frames"] == 0 and not public["settled"]

    # geo-blocked: HTTP 451 on the upgrade and on REST, asked once
    binance = venues["binance"]
    assert (
        binance["failure"] == "blocked" and binance["geo_blocked"] is True and "HTTP 451" in binance["detail"]
    )
    assert "VPN" in binance["hint"]
    assert binance["metadata"]["result"] == "blocked" and binance["metadata"]["source"] == "fallback"
    market = next(ch for ch in binance["channels"] if ch["type"] == "ws")
    assert (
        market["connect"] == "blocked" and market["geo_blocked"] is True and market["subscribe_ack"] == "n/a"
    )
    assert all(ch["connect"] == "blocked" for ch in binance["channels"] if ch["type"] == "rest")

    # refused: nothing listens
    gate = venues["gate"]
    assert gate["failure"] == "refused" and gate["geo_blocked"] is None
    assert gate["metadata"]["result"] == "refused" and gate["metadata"]["origin"] == "bundled"
    assert gate["channels"][0]["reconnects"] >= 3  # retried, then settled

    # DNS: the name never resolves (WebSocket and REST alike)
    kraken = venues["kraken"]
    assert kraken["failure"] == "dns" and UNRESOLVABLE_HOST in kraken["detail"]
    assert kraken["metadata"]["result"] == "dns" and "network" in kraken["hint"]

    assert len(report["summary"]) == 4 and any(
        line.startswith("binance: geo-blocked") for line in report["summary"]
    )
    assert any("try a VPN / other region" in h for h in report["hints"])
    assert any("check the network" in h for h in report["hints"])

    # the same report as plain text: one row per venue and channel, aligned under the header
    plain = io.StringIO()
    render_plain(report, plain)
    lines = plain.getvalue().splitlines()
    header = lines[0]
    assert header.split()[:4] == ["VENUE", "CHANNEL", "CONNECT", "GEO"]
    table = lines[1 : lines.index("")]
    rows = {(line.split()[0], line.split()[1]): line for line in table if not line[0].isspace()}
    assert "ok" in rows[("bybit", "linear")] and "liq long" in rows[("bybit", "linear")]
    assert "silent" not in rows[("okx", "public")] and rows[("okx", "public")].split()[2] == "ok"
    assert rows[("binance", "market")].split()[2:4] == ["geo-blocked", "BLOCKED"]
    assert rows[("gate", "usdt")].split()[2] == "refused"
    assert " ".join(rows[("kraken", "public")].split()[2:4]) == "DNS failed"
    assert "2 instruments (live)" in rows[("bybit", "instruments")]
    column = header.index("CONNECT")
    assert all(line[column - 2 : column] == "  " for line in rows.values())  # aligned columns
    assert "FAILED: 4 of 5 venues" in plain.getvalue()
    # and as the terminal table
    rich = io.StringIO()
    render_rich(report, rich)
    assert all(
        word in rich.getvalue() for word in ("geo-blocked", "DNS failed", "refused", "liq long", "Hint:")
    )


async def test_healthy_run_stops_early_exits_0_and_its_capture_replays(tmp_path: Path) -> None:
    capture = tmp_path / "doctor.cap.gz"
    async with ProtocolServer(LiveClockBybit()) as healthy:
        serve_bybit_instruments(healthy)
        rewrite = host_map({"bybit": f"ws://127.0.0.1:{healthy.port}"})
        async with feeding(healthy):
            code, text = await run_doctor(
                [
                    "--venues",
                    "bybit",
                    "--seconds",
                    "60",
                    "--symbols",
                    "BTC",
                    "--json",
                    "--record",
                    str(capture),
                ],
                rewrite,
            )
    report = json.loads(text)
    assert code == 0 and report["ok"] and report["exit_code"] == 0 and report["failed"] == []
    assert report["stopped_early"] and report["duration_s"] < 30  # everything answered: no need to wait 60 s
    record = report["record"]
    assert record["path"] == str(capture) and record["frames"] >= 2 and record["error"] == ""

    # the capture replays through the live parsers: the same liquidations as the doctor saw
    from cascade_tui.runtime.pipeline import Pipeline
    from cascade_tui.sources.replay import ReplaySource

    pipeline = Pipeline(ReplaySource([capture], speed=0.0))
    await asyncio.wait_for(pipeline.run(), 30)
    assert pipeline.error is None
    parser = pipeline.parsers["bybit"]
    channel = report["venues"]["bybit"]["channels"][0]
    assert parser.stats.events.get("liquidation", 0) == channel["events"]["liquidation"] >= 1
    assert parser.stats.parse_errors == 0
    assert parser.metadata.get("ICPUSDT", {}).get("baseAsset") == "ICP"  # the metadata frame came first


def _report_with_rows() -> dict[str, Any]:
    return {
        "ok": False, "duration_s": 1.0, "failed": ["binance"], "notes": [], "record": None,
        "summary": ["binance: geo-blocked (HTTP 451)"], "hints": ["geo-blocked: try a VPN / other region"],
        "venues": {"binance": {
            "failure": "blocked", "detail": "HTTP 451",
            "metadata": {"source": "fallback", "origin": "bundled", "instruments": 3, "result": "blocked"},
            "channels": [{"channel": "market", "connect": "blocked", "geo_blocked": True, "subscribe_ack": "n/a",
                          "frames": 0, "parsed": 0, "parse_errors": 0, "rejected": 0, "clock_offset_ms": None,
                          "first": {}}],
        }},
    }  # fmt: skip


def test_terminal_output_is_coloured_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    coloured = io.StringIO()
    render_rich(_report_with_rows(), coloured)
    assert ANSI_COLOUR.search(coloured.getvalue()) and "geo-blocked" in coloured.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = io.StringIO()
    render_rich(_report_with_rows(), plain)
    assert not ANSI_COLOUR.search(plain.getvalue())
    assert "BLOCKED" in plain.getvalue() and "try a VPN" in plain.getvalue()  # words, not colours, carry it


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--venues", "nosuch"], "unknown venue"),
        (["--seconds", "0"], "--seconds"),
        (["--record", "/proc/no/such/dir/x.cap.gz"], "--record"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main_doctor(argv) == 2
    assert message in capsys.readouterr().err


def test_unreadable_number_and_help_return_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_doctor(["--seconds", "x"]) == 2
    assert "invalid float" in capsys.readouterr().err
    assert main_doctor(["--help"]) == 0
    assert "--record" in capsys.readouterr().out


def _protocols() -> dict[str, Any]:
    from tests.wsservers.bitget import BitgetProtocol
    from tests.wsservers.bitmex import BitmexProtocol
    from tests.wsservers.bybit import BybitProtocol
    from tests.wsservers.deribit import DeribitProtocol
    from tests.wsservers.dydx import DydxProtocol
    from tests.wsservers.gate import GateProtocol
    from tests.wsservers.htx import HtxProtocol
    from tests.wsservers.hyperliquid import HyperliquidProtocol
    from tests.wsservers.kraken import KrakenProtocol

    return {
        "binance": BinanceProtocol, "bybit": BybitProtocol, "okx": OkxProtocol, "bitmex": BitmexProtocol,
        "deribit": DeribitProtocol, "gate": GateProtocol, "bitget": BitgetProtocol, "htx": HtxProtocol,
        "kraken": KrakenProtocol, "dydx": DydxProtocol, "hyperliquid": HyperliquidProtocol,
    }  # fmt: skip


def test_every_venue_has_a_local_server_here() -> None:
    from cascade_tui.feeds import venue_ids

    assert set(_protocols()) == set(venue_ids())


@pytest.mark.parametrize("venue", sorted(_protocols()))
async def test_each_venue_through_the_doctor_subscribed_acknowledged_and_parsed(venue: str) -> None:
    """Every venue's real spec and parser: its subscribe answers are recognised (doctor/acks.py)
    and its data frames parse, so the doctor passes it."""
    async with ProtocolServer(_protocols()[venue]()) as server:
        rewrite = host_map({"": f"ws://127.0.0.1:{server.port}"})  # every host of the venue
        async with feeding(server):
            code, text = await run_doctor(
                ["--venues", venue, "--seconds", "20", "--symbols", "BTC", "--json"], rewrite
            )
    report = json.loads(text)
    doc = report["venues"][venue]
    assert code == 0 and doc["ok"] and doc["parsed_frames"] >= 1, doc
    for ch in doc["channels"]:
        if ch["type"] == "ws":
            assert (
                ch["connect"] == "ok" and ch["subscribe_ack"] in ("yes", "n/a") and ch["parse_errors"] == 0
            ), ch
        else:  # the local server has no REST route for the OI/funding polls: it answers 404
            assert ch["connect"] == "http" and ch["geo_blocked"] is False, ch
    assert report["stopped_early"]


class RefusingBybit(LiveClockBybit):
    """Answers every subscribe the way Bybit refuses an unknown topic."""

    def on_message(self, session: Any, message: str) -> list[Any]:
        msg = json.loads(message)
        if msg.get("op") == "subscribe":
            return [json.dumps({"success": False, "ret_msg": "error:handler not found", "op": "subscribe"})]
        return super().on_message(session, message)


async def test_refused_subscription_and_unparsable_frames_are_named() -> None:
    async with ProtocolServer(RefusingBybit()) as refusing, ProtocolServer(OkxProtocol()) as garbled:
        rewrite = host_map(
            {"bybit": f"ws://127.0.0.1:{refusing.port}", "okx": f"ws://127.0.0.1:{garbled.port}"}
        )

        async def garbage() -> None:
            while True:
                for session in garbled.live():
                    await session.ws.send("{not json")
                await asyncio.sleep(0.05)

        task = asyncio.create_task(garbage())
        try:
            code, text = await run_doctor(
                ["--venues", "bybit,okx", "--seconds", "4", "--symbols", "BTC", "--json"], rewrite
            )
        finally:
            task.cancel()
    report = json.loads(text)
    assert code == 1
    bybit, okx = report["venues"]["bybit"], report["venues"]["okx"]
    assert bybit["failure"] == "subscribe_refused" and "handler not found" in bybit["detail"]
    assert bybit["channels"][0]["subscribe_ack"] == "refused" and bybit["channels"][0]["settled"]
    assert okx["failure"] == "unparsed" and okx["channels"][0]["parse_errors"] >= 1
    assert okx["channels"][0]["last_parse_error"] and "report" in okx["hint"]


async def test_ctrl_c_reports_what_was_seen_so_far() -> None:
    """asyncio.run cancels the main task on Ctrl+C: the doctor ends the run and still reports."""
    from cascade_tui.config import VenueConfig
    from cascade_tui.doctor.probe import Doctor, DoctorOptions
    from cascade_tui.doctor.report import build_report

    async with ProtocolServer(OkxProtocol()) as silent:
        silent.mute = True
        rewrite = host_map({"okx": f"ws://127.0.0.1:{silent.port}"})
        options = DoctorOptions(
            venues=["okx"],
            seconds=60.0,
            config=VenueConfig(oi_symbols=["BTC"]),
            connection_options=fast_options(url_rewrite=rewrite),
            http_transport=RewritingTransport(rewrite),
        )
        task = asyncio.create_task(Doctor(options).run())
        await eventually(lambda: any(s.ws.state.name == "OPEN" for s in silent.sessions), timeout=20)
        task.cancel()
        run = await asyncio.wait_for(task, 20)
    assert run.interrupted and not run.stopped_early and run.duration_s < 30
    report = build_report(run, quiet_s=options.quiet_s, give_up_after=options.give_up_after)
    assert report["interrupted"] and report["venues"]["okx"]["failure"] == "silent"
    plain = io.StringIO()
    render_plain(report, plain)
    assert "Interrupted after" in plain.getvalue()


def test_the_callers_logging_is_left_as_it_was() -> None:
    import logging

    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    assert main_doctor(["--venues", "nosuch"]) == 2
    assert (root.handlers, root.level) == before
