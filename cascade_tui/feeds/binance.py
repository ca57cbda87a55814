"""Binance USD-M and COIN-M futures: liquidations (`forceOrder`), trades (`aggTrade`), mark
price and funding (`markPrice`), open interest and premium index by REST (docs/exchanges.md §2).

Frames accepted:
- combined-stream envelope `{"stream": ..., "data": {...}}` and raw `/ws` objects; the data
  may be one event object or a list of them (all-market streams);
- `{"result": null, "id": n}` subscribe acks (ignored);
- REST poll bodies on channel `rest:openInterest` (`{"openInterest","symbol","time"}`) and
  `rest:premiumIndex` (one object, or a list without `symbol`).

Units: every USD-M size is in base coin (`z` filled qty of a forced order, `q` of a trade);
USD = qty × price. COIN-M (`wss://dstream.binance.com`, symbols `BTCUSD_PERP`,
`ETHUSD_250926`, same venue id `binance` per docs/DESIGN.md §5.1) sizes are CONTRACTS of a fixed
USD value: USD = contracts × contractSize (100 for BTC, 10 for every other coin, from
`GET /dapi/v1/exchangeInfo` when the metadata has it), base = USD / price.
`o.S` is the forced ORDER's side: SELL ⇒ a long was liquidated.
The liquidation streams push only the latest liquidation per symbol per 1000 ms, so the
parser is `sampled` (counts and USD are lower bounds).

Metadata read (all optional), keyed by symbol, e.g.
`{"BTCUSDT": {"baseAsset": "BTC", "fundingIntervalHours": 8}}`:
`baseAsset` (exchangeInfo; `1000PEPEUSDT` -> `1000PEPE`, folded to `PEPE` by feeds/base.py),
`fundingIntervalHours` (fundingInfo; 8 h when absent), `contractSize` (COIN-M dapi exchangeInfo).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from cascade_tui.feeds import metadata
from cascade_tui.feeds.base import (
    FrameParser,
    Ignore,
    Keepalive,
    RestPoll,
    SubscribeRequest,
    Subscription,
    VenueSpec,
    fnum,
)
from cascade_tui.feeds.common import (
    FrameError,
    InstrumentInfo,
    as_dict,
    chunks,
    decode,
    ms_to_s,
    opt_num,
    rows,
    unique,
)
from cascade_tui.model import LONG, SHORT, Event, Funding, Liquidation, Mark, OpenInterest, TakerSide, Trade

VENUE = "binance"
WS_MARKET = "wss://fstream.binance.com/market"  # 2026 split: aggTrade/markPrice/forceOrder
WS_COIN_M = "wss://dstream.binance.com"  # COIN-M market streams (combined mode: /stream?streams=)
COIN_M_BTC_CONTRACT_USD = 100.0  # BTCUSD_* contracts are 100 USD each
COIN_M_CONTRACT_USD = 10.0  # every other COIN-M contract is 10 USD
REST = "https://fapi.binance.com"
DEFAULT_FUNDING_H = 8.0
STREAMS_PER_CONNECTION = 200  # doc max 1024; stay well under it and under URL length limits

_UNKNOWN: Any = object()

# Market-data events this parser turns into events; other event types are valid but unused.
_KNOWN_EVENTS = frozenset({"forceOrder", "aggTrade", "markPriceUpdate"})

# --------------------------------------------------------------------------- typed fast path
# The hot streams decoded straight into structs holding only the fields we read (others are
# skipped by the decoder). A frame that does not fit these schemas exactly (a raw `/ws`
# object, a number where Binance sends a string, an unused event type, bad JSON) fails the
# typed decode and goes through the generic dict path, which counts it as before.

_Ms = int | float | None  # what the generic decoder yields for a JSON time field


class _ForceOrderBody(msgspec.Struct):
    s: str
    S: str
    z: str
    ap: str
    p: str
    T: _Ms | UnsetType = UNSET


class _ForceOrder(msgspec.Struct, tag_field="e", tag="forceOrder"):
    o: _ForceOrderBody
    E: _Ms = None


class _AggTrade(msgspec.Struct, tag_field="e", tag="aggTrade"):
    s: str
    p: str
    q: str
    m: bool
    T: int | float


class _MarkPrice(msgspec.Struct, tag_field="e", tag="markPriceUpdate"):
    s: str
    p: str
    E: int | float
    i: str | None = None
    r: str | None = None
    T: _Ms = None


_Item = _ForceOrder | _AggTrade | _MarkPrice


class _Envelope(msgspec.Struct):
    stream: str
    data: _Item | list[_Item]


_typed_decode = msgspec.json.Decoder(_Envelope).decode
_FAST_PATH_MISS = (msgspec.DecodeError,)  # ValidationError is a DecodeError
_COIN_M_SYMBOL = re.compile(r"([A-Z0-9]+)USD_(PERP|[0-9]{6})")  # BTCUSD_PERP, ETHUSD_250926


def coin_m_contract_usd(symbol: str, metadata_size: Any = None) -> float | None:
    """USD per contract of a COIN-M symbol (None for USD-M symbols, whose sizes are coins).
    `metadata_size` is dapi exchangeInfo's `contractSize` when known."""
    m = _COIN_M_SYMBOL.fullmatch(symbol)
    if m is None:
        return None
    size = opt_num(metadata_size)
    if size is not None and size > 0:
        return size
    return COIN_M_BTC_CONTRACT_USD if m.group(1) == "BTC" else COIN_M_CONTRACT_USD


