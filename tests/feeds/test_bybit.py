"""Bybit v5 adapter: frames from docs/exchanges.md §3 and the recorded fixtures (tests/fixtures/venues)."""

from __future__ import annotations

import json

import pytest

from cascade_tui.feeds import spec
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.feeds.bybit import SPEC, BybitParser, is_inverse
from cascade_tui.model import Funding, Liquidation, Mark, OpenInterest, Trade
from tests.feeds.venue_samples import nautilus_text

# Doc example (exchanges.md §3)
ROSE = (
    '{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,'
    '"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}'
)
# Live example 2026-09 (exchanges.md §3)
ICP = (
    '{"topic":"allLiquidation.ICPUSDT","type":"snapshot","ts":1789670094412,'
    '"data":[{"T":1789670094099,"s":"ICPUSDT","S":"Buy","v":"19.7","p":"2.585"}]}'
)


def stats_add_up(p: BybitParser) -> None:
    s = p.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


def test_liquidation_side_is_position_side() -> None:
    p = BybitParser()
    [rose] = p.parse(ROSE, 1.0)
    assert isinstance(rose, Liquidation)
    assert rose.side == "short"  # S=Sell is a short POSITION being liquidated
    assert rose.qty == 20000.0 and rose.price == pytest.approx(0.04499)
    assert rose.usd == pytest.approx(899.8)  # 20000 × 0.04499
    assert rose.event_ts == pytest.approx(1739502302.929) and rose.sampled is False
    [icp] = p.parse(ICP, 2.0)
    assert icp.side == "long" and icp.asset == "ICP"  # S=Buy => long liquidated
    assert icp.usd == pytest.approx(50.9245)  # 19.7 × 2.585


def test_several_liquidations_in_one_push() -> None:
    frame = json.loads(ROSE)
    frame["data"].append({"T": 1739502303000, "s": "ROSEUSDT", "S": "Buy", "v": "100", "p": "0.045"})
    evs = BybitParser().parse(json.dumps(frame), 1.0)
    assert [e.side for e in evs] == ["short", "long"]
    assert evs[1].usd == pytest.approx(4.5)  # 100 × 0.045


def test_inverse_sizes_are_usd() -> None:
    # hand-made inverse frame: v is USD contracts on BTCUSD (§1.2)
    frame = (
        '{"topic":"allLiquidation.BTCUSD","type":"snapshot","ts":1,'
        '"data":[{"T":1700000000000,"s":"BTCUSD","S":"Buy","v":"10000","p":"50000"}]}'
    )
    [ev] = BybitParser().parse(frame, 1.0)
    assert ev.usd == 10000.0 and ev.qty == pytest.approx(0.2)  # 10000 USD / 50000
    assert ev.raw_size == 10000.0 and ev.asset == "BTC"
    assert is_inverse("BTCUSDH26") and not is_inverse("BTCUSDT") and not is_inverse("BTCPERP")
    assert is_inverse("ODD", {"ODD": {"contractType": "InversePerpetual"}})
    assert not is_inverse("BTCUSD", {"BTCUSD": {"contractType": "LinearPerpetual"}})


def test_public_trade() -> None:
    frame = (
        '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,'
        '"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50",'
        '"L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"seq":1783284617}]}'
    )
    [t] = BybitParser().parse(frame, 1.0)
    assert isinstance(t, Trade)
    assert t.taker_side == "buy" and t.qty == 0.001
    assert t.usd == pytest.approx(16.5785)  # 0.001 × 16578.50
    assert t.event_ts == pytest.approx(1672304486.865)


def test_ticker_snapshot_then_delta_merge() -> None:
    p = BybitParser()
    mark, funding, oi = p.parse(nautilus_text("bybit", "ws_ticker_linear.json"), 1.0)
    assert isinstance(mark, Mark) and mark.price == pytest.approx(17217.33)
    assert mark.index == pytest.approx(17227.36)
    assert isinstance(funding, Funding)
    assert funding.rate == pytest.approx(-0.000212) and funding.interval_h == 8.0
    assert funding.next_ts == pytest.approx(1673280000.0)
    assert isinstance(oi, OpenInterest)
    assert oi.oi == pytest.approx(68744.761) and oi.usd == pytest.approx(1183601235.91)
    assert oi.event_ts == pytest.approx(1673272861.686)

    # a delta holds only changed fields: only Funding is emitted, the rest comes from state
    delta = '{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","fundingRate":"-0.0003"},"cs":1,"ts":1673272862000}'
    [f2] = p.parse(delta, 2.0)
    assert isinstance(f2, Funding)
    assert f2.rate == pytest.approx(-0.0003) and f2.next_ts == pytest.approx(1673280000.0)

    # singleOpenInterest (2026-06) wins over openInterest ("both sides")
    delta_oi = (
        '{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","openInterest":"200",'
        '"singleOpenInterest":"100","singleOpenInterestValue":"1700000"},"cs":2,"ts":1673272863000}'
    )
    [oi2] = p.parse(delta_oi, 3.0)
    assert oi2.oi == 100.0 and oi2.usd == 1700000.0

    delta_mark = '{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"17300"},"cs":3,"ts":1673272864000}'
    [m2] = p.parse(delta_mark, 4.0)
    assert m2.price == 17300.0 and m2.index == pytest.approx(17227.36)  # index kept from snapshot

    # after a reconnect the old state is gone: a delta stands alone
    p.reset()
    [f3] = p.parse(delta, 5.0)
    assert f3.next_ts is None and f3.interval_h == 8.0
    stats_add_up(p)


