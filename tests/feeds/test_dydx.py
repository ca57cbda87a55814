"""dYdX v4 adapter: the live 2026-09 LIQUIDATED frame quoted in docs/exchanges.md §11, the
nautilus_trader samples (v4_trades update; /v4/perpetualMarkets markets wrapped by hand in a
`subscribed` v4_markets envelope), and hand-made deltas, acks and garbage."""

from __future__ import annotations

import json

import pytest

from cascade_tui.feeds import dydx
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.model import Funding, Liquidation, Mark, OpenInterest, Trade
from tests.feeds.venue_samples import nautilus_text

RECV = 1789652388.0
LIQUIDATED = (
    '{"type":"channel_data","connection_id":"x","message_id":7,"id":"BTC-USD","channel":"v4_trades",'
    '"version":"2.4.0","contents":{"trades":[{"id":"064e89330000000200000002","side":"SELL",'
    '"size":"0.0004","price":"75974","type":"LIQUIDATED","createdAt":"2026-09-17T13:39:47.542Z",'
    '"createdAtHeight":"105810227"}]}}'
)


def markets_snapshot() -> str:
    markets = json.loads(nautilus_text("dydx", "http_get_perpetual_markets.json"))["result"]["markets"]
    return json.dumps(
        {
            "type": "subscribed",
            "connection_id": "x",
            "message_id": 1,
            "channel": "v4_markets",
            "contents": {"markets": markets},
        }
    )


def test_liquidated_trade() -> None:
    p = dydx.DydxParser()
    liq, trade = p.parse(LIQUIDATED, RECV)
    assert isinstance(liq, Liquidation) and isinstance(trade, Trade)
    assert liq.side == "long"  # taker SELL: the forced sell of a liquidated long
    assert liq.asset == "BTC" and liq.instrument == "BTC-USD"
    assert liq.qty == pytest.approx(0.0004)  # size is base
    assert liq.usd == pytest.approx(30.3896)  # 0.0004 × 75974
    assert liq.event_ts == pytest.approx(1789652387.542)  # 2026-09-17T13:39:47.542Z (calendar.timegm)
    assert liq.sampled is False
    assert trade.taker_side == "sell" and trade.usd == pytest.approx(30.3896)


def test_buy_liquidation_is_a_short() -> None:
    (liq, _) = dydx.DydxParser().parse(LIQUIDATED.replace('"SELL"', '"BUY"'), RECV)
    assert liq.side == "short"  # type: ignore[union-attr]


def test_deleveraged_is_not_a_liquidation_nor_a_trade() -> None:
    p = dydx.DydxParser()
    assert p.parse(LIQUIDATED.replace("LIQUIDATED", "DELEVERAGED"), RECV) == []
    assert p.stats.parsed == 1 and p.stats.events == {}


def test_trades_update_sample() -> None:
    t1, t2 = dydx.DydxParser().parse(nautilus_text("dydx", "ws_trades_update.json"), RECV)
    assert isinstance(t1, Trade) and isinstance(t2, Trade)
    assert (t1.taker_side, t1.qty, t1.price) == ("sell", 1.2, 43248.0)
    assert t1.usd == pytest.approx(51897.6)  # 1.2 × 43248
    assert t2.taker_side == "buy" and t2.usd == pytest.approx(12975.6)  # 0.3 × 43252
    assert t1.event_ts == pytest.approx(1704067201.0)  # 2024-01-01T00:00:01Z


def test_trades_snapshot_on_subscribe_is_ignored() -> None:
    p = dydx.DydxParser()
    snapshot = LIQUIDATED.replace('"type":"channel_data"', '"type":"subscribed"')
    assert p.parse(snapshot, RECV) == []
    assert p.stats.ignored == 1 and p.stats.events == {}


def test_markets_snapshot_state() -> None:
    events = dydx.DydxParser().parse(markets_snapshot(), RECV)
    btc = {type(e): e for e in events if e.instrument == "BTC-USD"}
    assert btc[Mark].price == pytest.approx(89919.2)  # oracle price
    assert btc[Funding].rate == pytest.approx(0.00000254545454545455)
    assert btc[Funding].interval_h == 1.0  # hourly
    assert btc[OpenInterest].oi == pytest.approx(381.7348)  # base BTC
    assert btc[OpenInterest].usd == pytest.approx(34325287.83)  # 381.7348 × 89919.2
    assert {e.asset for e in events} == {"BTC", "ETH", "SOL"}
    assert len(events) == 9  # mark, funding, OI for 3 markets