class BinanceParser(FrameParser):
    venue = VENUE
    sampled = True

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self._info = InstrumentInfo(self.metadata, {})
        self._marks: dict[str, float] = {}  # symbol -> last mark price, for OI in USD
        self._contract_usd: dict[str, float | None] = {}  # symbol -> COIN-M USD per contract
        self._funding_h: dict[str, float] = {}  # symbol -> funding interval (h), from metadata

    def reset(self) -> None:
        self._marks.clear()

    def _metadata_updated(self) -> None:
        self._funding_h.clear()

    def funding_interval_h(self, symbol: str) -> float:
        """Hours between fundings: metadata's `fundingIntervalHours`, else 8 (remembered per
        symbol: every markPrice row asks)."""
        hours = self._funding_h.get(symbol)
        if hours is None:
            interval = self._info.field(symbol, "fundingIntervalHours")
            hours = float(interval) if interval else DEFAULT_FUNDING_H
            if len(self._funding_h) < 4096:  # bounded by the venue's symbol count
                self._funding_h[symbol] = hours
        return hours

    def contract_usd(self, symbol: str) -> float | None:
        """USD per contract of a COIN-M symbol; None for USD-M (sizes in coins)."""
        known = self._contract_usd.get(symbol, _UNKNOWN)
        if known is _UNKNOWN:
            known = coin_m_contract_usd(symbol, self._info.field(symbol, "contractSize"))
            if len(self._contract_usd) < 4096:  # bounded by the venue's symbol count
                self._contract_usd[symbol] = known
        return known

    def _base_and_usd(self, symbol: str, size: float, price: float) -> tuple[float, float]:
        contract_usd = self.contract_usd(symbol)
        if contract_usd is None:
            return size, size * price
        usd = size * contract_usd
        return usd / price, usd

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        if not channel:
            try:
                env = _typed_decode(frame)
            except _FAST_PATH_MISS:
                pass
            else:
                return self._parse_typed(env, recv_ts)
        msg = decode(frame)
        if channel:
            return self._parse_rest(msg, recv_ts, channel)
        if isinstance(msg, dict):
            if "stream" in msg and "data" in msg:
                msg = msg["data"]
            elif "result" in msg and "id" in msg:
                raise Ignore  # SUBSCRIBE / LIST_SUBSCRIPTIONS reply
        items = rows(msg, "binance frame")
        events: list[Event] = []
        known = False
        for item in items:
            kind = item.get("e")
            if not isinstance(kind, str):
                raise FrameError("binance event without an 'e' type")
            if kind not in _KNOWN_EVENTS:
                continue
            known = True
            if kind == "forceOrder":
                self._force_order(item, recv_ts, events)
            elif kind == "aggTrade":
                self._agg_trade(item, recv_ts, events)
            else:
                self._mark_price(item, recv_ts, events)
        if not known:
            raise Ignore  # depth, bookTicker, kline ...: valid frames we do not use
        return events

    def _parse_typed(self, env: _Envelope, recv_ts: float) -> list[Event]:
        """The same events as the dict path below, from the typed envelope."""
        data = env.data
        items = data if isinstance(data, list) else (data,)
        if not items:
            raise Ignore  # an empty array: nothing we use (as the dict path)
        events: list[Event] = []
        for item in items:
            kind = type(item)
            if kind is _AggTrade:
                self._typed_agg_trade(item, recv_ts, events)  # type: ignore[arg-type]
            elif kind is _MarkPrice:
                self._typed_mark_price(item, recv_ts, events)  # type: ignore[arg-type]
            else:
                self._typed_force_order(item, recv_ts, events)  # type: ignore[arg-type]
        return events

    def _typed_force_order(self, item: _ForceOrder, recv_ts: float, out: list[Event]) -> None:
        order = item.o
        t_ms = item.E if order.T is UNSET else order.T
        self._liquidation(order.s, order.S, order.z, order.ap, order.p, t_ms, recv_ts, out)

    # The two hottest rows (every trade, every mark each second) build their events inline:
    # the typed decoder guarantees the field types, so `fnum`/`opt_num`/`ms_to_s` reduce to
    # `float(...)` and the checks below; the events are those of `_trade` and
    # `_mark_and_funding` (tests/feeds/test_typed_fast_path.py compares them with the dict path).

    def _typed_agg_trade(self, item: _AggTrade, recv_ts: float, out: list[Event]) -> None:
        symbol = item.s
        price = float(item.p)
        size = float(item.q)
        contract_usd = self._contract_usd.get(symbol, _UNKNOWN)
        if contract_usd is _UNKNOWN:
            contract_usd = self.contract_usd(symbol)
        if contract_usd is None:
            qty, usd = size, size * price
        else:
            usd = size * contract_usd
            qty = usd / price
        side: TakerSide = "sell" if item.m else "buy"
        out.append(Trade(VENUE, symbol, self._info.asset(symbol), price, qty, usd, side, float(item.T) / 1000.0, recv_ts))

    def _typed_mark_price(self, item: _MarkPrice, recv_ts: float, out: list[Event]) -> None:
        symbol = item.s
        asset = self._info.asset(symbol)
        event_ts = float(item.E) / 1000.0
        mark = float(item.p)
        self._marks[symbol] = mark
        index = item.i
        out.append(
            Mark(VENUE, symbol, asset, mark, event_ts, recv_ts, None if index is None or index == "" else float(index))
        )
        rate = item.r
        if rate is None or rate == "":
            return
        funding_rate = float(rate)
        next_ms = item.T
        next_ts = float(next_ms) / 1000.0 if next_ms else None
        out.append(
            Funding(VENUE, symbol, asset, funding_rate, self.funding_interval_h(symbol), event_ts, recv_ts, next_ts)
        )

    # ------------------------------------------------------------------ streams

    def _force_order(self, item: dict[str, Any], recv_ts: float, out: list[Event]) -> None:
        order = as_dict(item.get("o"), "forceOrder.o")
        t_ms = order.get("T", item.get("E"))
        self._liquidation(str(order["s"]), order["S"], order["z"], order["ap"], order.get("p"), t_ms, recv_ts, out)

    def _agg_trade(self, item: dict[str, Any], recv_ts: float, out: list[Event]) -> None:
        maker_is_buyer = item["m"]
        if not isinstance(maker_is_buyer, bool):
            raise FrameError("aggTrade 'm' is not a boolean")
        self._trade(str(item["s"]), item["p"], item["q"], maker_is_buyer, item["T"], recv_ts, out)

    # The builders below are shared by the typed fast path and the dict path, which read the
    # same numbers from the same frames; only how the fields are reached differs.

    def _liquidation(
        self, symbol: str, side: Any, z: Any, ap: Any, p: Any, t_ms: Any, recv_ts: float, out: list[Event]
    ) -> None:
        if side not in ("SELL", "BUY"):
            raise FrameError(f"forceOrder side {side!r}")
        qty = fnum(z)  # accumulated filled qty (l is only the last fill)
        if qty == 0.0:
            return  # nothing filled (e.g. an expired order): no liquidation happened
        price = fnum(ap)
        if price == 0.0:
            price = fnum(p)
        base, usd = self._base_and_usd(symbol, qty, price)
        out.append(
            Liquidation(
                venue=VENUE,
                instrument=symbol,
                asset=self._info.asset(symbol),
                side=LONG if side == "SELL" else SHORT,
                price=price,
                qty=base,
                usd=usd,
                raw_size=qty,
                event_ts=ms_to_s(t_ms),
                recv_ts=recv_ts,
                sampled=True,
            )
        )

    def _trade(
        self, symbol: str, p: Any, q: Any, maker_is_buyer: bool, t_ms: Any, recv_ts: float, out: list[Event]
    ) -> None:
        price = fnum(p)
        qty, usd = self._base_and_usd(symbol, fnum(q), price)
        out.append(
            Trade(
                venue=VENUE,
                instrument=symbol,
                asset=self._info.asset(symbol),
                price=price,
                qty=qty,
                usd=usd,
                taker_side="sell" if maker_is_buyer else "buy",
                event_ts=ms_to_s(t_ms),
                recv_ts=recv_ts,
            )
        )

    def _mark_price(self, item: dict[str, Any], recv_ts: float, out: list[Event]) -> None:
        # "r" is "" on delivery contracts: no funding
        self._mark_and_funding(
            str(item["s"]), item["E"], item["p"], item.get("i"), item.get("r"), item.get("T"), recv_ts, out
        )

    def _mark_and_funding(
        self,
        symbol: str,
        time_ms: Any,
        mark_raw: Any,
        index_raw: Any,
        rate_raw: Any,
        next_raw: Any,
        recv_ts: float,
        out: list[Event],
    ) -> None:
        """A Mark, and a Funding when a rate is given: shared by the markPrice stream and
        the REST premiumIndex poll, which carry the same numbers under other names."""
        asset = self._info.asset(symbol)
        event_ts = ms_to_s(time_ms)
        mark = fnum(mark_raw)
        self._marks[symbol] = mark
        out.append(
            Mark(
                venue=VENUE,
                instrument=symbol,
                asset=asset,
                price=mark,
                event_ts=event_ts,
                recv_ts=recv_ts,
                index=opt_num(index_raw),
            )
        )
        rate = opt_num(rate_raw)
        if rate is not None:
            out.append(self._funding(symbol, asset, rate, opt_num(next_raw), event_ts, recv_ts))

    def _funding(
        self, symbol: str, asset: str, rate: float, next_ms: float | None, event_ts: float, recv_ts: float
    ) -> Funding:
        return Funding(
            venue=VENUE,
            instrument=symbol,
            asset=asset,
            rate=rate,
            interval_h=self.funding_interval_h(symbol),
            event_ts=event_ts,
            recv_ts=recv_ts,
            next_ts=next_ms / 1000.0 if next_ms else None,
        )

    # ------------------------------------------------------------------ REST

    def _parse_rest(self, msg: Any, recv_ts: float, channel: str) -> list[Event]:
        if channel == "rest:openInterest":
            body = as_dict(msg, "openInterest")
            symbol = str(body["symbol"])
            oi = fnum(body["openInterest"])
            mark = self._marks.get(symbol)
            return [
                OpenInterest(
                    venue=VENUE,
                    instrument=symbol,
                    asset=self._info.asset(symbol),
                    oi=oi,
                    event_ts=ms_to_s(body["time"]),
                    recv_ts=recv_ts,
                    usd=oi * mark if mark else None,
                )
            ]
        if channel == "rest:premiumIndex":
            events: list[Event] = []
            for body in rows(msg, "premiumIndex"):
                self._mark_and_funding(
                    str(body["symbol"]), body["time"], body["markPrice"], body.get("indexPrice"),
                    body.get("lastFundingRate"), body.get("nextFundingTime"), recv_ts, events,
                )  # fmt: skip
            return events
        raise FrameError(f"unknown REST channel {channel!r}")


