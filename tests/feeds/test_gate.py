"""Gate USDT futures adapter: frames from docs/exchanges.md §9, Gate's 2026-08-20 doc example,
and the recorded fixtures (tests/fixtures/venues)."""

from __future__ import annotations

import json

import pytest

from cascade_tui.feeds import spec
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.feeds.gate import SPEC, GateParser
from cascade_tui.model import Funding, Liquidation, Mark, OpenInterest, Trade
from tests.feeds.venue_samples import rest_bodies, ws_frames

# exchanges.md §9 reconstructed example (values illustrative)
DOC_LIQ = (
    '{"time":1700000000,"time_ms":1700000000123,"channel":"futures.public_liquidates","event":"update",'
    '"result":[{"contract":"BTC_USDT","price":"96000.1","size":"-12","time_ms":1700000000100,"time":1700000000}]}'
)
# Gate futures WS doc example after the 2026-08-20 change: batched rows, `time` in ms, decimal sizes
BATCH_LIQ = (
    '{"channel":"futures.public_liquidates","event":"update","time":1541505434,"time_ms":1541505434123,'
    '"result":[{"price":"215.1","size":"-124.5","time":1541486601123,"contract":"BTC_USDT"},'
    '{"price":"215.2","size":"-10.5","time":1541486601456,"contract":"BTC_USDT"}]}'
)


def frame(channel: str, result: object, event: str = "update") -> str:
    return json.dumps(
        {"time": 1700000000, "time_ms": 1700000000500, "channel": channel, "event": event, "result": result}
    )


def stats_add_up(p: GateParser) -> None:
    s = p.stats
    assert s.frames == s.parsed + s.ignored + s.parse_errors


def test_signed_size_liquidation() -> None:
    [ev] = GateParser().parse(DOC_LIQ, 1.0)
    assert isinstance(ev, Liquidation)
    assert ev.side == "long"  # negative size => a long position was liquidated
    assert ev.qty == pytest.approx(0.0012)  # |−12| contracts × 0.0001 BTC
    assert ev.usd == pytest.approx(115.20012)  # 0.0012 × 96000.1
    assert ev.raw_size == -12.0 and ev.price == pytest.approx(96000.1)
    assert ev.event_ts == pytest.approx(1700000000.1)  # time_ms
    assert ev.sampled is True


def test_batched_rows_with_millisecond_time() -> None:
    a, b = GateParser().parse(BATCH_LIQ, 1.0)
    assert a.side == b.side == "long"
    assert a.qty == pytest.approx(0.01245)  # 124.5 × 0.0001
    assert a.usd == pytest.approx(2.678, rel=1e-3)  # 0.01245 × 215.1
    assert b.usd == pytest.approx(0.22596)  # 10.5 × 0.0001 × 215.2
    assert a.event_ts == pytest.approx(1541486601.123)  # `time` is ms now
    # the older integer-size rows with `time` in seconds
    old = frame(
        "futures.public_liquidates",
        [{"price": "215.1", "size": 124, "time": 1541486601, "contract": "BTC_USDT"}],
    )
    [c] = GateParser().parse(old, 1.0)
    assert c.side == "short"  # positive size => short liquidated
    assert c.event_ts == 1541486601.0


def test_fill_price_preferred_and_metadata_multiplier() -> None:
    row = {
        "contract": "PEPE_USDT",
        "price": "0.0000100",
        "fill_price": "0.0000098",
        "size": "-3",
        "time": 1700000000000,
    }
    p = GateParser()
    assert p.parse(frame("futures.public_liquidates", [row]), 1.0) == []
    assert "PEPE_USDT" in p.stats.last_error  # unknown multiplier: counted, never guessed
    [ev] = GateParser({"PEPE_USDT": {"quanto_multiplier": "10000000"}}).parse(
        frame("futures.public_liquidates", [row]), 1.0
    )
    assert ev.price == pytest.approx(0.0000098)  # fill price wins over the order price
    assert ev.qty == pytest.approx(3e7)  # 3 × 10,000,000 PEPE
    assert ev.usd == pytest.approx(294.0)  # 3e7 × 0.0000098
    assert ev.asset == "PEPE"


def test_multipliers_from_recorded_contracts() -> None:
    meta = {}
    for _, body in rest_bodies("GATEIO_FUTURES.0"):
        for c in body:
            meta[c["name"]] = c
    p = GateParser(meta)
    [ev] = p.parse(
        frame(
            "futures.public_liquidates", [{"contract": "ADA_USDT", "price": "0.5", "size": "7", "time": 1}]
        ),
        1.0,
    )
    assert ev.qty == pytest.approx(70.0)  # 7 contracts × 10 ADA (2023 contracts sample)


def test_trades() -> None:
    # shape of the docs example (via barter-rs), on a USDT contract
    row = {
        "id": 27753479,
        "create_time": 1545136464,
        "create_time_ms": 1545136464123,
        "price": "60000",
        "size": -108,
        "contract": "BTC_USDT",
    }
    [t] = GateParser().parse(frame("futures.trades", [row]), 1.0)
    assert isinstance(t, Trade)
    assert t.taker_side == "sell" and t.qty == pytest.approx(0.0108)  # 108 × 0.0001
    assert t.usd == pytest.approx(648.0) and t.event_ts == pytest.approx(1545136464.123)


