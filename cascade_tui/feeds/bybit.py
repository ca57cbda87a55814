"""Bybit v5 public streams: liquidations (`allLiquidation.{symbol}`), trades
(`publicTrade.{symbol}`), funding / open interest / mark (`tickers.{symbol}`)
(docs/exchanges.md §3).

`allLiquidation` pushes every liquidation (batched each 500 ms): the parser is not sampled.
`S` is the side of the POSITION: "Buy" ⇒ a long was liquidated. `v` is base coin on linear
contracts (USDT/USDC perps and futures) and USD contracts on inverse ones (`BTCUSD`,
`BTCUSDH26`): inverse base = v / p, USD = v (§1.2).

`tickers` sends a snapshot then deltas holding only changed fields; the parser keeps the
merged state per symbol (cleared by `reset()`) and emits Mark / Funding / OpenInterest only
for the groups of fields a message touched. Open interest prefers `singleOpenInterest`
(one side, added 2026-06-11) over `openInterest` (now documented as "both sides").

Metadata read (optional), keyed by symbol, e.g.
`{"BTCUSD": {"contractType": "InversePerpetual", "baseAsset": "BTC"}}`:
`contractType` (instruments-info; `Inverse*` ⇒ sizes in USD), `baseAsset` (or `baseCoin`).
Without metadata a symbol is inverse when it is `<BASE>USD` or a dated `<BASE>USD<M><YY>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

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
from cascade_tui.model import LONG, SHORT, Event, Funding, Liquidation, Mark, OpenInterest, Trade

VENUE = "bybit"
WS_LINEAR = "wss://stream.bybit.com/v5/public/linear"
WS_INVERSE = "wss://stream.bybit.com/v5/public/inverse"
ARGS_PER_MESSAGE = 200  # a live user ran 805 symbols at 200 per frame
ARGS_CHARS_PER_CONNECTION = 20_000  # doc: args of one public connection ≤ 21,000 characters
DEFAULT_FUNDING_H = 8.0

_INVERSE_SYMBOL = re.compile(r"^[A-Z0-9]+USD(?:[FGHJKMNQUVXZ]\d{2})?$")
_MARK_FIELDS = ("markPrice", "indexPrice")
_FUNDING_FIELDS = ("fundingRate", "nextFundingTime", "fundingIntervalHour")
_OI_FIELDS = ("openInterest", "singleOpenInterest", "openInterestValue", "singleOpenInterestValue")

# --------------------------------------------------------------------------- typed fast path
# Hot topics decoded straight into structs with only the fields we read (others skipped by
# the decoder). A frame that does not fit exactly (an ack, a number where Bybit sends a
# string, bad JSON) fails the typed decode and takes the generic dict path, which counts it.


class _Message(msgspec.Struct):
    topic: str
    data: msgspec.Raw
    type: Any = None
    ts: int | float | str | UnsetType | None = UNSET


class _Row(msgspec.Struct):
    """One allLiquidation or publicTrade row."""

    s: str
    S: str
    v: str
    p: str
    T: int | float


_decode_message = msgspec.json.Decoder(_Message).decode
_decode_rows = msgspec.json.Decoder(list[_Row]).decode
# a ticker's data as the plain object the fallback path reads: only the keys the message
# carries (a delta leaves most out). Decoding straight to a dict costs ~1.4 µs a frame less
# than a typed struct of the fields read plus a dict built from the set ones.
_decode_object = msgspec.json.Decoder(dict[str, Any]).decode
_TS_MISSING = object()


def is_inverse(symbol: str, metadata: Mapping[str, Any] | None = None) -> bool:
    """Inverse contracts quote sizes in USD; linear ones in base coin."""
    meta = (metadata or {}).get(symbol)
    if isinstance(meta, Mapping):
        kind = meta.get("contractType")
        if isinstance(kind, str) and kind:
            return kind.startswith("Inverse")
    return bool(_INVERSE_SYMBOL.match(symbol))


class _BybitInfo(InstrumentInfo):
    """Bybit's instruments-info calls the base asset `baseCoin`; accept both spellings."""

    def asset(self, instrument: str, fallback_symbol: str | None = None) -> str:
        cached = self._assets.get(instrument)
        if cached is not None:
            return cached
        if self.field(instrument, "baseAsset") is None:
            coin = self.field(instrument, "baseCoin")
            if isinstance(coin, str) and coin:
                asset = self._assets[instrument] = "BTC" if coin.upper() == "XBT" else coin.upper()
                return asset
        return super().asset(instrument, fallback_symbol)


