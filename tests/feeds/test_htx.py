"""HTX linear-swap adapter: real gzip frames from the cryptofeed captures (HUOBI_SWAP.ws.*),
frames quoted in docs/exchanges.md §12 (gzipped here, as the venue sends them), and hand-made
acks, REST bodies and garbage (marked as such)."""

from __future__ import annotations

import ast
import gzip
import json
import re

import pytest

from cascade_tui.feeds import htx
from cascade_tui.feeds.base import SubscribeRequest
from cascade_tui.model import Funding, Liquidation, OpenInterest, Trade
from tests.feeds.venue_samples import capture_text, ws_frames

RECV = 1789670297.5

# §12, live 2026-09 (ETH-USDT): a short liquidated by a forced buy.
LIQUIDATION = {
    "op": "notify",
    "topic": "public.ETH-USDT.liquidation_orders",
    "ts": 1789670297217,
    "data": [
        {
            "symbol": "ETH",
            "contract_code": "ETH-USDT",
            "direction": "buy",
            "offset": "close",
            "volume": 500,
            "price": 2446.26,
            "created_at": 1789670297212,
            "amount": 5,
            "trade_turnover": 12231.3,
            "contract_type": "swap",
            "pair": "ETH-USDT",
            "business_type": "swap",
            "trade_partition": "USDT",
        }
    ],
}
# §12, tardis example (2020).
FUNDING = (
    '{"op":"notify","topic":"public.BTC-USDT.funding_rate","ts":1606780803260,"data":[{"symbol":"BTC",'
    '"contract_code":"BTC-USDT","fee_asset":"USDT","funding_time":"1606780800000",'
    '"funding_rate":"0.000100000000000000","estimated_rate":"0.000236636095370214",'
    '"settlement_time":"1606780800000"}]}'
)
# Hand-made in the documented shape of GET /linear-swap-api/v1/swap_open_interest.
OPEN_INTEREST = (
    '{"status":"ok","data":[{"volume":9000000,"amount":9000.0,"symbol":"BTC","value":810000000.0,'
    '"contract_code":"BTC-USDT","trade_amount":1.0,"trade_volume":1000,"trade_turnover":90000.0,'
    '"business_type":"swap","pair":"BTC-USDT","contract_type":"swap"}],"ts":1789670297000}'
)


def gz(obj: object) -> bytes:
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return gzip.compress(text.encode())


def sample_frames(name: str) -> list[tuple[float, bytes]]:
    """Received frames of a cryptofeed HTX capture: payloads are Python bytes literals."""
    return [(ts, ast.literal_eval(payload)) for ts, payload in ws_frames(name)]


def test_liquidation_uses_base_amount_and_usdt_turnover() -> None:
    p = htx.HtxParser()
    (ev,) = p.parse(gz(LIQUIDATION), RECV)
    assert isinstance(ev, Liquidation)
    assert ev.side == "short"  # direction "buy" + offset "close": a forced buy closes a short
    assert ev.asset == "ETH" and ev.instrument == "ETH-USDT"
    assert ev.qty == pytest.approx(5.0)  # amount = 5 ETH (= 500 contracts × 0.01)
    assert ev.usd == pytest.approx(12231.3)  # trade_turnover = 5 × 2446.26, NOT 500 × 2446.26
    assert ev.raw_size == 500  # contracts as sent
    assert ev.price == pytest.approx(2446.26)
    assert ev.event_ts == pytest.approx(1789670297.212)
    assert ev.sampled is False


def test_sell_direction_is_a_long_liquidated() -> None:
    frame = json.loads(json.dumps(LIQUIDATION))
    frame["data"][0]["direction"] = "sell"
    (ev,) = htx.HtxParser().parse(gz(frame), RECV)
    assert ev.side == "long"  # type: ignore[union-attr]


def test_row_without_amount_uses_contract_size() -> None:
    frame = json.loads(json.dumps(LIQUIDATION))
    del frame["data"][0]["amount"], frame["data"][0]["trade_turnover"]
    (ev,) = htx.HtxParser().parse(gz(frame), RECV)
    assert ev.qty == pytest.approx(5.0)  # 500 contracts × bundled 0.01 ETH
    assert ev.usd == pytest.approx(12231.3)  # 5 × 2446.26
    # metadata (feeds/metadata.py, swap_contract_info field names) overrides the bundle
    (ev,) = htx.HtxParser({"ETH-USDT": {"contract_size": 0.1}}).parse(gz(frame), RECV)
    assert ev.qty == pytest.approx(50.0)  # 500 × 0.1


def test_funding_notify() -> None:
    (f,) = htx.HtxParser().parse(gz(FUNDING), RECV)
    assert isinstance(f, Funding)
    assert f.rate == pytest.approx(0.0001)
    assert f.interval_h == 8.0
    assert f.event_ts == pytest.approx(1606780803.26)
    assert f.next_ts is None  # settlement_time is 3 s in the past: not a future funding time


