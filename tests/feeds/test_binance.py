"""Binance USD-M and COIN-M adapter: frames from docs/exchanges.md §2, Binance's documentation
examples and recorded samples (tests/fixtures/venues)."""

from __future__ import annotations

import json

import pytest

from cascade_tui.feeds import spec
from cascade_tui.feeds.base import META_CHANNEL, SubscribeRequest
from cascade_tui.feeds.binance import SPEC, BinanceParser
from cascade_tui.model import Funding, Liquidation, Mark, OpenInterest, Trade
from tests.feeds.venue_samples import nautilus_text, ws_frames

# Real capture (2021) quoted in exchanges.md §2, combined-stream envelope.
IOTX = (
    '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1634653599186,'
    '"o":{"s":"IOTXUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"3661","p":"0.06606",'
    '"ap":"0.06669","X":"FILLED","l":"962","z":"3661","T":1634653599180}}}'
)


def stats_add_up(p: BinanceParser) -> None:
    s = p.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


def test_force_order_combined_envelope_real_frame() -> None:
    p = BinanceParser()
    [ev] = p.parse(IOTX, 100.0)
    assert isinstance(ev, Liquidation)
    assert ev.side == "long"  # order side SELL => a long was liquidated
    assert ev.instrument == "IOTXUSDT" and ev.asset == "IOTX"
    assert ev.qty == 3661.0  # z (filled), not l (last fill = 962)
    assert ev.price == 0.06669  # ap, not the limit price p
    assert ev.usd == pytest.approx(244.15209)  # 3661 × 0.06669
    assert ev.raw_size == 3661.0
    assert ev.event_ts == pytest.approx(1634653599.180)  # o.T in seconds
    assert ev.recv_ts == 100.0 and ev.sampled is True


def test_force_order_raw_object_and_list() -> None:
    raw = json.loads(IOTX)["data"]
    buy = json.loads(IOTX)["data"]
    buy["o"] = dict(buy["o"], S="BUY", s="BTCUSDT", z="0.5", ap="60000")
    p = BinanceParser()
    [one] = p.parse(json.dumps(raw), 1.0)
    assert one.side == "long"
    evs = p.parse(json.dumps([raw, buy]), 2.0)
    # the IOTX order again is the same liquidation (same symbol, side, time, size, price)
    assert [e.side for e in evs] == ["short"] and p.stats.duplicates == 1
    assert evs[0].usd == pytest.approx(30000.0)  # BUY order => a short was liquidated; 0.5 BTC × 60000
    assert evs[0].asset == "BTC"
    stats_add_up(p)


def test_nautilus_liquidation_sample() -> None:
    [ev] = BinanceParser().parse(nautilus_text("binance", "liquidation_stream.json"), 5.0)
    assert isinstance(ev, Liquidation)
    assert ev.side == "long"  # S = SELL
    assert ev.qty == pytest.approx(0.014)
    assert ev.usd == pytest.approx(138.74172839492)  # 0.014 × 9910.12345678
    assert ev.event_ts == pytest.approx(1568014460.893)


def test_agg_trade_taker_side() -> None:
    p = BinanceParser()
    # Real capture (2021) from exchanges.md §2: m=false => buyer was taker
    [t] = p.parse(
        '{"e":"aggTrade","E":1626992741575,"a":16599292,"s":"CTKUSDT","p":"1.01100","q":"10",'
        '"f":23961322,"l":23961322,"T":1626992741421,"m":false}',
        1.0,
    )
    assert isinstance(t, Trade)
    assert t.taker_side == "buy" and t.qty == 10.0 and t.usd == pytest.approx(10.11)  # 10 × 1.011
    assert t.event_ts == pytest.approx(1626992741.421)
    # nautilus sample (with the 2026 forward-compat field `st`): m=true => taker sold
    # (a fresh parser: this doc sample's time is 1970, which the first one's clock calls stale)
    [t2] = BinanceParser().parse(nautilus_text("binance", "agg_trade_stream.json"), 1.0)
    assert t2.taker_side == "sell" and t2.usd == pytest.approx(0.1)  # 100 × 0.001


def test_mark_price_gives_mark_and_funding() -> None:
    evs = BinanceParser().parse(nautilus_text("binance", "mark_price_stream.json"), 1.0)
    mark, funding = evs
    assert isinstance(mark, Mark) and isinstance(funding, Funding)
    assert mark.price == pytest.approx(11794.15) and mark.index == pytest.approx(11784.62659091)
    assert funding.rate == pytest.approx(0.00038167)
    assert funding.interval_h == 8.0
    assert funding.next_ts == pytest.approx(1562306400.0)
    assert mark.event_ts == pytest.approx(1562305380.0)


