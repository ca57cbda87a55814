"""OKX v5 adapter: frames from docs/exchanges.md §4 and the shared samples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cascade_tui.feeds import spec
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.feeds.okx import SPEC, OkxParser
from cascade_tui.model import Funding, Liquidation, Mark, OpenInterest, Trade
from tests.feeds.venue_samples import nautilus_text, rest_bodies, ws_frames

# Doc example (exchanges.md §4); live 2026-09 captures have the same shape.
IOST = (
    '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},'
    '"data":[{"details":[{"bkLoss":"0","bkPx":"0.007831","ccy":"","posSide":"short","side":"buy",'
    '"sz":"13","ts":"1692266434010"}],'
    '"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]}'
)
# IOST-USDT-SWAP from the OKX.0 instruments sample: 1 contract = 1000 IOST
IOST_META = {"IOST-USDT-SWAP": {"ctVal": "1000", "ctMult": "1", "ctType": "linear", "ctValCcy": "IOST"}}


def liq(inst_id: str, side: str, sz: str, px: str, ts: str = "1700000000000") -> str:
    """Hand-made liquidation-orders frame in the documented shape."""
    detail = {"bkLoss": "0", "bkPx": px, "ccy": "", "posSide": "net", "side": side, "sz": sz, "ts": ts}
    return json.dumps(
        {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [{"details": [detail], "instId": inst_id, "instType": "SWAP"}],
        }
    )


def stats_add_up(p: OkxParser) -> None:
    s = p.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


def okx_metadata() -> dict[str, Any]:
    """instId -> instrument row, from the recorded REST instruments responses."""
    meta: dict[str, Any] = {}
    for _, body in rest_bodies("OKX.0"):
        for row in body["data"]:
            meta[row["instId"]] = row
    return meta


def test_doc_liquidation_with_metadata() -> None:
    [ev] = OkxParser(IOST_META).parse(IOST, 1.0)
    assert isinstance(ev, Liquidation)
    assert ev.side == "short"  # order side buy => a short was liquidated (posSide agrees)
    assert ev.qty == 13000.0  # 13 contracts × 1000 IOST
    assert ev.usd == pytest.approx(101.803)  # 13000 × 0.007831
    assert ev.raw_size == 13.0 and ev.price == pytest.approx(0.007831)
    assert ev.event_ts == pytest.approx(1692266434.010) and ev.sampled is True
    assert ev.asset == "IOST" and ev.instrument == "IOST-USDT-SWAP"


def test_unknown_contract_is_a_parse_error_not_a_guess() -> None:
    p = OkxParser()
    assert p.parse(IOST, 1.0) == []
    assert p.stats.parse_errors == 1
    assert "IOST-USDT-SWAP" in p.stats.last_error and "ctVal" in p.stats.last_error


def test_bundled_linear_and_inverse_units() -> None:
    p = OkxParser()
    [lin] = p.parse(liq("BTC-USDT-SWAP", "sell", "5", "60000"), 1.0)
    assert lin.side == "long"  # order side sell => long liquidated
    assert lin.qty == pytest.approx(0.05)  # 5 contracts × 0.01 BTC
    assert lin.usd == pytest.approx(3000.0)  # 0.05 × 60000
    [inv] = p.parse(liq("BTC-USD-SWAP", "buy", "5", "50000"), 1.0)
    assert inv.side == "short"
    assert inv.usd == pytest.approx(500.0)  # 5 contracts × 100 USD
    assert inv.qty == pytest.approx(0.01)  # 500 USD / 50000
    [eth] = p.parse(liq("ETH-USDT-SWAP", "sell", "10", "3000"), 1.0)
    assert eth.qty == pytest.approx(1.0) and eth.usd == pytest.approx(3000.0)  # 10 × 0.1 ETH × 3000
    # metadata overrides the bundled value (and ctMult multiplies it)
    [custom] = OkxParser({"BTC-USDT-SWAP": {"ctVal": "0.001", "ctMult": "2", "ctType": "linear"}}).parse(
        liq("BTC-USDT-SWAP", "sell", "5", "60000"), 1.0
    )
    assert custom.qty == pytest.approx(0.01)  # 5 × 0.001 × 2


def test_replayed_first_message_is_deduplicated() -> None:
    p = OkxParser(IOST_META)
    assert len(p.parse(IOST, 1.0)) == 1
    p.reset()  # reconnect: OKX replays recent liquidations in the first push
    replay = json.loads(IOST)
    fresh = {
        "bkLoss": "0",
        "bkPx": "0.0079",
        "ccy": "",
        "posSide": "long",
        "side": "sell",
        "sz": "2",
        "ts": "1692266435000",
    }
    replay["data"][0]["details"].append(fresh)
    [new] = p.parse(json.dumps(replay), 2.0)  # the old one is dropped, the new one kept
    assert new.side == "long" and new.qty == 2000.0
    assert p.parse(IOST, 3.0) == []  # a pure replay is ignored, not counted
    assert p.stats.events == {"liquidation": 2}
    assert p.stats.ignored == 1
    stats_add_up(p)


def test_dedupe_memory_is_bounded() -> None:
    p = OkxParser()
    for i in range(5000):
        p.parse(liq("BTC-USDT-SWAP", "sell", "1", "60000", ts=str(1700000000000 + i)), 1.0)
    assert len(p._seen) <= 4096
    assert p.stats.events == {"liquidation": 5000}


def test_trades_contracts_and_spot() -> None:
    p = OkxParser()
    frame = (
        '{"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP",'
        '"tradeId":"1","px":"60000","sz":"3","side":"sell","ts":"1700000000000","count":"2"}]}'
    )
    [t] = p.parse(frame, 1.0)
    assert isinstance(t, Trade)
    assert t.taker_side == "sell" and t.qty == pytest.approx(0.03)  # 3 contracts × 0.01 BTC
    assert t.usd == pytest.approx(1800.0)
    # nautilus doc sample on a BASE-QUOTE id (spot): size already in base
    [s] = p.parse(nautilus_text("okx", "ws_trades.json"), 1.0)
    assert s.qty == pytest.approx(0.12060306) and s.taker_side == "buy"
    assert s.usd == pytest.approx(0.12060306 * 42219.9)


def test_funding_interval_from_times() -> None:
    p = OkxParser()
    [f] = p.parse(nautilus_text("okx", "ws_funding_rate.json"), 1.0)
    assert isinstance(f, Funding)
    assert f.rate == pytest.approx(0.0001)
    assert f.interval_h == pytest.approx(8.0)  # 1744619149506 − 1744590349506 = 28,800,000 ms
    assert f.next_ts == pytest.approx(1744590349.506)  # fundingTime = the coming settlement
    doc = (
        '{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"fundingRate":"0.0001875391284828",'
        '"fundingTime":"1700726400000","instId":"BTC-USD-SWAP","instType":"SWAP","method":"current_period",'
        '"maxFundingRate":"0.00375","minFundingRate":"-0.00375","nextFundingRate":"",'
        '"nextFundingTime":"1700740800000","premium":"0.0001233824646391","settFundingRate":"0.0001699799259033",'
        '"settState":"settled","ts":"1700724675402"}]}'
    )
    [f2] = p.parse(doc, 1.0)  # nextFundingTime edited to +4 h: a shortened interval
    assert f2.interval_h == pytest.approx(4.0) and f2.event_ts == pytest.approx(1700724675.402)


def test_open_interest_and_mark() -> None:
    p = OkxParser({"LTC-USD-SWAP": {"ctVal": "10", "ctType": "inverse", "ctValCcy": "USD"}})
    doc = (
        '{"arg":{"channel":"open-interest","instId":"LTC-USD-SWAP"},'
        '"data":[{"instType":"SWAP","instId":"LTC-USD-SWAP","oi":"5000","oiCcy":"555.55","ts":"1597026383085"}]}'
    )
    [oi] = p.parse(doc, 1.0)
    assert isinstance(oi, OpenInterest)
    assert oi.oi == pytest.approx(555.55)  # oiCcy: coin units
    assert oi.usd == pytest.approx(50000.0)  # inverse: 5000 contracts × 10 USD
    mark_frame = '{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","markPx":"60000","ts":"1"}]}'
    [m] = p.parse(mark_frame, 1.0)
    assert isinstance(m, Mark) and m.price == 60000.0
    lin = '{"arg":{"channel":"open-interest","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","oi":"100","oiCcy":"1","ts":"2"}]}'
    [oi2] = p.parse(lin, 1.0)
    assert oi2.usd == pytest.approx(60000.0)  # 1 BTC × last mark


def test_events_pongs_errors_ignored() -> None:
    p = OkxParser()
    assert p.parse("pong", 1.0) == []
    assert p.parse(b"pong", 1.0) == []
    assert (
        p.parse(
            '{"event":"subscribe","arg":{"channel":"liquidation-orders","instType":"SWAP"},"connId":"a"}', 1.0
        )
        == []
    )
    assert p.parse('{"event":"error","code":"60012","msg":"Invalid request","connId":"a"}', 1.0) == []
    assert p.parse('{"event":"notice","code":"64008","msg":"upgrade","connId":"a"}', 1.0) == []
    assert p.stats.ignored == 5 and p.stats.parse_errors == 0
    assert "60012" in p.stats.last_error


@pytest.mark.parametrize(
    "frame",
    [
        "ping?",
        "[1,2]",
        '{"arg":{},"data":[]}',
        '{"arg":{"channel":"trades"},"data":{}}',
        liq("BTC-USDT-SWAP", "up", "1", "1"),
        liq("BTC-USDT-SWAP", "sell", "x", "1"),
    ],
)
def test_garbage_is_counted(frame: str) -> None:
    p = OkxParser()
    assert p.parse(frame, 1.0) == []
    assert p.stats.parse_errors == 1
    stats_add_up(p)


@pytest.mark.parametrize(("sz", "px"), [("NaN", "60000"), ("-1", "60000"), ("1", "-5")])
def test_impossible_values_rejected(sz: str, px: str) -> None:
    p = OkxParser()
    assert p.parse(liq("BTC-USDT-SWAP", "sell", sz, px), 1.0) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0


def test_whole_cryptofeed_capture() -> None:
    frames = ws_frames("OKX.ws.1.0")
    with_meta = OkxParser(okx_metadata())
    for ts, raw in frames:
        with_meta.parse(raw, ts)
    s = with_meta.stats
    assert s.frames == len(frames) == 410
    assert s.parse_errors == 0, s.last_error
    assert s.events == {"trade": 4 + 1 + 69}  # BTC-USD-220527, UNI-USD-SWAP, BTC-USDT (spot)
    stats_add_up(with_meta)
    # without metadata the future and the UNI swap have no contract value: counted, not guessed
    bare = OkxParser()
    for ts, raw in frames:
        bare.parse(raw, ts)
    assert bare.stats.parse_errors == 4 + 1
    assert bare.stats.events == {"trade": 69}
    stats_add_up(bare)


def test_spec_subscriptions() -> None:
    assert spec("okx") is SPEC
    [sub] = SPEC.subscriptions(
        SubscribeRequest(instruments=["BTC-USDT-SWAP", "ETH-USDT-SWAP"], btc_trades=True)
    )
    assert sub.url == "wss://ws.okx.com:8443/ws/v5/public"
    args = [a for m in sub.messages for a in json.loads(m)["args"]]
    assert all(json.loads(m)["op"] == "subscribe" for m in sub.messages)
    assert args[0] == {"channel": "liquidation-orders", "instType": "SWAP"}
    assert {"channel": "trades", "instId": "BTC-USDT-SWAP"} in args
    assert {"channel": "funding-rate", "instId": "ETH-USDT-SWAP"} in args
    assert {"channel": "open-interest", "instId": "ETH-USDT-SWAP"} in args
    assert len(args) == 1 + 2 + 3 * 2
    assert SPEC.keepalive.kind == "text" and SPEC.keepalive.message == "ping" and SPEC.keepalive.interval < 30
    assert SPEC.instruments_for and SPEC.instruments_for(["BTC"]) == ["BTC-USDT-SWAP"]
