"""Deribit adapter: frames from docs/exchanges.md §6 and the recorded fixtures (tests/fixtures/venues)."""

from __future__ import annotations

import json

import pytest

from cascade_tui.feeds import spec
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.feeds.deribit import SPEC, DeribitParser, reply_to_heartbeat
from cascade_tui.model import Funding, Liquidation, Mark, OpenInterest, Trade
from tests.feeds.venue_samples import nautilus_text, ws_frames


def trades_with(flag: str | None, direction: str = "sell") -> str:
    """The nautilus BTC-PERPETUAL trades sample with its 750 USD trade flagged `flag`."""
    msg = json.loads(nautilus_text("deribit", "ws_trades.json"))
    row = msg["params"]["data"][1]
    row["direction"] = direction
    if flag is not None:
        row["liquidation"] = flag
    return json.dumps(msg)


def stats_add_up(p: DeribitParser) -> None:
    s = p.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


def test_plain_trades_inverse_units() -> None:
    t1, t2 = DeribitParser().parse(nautilus_text("deribit", "ws_trades.json"), 1.0)
    assert isinstance(t1, Trade) and isinstance(t2, Trade)
    assert t1.usd == 10.0 and t1.qty == pytest.approx(10 / 92294.5)  # amount is USD
    assert t2.usd == 750.0 and t2.qty == pytest.approx(750 / 92288.5)  # 0.0081267 BTC
    assert t2.taker_side == "sell" and t2.asset == "BTC"
    assert t2.event_ts == pytest.approx(1765531356.452)


@pytest.mark.parametrize(
    ("flag", "direction", "sides"),
    [
        ("T", "sell", ["long"]),  # taker sold to close: the liquidated taker was long
        ("T", "buy", ["short"]),
        ("M", "buy", ["long"]),  # maker sold into a taker buy: the liquidated maker was long
        ("M", "sell", ["short"]),
        ("MT", "sell", ["long", "short"]),  # both sides liquidated
    ],
)
def test_liquidation_flag_sides(flag: str, direction: str, sides: list[str]) -> None:
    evs = DeribitParser().parse(trades_with(flag, direction), 1.0)
    liqs = [e for e in evs if isinstance(e, Liquidation)]
    assert [e.side for e in liqs] == sides
    for e in liqs:
        assert e.usd == 750.0 and e.raw_size == 750.0  # inverse: amount in USD
        assert e.qty == pytest.approx(0.0081267, rel=1e-4)  # 750 / 92288.5
        assert e.price == 92288.5 and e.sampled is False
    assert sum(isinstance(e, Trade) for e in evs) == 2  # the trades are still trades


def test_linear_usdc_perpetual_amount_is_base() -> None:
    frame = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {
                "channel": "trades.BTC_USDC-PERPETUAL.100ms",
                "data": [
                    {
                        "timestamp": 1765531356452,
                        "price": 60000.0,
                        "amount": 0.5,
                        "direction": "buy",
                        "instrument_name": "BTC_USDC-PERPETUAL",
                        "liquidation": "T",
                        "trade_seq": 1,
                        "trade_id": "1",
                    }
                ],
            },
        }
    )
    _, liq = DeribitParser().parse(frame, 1.0)
    assert isinstance(liq, Liquidation)
    assert liq.side == "short" and liq.asset == "BTC"
    assert liq.qty == 0.5 and liq.usd == pytest.approx(30000.0)  # 0.5 BTC × 60000


def test_ticker_mark_oi_funding_on_change() -> None:
    p = DeribitParser()
    mark, oi, funding = p.parse(nautilus_text("deribit", "ws_ticker.json"), 1.0)
    assert isinstance(mark, Mark) and mark.price == pytest.approx(92281.78)
    assert mark.index == pytest.approx(92263.55)
    assert isinstance(oi, OpenInterest)
    assert oi.usd == pytest.approx(1132329370.0)  # inverse OI is USD
    assert oi.oi == pytest.approx(1132329370.0 / 92281.78)  # ≈ 12270 BTC
    assert isinstance(funding, Funding)
    assert funding.rate == pytest.approx(0.00001742) and funding.interval_h == 8.0
    # unchanged OI and funding: only the mark is emitted again
    [again] = p.parse(nautilus_text("deribit", "ws_ticker.json"), 2.0)
    assert isinstance(again, Mark)


def test_heartbeat_reply_and_ignore() -> None:
    hb = '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}'
    reply = reply_to_heartbeat(hb)
    assert reply is not None and json.loads(reply)["method"] == "public/test"
    assert reply_to_heartbeat(hb.encode()) == reply
    assert reply_to_heartbeat('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}') is None
    assert reply_to_heartbeat(nautilus_text("deribit", "ws_trades.json")) is None
    assert SPEC.keepalive.kind == "reply" and SPEC.keepalive.reply is reply_to_heartbeat
    p = DeribitParser()
    assert p.parse(hb, 1.0) == []
    assert p.parse('{"jsonrpc":"2.0","id":9000,"result":{"version":"1.2.26"}}', 1.0) == []
    assert (
        p.parse(
            '{"jsonrpc":"2.0","id":3,"error":{"code":13778,"message":"raw_subscriptions_not_available"}}', 1.0
        )
        == []
    )
    assert p.stats.ignored == 3 and "13778" in p.stats.last_error