# ---------------------------------------------------------------------- connection spec


def stream_names(req: SubscribeRequest) -> list[str]:
    """The combined-stream names for a request (lower-case, as Binance requires)."""
    streams: list[str] = []
    if req.liquidation_instruments:
        streams += [f"{s.lower()}@forceOrder" for s in req.liquidation_instruments]
    else:
        streams.append("!forceOrder@arr")
    trade_symbols = list(req.instruments)
    if req.btc_trades:
        trade_symbols.append(BTC_INSTRUMENT)
    streams += [f"{s.lower()}@aggTrade" for s in unique(trade_symbols)]
    streams += [f"{s.lower()}@markPrice@1s" for s in req.instruments]
    return unique(streams)


def subscriptions(req: SubscribeRequest) -> list[Subscription]:
    """Streams go in the URL (combined mode), so nothing is sent after connecting — no risk
    of the 10 messages/s inbound limit on reconnect. USD-M on fstream, plus one COIN-M
    connection for its all-market liquidations (same venue id, docs/DESIGN.md §5.1): COIN-M's
    funding and marks would repeat USD-M's for the same coins, so only liquidations."""
    groups = chunks(stream_names(req), STREAMS_PER_CONNECTION)
    subs = [
        Subscription(
            url=f"{WS_MARKET}/stream?streams={'/'.join(group)}",
            messages=(),
            name="market" if len(groups) == 1 else f"market-{i}",
        )
        for i, group in enumerate(groups)
    ]
    if not req.liquidation_instruments:  # the all-market view: COIN-M is part of the market
        subs.append(Subscription(url=f"{WS_COIN_M}/stream?streams=!forceOrder@arr", messages=(), name="coin-m"))
    return subs