class BybitParser(FrameParser):
    venue = VENUE
    sampled = False

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self._info = _BybitInfo(self.metadata, {})
        self._inverse: dict[str, bool] = {}
        self._tickers: dict[str, dict[str, Any]] = {}  # symbol -> merged ticker state

    def reset(self) -> None:
        self._tickers.clear()

    def _is_inverse(self, symbol: str) -> bool:
        inv = self._inverse.get(symbol)
        if inv is None:
            inv = self._inverse[symbol] = is_inverse(symbol, self.metadata)
        return inv

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        try:
            events = self._parse_typed(frame, recv_ts)
        except msgspec.DecodeError:  # ValidationError too: not the shape we know
            events = None
        if events is not None:
            return events
        msg = as_dict(decode(frame), "bybit frame")
        topic = msg.get("topic")
        if not isinstance(topic, str):
            if "op" in msg or "success" in msg:
                if msg.get("success") is False:
                    self.stats.last_error = f"bybit {msg.get('op')}: {msg.get('ret_msg')}"
                raise Ignore  # pong, subscribe ack
            raise FrameError("bybit frame without a topic")
        kind = topic.split(".", 1)[0]
        if kind == "allLiquidation":
            return self._liquidations(msg, recv_ts)
        if kind == "publicTrade":
            return self._trades(msg, recv_ts)
        if kind == "tickers":
            return self._ticker(msg, recv_ts)
        raise Ignore  # orderbook, kline...: valid, unused

    def _parse_typed(self, frame: str | bytes, recv_ts: float) -> list[Event] | None:
        """Events of a hot topic from typed structs; None for any other topic."""
        msg = _decode_message(frame)
        kind = msg.topic.split(".", 1)[0]
        if kind == "tickers":
            data = _decode_object(msg.data)
            topic_symbol = msg.topic.split(".", 1)[-1]
            symbol = str(data.get("symbol") or topic_symbol)
            ts = _TS_MISSING if msg.ts is UNSET else msg.ts
            return self._ticker_update(symbol, data, msg.type == "snapshot", ts, recv_ts)
        if kind == "allLiquidation":
            out: list[Event] = []
            for row in _decode_rows(msg.data):
                out.append(self._liquidation(row.s, row.S, row.v, row.p, row.T, recv_ts))
            return out
        if kind == "publicTrade":
            trades: list[Event] = []
            for row in _decode_rows(msg.data):
                trades.append(self._trade(row.s, row.S, row.v, row.p, row.T, recv_ts))
            return trades
        return None

    def _liquidation(self, symbol: str, side: Any, v: Any, p: Any, t_ms: Any, recv_ts: float) -> Liquidation:
        if side not in ("Buy", "Sell"):
            raise FrameError(f"allLiquidation side {side!r}")
        size = fnum(v)
        price = fnum(p)  # bankruptcy price
        if self._is_inverse(symbol):
            qty, usd = (size / price if price else float("nan")), size
        else:
            qty, usd = size, size * price
        return Liquidation(
            venue=VENUE,
            instrument=symbol,
            asset=self._info.asset(symbol),
            side=LONG if side == "Buy" else SHORT,  # S is the position side
            price=price,
            qty=qty,
            usd=usd,
            raw_size=size,
            event_ts=ms_to_s(t_ms),
            recv_ts=recv_ts,
            sampled=False,
        )

    def _trade(self, symbol: str, side: Any, v: Any, p: Any, t_ms: Any, recv_ts: float) -> Trade:
        if side not in ("Buy", "Sell"):
            raise FrameError(f"publicTrade side {side!r}")
        size = fnum(v)
        price = fnum(p)
        if self._is_inverse(symbol):
            qty, usd = (size / price if price else float("nan")), size
        else:
            qty, usd = size, size * price
        return Trade(
            venue=VENUE,
            instrument=symbol,
            asset=self._info.asset(symbol),
            price=price,
            qty=qty,
            usd=usd,
            taker_side="buy" if side == "Buy" else "sell",
            event_ts=ms_to_s(t_ms),
            recv_ts=recv_ts,
        )

    def _liquidations(self, msg: dict[str, Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in as_list(msg["data"], "allLiquidation.data"):
            row = as_dict(row, "allLiquidation row")
            out.append(self._liquidation(str(row["s"]), row["S"], row["v"], row["p"], row["T"], recv_ts))
        return out

    def _trades(self, msg: dict[str, Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in as_list(msg["data"], "publicTrade.data"):
            row = as_dict(row, "publicTrade row")
            out.append(self._trade(str(row["s"]), row["S"], row["v"], row["p"], row["T"], recv_ts))
        return out

    def _ticker(self, msg: dict[str, Any], recv_ts: float) -> list[Event]:
        data = as_dict(msg["data"], "tickers.data")
        topic_symbol = str(msg["topic"]).split(".", 1)[-1]
        symbol = str(data.get("symbol") or topic_symbol)
        return self._ticker_update(
            symbol, data, msg.get("type") == "snapshot", msg.get("ts", _TS_MISSING), recv_ts
        )

    def _ticker_update(
        self, symbol: str, data: dict[str, Any], snapshot: bool, ts: Any, recv_ts: float
    ) -> list[Event]:
        """Merge a snapshot or delta into the symbol's state and emit what it touched."""
        if snapshot or symbol not in self._tickers:
            state = self._tickers[symbol] = dict(data)
        else:
            state = self._tickers[symbol]
            state.update(data)
        if ts is _TS_MISSING:
            raise KeyError("ts")  # after the merge, as a frame without "ts" always did
        event_ts = ms_to_s(ts)
        asset = self._info.asset(symbol)
        out: list[Event] = []
        mark = opt_num(state.get("markPrice"))
        if mark is not None and not data.keys().isdisjoint(_MARK_FIELDS):
            out.append(
                Mark(
                    venue=VENUE,
                    instrument=symbol,
                    asset=asset,
                    price=mark,
                    event_ts=event_ts,
                    recv_ts=recv_ts,
                    index=opt_num(state.get("indexPrice")),
                )
            )
        rate = opt_num(state.get("fundingRate"))
        if rate is not None and not data.keys().isdisjoint(_FUNDING_FIELDS):
            interval = opt_num(state.get("fundingIntervalHour")) or DEFAULT_FUNDING_H
            next_ms = opt_num(state.get("nextFundingTime"))
            out.append(
                Funding(
                    venue=VENUE,
                    instrument=symbol,
                    asset=asset,
                    rate=rate,
                    interval_h=interval,
                    event_ts=event_ts,
                    recv_ts=recv_ts,
                    next_ts=next_ms / 1000.0 if next_ms else None,
                )
            )
        if not data.keys().isdisjoint(_OI_FIELDS):
            oi_event = self._open_interest(symbol, asset, state, mark, event_ts, recv_ts)
            if oi_event is not None:
                out.append(oi_event)
        return out

    def _open_interest(
        self,
        symbol: str,
        asset: str,
        state: dict[str, Any],
        mark: float | None,
        event_ts: float,
        recv_ts: float,
    ) -> OpenInterest | None:
        single = opt_num(state.get("singleOpenInterest"))
        oi = single if single is not None else opt_num(state.get("openInterest"))
        if oi is None:
            return None
        value_key = "singleOpenInterestValue" if single is not None else "openInterestValue"
        usd = opt_num(state.get(value_key))
        if self._is_inverse(symbol):
            # inverse OI is counted in USD contracts
            if not mark:
                return None
            usd, oi = oi, oi / mark
        return OpenInterest(
            venue=VENUE, instrument=symbol, asset=asset, oi=oi, event_ts=event_ts, recv_ts=recv_ts, usd=usd
        )


# ---------------------------------------------------------------------- connection spec


def _connections(url: str, topics: Sequence[str], name: str) -> list[Subscription]:
    """Topics -> connections whose args stay under the per-connection character limit, each
    sending subscribe messages of at most ARGS_PER_MESSAGE topics."""
    groups: list[list[str]] = []
    size = ARGS_CHARS_PER_CONNECTION + 1
    for topic in topics:
        cost = len(topic) + 3  # quotes and comma in the JSON array
        if size + cost > ARGS_CHARS_PER_CONNECTION:
            groups.append([])
            size = 0
        groups[-1].append(topic)
        size += cost
    subs: list[Subscription] = []
    for i, group in enumerate(groups):
        messages = [
            json_message({"req_id": f"sub-{j}", "op": "subscribe", "args": part})
            for j, part in enumerate(chunks(group, ARGS_PER_MESSAGE))
        ]
        subs.append(
            Subscription(url=url, messages=messages, name=name if len(groups) == 1 else f"{name}-{i}")
        )
    return subs


def subscriptions(req: SubscribeRequest) -> list[Subscription]:
    liq_symbols = list(req.liquidation_instruments) or list(req.instruments)
    trade_symbols = list(req.instruments) + ([BTC_INSTRUMENT] if req.btc_trades else [])
    topics = (
        [f"allLiquidation.{s}" for s in liq_symbols]
        + [f"publicTrade.{s}" for s in unique(trade_symbols)]
        + [f"tickers.{s}" for s in req.instruments]
    )
    topics = unique(topics)
    linear = [t for t in topics if not is_inverse(t.split(".", 1)[1])]
    inverse = [t for t in topics if is_inverse(t.split(".", 1)[1])]
    subs = _connections(WS_LINEAR, linear, "linear") if linear else []
    if inverse:
        subs += _connections(WS_INVERSE, inverse, "inverse")
    return subs


def instruments_for(assets: Sequence[str]) -> list[str]:
    return [f"{a.upper()}USDT" for a in assets]


BTC_INSTRUMENT = "BTCUSDT"

SPEC = VenueSpec(
    id=VENUE,
    rank=2,
    metadata_source=metadata.BYBIT_SOURCE,
    liquidations_per_symbol=True,  # one liquidation topic per instrument: subscribe them all
    name="Bybit",
    parser=BybitParser,
    subscriptions=subscriptions,
    keepalive=Keepalive(kind="json", interval=20.0, message='{"req_id":"ping","op":"ping"}'),
    rest_polls=None,  # funding and open interest arrive on tickers.{symbol}
    sampled=False,
    has_liquidations=True,
    max_connection_s=23.5 * 3600,
    stale_after_s=60.0,
    notes=(
        "allLiquidation is per symbol (subscribe every symbol for full coverage) and pushes all "
        "liquidations every 500 ms. Inverse contracts report sizes in USD. Open interest uses "
        "singleOpenInterest (one side) when present."
    ),
    instruments_for=instruments_for,
    btc_instrument=BTC_INSTRUMENT,
)