def test_funding_interval_from_metadata_and_delivery_contract() -> None:
    p = BinanceParser({"AXSUSDT": {"fundingIntervalHours": 4, "baseAsset": "AXS"}})
    frame = '{"e":"markPriceUpdate","E":1,"s":"AXSUSDT","p":"5","i":"5","P":"5","r":"0.0001","T":2}'
    _, funding = p.parse(frame, 1.0)
    assert funding.interval_h == 4.0
    delivery = '{"e":"markPriceUpdate","E":1,"s":"BTCUSDT_250926","p":"5","i":"5","P":"5","r":"","T":0}'
    [mark] = p.parse(delivery, 1.0)  # r="" on delivery contracts: only the mark
    assert isinstance(mark, Mark)


def test_funding_interval_follows_recorded_metadata_merged_later() -> None:
    """The interval is remembered per symbol (every markPrice row asks for it); a metadata
    frame merged later (a recording's `meta:instruments`) replaces what was remembered."""
    p = BinanceParser()
    frame = '{"stream":"axsusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1,"s":"AXSUSDT","p":"5","r":"0.0001","T":2}}'
    assert p.parse(frame, 1.0)[1].interval_h == 8.0
    p.parse(json.dumps({"AXSUSDT": {"fundingIntervalHours": 4}}), 2.0, META_CHANNEL)
    assert p.parse(frame, 3.0)[1].interval_h == 4.0
    assert p.stats.parse_errors == 0


def test_rest_open_interest_and_premium_index() -> None:
    p = BinanceParser()
    # exchanges.md §2 REST example; no mark known yet => usd unknown
    [oi] = p.parse(
        '{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}', 1.0, "rest:openInterest"
    )
    assert isinstance(oi, OpenInterest)
    assert oi.oi == pytest.approx(10659.509) and oi.usd is None and oi.asset == "BTC"
    premium = (
        '{"symbol":"BTCUSDT","markPrice":"60000.0","indexPrice":"59990.0","estimatedSettlePrice":"1",'
        '"lastFundingRate":"0.0001","interestRate":"0.0001","nextFundingTime":1589443200000,"time":1589437530011}'
    )
    mark, funding = p.parse(premium, 2.0, "rest:premiumIndex")
    assert mark.price == 60000.0 and funding.rate == pytest.approx(0.0001)
    assert funding.next_ts == pytest.approx(1589443200.0)
    [oi2] = p.parse('{"openInterest":"2","symbol":"BTCUSDT","time":1589437530011}', 3.0, "rest:openInterest")
    assert oi2.usd == pytest.approx(120000.0)  # 2 BTC × mark 60000
    # premiumIndex without a symbol returns a list
    evs = p.parse("[" + premium + "," + premium.replace("BTCUSDT", "ETHUSDT") + "]", 4.0, "rest:premiumIndex")
    assert len(evs) == 4
    stats_add_up(p)


def test_acks_and_unused_streams_are_ignored() -> None:
    p = BinanceParser()
    assert p.parse('{"result":null,"id":1}', 1.0) == []
    assert p.parse('{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","s":"BTCUSDT"}}', 1.0) == []
    assert p.stats.ignored == 2 and p.stats.parse_errors == 0


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "{}",
        '{"stream":"x","data":{"e":"forceOrder"}}',
        IOTX.replace('"z":"3661"', '"z":"abc"'),
        IOTX.replace('"S":"SELL"', '"S":"SIDEWAYS"'),
        '{"e":"aggTrade","s":"X","p":"1","q":"1","T":1,"m":"yes"}',
        "42",
    ],
)
def test_garbage_is_counted_never_raised(frame: str) -> None:
    p = BinanceParser()
    assert p.parse(frame, 1.0) == []
    assert p.stats.parse_errors == 1 and p.stats.last_error
    stats_add_up(p)


@pytest.mark.parametrize("bad", ['"z":"NaN"', '"z":"-1"'])
def test_impossible_sizes_are_rejected(bad: str) -> None:
    p = BinanceParser()
    assert p.parse(IOTX.replace('"z":"3661"', bad), 1.0) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0


def test_whole_cryptofeed_capture() -> None:
    frames = ws_frames("BINANCE_FUTURES.ws.1.0")
    p = BinanceParser()
    trades = [ev for ts, raw in frames for ev in p.parse(raw, ts)]
    s = p.stats
    assert s.frames == len(frames) == 1535
    assert s.parse_errors == 0, s.last_error
    assert s.events == {"trade": 91}  # only aggTrade among depth/bookTicker/kline
    assert s.parsed == 91 and s.ignored == len(frames) - 91
    assert all(isinstance(t, Trade) and t.usd > 0 for t in trades)
    stats_add_up(p)


