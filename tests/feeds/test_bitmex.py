"""BitMEX adapter: frames from docs/exchanges.md §5 and the recorded fixtures (tests/fixtures/venues)."""

from __future__ import annotations

import itertools
import json

import pytest

from cascade_tui.feeds import spec
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.feeds.bitmex import SPEC, BitmexParser
from cascade_tui.model import Funding, Liquidation, Mark, OpenInterest, Trade
from tests.feeds.venue_samples import nautilus_text, ws_frames


def envelope(table: str, action: str, rows: list[dict]) -> str:
    return json.dumps({"table": table, "action": action, "data": rows})


def row(venue_file: str) -> dict:
    """A nautilus_trader sample row (those files hold one data row without the envelope)."""
    return json.loads(nautilus_text("bitmex", venue_file))


_ORDER_IDS = itertools.count(1)


def liq(symbol: str, side: str, qty: float, price: float, order_id: str = "") -> dict:
    # hand-made row in the documented shape; a new order id each time unless given
    return {
        "orderID": order_id or f"00000000-0000-0000-0000-{next(_ORDER_IDS):012d}",
        "symbol": symbol,
        "side": side,
        "price": price,
        "leavesQty": qty,
    }


def stats_add_up(p: BitmexParser) -> None:
    s = p.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


def test_inverse_liquidation_insert() -> None:
    p = BitmexParser()
    [ev] = p.parse(envelope("liquidation", "insert", [row("ws_liquidation.json")]), 7.0)
    assert isinstance(ev, Liquidation)
    assert ev.side == "short"  # order side Buy => a short was liquidated
    assert ev.usd == 1000.0  # XBTUSD: 1 contract = 1 USD
    assert ev.qty == pytest.approx(1000 / 95000.0)  # 0.0105263 BTC
    assert ev.asset == "BTC" and ev.instrument == "XBTUSD"
    assert ev.event_ts == 7.0  # rows carry no time: receive time


def test_linear_and_quanto_units() -> None:
    p = BitmexParser()
    [lin] = p.parse(envelope("liquidation", "insert", [liq("XBTUSDT", "Sell", 2_000_000, 60000.0)]), 1.0)
    assert lin.side == "long"  # Sell order => long liquidated
    assert lin.qty == pytest.approx(2.0)  # 2e6 contracts / 1e6 per XBT
    assert lin.usd == pytest.approx(120000.0)  # 2 × 60000
    # quanto needs XBTUSD's price first: without it the row is counted (rejected), not marked
    # seen, so the same order counts once the price is known
    quanto = envelope("liquidation", "insert", [liq("ETHUSD", "Sell", 1000, 3000.0)])
    assert p.parse(quanto, 2.0) == [] and p.stats.rejected == 1 and p.stats.parse_errors == 0
    p.parse(envelope("instrument", "update", [{"symbol": "XBTUSD", "markPrice": 60000.0}]), 3.0)
    [eth] = p.parse(quanto, 4.0)
    assert eth.qty == pytest.approx(60.0)  # 1000 × 100 sat × 60000 / 1e8
    assert eth.usd == pytest.approx(180000.0)  # 60 ETH × 3000
    stats_add_up(p)


def test_unknown_instrument_is_an_error_then_learned_from_trades() -> None:
    p = BitmexParser()
    # real 2019 row from exchanges.md §5: no metadata for TRXZ19 => counted, never guessed
    doc = (
        '{"table":"liquidation","action":"insert","data":[{"orderID":"8b4a95db-815a-f93a-c9a2-ffbbabeddbac",'
        '"symbol":"TRXZ19","side":"Buy","price":2.17e-06,"leavesQty":5000}]}'
    )
    assert p.parse(doc, 1.0) == []
    assert "TRXZ19" in p.stats.last_error
    # a trade row tells the base quantity per contract (homeNotional / size)
    trade = {
        "timestamp": "2026-01-01T00:00:00.000Z",
        "symbol": "SOLUSDT",
        "side": "Sell",
        "size": 1000,
        "price": 100.0,
        "homeNotional": 10.0,
    }
    p.parse(envelope("trade", "insert", [trade]), 2.0)
    [ev] = p.parse(envelope("liquidation", "insert", [liq("SOLUSDT", "Sell", 5000, 99.0)]), 3.0)
    assert ev.qty == pytest.approx(50.0) and ev.usd == pytest.approx(4950.0)  # 5000 × 0.01 SOL × 99