def test_markets_deltas_use_last_oracle_price() -> None:
    p = dydx.DydxParser()
    oracle = (
        '{"type":"channel_data","connection_id":"x","message_id":2,"channel":"v4_markets","version":"1.0.0",'
        '"contents":{"oraclePrices":{"ETH-USD":{"oraclePrice":"3100.5","effectiveAt":"2025-12-08T16:12:01.000Z",'
        '"effectiveAtHeight":"1","marketId":1}}}}'
    )
    trading = (
        '{"type":"channel_data","connection_id":"x","message_id":3,"channel":"v4_markets","version":"1.0.0",'
        '"contents":{"trading":{"ETH-USD":{"openInterest":"7000","nextFundingRate":"-0.00001"}}}}'
    )
    (mark,) = p.parse(oracle, RECV)
    assert isinstance(mark, Mark) and mark.price == pytest.approx(3100.5)
    assert mark.event_ts == pytest.approx(1765210321.0)  # 2025-12-08T16:12:01Z
    funding, oi = p.parse(trading, RECV)
    assert isinstance(funding, Funding) and funding.rate == pytest.approx(-0.00001)
    assert isinstance(oi, OpenInterest) and oi.usd == pytest.approx(21_703_500.0)  # 7000 × 3100.5
    p.reset()  # a new connection forgets prices
    _, oi = p.parse(trading, RECV)
    assert oi.usd is None  # type: ignore[union-attr]


def test_acks_ignored() -> None:
    p = dydx.DydxParser()
    for f in [
        '{"type":"connected","connection_id":"abc","message_id":0}',
        '{"type":"unsubscribed","connection_id":"abc","message_id":9,"channel":"v4_trades","id":"BTC-USD"}',
    ]:
        assert p.parse(f, RECV) == []
    assert p.stats.ignored == 2


@pytest.mark.parametrize(
    "frame",
    [
        "{",
        "[]",
        '{"type":"error","message":"Invalid subscribe message: invalid channel","connection_id":"x","message_id":1}',
        LIQUIDATED.replace('"SELL"', '"SIDEWAYS"'),
        LIQUIDATED.replace("2026-09-17T13:39:47.542Z", "yesterday"),
        LIQUIDATED.replace('"size":"0.0004"', '"size":true'),
        '{"type":"channel_data","channel":"v4_trades","id":"BTC-USD","contents":{"trades":{"a":1}}}',
    ],
)
def test_garbage_counted(frame: str) -> None:
    p = dydx.DydxParser()
    assert p.parse(frame, RECV) == []
    assert p.stats.parse_errors == 1
    assert p.stats.frames == p.stats.parsed + p.stats.ignored + p.stats.parse_errors


@pytest.mark.parametrize("size", ['"NaN"', '"-0.0004"', '"0"'])
def test_impossible_sizes_rejected(size: str) -> None:
    p = dydx.DydxParser()
    assert p.parse(LIQUIDATED.replace('"0.0004"', size), RECV) == []
    assert p.stats.rejected == 2  # the liquidation and its trade


def test_subscriptions_pool_32_markets_per_connection() -> None:
    markets = [f"M{i}-USD" for i in range(40)]
    first, second = dydx.SPEC.subscriptions(
        SubscribeRequest(liquidation_instruments=markets, btc_trades=True)
    )
    assert first.url == second.url == "wss://indexer.dydx.trade/v4/ws"
    msgs = [json.loads(m) for m in first.messages]
    assert msgs[0] == {"type": "subscribe", "channel": "v4_markets"}
    assert msgs[1] == {"type": "subscribe", "channel": "v4_trades", "id": "M0-USD"}
    assert len(msgs) == 33  # v4_markets + 32 markets
    later = [json.loads(m)["id"] for m in second.messages]
    assert later == [*[f"M{i}-USD" for i in range(32, 40)], "BTC-USD"]
    (only,) = dydx.SPEC.subscriptions(SubscribeRequest())
    assert [json.loads(m) for m in only.messages] == [{"type": "subscribe", "channel": "v4_markets"}]


def test_spec() -> None:
    spec = dydx.SPEC
    assert spec.id == "dydx" and spec.has_liquidations and not spec.sampled
    assert spec.keepalive.kind == "ws-ping"
    assert spec.instruments_for(["BTC", "ETH"]) == ["BTC-USD", "ETH-USD"]  # type: ignore[misc]
    assert spec.btc_instrument == "BTC-USD"