def rest_polls(instruments: Sequence[str]) -> list[RestPoll]:
    """Open interest has no stream: one weight-1 poll per symbol; premium index per symbol
    as a funding/mark fallback when the markPrice stream is down."""
    polls: list[RestPoll] = []
    for symbol in instruments:
        polls.append(
            RestPoll(
                name="openInterest",
                url=f"{REST}/fapi/v1/openInterest?symbol={symbol}",
                interval_normal=30.0,
                interval_fast=5.0,
                weight=1,
            )
        )
        polls.append(
            RestPoll(
                name="premiumIndex",
                url=f"{REST}/fapi/v1/premiumIndex?symbol={symbol}",
                interval_normal=60.0,
                interval_fast=30.0,
                weight=1,
            )
        )
    return polls


def instruments_for(assets: Sequence[str]) -> list[str]:
    return [f"{a.upper()}USDT" for a in assets]


BTC_INSTRUMENT = "BTCUSDT"

SPEC = VenueSpec(
    id=VENUE,
    rank=1,
    metadata_source=metadata.BINANCE_SOURCE,
    name="Binance USD-M + COIN-M",
    parser=BinanceParser,
    subscriptions=subscriptions,
    # The server pings every 3 min and the client library answers; our own pings are allowed.
    keepalive=Keepalive(kind="ws-ping", interval=60.0),
    rest_polls=rest_polls,
    sampled=True,
    has_liquidations=True,
    max_connection_s=23.5 * 3600,  # hard 24 h connection limit
    stale_after_s=120.0,  # markPrice@1s keeps it busy; a liquidation-only link can be quiet
    notes=(
        "forceOrder is a lower bound: at most 1 liquidation per symbol per second (latest only). "
        "COIN-M liquidations (dstream) are included, sized by contract value. "
        "Open interest by REST only. Connections are cut at 24 h. Some regions get HTTP 403/451."
    ),
    instruments_for=instruments_for,
    btc_instrument=BTC_INSTRUMENT,
)