def test_tickers_mark_oi_funding() -> None:
    row = {
        "contract": "BTC_USDT",
        "last": "118.4",
        "funding_rate": "-0.000114",
        "funding_rate_indicative": "0.01875",
        "mark_price": "118.35",
        "index_price": "118.36",
        "total_size": "73648",
    }
    p = GateParser({"BTC_USDT": {"quanto_multiplier": "0.0001", "funding_interval": 14400}})
    mark, oi, funding = p.parse(frame("futures.tickers", [row]), 1.0)
    assert isinstance(mark, Mark) and mark.price == pytest.approx(118.35)
    assert isinstance(oi, OpenInterest)
    assert oi.oi == pytest.approx(7.3648)  # 73648 contracts × 0.0001
    assert oi.usd == pytest.approx(871.62, rel=1e-4)  # 7.3648 × 118.35
    assert isinstance(funding, Funding)
    assert funding.rate == pytest.approx(-0.000114) and funding.interval_h == 4.0  # 14400 s
    assert oi.event_ts == pytest.approx(1700000000.5)
    [again] = p.parse(frame("futures.tickers", [row]), 2.0)  # unchanged OI/funding: mark only
    assert isinstance(again, Mark)


def test_acks_pong_errors_ignored() -> None:
    p = GateParser()
    assert p.parse('{"time":1,"time_ms":1,"channel":"futures.pong","event":"","result":null}', 1.0) == []
    assert p.parse(frame("futures.public_liquidates", {"status": "success"}, event="subscribe"), 1.0) == []
    err = '{"time":1,"channel":"futures.trades","event":"subscribe","error":{"code":2,"message":"unknown contract"},"result":null}'
    assert p.parse(err, 1.0) == []
    assert p.stats.ignored == 3 and "unknown contract" in p.stats.last_error


@pytest.mark.parametrize(
    "bad",
    [
        "][",
        '{"event":"update"}',
        frame("futures.public_liquidates", "x"),
        frame("futures.trades", [{"contract": "BTC_USDT"}], event="weird"),
    ],
)
def test_garbage_is_counted(bad: str) -> None:
    p = GateParser()
    assert p.parse(bad, 1.0) == []
    assert p.stats.parse_errors == 1
    stats_add_up(p)


@pytest.mark.parametrize(
    "row",
    [
        {"contract": "BTC_USDT", "price": "1", "size": "big", "time": 1},
        {"contract": "BTC_USDT", "size": "1", "time": 1},
    ],
)
def test_garbage_rows_are_counted(row: dict[str, object]) -> None:
    p = GateParser()
    assert p.parse(frame("futures.public_liquidates", [row]), 1.0) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0
    stats_add_up(p)


def test_one_unknown_contract_keeps_the_other_rows() -> None:
    """Issue 13 item 4: the batched doc example (2026-08-20 changelog shape, BATCH_LIQ) with an
    unknown contract in the middle: the BTC_USDT rows stand, the unknown one is counted."""
    doc = json.loads(BATCH_LIQ)
    doc["result"].insert(1, {"price": "1.5", "size": "-3", "time": 1541486601200, "contract": "NEWCOIN_USDT"})
    p = GateParser()
    a, b = p.parse(json.dumps(doc), 1541486601.5)
    assert a.instrument == b.instrument == "BTC_USDT"
    assert p.stats.rejected == 1 and "NEWCOIN_USDT" in p.stats.last_error and p.stats.parse_errors == 0


@pytest.mark.parametrize("price", ["NaN", "-1"])
def test_impossible_prices_rejected(price: str) -> None:
    p = GateParser()
    assert p.parse(DOC_LIQ.replace('"96000.1"', f'"{price}"'), 1.0) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0


def test_whole_cryptofeed_capture() -> None:
    frames = ws_frames("GATEIO_FUTURES.ws.1.0")
    p = GateParser()
    events = [ev for ts, raw in frames for ev in p.parse(raw, ts)]
    assert p.stats.frames == len(frames) == 450
    assert p.stats.parse_errors == 0, p.stats.last_error
    assert events == [] and p.stats.ignored == 450  # books, candles and acks only
    stats_add_up(p)


def test_spec_subscriptions() -> None:
    assert spec("gate") is SPEC
    [sub] = SPEC.subscriptions(SubscribeRequest(instruments=["BTC_USDT", "ETH_USDT"], btc_trades=True))
    assert sub.url == "wss://fx-ws.gateio.ws/v4/ws/usdt"
    msgs = {m["channel"]: m for m in map(json.loads, sub.messages)}
    assert msgs["futures.public_liquidates"]["payload"] == ["!all"]
    assert msgs["futures.trades"]["payload"] == ["BTC_USDT", "ETH_USDT"]
    assert msgs["futures.tickers"]["payload"] == ["BTC_USDT", "ETH_USDT"]
    assert all(m["event"] == "subscribe" and isinstance(m["time"], int) for m in msgs.values())
    ping = json.loads(SPEC.keepalive.render(1700000000.75))
    assert ping["time"] == 1700000000  # seconds, as Gate's own client sends (issue 13 item 5)
    assert ping["channel"] == "futures.ping" and SPEC.keepalive.kind == "json"
    assert SPEC.instruments_for and SPEC.instruments_for(["BTC"]) == ["BTC_USDT"]
