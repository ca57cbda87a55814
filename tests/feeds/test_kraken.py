"""Kraken Futures adapter: the real cryptofeed capture KRAKEN_FUTURES.ws.1.0 (2021), the
nautilus_trader ticker/trade samples, the §10 doc example, and hand-made acks and garbage."""

from __future__ import annotations

import json

import pytest

from cascade_tui.feeds import kraken
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.model import Funding, Liquidation, Mark, OpenInterest, Trade
from tests.feeds.venue_samples import nautilus_text, ws_frames

RECV = 1676393236.0


def liquidation_of(trade_json: str) -> str:
    trade = json.loads(trade_json)
    trade["type"] = "liquidation"
    return json.dumps(trade)


def test_inverse_liquidation_qty_is_usd_contracts() -> None:
    # nautilus ws_futures_trade.json (the docs example: PI_XBTUSD, sell 15000 @ 34969.5), as a liquidation
    p = kraken.KrakenParser()
    liq, trade = p.parse(liquidation_of(nautilus_text("kraken", "ws_futures_trade.json")), RECV)
    assert isinstance(liq, Liquidation) and isinstance(trade, Trade)
    assert liq.side == "long"  # taker sell: the liquidated long's forced sell
    assert liq.asset == "BTC" and liq.instrument == "PI_XBTUSD"
    assert liq.usd == pytest.approx(15000.0)  # 15000 contracts × 1 USD
    assert liq.qty == pytest.approx(0.428945)  # 15000 / 34969.5 = 0.428945 BTC
    assert liq.raw_size == 15000
    assert liq.event_ts == pytest.approx(1612266317.519)
    assert trade.taker_side == "sell" and trade.usd == pytest.approx(15000.0)
    assert p.stats.events == {"liquidation": 1, "trade": 1}


def test_linear_liquidation_qty_is_base() -> None:
    # §10 doc frame on PF_XBTUSD; qty changed by hand from 15000 to 0.015 BTC (a plausible size)
    frame = (
        '{"feed":"trade","product_id":"PF_XBTUSD","uid":"05af78ac-a774-478c-a50c-8b9c234e071e",'
        '"side":"buy","type":"liquidation","seq":653355,"time":1612266317519,"qty":0.015,"price":34969.5}'
    )
    liq, _ = kraken.KrakenParser().parse(frame, RECV)
    assert liq.side == "short"  # type: ignore[union-attr]  # taker buy closes a short
    assert liq.qty == pytest.approx(0.015)  # base coin on PF_
    assert liq.usd == pytest.approx(524.5425)  # 0.015 × 34969.5


def test_normal_fill_is_a_trade_only() -> None:
    (t,) = kraken.KrakenParser().parse(nautilus_text("kraken", "ws_futures_trade.json"), RECV)
    assert isinstance(t, Trade) and t.qty == pytest.approx(15000 / 34969.5)


def test_contract_size_and_type_from_metadata() -> None:
    # lower-case ids as Kraken's instruments REST returns them
    meta = {"pi_xbtusd": {"type": "futures_inverse", "contractSize": 10}}
    liq, _ = kraken.KrakenParser(meta).parse(
        liquidation_of(nautilus_text("kraken", "ws_futures_trade.json")), RECV
    )
    assert liq.usd == pytest.approx(150000.0)  # 15000 × 10 USD


def test_ticker_funding_oi_mark() -> None:
    events = kraken.KrakenParser().parse(nautilus_text("kraken", "ws_futures_ticker.json"), RECV)
    by_kind = {type(e): e for e in events}
    mark, funding, oi = by_kind[Mark], by_kind[Funding], by_kind[OpenInterest]
    assert mark.price == pytest.approx(21979.68641534714) and mark.index == pytest.approx(21984.54)
    assert funding.rate == pytest.approx(-1.380384722222e-6)  # relative rate, not the absolute funding_rate
    assert funding.interval_h == 1.0
    assert funding.next_ts == pytest.approx(1676394000.0)
    assert funding.event_ts == pytest.approx(1676393235.406)
    assert oi.usd == pytest.approx(30072580.0)  # PI_: 30,072,580 contracts × 1 USD
    assert oi.oi == pytest.approx(1368.2)  # 30072580 / 21979.686 = 1368.2 BTC