def test_partial_update_delete_are_not_new_liquidations() -> None:
    p = BitmexParser()
    assert p.parse(envelope("liquidation", "partial", [liq("XBTUSD", "Sell", 100, 60000.0)]), 1.0) == []
    assert (
        p.parse(
            envelope("liquidation", "update", [{"orderID": "x", "symbol": "XBTUSD", "leavesQty": 50}]), 1.0
        )
        == []
    )
    assert p.parse(envelope("liquidation", "delete", [{"orderID": "x", "symbol": "XBTUSD"}]), 1.0) == []
    assert p.stats.events == {}
    assert p.stats.ignored == 1 and p.stats.parsed == 2


def test_trades() -> None:
    p = BitmexParser()
    doc = (
        '{"table":"trade","action":"insert","data":[{"timestamp":"2021-07-22T22:36:10.014Z","symbol":"UNIUSDT",'
        '"side":"Buy","size":52,"price":17.297,"tickDirection":"PlusTick",'
        '"trdMatchID":"39744121-c20e-44ba-8cc8-a6b8cdf72885","grossValue":899444,'
        '"homeNotional":16.73101673101673,"foreignNotional":289.39639639639637}]}'
    )
    [t] = p.parse(doc, 1.0)
    assert isinstance(t, Trade)
    assert t.taker_side == "buy" and t.qty == pytest.approx(16.73101673)  # homeNotional
    assert t.usd == pytest.approx(289.3964, rel=1e-4)  # 16.731 × 17.297 ≈ foreignNotional
    assert t.event_ts == pytest.approx(1626993370.014)  # 2021-07-22T22:36:10.014Z
    [t2] = p.parse(envelope("trade", "insert", [row("ws_trade.json")]), 1.0)
    assert t2.taker_side == "sell" and t2.qty == pytest.approx(0.0010145)
    assert t2.usd == pytest.approx(100.0, rel=1e-4)  # 0.0010145 × 98570.9
    assert p.parse(envelope("trade", "partial", [row("ws_trade.json")]), 1.0) == []  # replayed last trade


def test_instrument_merge_mark_oi_funding() -> None:
    p = BitmexParser()
    mark, oi = p.parse(envelope("instrument", "partial", [row("ws_instrument.json")]), 1.0)
    assert isinstance(mark, Mark) and mark.price == pytest.approx(95125.7)
    assert isinstance(oi, OpenInterest)
    assert oi.usd == pytest.approx(123456789.0)  # inverse: contracts are USD
    assert oi.oi == pytest.approx(123456789 / 95125.7)  # ≈ 1297.8 BTC
    assert oi.event_ts == pytest.approx(1732536000.0)  # 2024-11-25T12:00:00Z
    update = {
        "symbol": "XBTUSD",
        "fundingRate": 0.0001,
        "fundingInterval": "2000-01-01T08:00:00.000Z",
        "fundingTimestamp": "2024-11-25T20:00:00.000Z",
        "timestamp": "2024-11-25T12:00:01.000Z",
    }
    [f] = p.parse(envelope("instrument", "update", [update]), 2.0)
    assert isinstance(f, Funding)
    assert f.rate == pytest.approx(0.0001) and f.interval_h == pytest.approx(8.0)
    assert f.next_ts == pytest.approx(1732564800.0)  # 2024-11-25T20:00Z
    [oi2] = p.parse(envelope("instrument", "update", [{"symbol": "XBTUSD", "openInterest": 100}]), 3.0)
    assert oi2.usd == 100.0  # merged: mark price from the partial