@pytest.mark.parametrize(
    "frame",
    [
        "nope",
        '{"jsonrpc":"2.0"}',
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":{}}}',
        trades_with("X"),
        trades_with(None, direction="up"),
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"instrument_name":"BTC-PERPETUAL","timestamp":1,"mark_price":"x"}}}',
    ],
)
def test_garbage_is_counted(frame: str) -> None:
    p = DeribitParser()
    assert p.parse(frame, 1.0) == []
    assert p.stats.parse_errors == 1
    stats_add_up(p)


def test_impossible_amount_rejected() -> None:
    p = DeribitParser()
    frame = trades_with("T").replace('"amount": 750.0', '"amount": -750.0')
    evs = p.parse(frame, 1.0)
    assert len(evs) == 1  # the first (valid) trade survives
    assert p.stats.rejected == 2  # the negative trade and its liquidation


def test_whole_cryptofeed_capture_options_only() -> None:
    frames = ws_frames("DERIBIT.ws.1.0")
    p = DeribitParser()
    events = [ev for ts, raw in frames for ev in p.parse(raw, ts)]
    assert p.stats.frames == len(frames) == 136
    assert p.stats.parse_errors == 0, p.stats.last_error
    assert events == []  # option books and tickers (coin-priced) are not used
    stats_add_up(p)


def test_spec_subscriptions() -> None:
    assert spec("deribit") is SPEC
    [sub] = SPEC.subscriptions(
        SubscribeRequest(instruments=["BTC-PERPETUAL", "SOL_USDC-PERPETUAL"], btc_trades=True)
    )
    assert sub.url == "wss://www.deribit.com/ws/api/v2"
    first, *rest = (json.loads(m) for m in sub.messages)
    assert first["method"] == "public/set_heartbeat" and first["params"]["interval"] >= 10
    channels = [c for m in rest for c in m["params"]["channels"]]
    assert all(m["method"] == "public/subscribe" for m in rest)
    # issue 13 item 9: every future of each settlement currency (perpetual AND dated), whose
    # trades carry the liquidation flag; tickers for the main instruments
    assert channels == [
        "trades.future.BTC.100ms",
        "trades.future.ETH.100ms",
        "trades.future.USDC.100ms",
        "trades.future.USDT.100ms",
        "ticker.BTC-PERPETUAL.100ms",
        "ticker.SOL_USDC-PERPETUAL.100ms",
    ]
    # an explicit instrument list subscribes exactly those instruments' trades
    [narrow] = SPEC.subscriptions(SubscribeRequest(liquidation_instruments=["BTC-26DEC25"], instruments=[]))
    narrow_channels = [c for m in narrow.messages[1:] for c in json.loads(m)["params"]["channels"]]
    assert narrow_channels == ["trades.BTC-26DEC25.100ms"]
    assert SPEC.instruments_for and SPEC.instruments_for(["BTC", "ETH", "SOL"]) == [
        "BTC-PERPETUAL",
        "ETH-PERPETUAL",
        "SOL_USDC-PERPETUAL",
    ]


def test_same_trade_repeated_is_one_liquidation_and_mt_stays_two() -> None:
    """Issue 12 row 18: Deribit's `trade_id` identifies a liquidation trade; the same frame
    100 times counts once. An `MT` trade is two liquidations (one long, one short) under one
    trade_id: both count, once each (docs/exchanges.md §1.1)."""
    p = DeribitParser()
    frame = trades_with("T")
    liqs = [ev for i in range(100) for ev in p.parse(frame, 1765531356.5 + i / 100) if isinstance(ev, Liquidation)]
    assert len(liqs) == 1 and p.stats.duplicates == 99
    q = DeribitParser()
    both = trades_with("MT")
    first = [ev.side for ev in q.parse(both, 1765531356.5) if isinstance(ev, Liquidation)]
    again = [ev for ev in q.parse(both, 1765531356.6) if isinstance(ev, Liquidation)]
    assert first == ["long", "short"] and again == [] and q.stats.duplicates == 2


def test_dated_future_liquidation_is_inverse_usd() -> None:
    """Issue 13 item 9: dated futures (BTC-26DEC25) arrive on `trades.future.BTC.100ms`; their
    `amount` is USD like the inverse perpetual's."""
    msg = json.loads(trades_with("T"))
    msg["params"]["channel"] = "trades.future.BTC.100ms"
    msg["params"]["data"][1]["instrument_name"] = "BTC-26DEC25"
    liq = next(ev for ev in DeribitParser().parse(json.dumps(msg), 1765531356.5) if isinstance(ev, Liquidation))
    assert liq.instrument == "BTC-26DEC25" and liq.asset == "BTC"
    assert liq.usd == 750.0 and liq.qty == pytest.approx(750 / 92288.5)