def test_whole_capture_parses() -> None:
    frames = ws_frames("KRAKEN_FUTURES.ws.1.0")
    p = kraken.KrakenParser()
    expected_trades = 0
    for ts, raw in frames:
        msg = json.loads(raw)
        expected_trades += msg.get("feed") == "trade" and "event" not in msg
        p.parse(raw, ts)
    s = p.stats
    assert s.frames == len(frames) == s.parsed + s.ignored + s.parse_errors
    assert s.parse_errors == 0, s.last_error
    assert s.events == {"trade": expected_trades} and expected_trades == 3
    # the 10 trade_snapshot messages (history) produced nothing
    assert "liquidation" not in s.events


def test_capture_inverse_trade_units() -> None:
    frames = ws_frames("KRAKEN_FUTURES.ws.1.0")
    ts, raw = next(
        (t, f) for t, f in frames if '"uid"' in f and f.startswith('{"feed":"trade","product_id":"PI_LTCUSD"')
    )
    (t,) = kraken.KrakenParser().parse(raw, ts)
    assert t.instrument == "PI_LTCUSD" and t.asset == "LTC"  # type: ignore[union-attr]
    assert t.usd == pytest.approx(320.0)  # type: ignore[union-attr]  # 320 USD contracts
    assert t.qty == pytest.approx(2.67917)  # type: ignore[union-attr]  # 320 / 119.44 LTC


def test_snapshot_and_acks_ignored() -> None:
    p = kraken.KrakenParser()
    snapshot = {
        "feed": "trade_snapshot",
        "product_id": "PF_XBTUSD",
        "trades": [json.loads(liquidation_of(nautilus_text("kraken", "ws_futures_trade.json")))],
    }
    frames = [
        json.dumps(snapshot),  # contains a liquidation: history, not a new event
        '{"event":"info","version":1}',
        '{"event":"subscribed","feed":"trade","product_ids":["PF_XBTUSD"]}',
        '{"feed":"heartbeat","time":1676393235406}',
    ]
    for f in frames:
        assert p.parse(f, RECV) == []
    assert p.stats.ignored == len(frames) and p.stats.events == {}


@pytest.mark.parametrize(
    "frame",
    [
        "nope",
        "[]",
        '{"event":"alert","message":"Bad request"}',
        '{"event":"subscribed_failed","feed":"trade","product_ids":["PF_NOPE"]}',
        '{"feed":"trade","product_id":"PF_XBTUSD","type":"fill","side":"up","qty":1,"price":1,"time":1}',
        '{"feed":"trade","product_id":"PF_XBTUSD","type":"fill","side":"buy","qty":"x","price":1,"time":1}',
        '{"feed":"mystery"}',
    ],
)
def test_garbage_counted(frame: str) -> None:
    p = kraken.KrakenParser()
    assert p.parse(frame, RECV) == []
    assert p.stats.parse_errors == 1
    assert p.stats.frames == p.stats.parsed + p.stats.ignored + p.stats.parse_errors


@pytest.mark.parametrize(("field", "value"), [("qty", -1.0), ("qty", "NaN"), ("price", 0)])
def test_impossible_values_rejected(field: str, value: object) -> None:
    trade = json.loads(liquidation_of(nautilus_text("kraken", "ws_futures_trade.json")))
    trade[field] = value
    p = kraken.KrakenParser()
    assert p.parse(json.dumps(trade), RECV) == []
    assert p.stats.rejected == 2 and p.stats.parse_errors == 0  # the liquidation and its trade


def test_subscriptions() -> None:
    req = SubscribeRequest(
        liquidation_instruments=["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"],
        instruments=["PF_XBTUSD", "PF_ETHUSD"],
        btc_trades=True,
    )
    (sub,) = kraken.SPEC.subscriptions(req)
    assert sub.url == "wss://futures.kraken.com/ws/v1"
    assert [json.loads(m) for m in sub.messages] == [
        {"event": "subscribe", "feed": "heartbeat"},
        {"event": "subscribe", "feed": "trade", "product_ids": ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"]},
        {"event": "subscribe", "feed": "ticker", "product_ids": ["PF_XBTUSD", "PF_ETHUSD"]},
    ]


def test_spec() -> None:
    spec = kraken.SPEC
    assert spec.id == "kraken" and not spec.sampled and spec.has_liquidations
    assert spec.keepalive.interval < 60
    assert spec.instruments_for(["BTC", "ETH"]) == ["PF_XBTUSD", "PF_ETHUSD"]  # type: ignore[misc]
    assert spec.btc_instrument == "PF_XBTUSD"
