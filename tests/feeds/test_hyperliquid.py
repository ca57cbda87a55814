"""Hyperliquid adapter: the trades frame (real 2024-10) and activeAssetCtx frame quoted in
docs/exchanges.md §7, the nautilus_trader allDexsAssetCtxs capture (2026-05) and liquidation
user fill, and hand-made acks and garbage."""

from __future__ import annotations

import json

import pytest

from cascade_tui.feeds import hyperliquid
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.model import Funding, Mark, OpenInterest, Trade
from tests.feeds.venue_samples import nautilus_text

RECV = 1730160007.25
TRADES = (
    '{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"69997.0","sz":"0.38111",'
    '"time":1730160006192,"hash":"0x40d169aa","tid":1016375172059570}]}'
)
ASSET_CTX = (
    '{"channel":"activeAssetCtx","data":{"coin":"MOODENG","ctx":{"funding":"0.00004863",'
    '"openInterest":"18617460.0","prevDayPx":"0.20296","dayNtlVlm":"7665220.55613",'
    '"premium":"0.00008521","oraclePx":"0.1995","markPx":"0.19963","midPx":"0.19957",'
    '"impactPxs":["0.199517","0.199725"]}}}'
)


def test_trade() -> None:
    (t,) = hyperliquid.HyperliquidParser().parse(TRADES, RECV)
    assert isinstance(t, Trade)
    assert t.taker_side == "buy"  # B = taker bought
    assert t.instrument == "BTC" and t.asset == "BTC"
    assert t.qty == pytest.approx(0.38111)  # base coin
    assert t.usd == pytest.approx(26676.556)  # 0.38111 × 69997.0
    assert t.event_ts == pytest.approx(1730160006.192)


def test_sell_side_and_optional_users_field() -> None:
    frame = TRADES.replace('"side":"B"', '"side":"A"').replace('"tid"', '"users":["0xa","0xb"],"tid"')
    (t,) = hyperliquid.HyperliquidParser().parse(frame, RECV)
    assert t.taker_side == "sell"  # type: ignore[union-attr]


def test_active_asset_ctx() -> None:
    events = hyperliquid.HyperliquidParser().parse(ASSET_CTX, RECV)
    by_kind = {type(e): e for e in events}
    mark, funding, oi = by_kind[Mark], by_kind[Funding], by_kind[OpenInterest]
    assert mark.price == pytest.approx(0.19963) and mark.index == pytest.approx(0.1995)
    assert funding.rate == pytest.approx(0.00004863)  # hourly rate
    assert funding.interval_h == 1.0
    assert funding.next_ts == pytest.approx(1730160000.0 + 3600.0)  # next full hour after RECV
    assert oi.oi == pytest.approx(18617460.0)  # base coin, one side
    assert oi.usd == pytest.approx(3_716_603.54)  # 18617460 × 0.19963
    assert all(e.event_ts == RECV for e in events)  # contexts carry no venue time


def test_k_prefixed_and_builder_coins() -> None:
    frame = ASSET_CTX.replace("MOODENG", "kPEPE")
    events = hyperliquid.HyperliquidParser().parse(frame, RECV)
    # docs/DESIGN.md §5.1: kPEPE is 1000 PEPE; the asset is PEPE with quantities in PEPE
    assert {e.asset for e in events} == {"PEPE"}
    mark = next(e for e in events if isinstance(e, Mark))
    oi = next(e for e in events if isinstance(e, OpenInterest))
    assert mark.price == pytest.approx(0.19963 / 1000) and mark.index == pytest.approx(0.1995 / 1000)
    assert oi.oi == pytest.approx(18617460.0 * 1000) and oi.usd == pytest.approx(3_716_603.54)
    assert hyperliquid.coin_asset("xyz:NVDA") == "NVDA"
    assert hyperliquid.SPEC.instruments_for(["BTC", "1000PEPE"]) == ["BTC", "kPEPE"]  # type: ignore[misc]