def test_funding_table() -> None:
    p = BitmexParser()
    [f] = p.parse(envelope("funding", "insert", [row("ws_funding_rate.json")]), 1.0)
    assert f.rate == pytest.approx(0.0001) and f.interval_h == pytest.approx(8.0)
    assert f.event_ts == pytest.approx(1732507200.0)  # 2024-11-25T04:00Z
    assert p.parse(envelope("funding", "partial", [row("ws_funding_rate.json")]), 1.0) == []


def test_welcome_acks_pong_ignored() -> None:
    p = BitmexParser()
    frames = [
        '{"info":"Welcome to the BitMEX Realtime API.","version":"2021","timestamp":"2021-07-22T22:36:07.865Z","limit":{"remaining":39}}',
        '{"success":true,"subscribe":"liquidation","request":{"op":"subscribe","args":["liquidation"]}}',
        "pong",
        '{"status":400,"error":"Unknown table: liquidations","request":{"op":"subscribe"}}',
    ]
    for f in frames:
        assert p.parse(f, 1.0) == []
    assert p.stats.ignored == 4 and "Unknown table" in p.stats.last_error


@pytest.mark.parametrize(
    "frame",
    [
        "{{",
        '{"foo":1}',
        '{"table":"liquidation","action":"insert","data":{}}',
        '{"table":"liquidation","action":"upsert","data":[]}',
        envelope(
            "trade", "insert", [{"symbol": "XBTUSD", "side": "Buy", "size": 1, "price": 1.0, "timestamp": 5}]
        ),
    ],
)
def test_garbage_is_counted(frame: str) -> None:
    p = BitmexParser()
    assert p.parse(frame, 1.0) == []
    assert p.stats.parse_errors == 1
    stats_add_up(p)


@pytest.mark.parametrize("qty", [float("nan"), -1.0])
def test_impossible_sizes_rejected(qty: float) -> None:
    p = BitmexParser()
    frame = envelope("liquidation", "insert", [liq("XBTUSD", "Sell", 1, 60000.0)]).replace(
        '"leavesQty": 1', f'"leavesQty": "{qty}"'
    )
    assert p.parse(frame, 1.0) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0


def test_whole_cryptofeed_capture() -> None:
    frames = ws_frames("BITMEX.ws.1.0")
    p = BitmexParser()
    events = [ev for ts, raw in frames for ev in p.parse(raw, ts)]
    s = p.stats
    assert s.frames == len(frames) == 2120
    assert s.parse_errors == 0, s.last_error
    assert s.parsed == 7  # the trade inserts; books/quotes/partials/acks are ignored
    assert s.events == {"trade": 17} and len(events) == 17
    stats_add_up(p)


def test_spec_subscriptions() -> None:
    assert spec("bitmex") is SPEC
    [sub] = SPEC.subscriptions(SubscribeRequest(instruments=["XBTUSD", "ETHUSDT"], btc_trades=True))
    assert sub.url == "wss://ws.bitmex.com/realtime"
    msgs = [json.loads(m) for m in sub.messages]
    assert all(m["op"] == "subscribe" and len(m["args"]) <= 10 for m in msgs)
    args = [a for m in msgs for a in m["args"]]
    assert args[0] == "liquidation"
    assert {
        "trade:XBTUSD",
        "trade:ETHUSDT",
        "instrument:XBTUSD",
        "instrument:ETHUSDT",
        "funding:ETHUSDT",
    } <= set(args)
    assert len(args) == len(set(args))
    assert SPEC.keepalive.kind == "text" and SPEC.keepalive.message == "ping"
    assert SPEC.instruments_for and SPEC.instruments_for(["BTC", "ETH"]) == ["XBTUSD", "ETHUSDT"]


def test_units_from_the_instrument_stream_definition() -> None:
    # hand-made partial row: the instrument table carries the contract definition
    p = BitmexParser()
    definition = {
        "symbol": "JTOUSDT",
        "isInverse": False,
        "isQuanto": False,
        "multiplier": 1000000,
        "underlyingToPositionMultiplier": 1,
        "markPrice": 2.5,
        "openInterest": 6780,
        "timestamp": "2024-03-02T02:44:10.789Z",
    }
    _, oi = p.parse(envelope("instrument", "partial", [definition]), 1.0)
    assert oi.oi == 6780.0 and oi.usd == pytest.approx(16950.0)  # 1 contract = 1 JTO; 6780 × 2.5
    [ev] = p.parse(envelope("liquidation", "insert", [liq("JTOUSDT", "Sell", 100, 2.4)]), 2.0)
    assert ev.qty == 100.0 and ev.usd == pytest.approx(240.0) and ev.asset == "JTO"