def test_ticker_doc_snapshot_funding_cap_value() -> None:
    frame = (
        '{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","markPrice":"66666.60",'
        '"indexPrice":"115418.19","openInterest":"492373.72","openInterestValue":"32824881841.75",'
        '"fundingIntervalHour":"4","fundingCap":"0.005","nextFundingTime":"1760342400000",'
        '"fundingRate":"-0.005"},"cs":9532239429,"ts":1760325052630}'
    )
    _, funding, oi = BybitParser().parse(frame, 1.0)
    assert funding.rate == pytest.approx(-0.005) and funding.interval_h == 4.0
    assert oi.oi == pytest.approx(492373.72)


def test_inverse_ticker_open_interest_in_usd() -> None:
    frame = (
        '{"topic":"tickers.BTCUSD","type":"snapshot","data":{"symbol":"BTCUSD","markPrice":"50000",'
        '"openInterest":"100000000","fundingRate":"0.0001"},"ts":1700000000000}'
    )
    evs = BybitParser().parse(frame, 1.0)
    [oi] = [e for e in evs if isinstance(e, OpenInterest)]
    assert oi.oi == pytest.approx(2000.0) and oi.usd == 1e8  # 1e8 USD / 50000


def test_acks_and_pongs_ignored() -> None:
    p = BybitParser()
    pong = '{"success":true,"ret_msg":"pong","conn_id":"abc","req_id":"","op":"ping"}'
    ack = '{"success":true,"ret_msg":"subscribe","conn_id":"abc","req_id":"x","op":"subscribe"}'
    nack = '{"success":false,"ret_msg":"error:handler not found,topic:liquidation.BTCUSDT","conn_id":"a","op":"subscribe"}'
    for f in (pong, ack, nack):
        assert p.parse(f, 1.0) == []
    assert p.stats.ignored == 3 and "handler not found" in p.stats.last_error
    stats_add_up(p)


@pytest.mark.parametrize(
    "frame",
    [
        "{not json",
        "[]",
        '{"foo":1}',
        '{"topic":"allLiquidation.X","data":{"s":"X"}}',
        ROSE.replace('"S":"Sell"', '"S":"Up"'),
        ROSE.replace('"v":"20000"', '"v":"twenty"'),
        ROSE.replace('"v":"20000"', '"v":null'),
        '{"topic":"tickers.BTCUSDT","type":"snapshot","data":[1],"ts":1}',
    ],
)
def test_garbage_is_counted(frame: str) -> None:
    p = BybitParser()
    assert p.parse(frame, 1.0) == []
    assert p.stats.parse_errors == 1
    stats_add_up(p)


@pytest.mark.parametrize(
    ("field", "bad"),
    [('"v":"20000"', '"v":"NaN"'), ('"v":"20000"', '"v":"-1"'), ('"p":"0.04499"', '"p":"0"')],
)
def test_impossible_values_rejected(field: str, bad: str) -> None:
    p = BybitParser()
    assert p.parse(ROSE.replace(field, bad), 1.0) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0


def test_spec_subscriptions() -> None:
    assert spec("bybit") is SPEC
    subs = SPEC.subscriptions(
        SubscribeRequest(
            liquidation_instruments=["BTCUSDT", "ETHUSDT", "BTCUSD"], instruments=["BTCUSDT"], btc_trades=True
        )
    )
    by_url = {s.url: s for s in subs}
    linear = by_url["wss://stream.bybit.com/v5/public/linear"]
    [msg] = [json.loads(m) for m in linear.messages]
    assert msg["op"] == "subscribe"
    assert msg["args"] == [
        "allLiquidation.BTCUSDT",
        "allLiquidation.ETHUSDT",
        "publicTrade.BTCUSDT",
        "tickers.BTCUSDT",
    ]
    inverse = by_url["wss://stream.bybit.com/v5/public/inverse"]
    assert json.loads(inverse.messages[0])["args"] == ["allLiquidation.BTCUSD"]
    # 805 symbols: messages of ≤200 args, connections under the 21,000-character args limit
    many = SPEC.subscriptions(SubscribeRequest(liquidation_instruments=[f"COIN{i}USDT" for i in range(805)]))
    for sub in many:
        args = [a for m in sub.messages for a in json.loads(m)["args"]]
        assert len(json.dumps(args)) < 21_000
        assert all(len(json.loads(m)["args"]) <= 200 for m in sub.messages)
    assert sum(len(json.loads(m)["args"]) for s in many for m in s.messages) == 805
    assert json.loads(SPEC.keepalive.message) == {"req_id": "ping", "op": "ping"}
    assert SPEC.keepalive.kind == "json" and SPEC.keepalive.interval == 20.0
    assert SPEC.instruments_for and SPEC.instruments_for(["SOL"]) == ["SOLUSDT"]


def test_ticker_symbol_falls_back_to_topic() -> None:
    frame = '{"topic":"tickers.ETHUSDT","type":"snapshot","data":{"markPrice":"3000"},"ts":1700000000000}'
    [mark] = BybitParser().parse(frame, 1.0)
    assert mark.instrument == "ETHUSDT" and mark.asset == "ETH" and mark.price == 3000.0
