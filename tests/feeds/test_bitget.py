"""Bitget v3 adapter: frames quoted in docs/exchanges.md §8 (real 2026-04 captures from
tardis-node tests) plus hand-made acks, snapshots and garbage."""

from __future__ import annotations

import json

import pytest

from cascade_tui.feeds import bitget
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.model import Funding, Liquidation, Mark, OpenInterest, Trade

LIQUIDATION = (
    '{"action":"update","arg":{"instType":"usdt-futures","topic":"liquidation"},'
    '"data":[{"symbol":"APEUSDT","side":"buy","price":"0.1649","amount":"13.70319","ts":"1777358886549"},'
    '{"symbol":"IPUSDT","side":"buy","price":"0.500280739469","amount":"143.330431857868","ts":"1777358876983"}],'
    '"ts":1777358897167}'
)
TRADE = (
    '{"action":"update","arg":{"instType":"usdt-futures","topic":"publicTrade","symbol":"BTCUSDT"},'
    '"data":[{"i":"1432912492051054592","p":"76631.3","v":"0.01","S":"buy","T":"1777358881008",'
    '"L":"1432912492051054593","isRPI":"no"}],"ts":1777358881009}'
)
TICKER = (
    '{"action":"snapshot","arg":{"instType":"usdt-futures","topic":"ticker","symbol":"BTCUSDT"},'
    '"data":[{"lastPrice":"76631.3","indexPrice":"76671.4381686055379793","markPrice":"76631.3",'
    '"fundingRate":"-0.00003","openInterest":"29539.3825","nextFundingTime":"1777363200000",'
    '"bid1Price":"76631.2","ask1Price":"76631.3","volume24h":"37764.7894","turnover24h":"2914473798.93323"}],'
    '"ts":1777358880084}'
)
RECV = 1777358897.5


def test_liquidation_side_qty_usd_from_usdt_amount() -> None:
    p = bitget.BitgetParser()
    ape, ip = p.parse(LIQUIDATION, RECV)
    assert isinstance(ape, Liquidation)
    assert ape.side == "long"  # side "buy" is the POSITION side: a long was liquidated
    assert ape.asset == "APE" and ape.instrument == "APEUSDT"
    assert ape.price == pytest.approx(0.1649)
    assert ape.usd == pytest.approx(13.70319)  # amount is the USDT notional
    assert ape.qty == pytest.approx(83.1)  # 13.70319 / 0.1649 = 83.1 APE (a round lot)
    assert ape.raw_size == pytest.approx(13.70319)
    assert ape.event_ts == pytest.approx(1777358886.549)
    assert ape.recv_ts == RECV
    assert ape.sampled is True  # largest long/short per pair per second only
    assert ip.qty == pytest.approx(286.5)  # 143.330431857868 / 0.500280739469 = 286.5 IP
    assert p.stats.events == {"liquidation": 2}


def test_liquidation_sell_side_is_short() -> None:
    frame = LIQUIDATION.replace('"side":"buy"', '"side":"sell"', 1)
    ev = bitget.BitgetParser().parse(frame, RECV)[0]
    assert ev.side == "short"  # type: ignore[union-attr]


def test_trade() -> None:
    (t,) = bitget.BitgetParser().parse(TRADE, RECV)
    assert isinstance(t, Trade)
    assert t.taker_side == "buy"
    assert t.qty == pytest.approx(0.01)  # v is base coin on usdt-futures
    assert t.usd == pytest.approx(766.313)  # 0.01 × 76631.3
    assert t.event_ts == pytest.approx(1777358881.008)


def test_coin_futures_trade_size_is_usd() -> None:
    frame = TRADE.replace("usdt-futures", "coin-futures").replace('"v":"0.01"', '"v":"100"')
    (t,) = bitget.BitgetParser().parse(frame, RECV)
    assert t.usd == pytest.approx(100.0)  # v = 100 USD
    assert t.qty == pytest.approx(100 / 76631.3)  # USD / price = BTC


