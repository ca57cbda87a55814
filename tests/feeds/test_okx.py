"""OKX v5 adapter: frames from docs/exchanges.md §4 and the recorded fixtures (tests/fixtures/venues)."""

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


def test_unknown_contract_is_counted_not_guessed() -> None:
    p = OkxParser()
    assert p.parse(IOST, 1692266434.2) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0
    assert "IOST-USDT-SWAP" in p.stats.last_error and "ctVal" in p.stats.last_error


def test_one_unknown_contract_keeps_the_other_rows() -> None:
    """Issue 13 item 4: a push with an unknown instrument among known ones (the doc example's
    shape, docs/exchanges.md §4: data[] per instrument, details[] per liquidation) keeps the
    known rows; the unknown row is counted, and was never marked seen, so once its contract
    is known the same row counts."""
    frame = json.loads(IOST)
    frame["data"].insert(0, json.loads(liq("BTC-USDT-SWAP", "sell", "5", "60000", ts="1692266434000"))["data"][0])
    p = OkxParser()
    [btc] = p.parse(json.dumps(frame), 1692266434.2)
    assert btc.instrument == "BTC-USDT-SWAP" and btc.usd == pytest.approx(3000.0)
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0 and p.stats.duplicates == 0
    p.metadata.update(IOST_META)  # type: ignore[attr-defined]  # metadata arrives (META_CHANNEL does this)
    [iost] = p.parse(IOST, 1692266434.3)
    assert iost.instrument == "IOST-USDT-SWAP" and p.stats.duplicates == 0


def test_dated_futures_liquidations_use_the_family_contract_value() -> None:
    """Issue 13 item 9: FUTURES liquidations are subscribed and sized; a dated future without
    metadata takes its swap family's ctVal (true of all 104 futures in the OKX.0 sample)."""
    frame = liq("BTC-USD-250926", "sell", "7", "50000", ts="1700000000000").replace('"SWAP"', '"FUTURES"')
    [ev] = OkxParser().parse(frame, 1700000000.2)
    assert ev.usd == pytest.approx(700.0) and ev.asset == "BTC"  # 7 × 100 USD, inverse
    [lin] = OkxParser().parse(liq("ETH-USDT-250926", "buy", "3", "3000"), 1700000000.2)
    assert lin.qty == pytest.approx(0.3) and lin.side == "short"  # 3 × 0.1 ETH


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


def detail(side: str, sz: str, px: str, ts_ms: int) -> dict[str, str]:
    return {"bkLoss": "0", "bkPx": px, "ccy": "", "posSide": "net", "side": side, "sz": sz, "ts": str(ts_ms)}


def push(inst_id: str, *details: dict[str, str]) -> str:
    """A liquidation-orders push in the documented shape (docs/exchanges.md §4)."""
    return json.dumps(
        {"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
         "data": [{"details": list(details), "instId": inst_id, "instType": "SWAP"}]}
    )


ACK = '{"event":"subscribe","arg":{"channel":"liquidation-orders","instType":"SWAP"},"connId":"a"}'


def test_subscribe_replay_at_start_counts_zero() -> None:
    """Issue 13 item 1: OKX re-sends recent liquidations right after a subscribe (tardis-node
    drops the first push for this reason, docs/exchanges.md §1.4). At start the de-dup window
    is empty; rows from before the connection (5 s to 3 min old here) count 0, as `stale`."""
    start = 1_700_000_000.0
    p = OkxParser()
    assert p.parse(ACK, start) == []  # the connection's first frame
    replay = push(
        "BTC-USDT-SWAP",
        detail("sell", "5", "60000", int((start - 180) * 1000)),
        detail("buy", "2", "60100", int((start - 30) * 1000)),
        detail("sell", "1", "60050", int((start - 5) * 1000)),
    )
    assert p.parse(replay, start + 0.3) == []
    assert p.stats.stale == 3 and p.stats.events == {}
    # a liquidation that happens after the subscription counts
    [fresh] = p.parse(push("BTC-USDT-SWAP", detail("sell", "4", "59900", int((start + 2) * 1000))), start + 2.2)
    assert fresh.usd == pytest.approx(0.04 * 59900)
    stats_add_up(p)


def test_reconnect_replay_counts_zero_and_new_rows_count_once() -> None:
    """After a reconnect the replay holds rows counted before (duplicates) and rows from before
    the new connection (stale); a row new to us in the same push counts, once."""
    t0 = 1692266434.010  # the doc example's time
    p = OkxParser(IOST_META)
    assert len(p.parse(IOST, t0 + 0.2)) == 1
    p.reconnected()  # what the pipeline calls when the venue reconnects
    assert p.parse(ACK, t0 + 100.0) == []
    replay = json.loads(IOST)
    replay["data"][0]["details"].append(detail("sell", "2", "0.0079", int((t0 + 100.1) * 1000)))
    [new] = p.parse(json.dumps(replay), t0 + 100.3)  # the old one is dropped, the new one kept
    assert new.side == "long" and new.qty == 2000.0
    assert p.parse(json.dumps(replay), t0 + 101.0) == []  # the same push again: nothing new
    assert p.stats.events == {"liquidation": 2}
    assert p.stats.duplicates == 1 and p.stats.stale == 2  # the IOST row: before the connection, twice
    stats_add_up(p)


def test_dedupe_memory_is_bounded() -> None:
    from cascade_tui.feeds.base import DEDUP_WINDOW

    p = OkxParser()
    for i in range(DEDUP_WINDOW + 500):
        p.parse(liq("BTC-USDT-SWAP", "sell", "1", "60000", ts=str(1700000000000 + i)), 1700000000.0 + i / 1000)
    assert DEDUP_WINDOW // 2 <= len(p._recent) <= DEDUP_WINDOW
    assert p.stats.events == {"liquidation": DEDUP_WINDOW + 500}


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
    [s] = OkxParser().parse(nautilus_text("okx", "ws_trades.json"), 1.0)  # its own clock (2021)
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
    ],
)
def test_garbage_is_counted(frame: str) -> None:
    p = OkxParser()
    assert p.parse(frame, 1.0) == []
    assert p.stats.parse_errors == 1
    stats_add_up(p)


@pytest.mark.parametrize("frame", [liq("BTC-USDT-SWAP", "up", "1", "1"), liq("BTC-USDT-SWAP", "sell", "x", "1")])
def test_garbage_rows_are_counted(frame: str) -> None:
    p = OkxParser()
    assert p.parse(frame, 1.0) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0
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
    # without metadata the UNI swap has no contract value: counted, not guessed; the future
    # BTC-USD-220527 takes its family's BTC-USD-SWAP value (100 USD)
    bare = OkxParser()
    for ts, raw in frames:
        bare.parse(raw, ts)
    assert bare.stats.parse_errors == 1
    assert bare.stats.events == {"trade": 69 + 4}
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
    assert args[1] == {"channel": "liquidation-orders", "instType": "FUTURES"}
    assert {"channel": "trades", "instId": "BTC-USDT-SWAP"} in args
    assert {"channel": "funding-rate", "instId": "ETH-USDT-SWAP"} in args
    assert {"channel": "open-interest", "instId": "ETH-USDT-SWAP"} in args
    assert len(args) == 2 + 2 + 3 * 2
    assert SPEC.keepalive.kind == "text" and SPEC.keepalive.message == "ping" and SPEC.keepalive.interval < 30
    assert SPEC.instruments_for and SPEC.instruments_for(["BTC"]) == ["BTC-USDT-SWAP"]