def test_open_interest_rest_frame() -> None:
    (oi,) = htx.HtxParser().parse(OPEN_INTEREST, RECV, channel="rest:swap_open_interest")
    assert isinstance(oi, OpenInterest)
    assert oi.oi == pytest.approx(9000.0)  # amount, base coin (volume is contracts)
    assert oi.usd == pytest.approx(810_000_000.0)  # value, USDT
    assert oi.asset == "BTC"
    assert oi.event_ts == pytest.approx(1789670297.0)


def test_real_linear_trade_frame() -> None:
    frames = sample_frames("HUOBI_SWAP.ws.2.0")
    p = htx.HtxParser()
    # first GRT-USDT trade in the capture (decoded in §12)
    ts, raw = next((t, f) for t, f in frames if b"GRT-USDT.trade" in gzip.decompress(f))
    (t,) = p.parse(raw, ts)
    assert isinstance(t, Trade)
    assert t.instrument == "GRT-USDT" and t.asset == "GRT"
    assert t.taker_side == "buy"
    assert t.qty == pytest.approx(40.0)  # quantity (4 contracts × 10 GRT)
    assert t.usd == pytest.approx(16.7648)  # 40 × 0.41912 = trade_turnover
    assert t.event_ts == pytest.approx(1645289380.927)


def test_real_coin_margined_trade_frame() -> None:
    # HUOBI_SWAP.ws.1.0 is the coin-margined /swap-ws: amount is USD contracts (ATOM-USD: 10 USD)
    frames = sample_frames("HUOBI_SWAP.ws.1.0")
    ts, raw = next((t, f) for t, f in frames if b"ATOM-USD.trade" in gzip.decompress(f))
    (t,) = htx.HtxParser().parse(raw, ts)
    assert t.asset == "ATOM" and t.taker_side == "buy"  # type: ignore[union-attr]
    assert t.qty == pytest.approx(2.2569881997133625)  # type: ignore[union-attr]  # quantity, ATOM
    assert t.usd == pytest.approx(60.0)  # type: ignore[union-attr]  # 2.25699 × 26.5841 = 6 contracts × 10 USD


@pytest.mark.parametrize("name", ["HUOBI_SWAP.ws.1.0", "HUOBI_SWAP.ws.2.0"])
def test_whole_capture_parses_and_pings_get_the_recorded_pongs(name: str) -> None:
    frames = sample_frames(name)
    p = htx.HtxParser()
    trade_rows = 0
    replies: list[str] = []
    for ts, raw in frames:
        msg = json.loads(gzip.decompress(raw))
        if str(msg.get("ch", "")).endswith("trade.detail"):
            trade_rows += len(msg["tick"]["data"])
        reply = htx.SPEC.keepalive.reply(raw)  # type: ignore[misc]
        if reply is not None:
            replies.append(reply)
        p.parse(raw, ts)
    s = p.stats
    assert s.frames == len(frames) == s.parsed + s.ignored + s.parse_errors
    assert s.parse_errors == 0, s.last_error
    # HTX sends each contract's last trade on subscribe: BTT's was 2350 s and SOS's 73 s old at
    # receive time in this capture; both are counted stale, the other 15 trades pass.
    stale = 2 if name == "HUOBI_SWAP.ws.2.0" else 0
    assert s.stale == stale
    assert s.events == {"trade": trade_rows - stale} and trade_rows > 0
    assert s.ignored == len(frames) - s.parsed  # depth, subscribe acks and pings
    # cryptofeed answered every ping; our replies must be exactly what it sent
    sent = re.findall(r" <- [\d.]+: (\{\"pong\":\d+\})", capture_text(name))
    assert replies == sent and len(sent) == 6


def test_notification_ping_reply_echoes_ts() -> None:
    reply = htx.SPEC.keepalive.reply  # type: ignore[misc]
    assert reply is not None
    assert json.loads(reply(gz('{"op":"ping","ts":"1489474081631"}'))) == {
        "op": "pong",
        "ts": "1489474081631",
    }
    assert json.loads(reply(gz('{"op":"ping","ts":1489474081631}'))) == {"op": "pong", "ts": 1489474081631}
    assert json.loads(reply(gz('{"ping":1645289389594}'))) == {"pong": 1645289389594}
    assert reply(gz(LIQUIDATION)) is None
    assert reply(b"\x1f\x8bnot gzip") is None