def test_ticker_funding_oi_mark() -> None:
    p = bitget.BitgetParser()
    events = p.parse(TICKER, RECV)
    by_kind = {type(e): e for e in events}
    mark, funding, oi = by_kind[Mark], by_kind[Funding], by_kind[OpenInterest]
    assert mark.price == pytest.approx(76631.3)
    assert mark.index == pytest.approx(76671.4381686055)
    assert funding.rate == pytest.approx(-0.00003)
    assert funding.interval_h == 8.0  # Bitget default; metadata overrides it
    assert funding.next_ts == pytest.approx(1777363200.0)
    assert funding.event_ts == pytest.approx(1777358880.084)
    assert oi.oi == pytest.approx(29539.3825)  # base coin
    assert oi.usd == pytest.approx(29539.3825 * 76631.3)  # ≈ $2.26 B at the mark price


def test_funding_interval_from_metadata() -> None:
    p = bitget.BitgetParser({"BTCUSDT": {"fundInterval": "4"}})
    funding = next(e for e in p.parse(TICKER, RECV) if isinstance(e, Funding))
    assert funding.interval_h == 4.0


def test_snapshots_acks_and_pong_are_ignored_not_counted() -> None:
    p = bitget.BitgetParser()
    frames = [
        "pong",
        TRADE.replace('"action":"update"', '"action":"snapshot"'),  # history on subscribe
        LIQUIDATION.replace('"action":"update"', '"action":"snapshot"'),
        '{"event":"subscribe","arg":{"instType":"usdt-futures","topic":"liquidation"}}',
    ]
    for f in frames:
        assert p.parse(f, RECV) == []
    assert p.stats.ignored == 4
    assert p.stats.parse_errors == 0
    assert p.stats.events == {}


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1,2]",
        '{"event":"error","code":30001,"msg":"instType:usdt-futures,topic:nope doesn\'t exist"}',
        '{"action":"update","arg":{"instType":"usdt-futures","topic":"liquidation"},"data":[{"symbol":"X"}]}',
        LIQUIDATION.replace('"side":"buy"', '"side":"flat"', 1),
        LIQUIDATION.replace('"price":"0.1649"', '"price":null', 1),
        b"\x1f\x8b\x00garbage",
    ],
)
def test_garbage_is_counted_never_raised(frame: str | bytes) -> None:
    p = bitget.BitgetParser()
    assert p.parse(frame, RECV) == []
    assert p.stats.parse_errors == 1
    assert p.stats.frames == p.stats.parsed + p.stats.ignored + p.stats.parse_errors


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"amount":"13.70319"', '"amount":"NaN"'),
        ('"amount":"13.70319"', '"amount":"-13.7"'),
        ('"price":"0.1649"', '"price":"0"'),
    ],
)
def test_impossible_values_rejected(old: str, new: str) -> None:
    p = bitget.BitgetParser()
    events = p.parse(LIQUIDATION.replace(old, new, 1), RECV)
    assert len(events) == 1  # the IP record survives
    assert p.stats.rejected == 1


def test_subscriptions_are_valid_json_with_at_most_five_args() -> None:
    req = SubscribeRequest(instruments=["BTCUSDT", "ETHUSDT"], btc_trades=True)
    (sub,) = bitget.SPEC.subscriptions(req)
    assert sub.url == "wss://ws.bitget.com/v3/ws/public"
    args = []
    for m in sub.messages:
        msg = json.loads(m)
        assert msg["op"] == "subscribe" and 1 <= len(msg["args"]) <= 5
        args += msg["args"]
    assert args[0] == {"instType": "usdt-futures", "topic": "liquidation"}
    topics = {(a["topic"], a.get("symbol")) for a in args}
    assert topics == {
        ("liquidation", None),
        ("publicTrade", "BTCUSDT"),
        ("publicTrade", "ETHUSDT"),
        ("ticker", "BTCUSDT"),
        ("ticker", "ETHUSDT"),
    }
    assert len(args) == 5  # BTC trades not subscribed twice


def test_spec() -> None:
    spec = bitget.SPEC
    assert spec.id == "bitget" and spec.sampled and spec.has_liquidations
    assert spec.keepalive.kind == "text" and spec.keepalive.message == "ping"
    assert spec.keepalive.interval <= 30
    assert spec.instruments_for(["BTC", "eth"]) == ["BTCUSDT", "ETHUSDT"]  # type: ignore[misc]
    assert spec.btc_instrument == "BTCUSDT"
    assert spec.parser is bitget.BitgetParser and spec.parser.sampled
