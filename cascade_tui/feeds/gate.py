"""Gate USDT-settled futures: liquidations (`futures.public_liquidates`, payload `!all`),
trades (`futures.trades`), funding / open interest / mark (`futures.tickers`)
(docs/exchanges.md §9).

Liquidation rows: `contract`, `price`, `size`, and the time. `size` is SIGNED contracts:
negative ⇒ a long was liquidated, positive ⇒ a short. Base = |size| × quanto_multiplier,
USD = base × price. Per Gate's changelog of 2026-08-20, `price` is the liquidation ORDER
price and `time` is milliseconds (earlier rows had `time` in seconds plus `time_ms`); a
`fill_price`, when a row carries one, is preferred. Sizes are integers, or decimal strings
when the `X-Gate-Size-Decimal: 1` header is sent; both are accepted.

Sampling: the channel was documented as at most one liquidation per contract per second
(§1.3), so the parser is `sampled`. The 2026-08-20 changelog says rows of one aggregation
period are now batched (pushed early at 20) rather than dropped, which makes the bound
tight; kept flagged until confirmed live.

Trades: `size` signed contracts (negative = taker sell). Tickers: `funding_rate` per
funding interval, `mark_price`, `index_price`, `total_size` (open interest, contracts);
OpenInterest and Funding are emitted only when they change.

Metadata read, keyed by contract (fields as in GET /api/v4/futures/usdt/contracts), e.g.
`{"BTC_USDT": {"quanto_multiplier": "0.0001", "funding_interval": 28800, "baseAsset": "BTC"}}`:
`quanto_multiplier` (required for any contract not bundled), `funding_interval` (seconds;
8 h when absent), `baseAsset` (optional). Bundled: BTC/ETH/SOL/XRP/DOGE _USDT.
"""

from __future__ import annotations

import time
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
    decode,
    json_message,
    opt_num,
    rows,
    unique,
)
from cascade_tui.model import LONG, SHORT, Event, Funding, Liquidation, Mark, OpenInterest, Trade

VENUE = "gate"
WS_URL = "wss://fx-ws.gateio.ws/v4/ws/usdt"
DEFAULT_FUNDING_H = 8.0
_MS_THRESHOLD = 1e11  # epoch values above this are milliseconds

# quanto_multiplier = base coin per contract (GET /api/v4/futures/usdt/contracts)
BUNDLED: dict[str, dict[str, Any]] = {
    "BTC_USDT": {"quanto_multiplier": 0.0001},
    "ETH_USDT": {"quanto_multiplier": 0.01},
    "SOL_USDT": {"quanto_multiplier": 1},
    "XRP_USDT": {"quanto_multiplier": 10},
    "DOGE_USDT": {"quanto_multiplier": 10},
}


def epoch_s(x: Any) -> float:
    """Gate time that may be seconds or milliseconds -> epoch seconds."""
    v = fnum(x)
    return v / 1000.0 if v > _MS_THRESHOLD else v


