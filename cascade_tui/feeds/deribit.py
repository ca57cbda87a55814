"""Deribit JSON-RPC API: liquidations are trades flagged `liquidation` on `trades.{inst}.100ms`;
mark, open interest and funding come from `ticker.{inst}.100ms` (docs/exchanges.md §6).

Liquidation flag (§1.1): `T` = the taker was liquidated (direction sell ⇒ long), `M` = the
maker was (direction buy ⇒ the maker sold ⇒ long), `MT` = both: one long AND one short
liquidation of the same size. Every liquidation trade is published: not sampled.

Units (§1.2): `amount` is USD on inverse instruments (BTC-PERPETUAL, ETH-PERPETUAL, dated
BTC-26DEC25): base = amount / price. On linear USDC/USDT instruments (BTC_USDC-PERPETUAL)
`amount` is base coin. Options (priced in coin) are skipped. `open_interest` follows the
same rule (USD for inverse). Funding: `funding_8h` as the rate per 8 h interval.
Ticker pushes every 100 ms; OpenInterest and Funding are emitted only when they change.

Keepalive: after `public/set_heartbeat` the server sends `test_request` heartbeats that
must be answered by `public/test` (SPEC.keepalive.reply); the parser ignores them.

Metadata read (optional), keyed by instrument_name (fields as in public/get_instruments),
e.g. `{"BTC_USDC-PERPETUAL": {"instrument_type": "linear", "kind": "future",
"base_currency": "BTC"}}`: `instrument_type` (linear / reversed), `kind` (option is
skipped), `base_currency` or `baseAsset`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cascade_tui.feeds import metadata
from cascade_tui.feeds.base import (
    FrameParser,
    Ignore,
    Keepalive,
    SubscribeRequest,
    Subscription,
    VenueSpec,
    fnum,
)
from cascade_tui.feeds.common import (
    FrameError,
    InstrumentInfo,
    as_dict,
    as_list,
    chunks,
    decode,
    json_message,
    ms_to_s,
    opt_num,
    unique,
)
from cascade_tui.model import LONG, SHORT, Event, Funding, Liquidation, Mark, OpenInterest, Side, Trade

VENUE = "deribit"
WS_URL = "wss://www.deribit.com/ws/api/v2"
CHANNELS_PER_MESSAGE = 100
HEARTBEAT_S = 30  # public/set_heartbeat interval (minimum 10 s)
FUNDING_H = 8.0


def _liquidated_sides(flag: Any, direction: str) -> tuple[Side, ...]:
    if flag == "T":  # taker liquidated: a taker sell closes a long
        return (LONG,) if direction == "sell" else (SHORT,)
    if flag == "M":  # maker liquidated: the maker took the opposite side of the taker
        return (LONG,) if direction == "buy" else (SHORT,)
    if flag == "MT":
        return (LONG, SHORT)
    raise FrameError(f"liquidation flag {flag!r}")


class DeribitParser(FrameParser):
    venue = VENUE
    sampled = False

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self._info = InstrumentInfo(self.metadata, {})
        self._kinds: dict[str, str] = {}  # instrument -> "inverse" | "linear" | "option"
        self._last: dict[str, tuple[float | None, float | None]] = {}  # inst -> (oi, funding)

    def reset(self) -> None:
        self._last.clear()

    def kind(self, name: str) -> str:
        known = self._kinds.get(name)
        if known is not None:
            return known
        info = self._info
        if info.field(name, "kind") == "option" or name.count("-") >= 3:
            kind = "option"  # BTC-24SEP21-8000-P
        elif info.field(name, "instrument_type") == "linear" or "_USDC" in name or "_USDT" in name:
            kind = "linear"
        else:
            kind = "inverse"
        self._kinds[name] = kind
        return kind

    def asset(self, name: str) -> str:
        base = self._info.field(name, "base_currency")
        if isinstance(base, str) and base:
            return base.upper()
        if self._info.field(name, "baseAsset"):
            return self._info.asset(name)
        return name.split("-", 1)[0].split("_", 1)[0].upper()

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        msg = as_dict(decode(frame), "deribit frame")
        method = msg.get("method")
        if method == "subscription":
            params = as_dict(msg.get("params"), "params")
            ch = params.get("channel")
            if not isinstance(ch, str):
                raise FrameError("subscription without a channel")
            if ch.startswith("trades."):
                return self._trades(as_list(params["data"], "trades data"), recv_ts)
            if ch.startswith("ticker."):
                return self._ticker(as_dict(params["data"], "ticker data"), recv_ts)
            raise Ignore  # book, ...: valid, unused
        if method == "heartbeat":
            raise Ignore  # answered by SPEC.keepalive.reply
        if "error" in msg:
            self.stats.last_error = f"deribit error: {msg['error']}"
            raise Ignore
        if "result" in msg:
            raise Ignore  # subscribe / set_heartbeat / test replies
        raise FrameError("deribit frame is neither a notification nor a reply")

    def _trades(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            row = as_dict(row, "trade")
            name = str(row["instrument_name"])
            kind = self.kind(name)
            if kind == "option":
                continue  # priced in coin; not part of the perp/futures picture
            direction = row["direction"]
            if direction not in ("buy", "sell"):
                raise FrameError(f"trade direction {direction!r}")
            amount = fnum(row["amount"])
            price = fnum(row["price"])
            if kind == "inverse":
                qty, usd = (amount / price if price else float("nan")), amount
            else:
                qty, usd = amount, amount * price
            asset = self.asset(name)
            event_ts = ms_to_s(row["timestamp"])
            out.append(
                Trade(
                    venue=VENUE,
                    instrument=name,
                    asset=asset,
                    price=price,
                    qty=qty,
                    usd=usd,
                    taker_side=direction,
                    event_ts=event_ts,
                    recv_ts=recv_ts,
                )
            )
            flag = row.get("liquidation")
            if flag is None:
                continue
            for side in _liquidated_sides(flag, direction):
                out.append(
                    self.keyed(
                        Liquidation(
                            venue=VENUE,
                            instrument=name,
                            asset=asset,
                            side=side,
                            price=price,
                            qty=qty,
                            usd=usd,
                            raw_size=amount,
                            event_ts=event_ts,
                            recv_ts=recv_ts,
                            sampled=False,
                        ),
                        row.get("trade_id"),  # with the side: an MT trade is two liquidations
                    )
                )
        return out

    def _ticker(self, data: dict[str, Any], recv_ts: float) -> list[Event]:
        name = str(data["instrument_name"])
        kind = self.kind(name)
        if kind == "option":
            raise Ignore
        asset = self.asset(name)
        event_ts = ms_to_s(data["timestamp"])
        mark = fnum(data["mark_price"])
        out: list[Event] = [
            Mark(
                venue=VENUE,
                instrument=name,
                asset=asset,
                price=mark,
                event_ts=event_ts,
                recv_ts=recv_ts,
                index=opt_num(data.get("index_price")),
            )
        ]
        oi = opt_num(data.get("open_interest"))
        funding = opt_num(data.get("funding_8h"))
        last_oi, last_funding = self._last.get(name, (None, None))
        if oi is not None and oi != last_oi and mark > 0:
            base, usd = (oi / mark, oi) if kind == "inverse" else (oi, oi * mark)
            out.append(
                OpenInterest(
                    venue=VENUE,
                    instrument=name,
                    asset=asset,
                    oi=base,
                    event_ts=event_ts,
                    recv_ts=recv_ts,
                    usd=usd,
                )
            )
        if funding is not None and funding != last_funding:
            out.append(
                Funding(
                    venue=VENUE,
                    instrument=name,
                    asset=asset,
                    rate=funding,
                    interval_h=FUNDING_H,
                    event_ts=event_ts,
                    recv_ts=recv_ts,
                )
            )
        self._last[name] = (oi, funding)
        return out


# ---------------------------------------------------------------------- connection spec

_TEST_REPLY = json_message({"jsonrpc": "2.0", "id": 9000, "method": "public/test", "params": {}})


def reply_to_heartbeat(frame: str | bytes) -> str | None:
    """Answer a `test_request` heartbeat with `public/test` (else the server disconnects)."""
    # cheap pre-check: runs on every frame
    if b"test_request" not in frame if isinstance(frame, bytes) else "test_request" not in frame:
        return None
    try:
        msg = decode(frame)
    except Exception:
        return None
    if isinstance(msg, dict) and msg.get("method") == "heartbeat":
        params = msg.get("params")
        if isinstance(params, dict) and params.get("type") == "test_request":
            return _TEST_REPLY
    return None


# Settlement currencies whose futures (perpetual and dated) carry liquidation trades: the
# `trades.{kind}.{currency}.{interval}` channel covers every future of a currency in one
# subscription, so dated futures (BTC-26DEC25) are watched as well as the perpetuals.
FUTURE_CURRENCIES = ("BTC", "ETH", "USDC", "USDT")


def subscriptions(req: SubscribeRequest) -> list[Subscription]:
    """All-market view (no `liquidation_instruments`): every future's trades per settlement
    currency (they carry the liquidation flag and the main instruments' trades), tickers per
    main instrument. With an explicit instrument list: those instruments' trades only."""
    if req.liquidation_instruments:
        trade_insts = list(req.liquidation_instruments)
        if req.btc_trades:
            trade_insts.append(BTC_INSTRUMENT)
        trades = [f"trades.{i}.100ms" for i in trade_insts]
    else:
        trades = [f"trades.future.{c}.100ms" for c in FUTURE_CURRENCIES]
    channels = unique(trades + [f"ticker.{i}.100ms" for i in req.instruments])
    messages = [
        json_message(
            {"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat", "params": {"interval": HEARTBEAT_S}}
        )
    ]
    messages += [
        json_message(
            {"jsonrpc": "2.0", "id": 2 + i, "method": "public/subscribe", "params": {"channels": part}}
        )
        for i, part in enumerate(chunks(channels, CHANNELS_PER_MESSAGE))
    ]
    return [Subscription(url=WS_URL, messages=messages, name="public")]


def instruments_for(assets: Sequence[str]) -> list[str]:
    """BTC and ETH have inverse perpetuals; other assets trade as USDC linear perpetuals."""
    out: list[str] = []
    for a in assets:
        up = a.upper()
        out.append(f"{up}-PERPETUAL" if up in ("BTC", "ETH") else f"{up}_USDC-PERPETUAL")
    return out


BTC_INSTRUMENT = "BTC-PERPETUAL"

SPEC = VenueSpec(
    id=VENUE,
    rank=5,
    metadata_source=metadata.DERIBIT_SOURCE,
    name="Deribit",
    parser=DeribitParser,
    subscriptions=subscriptions,
    keepalive=Keepalive(kind="reply", interval=float(HEARTBEAT_S), reply=reply_to_heartbeat),
    rest_polls=None,  # ticker carries open interest and funding
    sampled=False,
    has_liquidations=True,
    max_connection_s=23.5 * 3600,
    stale_after_s=60.0,
    notes=(
        "No liquidation channel: liquidations are trades flagged M/T/MT on the futures trade channels "
        "(perpetual and dated, per settlement currency). Inverse sizes are USD. Unauthenticated "
        "streams use the 100ms interval."
    ),
    instruments_for=instruments_for,
    btc_instrument=BTC_INSTRUMENT,
)
