"""Hand-made Binance, Bybit and OKX frames, replayed from a capture through the real CLI,
give exactly the liquidation counts, sides and USD totals worked out by hand below."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cascade_tui.capture import CaptureWriter
from cascade_tui.model import RawFrame

T0 = 1_767_225_600.0

# Hand-made frames in each venue's documented format (exchanges.md §2–§4).
HANDMADE: list[tuple[float, str, str]] = [
    # Binance combined stream: SELL order = a LONG was liquidated; USD = z × ap = 0.5 × 60000 = 30000
    (0.1, "binance", '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1767225600100,"o":{"s":"BTCUSDT",'
     '"S":"SELL","o":"LIMIT","f":"IOC","q":"0.5","p":"59900","ap":"60000","X":"FILLED","l":"0.5","z":"0.5",'
     '"T":1767225600090}}}'),
    # Binance: BUY order = SHORT liquidated; 10 × 3000 = 30000
    (0.2, "binance", '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1767225600200,"o":{"s":"ETHUSDT",'
     '"S":"BUY","o":"LIMIT","f":"IOC","q":"10","p":"3010","ap":"3000","X":"FILLED","l":"4","z":"10",'
     '"T":1767225600190}}}'),
    # Binance raw (no envelope): SELL = LONG; 100 × 150.5 = 15050
    (0.3, "binance", '{"e":"forceOrder","E":1767225600300,"o":{"s":"SOLUSDT","S":"SELL","o":"LIMIT","f":"IOC",'
     '"q":"100","p":"150","ap":"150.5","X":"FILLED","l":"100","z":"100","T":1767225600290}}'),
    # Binance subscribe ack: not an event
    (0.35, "binance", '{"result":null,"id":1}'),
    # Bybit allLiquidation: S=Buy = LONG liquidated, 0.2 × 61000 = 12200; S=Sell = SHORT, 0.1 × 62000 = 6200
    (0.4, "bybit", '{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1767225600400,"data":['
     '{"T":1767225600350,"s":"BTCUSDT","S":"Buy","v":"0.2","p":"61000"},'
     '{"T":1767225600360,"s":"BTCUSDT","S":"Sell","v":"0.1","p":"62000"}]}'),
    # Bybit subscribe ack
    (0.45, "bybit", '{"success":true,"ret_msg":"subscribe","conn_id":"c1","req_id":"1","op":"subscribe"}'),
    # OKX: side sell = LONG; 50 contracts × ctVal 0.01 BTC × bkPx 60000 = 30000
    #      side buy = SHORT; 20 contracts × ctVal 0.1 ETH × 3000 = 6000
    (0.5, "okx", '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":['
     '{"details":[{"bkLoss":"0","bkPx":"60000","ccy":"","posSide":"long","side":"sell","sz":"50",'
     '"ts":"1767225600450"}],"instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"},'
     '{"details":[{"bkLoss":"0","bkPx":"3000","ccy":"","posSide":"short","side":"buy","sz":"20",'
     '"ts":"1767225600460"}],"instFamily":"ETH-USDT","instId":"ETH-USDT-SWAP","instType":"SWAP","uly":"ETH-USDT"}]}'),
    # OKX text pong
    (0.55, "okx", "pong"),
    # garbage on each venue: counted as parse errors, never raised
    (0.6, "binance", '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","o":{"s":"BTCUSDT"'),
    (0.6, "bybit", "not json at all"),
    (0.6, "okx", '{"arg":{"channel":"liquidation-orders"},"data":[{"details":[{"sz":"abc"}]}]}'),
]

EXPECTED = {
    "binance": {"long": {"count": 2, "usd": 45050.0}, "short": {"count": 1, "usd": 30000.0}},
    "bybit": {"long": {"count": 1, "usd": 12200.0}, "short": {"count": 1, "usd": 6200.0}},
    "okx": {"long": {"count": 1, "usd": 30000.0}, "short": {"count": 1, "usd": 6000.0}},
}


@pytest.fixture()
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "handmade.cap.gz"
    with CaptureWriter(path, {"source": "hand-made"}) as w:
        for dt, venue, text in HANDMADE:
            w.write(RawFrame(T0 + dt, venue, text))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_handmade_frames_give_exact_totals(capture: Path, tmp_path: Path) -> None:
    stats_path = tmp_path / "stats.json"
    proc = run_cli("--replay", str(capture), "--no-ui", "--redis-url", "off", "--stats", str(stats_path))
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(stats_path.read_text())
    for venue, sides in EXPECTED.items():
        got = stats["venues"][venue]["liquidations"]
        for side in ("long", "short"):
            assert got[side]["count"] == sides[side]["count"], (venue, side, got)
            assert got[side]["usd"] == pytest.approx(sides[side]["usd"], rel=1e-9), (venue, side, got)
        assert stats["venues"][venue]["parse_errors"] == 1, (venue, stats["venues"][venue])
    assert stats["venues"]["binance"]["frames"] == 5
    assert stats["venues"]["bybit"]["frames"] == 3
    assert stats["venues"]["okx"]["frames"] == 3