def test_bad_liquidation_row_is_counted() -> None:
    p = BitmexParser()
    assert p.parse(envelope("liquidation", "insert", [liq("XBTUSD", "Left", 1, 1.0)]), 1.0) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0
    stats_add_up(p)


# The real 2019 insert quoted in docs/exchanges.md §5 (bitmex-liquidation README), resized
# onto XBTUSD so the bundled unit applies.
DOC_INSERT = (
    '{"table":"liquidation","action":"insert",'
    '"data":[{"orderID":"8b4a95db-815a-f93a-c9a2-ffbbabeddbac","symbol":"XBTUSD","side":"Buy",'
    '"price":60000.5,"leavesQty":5000}]}'
)


def test_one_unknown_contract_keeps_the_rest_of_the_batch() -> None:
    """Issue 13 item 4: an insert batch with an unsizeable contract (TRXZ19, the doc example's
    symbol) keeps the XBTUSD row; the unknown row is counted in `rejected`."""
    doc = json.loads(DOC_INSERT)
    doc["data"].insert(0, liq("TRXZ19", "Buy", 5000, 2.17e-06))
    p = BitmexParser()
    [ev] = p.parse(json.dumps(doc), 1.0)
    assert ev.instrument == "XBTUSD" and ev.usd == 5000.0
    assert p.stats.rejected == 1 and "TRXZ19" in p.stats.last_error


def test_same_order_repeated_is_counted_once() -> None:
    """Issue 12 row 18: the same insert (same orderID) 100 times is one liquidation."""
    p = BitmexParser()
    counted = sum(len(p.parse(DOC_INSERT, 1.0 + i)) for i in range(100))
    assert counted == 1 and p.stats.duplicates == 99 and p.stats.events == {"liquidation": 1}
    # after a reconnect the window is kept: a partial or re-sent insert does not count again
    p.reconnected()
    assert p.parse(DOC_INSERT, 500.0) == [] and p.stats.duplicates == 100


def test_usdt_perpetual_live_instrument_row_beats_the_shipped_2021_table() -> None:
    """Issue 13 item 3: the shipped table (recorded 2021) listed SOLUSDT as an XBT-settled
    quanto; BitMEX's USDT perpetuals are linear now (docs/exchanges.md §1.2). The table no
    longer gives a quanto unit, and the live `instrument` row wins over any metadata row."""
    from cascade_tui.feeds.metadata import bundled_instruments

    shipped = bundled_instruments("bitmex")
    assert shipped["SOLUSDT"]["isQuanto"] is False and "multiplier" not in shipped["SOLUSDT"]
    p = BitmexParser(shipped)  # what a live start without network or cache hands the parser
    row_ = liq("SOLUSDT", "Sell", 30_000, 150.0)
    assert p.parse(envelope("liquidation", "insert", [row_]), 1.0) == []  # no unit: counted, not guessed
    assert p.stats.rejected == 1
    # a stale metadata row saying quanto loses to the instrument stream's partial (linear)
    stale = {"SOLUSDT": {"isInverse": False, "isQuanto": True, "multiplier": 1000, "baseAsset": "SOL"}}
    p2 = BitmexParser(stale)
    live = {"symbol": "SOLUSDT", "isInverse": False, "isQuanto": False, "underlyingToPositionMultiplier": 10000,
            "multiplier": 100, "timestamp": "2026-12-04T00:00:00.000Z"}
    p2.parse(envelope("instrument", "partial", [live]), 2.0)
    [ev] = p2.parse(envelope("liquidation", "insert", [row_]), 3.0)
    assert ev.qty == pytest.approx(3.0) and ev.usd == pytest.approx(450.0)  # 30000 / 1e4 SOL × 150