def test_spec_subscriptions_and_polls() -> None:
    assert spec("binance") is SPEC
    subs = SPEC.subscriptions(SubscribeRequest(instruments=["BTCUSDT", "ETHUSDT"], btc_trades=True))
    sub, coin_m = subs
    assert coin_m.url == "wss://dstream.binance.com/stream?streams=!forceOrder@arr" and coin_m.name == "coin-m"
    assert sub.url.startswith("wss://fstream.binance.com/market/stream?streams=")
    streams = sub.url.split("streams=", 1)[1].split("/")
    assert streams == [
        "!forceOrder@arr",
        "btcusdt@aggTrade",
        "ethusdt@aggTrade",
        "btcusdt@markPrice@1s",
        "ethusdt@markPrice@1s",
    ]
    many = SPEC.subscriptions(SubscribeRequest(liquidation_instruments=[f"S{i}USDT" for i in range(450)]))
    assert len(many) == 3 and "s0usdt@forceOrder" in many[0].url
    polls = SPEC.rest_polls(["BTCUSDT"]) if SPEC.rest_polls else []
    assert {p.name for p in polls} == {"openInterest", "premiumIndex"}
    assert any(p.url == "https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT" for p in polls)
    assert SPEC.instruments_for and SPEC.instruments_for(["BTC", "eth"]) == ["BTCUSDT", "ETHUSDT"]
    assert SPEC.btc_instrument == "BTCUSDT" and SPEC.sampled
    assert SPEC.max_connection_s < 24 * 3600


# COIN-M "Liquidation Order Streams" response example, Binance developer docs
# (developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams/
# Liquidation-Order-Streams), with the symbol set to the perpetual and 5 contracts filled.
COIN_M = (
    '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1591154240950,'
    '"o":{"s":"BTCUSD_PERP","ps":"BTCUSD","S":"SELL","o":"LIMIT","f":"IOC","q":"5","p":"9425.5",'
    '"ap":"9496.5","X":"FILLED","l":"5","z":"5","T":1591154240949}}}'
)


def test_coin_m_btc_contracts_are_100_usd() -> None:
    """Issue 13 item 2: COIN-M sizes are contracts of 100 USD (BTC) — 5 contracts are $500
    under venue `binance` (docs/DESIGN.md §5.1), not 5 BTC."""
    p = BinanceParser()
    [ev] = p.parse(COIN_M, 1591154241.0)
    assert isinstance(ev, Liquidation) and ev.venue == "binance"
    assert ev.instrument == "BTCUSD_PERP" and ev.asset == "BTC" and ev.side == "long"
    assert ev.usd == pytest.approx(500.0) and ev.raw_size == 5.0
    assert ev.qty == pytest.approx(500.0 / 9496.5)  # base = USD / average fill price


def test_coin_m_other_coins_are_10_usd_and_metadata_wins() -> None:
    """Every non-BTC COIN-M contract is 10 USD; dapi exchangeInfo's `contractSize` wins."""
    eth = COIN_M.replace("BTCUSD_PERP", "ETHUSD_250926").replace('"ps":"BTCUSD"', '"ps":"ETHUSD"')
    [ev] = BinanceParser().parse(eth, 1591154241.0)
    assert ev.usd == pytest.approx(50.0) and ev.asset == "ETH"  # type: ignore[union-attr]
    [ev2] = BinanceParser({"ETHUSD_250926": {"contractSize": 20}}).parse(eth, 1591154241.0)
    assert ev2.usd == pytest.approx(100.0)  # type: ignore[union-attr]
    # a USD-M symbol is untouched: sizes stay coins
    [usdm] = BinanceParser().parse(COIN_M.replace("BTCUSD_PERP", "BTCUSDT"), 1591154241.0)
    assert usdm.usd == pytest.approx(5 * 9496.5)  # type: ignore[union-attr]


def test_dapi_exchange_info_gives_coin_m_contract_sizes() -> None:
    """The metadata normalizer reads the COIN-M list (third, optional request) for contractSize."""
    from cascade_tui.feeds.metadata import SOURCES

    dapi = {"symbols": [
        {"symbol": "BTCUSD_PERP", "pair": "BTCUSD", "contractType": "PERPETUAL", "contractStatus": "TRADING",
         "baseAsset": "BTC", "marginAsset": "BTC", "contractSize": 100},
        {"symbol": "ETHUSD_PERP", "pair": "ETHUSD", "contractType": "PERPETUAL", "contractStatus": "TRADING",
         "baseAsset": "ETH", "marginAsset": "ETH", "contractSize": 10},
        {"symbol": "OLDUSD_200925", "contractStatus": "DELIVERED", "contractSize": 10},
    ]}
    fapi = {"symbols": [{"symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "contractType": "PERPETUAL"}]}
    instruments, perps = SOURCES["binance"].normalize([fapi, None, dapi])
    assert instruments["BTCUSD_PERP"]["contractSize"] == 100 and "OLDUSD_200925" not in instruments
    assert perps == ["BTCUSDT"]  # COIN-M rides on the all-market stream
    [ev] = BinanceParser(instruments).parse(COIN_M, 1591154241.0)
    assert ev.usd == pytest.approx(500.0)  # type: ignore[union-attr]