def test_acks_and_pings_are_ignored() -> None:
    p = htx.HtxParser()
    frames = [
        gz('{"op":"ping","ts":"1489474081631"}'),
        gz('{"ping":1645289389594}'),
        gz('{"op":"sub","cid":"1","topic":"public.*.liquidation_orders","ts":1789670297000,"err-code":0}'),
        gz('{"id":"1","subbed":"market.BTC-USDT.trade.detail","ts":1645289384874,"status":"ok"}'),
        gz('{"ch":"market.BTC-USDT.depth.step0","ts":1,"tick":{}}'),
    ]
    for f in frames:
        assert p.parse(f, RECV) == []
    assert p.stats.ignored == len(frames) and p.stats.parse_errors == 0


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"[" + b"0," * (5 * 1024 * 1024) + b"0]")  # 10 MB of JSON, ~10 KB on the wire
    assert len(bomb) < 100_000
    p = htx.HtxParser()
    assert p.parse(bomb, RECV) == []
    assert p.stats.parse_errors == 1 and "inflates beyond" in p.stats.last_error
    assert htx.SPEC.keepalive.reply(bomb) is None  # type: ignore[misc]


@pytest.mark.parametrize(
    "frame",
    [
        b"\x1f\x8b\x08\x00garbage",
        gz(LIQUIDATION)[:-12],  # truncated stream
        b"\x00\x01binary",
        "not json",
        gz("[]"),
        gz('{"status":"error","err-code":"bad-request","err-msg":"invalid topic"}'),
        gz('{"op":"sub","cid":"1","err-code":2011,"err-msg":"invalid topic"}'),
        gz(
            '{"op":"notify","topic":"public.BTC-USDT.liquidation_orders","data":[{"contract_code":"BTC-USDT"}]}'
        ),
        gz('{"something":"else"}'),
    ],
)
def test_garbage_is_counted_never_raised(frame: str | bytes) -> None:
    p = htx.HtxParser()
    assert p.parse(frame, RECV) == []
    assert p.stats.parse_errors == 1
    assert p.stats.frames == p.stats.parsed + p.stats.ignored + p.stats.parse_errors


@pytest.mark.parametrize(("field", "value"), [("price", "NaN"), ("amount", -5), ("trade_turnover", 0)])
def test_impossible_values_rejected(field: str, value: object) -> None:
    frame = json.loads(json.dumps(LIQUIDATION))
    frame["data"][0][field] = value
    p = htx.HtxParser()
    assert p.parse(gz(frame), RECV) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0


def test_trade_with_empty_direction_is_dropped_and_counted() -> None:
    frame = {
        "ch": "market.BTC-USDT.trade.detail",
        "ts": 1,
        "tick": {
            "id": 1,
            "ts": 1,
            "data": [{"amount": 2, "quantity": 0.002, "ts": 1000, "id": 1, "price": 90000, "direction": ""}],
        },
    }
    p = htx.HtxParser()
    assert p.parse(gz(frame), RECV) == []
    assert p.stats.rejected == 1 and p.stats.parse_errors == 0


def test_unknown_rest_channel_is_an_error() -> None:
    p = htx.HtxParser()
    assert p.parse(OPEN_INTEREST, RECV, channel="rest:nope") == []
    assert p.stats.parse_errors == 1


def test_subscriptions_two_sockets() -> None:
    notif, market = htx.SPEC.subscriptions(
        SubscribeRequest(instruments=["BTC-USDT", "ETH-USDT"], btc_trades=True)
    )
    assert notif.url == "wss://api.hbdm.com/linear-swap-notification"
    msgs = [json.loads(m) for m in notif.messages]
    assert msgs[0] == {"op": "sub", "cid": "1", "topic": "public.*.liquidation_orders"}
    assert [m["topic"] for m in msgs[1:]] == ["public.BTC-USDT.funding_rate", "public.ETH-USDT.funding_rate"]
    assert market.url == "wss://api.hbdm.com/linear-swap-ws"
    assert [json.loads(m) for m in market.messages] == [
        {"sub": "market.BTC-USDT.trade.detail", "id": "1"},
        {"sub": "market.ETH-USDT.trade.detail", "id": "2"},
    ]
    (only,) = htx.SPEC.subscriptions(SubscribeRequest(liquidation_instruments=["BTC-USDT"]))
    assert [json.loads(m)["topic"] for m in only.messages] == ["public.BTC-USDT.liquidation_orders"]


def test_spec() -> None:
    spec = htx.SPEC
    assert spec.id == "htx" and spec.binary_frames and spec.has_liquidations
    assert spec.keepalive.kind == "reply"
    (poll,) = spec.rest_polls(["BTC-USDT"])  # type: ignore[misc]
    assert poll.name == "swap_open_interest"
    assert poll.url.startswith("https://api.hbdm.com/linear-swap-api/v1/swap_open_interest")
    assert spec.instruments_for(["BTC", "ETH"]) == ["BTC-USDT", "ETH-USDT"]  # type: ignore[misc]
    assert spec.btc_instrument == "BTC-USDT"
