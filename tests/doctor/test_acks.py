"""Subscribe answers per venue (shapes from docs/exchanges.md and the venues' docs), refusals,
and frames that are not answers (pongs, data) — cascade_tui/doctor/acks.py."""

from __future__ import annotations

import gzip
import json

import pytest

from cascade_tui.doctor.acks import ACK, REFUSED, subscribe_reply

ACCEPTED = {
    "binance": {"result": None, "id": 1},
    "bybit": {"success": True, "ret_msg": "subscribe", "conn_id": "c", "req_id": "sub-0", "op": "subscribe"},
    "okx": {"event": "subscribe", "arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "connId": "a"},
    "bitmex": {"success": True, "subscribe": "liquidation", "request": {"op": "subscribe", "args": ["liquidation"]}},
    "deribit": {"jsonrpc": "2.0", "id": 2, "result": ["trades.BTC-PERPETUAL.100ms"]},
    "gate": {"time": 1, "channel": "futures.public_liquidates", "event": "subscribe", "result": {"status": "success"}},
    "bitget": {"event": "subscribe", "arg": {"instType": "usdt-futures", "topic": "liquidation"}},
    "htx-notification": {"op": "sub", "cid": "1", "topic": "public.*.liquidation_orders", "err-code": 0, "ts": 1},
    "htx-market": {"id": "1", "subbed": "market.BTC-USDT.trade.detail", "ts": 1, "status": "ok"},
    "kraken": {"event": "subscribed", "feed": "trade", "product_ids": ["PF_XBTUSD"]},
    "dydx": {"type": "subscribed", "connection_id": "c", "message_id": 1, "channel": "v4_trades", "id": "BTC-USD"},
    "hyperliquid": {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": {"type": "trades"}}},
}  # fmt: skip

REFUSALS = {
    "bybit": ({"success": False, "ret_msg": "error:handler not found", "op": "subscribe"}, "handler not found"),
    "okx": ({"event": "error", "code": "60012", "msg": "Invalid request"}, "Invalid request"),
    "bitmex": ({"status": 400, "error": "Unknown table: liquidations", "request": {}}, "Unknown table"),
    "deribit": ({"jsonrpc": "2.0", "id": 3, "error": {"code": 11050, "message": "bad_request"}}, "bad_request"),
    "gate": ({"channel": "x", "event": "subscribe", "error": {"code": 2, "message": "unknown contract"}}, "unknown contract"),
    "htx": ({"op": "sub", "err-code": 2002, "err-msg": "invalid topic"}, "invalid topic"),
    "kraken": ({"event": "error", "message": "Invalid product id"}, "Invalid product id"),
    "dydx": ({"type": "error", "message": "Invalid subscribe message"}, "Invalid subscribe"),
    "hyperliquid": ({"channel": "error", "data": "Invalid subscription"}, "Invalid subscription"),
}  # fmt: skip

NOT_ANSWERS = [
    "pong",
    {"success": True, "ret_msg": "pong", "conn_id": "c", "req_id": "", "op": "ping"},  # Bybit pong
    {"time": 1, "channel": "futures.pong", "event": "", "result": None},  # Gate pong
    {"channel": "pong"},  # Hyperliquid
    {"op": "ping", "ts": "1"},  # HTX server ping
    {"event": "info", "version": 1},  # Kraken welcome
    {"type": "connected", "connection_id": "c", "message_id": 0},  # dYdX welcome
    {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {"channel": "trades.BTC-PERPETUAL.100ms", "data": []},
    },
    {"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": 1, "o": {"s": "BTCUSDT"}}},
    {"topic": "allLiquidation.ICPUSDT", "type": "snapshot", "ts": 1, "data": []},
    "{not json",
]


@pytest.mark.parametrize("venue", sorted(ACCEPTED))
def test_accepted_subscriptions_are_acks(venue: str) -> None:
    assert subscribe_reply(json.dumps(ACCEPTED[venue])) == (ACK, "")


@pytest.mark.parametrize("venue", sorted(REFUSALS))
def test_refusals_carry_the_venue_reason(venue: str) -> None:
    frame, reason = REFUSALS[venue]
    verdict, why = subscribe_reply(json.dumps(frame))  # type: ignore[misc]
    assert verdict == REFUSED and reason in why


@pytest.mark.parametrize("frame", NOT_ANSWERS)
def test_pongs_welcomes_and_data_are_not_answers(frame: object) -> None:
    assert subscribe_reply(frame if isinstance(frame, str) else json.dumps(frame)) is None


def test_htx_gzip_frames_are_read() -> None:
    frame = gzip.compress(json.dumps(ACCEPTED["htx-market"]).encode())
    assert subscribe_reply(frame) == (ACK, "")
    assert subscribe_reply(b"\x1f\x8b broken") is None