class GateParser(FrameParser):
    venue = VENUE
    sampled = True

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self._info = InstrumentInfo(self.metadata, BUNDLED)
        self._last: dict[str, tuple[float | None, float | None]] = {}  # contract -> (oi, funding)

    def reset(self) -> None:
        self._last.clear()

    def multiplier(self, contract: str) -> float:
        qm = opt_num(self._info.field(contract, "quanto_multiplier"))
        if qm is None or not qm > 0:
            raise FrameError(f"no quanto_multiplier for Gate contract {contract} (pass contract metadata)")
        return qm

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        msg = as_dict(decode(frame), "gate frame")
        ch = msg.get("channel")
        if not isinstance(ch, str):
            raise FrameError("gate frame without a channel")
        event = msg.get("event")
        error = msg.get("error")
        if error:
            self.stats.last_error = f"gate {ch} error: {error}"
            raise Ignore
        if ch == "futures.pong" or event in ("subscribe", "unsubscribe"):
            raise Ignore
        if event not in ("update", "all"):
            raise FrameError(f"gate event {event!r}")
        result = msg.get("result")
        if ch == "futures.public_liquidates":
            return self._liquidations(rows(result, "public_liquidates"), recv_ts)
        if ch == "futures.trades":
            return self._trades(rows(result, "trades"), recv_ts)
        if ch == "futures.tickers":
            msg_ts = msg.get("time_ms") or msg.get("time")
            event_ts = epoch_s(msg_ts) if msg_ts is not None else recv_ts
            return self._tickers(rows(result, "tickers"), event_ts, recv_ts)
        raise Ignore  # order books, candlesticks...: valid, unused

    def _liquidations(self, data: list[dict[str, Any]], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            try:
                out.append(self._liquidation(row, recv_ts))
            except (FrameError, KeyError, ValueError, TypeError) as exc:
                self.row_failed(exc)  # one unknown contract costs its row, not the batch
        return out

    def _liquidation(self, row: dict[str, Any], recv_ts: float) -> Liquidation:
        contract = str(row["contract"])
        size = fnum(row["size"])
        fill = opt_num(row.get("fill_price"))
        price = fill if fill is not None else fnum(row["price"])
        qty = abs(size) * self.multiplier(contract)
        when = row["time_ms"] if "time_ms" in row else row["time"]
        return Liquidation(
            venue=VENUE,
            instrument=contract,
            asset=self._info.asset(contract),
            side=LONG if size < 0 else SHORT,  # sign of the liquidated position
            price=price,
            qty=qty,
            usd=qty * price,
            raw_size=size,
            event_ts=epoch_s(when),
            recv_ts=recv_ts,
            sampled=True,
        )

    def _trades(self, data: list[dict[str, Any]], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            contract = str(row["contract"])
            size = fnum(row["size"])
            price = fnum(row["price"])
            qty = abs(size) * self.multiplier(contract)
            when = row["create_time_ms"] if "create_time_ms" in row else row["create_time"]
            out.append(
                Trade(
                    venue=VENUE,
                    instrument=contract,
                    asset=self._info.asset(contract),
                    price=price,
                    qty=qty,
                    usd=qty * price,
                    taker_side="sell" if size < 0 else "buy",
                    event_ts=epoch_s(when),
                    recv_ts=recv_ts,
                )
            )
        return out

    def _tickers(self, data: list[dict[str, Any]], event_ts: float, recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            contract = str(row["contract"])
            asset = self._info.asset(contract)
            mark = opt_num(row.get("mark_price"))
            if mark is not None:
                out.append(
                    Mark(
                        venue=VENUE,
                        instrument=contract,
                        asset=asset,
                        price=mark,
                        event_ts=event_ts,
                        recv_ts=recv_ts,
                        index=opt_num(row.get("index_price")),
                    )
                )
            size = opt_num(row.get("total_size"))
            rate = opt_num(row.get("funding_rate"))
            last_size, last_rate = self._last.get(contract, (None, None))
            if size is not None and size != last_size:
                base = size * self.multiplier(contract)
                out.append(
                    OpenInterest(
                        venue=VENUE,
                        instrument=contract,
                        asset=asset,
                        oi=base,
                        event_ts=event_ts,
                        recv_ts=recv_ts,
                        usd=base * mark if mark else None,
                    )
                )
            if rate is not None and rate != last_rate:
                interval_s = opt_num(self._info.field(contract, "funding_interval"))
                out.append(
                    Funding(
                        venue=VENUE,
                        instrument=contract,
                        asset=asset,
                        rate=rate,
                        interval_h=interval_s / 3600.0 if interval_s else DEFAULT_FUNDING_H,
                        event_ts=event_ts,
                        recv_ts=recv_ts,
                    )
                )
            self._last[contract] = (size, rate)
        return out


# ---------------------------------------------------------------------- connection spec


def _request(channel: str, payload: list[str]) -> str:
    # `time` is required by the request format; Gate only checks it for signed requests
    return json_message(
        {"time": int(time.time()), "channel": channel, "event": "subscribe", "payload": payload}
    )


def subscriptions(req: SubscribeRequest) -> list[Subscription]:
    liq_payload = list(req.liquidation_instruments) or ["!all"]
    trade_contracts = unique([*req.instruments, *([BTC_INSTRUMENT] if req.btc_trades else [])])
    messages = [_request("futures.public_liquidates", liq_payload)]
    if trade_contracts:
        messages.append(_request("futures.trades", trade_contracts))
    if req.instruments:
        messages.append(_request("futures.tickers", list(req.instruments)))
    return [Subscription(url=WS_URL, messages=messages, name="usdt")]


def instruments_for(assets: Sequence[str]) -> list[str]:
    return [f"{a.upper()}_USDT" for a in assets]


BTC_INSTRUMENT = "BTC_USDT"

SPEC = VenueSpec(
    id=VENUE,
    rank=6,
    metadata_source=metadata.GATE_SOURCE,
    name="Gate",
    parser=GateParser,
    subscriptions=subscriptions,
    # application ping; Gate answers futures.pong. `time` is epoch SECONDS, as in every Gate
    # request and in Gate's own client (gatews: `{"time": int(time.time()), ...}`)
    keepalive=Keepalive(kind="json", interval=15.0, message='{"time":{ts_s},"channel":"futures.ping"}'),
    rest_polls=None,  # futures.tickers carries funding and open interest
    sampled=True,
    has_liquidations=True,
    max_connection_s=23.5 * 3600,
    stale_after_s=60.0,
    notes=(
        "public_liquidates was documented as ≤1 liquidation per contract per second (lower bound); "
        "since 2026-08-20 Gate batches all orders of a 1 s period. Sizes are contracts × quanto_multiplier; "
        "the price is the liquidation order price."
    ),
    instruments_for=instruments_for,
    btc_instrument=BTC_INSTRUMENT,
)