def test_all_dexs_asset_ctxs_capture() -> None:
    frame = nautilus_text("hyperliquid", "ws_all_dexs_asset_ctxs.json")
    p = hyperliquid.HyperliquidParser()
    events = p.parse(frame, RECV)
    assert p.stats.parse_errors == 0
    marks = {e.instrument: e.price for e in events if isinstance(e, Mark)}
    # bundled main-dex positions: 0 BTC, 1 ETH, 2 ATOM, 5 SOL
    assert marks == {"BTC": 77562.0, "ETH": 2123.7, "ATOM": 2.1315, "SOL": 86.148}
    btc_oi = next(e for e in events if isinstance(e, OpenInterest) and e.instrument == "BTC")
    assert btc_oi.oi == pytest.approx(27353.17682)
    assert btc_oi.usd == pytest.approx(2_121_569_101.5)  # 27353.17682 × 77562
    btc_funding = next(e for e in events if isinstance(e, Funding) and e.instrument == "BTC")
    assert btc_funding.rate == pytest.approx(-0.0000015186)
    assert len(events) == 12  # mark, funding, OI × 4 known coins; unknown positions skipped


def test_all_dexs_positions_from_metadata() -> None:
    frame = nautilus_text("hyperliquid", "ws_all_dexs_asset_ctxs.json")
    p = hyperliquid.HyperliquidParser({"xyz:XYZ100": {"dex": "xyz", "index": 0}})
    marks = {e.instrument: e for e in p.parse(frame, RECV) if isinstance(e, Mark)}
    assert marks["xyz:XYZ100"].price == pytest.approx(29855.0)
    assert marks["xyz:XYZ100"].asset == "XYZ100"


def test_web_data_style_contexts_named_by_universe() -> None:
    # hand-made: webData2 carries the universe beside the contexts
    ctx = json.loads(ASSET_CTX)["data"]["ctx"]
    frame = json.dumps(
        {
            "channel": "webData2",
            "data": {"meta": {"universe": [{"name": "BTC"}, {"name": "ETH"}]}, "assetCtxs": [ctx, ctx]},
        }
    )
    events = hyperliquid.HyperliquidParser().parse(frame, RECV)
    assert {e.instrument for e in events} == {"BTC", "ETH"} and len(events) == 6


def test_no_liquidations_are_invented() -> None:
    p = hyperliquid.HyperliquidParser()
    # a real private user fill that carries a liquidation object: not a public feed, ignored
    assert p.parse(nautilus_text("hyperliquid", "ws_user_fill_liquidation.json"), RECV) == []
    for f in [
        '{"channel":"pong"}',
        '{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}}',
    ]:
        assert p.parse(f, RECV) == []
    assert p.stats.ignored == 3 and p.stats.events == {}
    assert hyperliquid.SPEC.has_liquidations is False
    assert "no public liquidation feed" in hyperliquid.SPEC.notes


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "null",
        '{"channel":"error","data":"Error parsing JSON into valid websocket request"}',
        TRADES.replace('"side":"B"', '"side":"X"'),
        TRADES.replace('"px":"69997.0"', '"px":[]'),
        '{"channel":"activeAssetCtx","data":{"coin":"BTC"}}',
        '{"channel":"allDexsAssetCtxs","data":{"ctxs":[["", {"a":1}]]}}',
    ],
)
def test_garbage_counted(frame: str) -> None:
    p = hyperliquid.HyperliquidParser()
    assert p.parse(frame, RECV) == []
    assert p.stats.parse_errors == 1
    assert p.stats.frames == p.stats.parsed + p.stats.ignored + p.stats.parse_errors


@pytest.mark.parametrize("size", ['"NaN"', '"-0.5"', '"0"'])
def test_impossible_sizes_rejected(size: str) -> None:
    p = hyperliquid.HyperliquidParser()
    assert p.parse(TRADES.replace('"0.38111"', size), RECV) == []
    assert p.stats.rejected == 1


def test_subscriptions() -> None:
    (sub,) = hyperliquid.SPEC.subscriptions(
        SubscribeRequest(liquidation_instruments=["SOL"], instruments=["ETH"], btc_trades=True)
    )
    assert sub.url == "wss://api.hyperliquid.xyz/ws"
    assert [json.loads(m) for m in sub.messages] == [
        {"method": "subscribe", "subscription": {"type": "trades", "coin": "ETH"}},
        {"method": "subscribe", "subscription": {"type": "trades", "coin": "BTC"}},
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "ETH"}},
    ]


def test_spec_keepalive() -> None:
    ka = hyperliquid.SPEC.keepalive
    assert ka.kind == "json" and json.loads(ka.message) == {"method": "ping"} and ka.interval < 60
    assert hyperliquid.SPEC.btc_instrument == "BTC"
