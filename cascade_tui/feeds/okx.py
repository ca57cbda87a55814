"""OKX v5 public streams: liquidations (`liquidation-orders`, instType SWAP), trades
(`trades`), funding (`funding-rate`), open interest (`open-interest`) and mark price
(`mark-price`) (docs/exchanges.md §4).

Units: swap and futures sizes are CONTRACTS. Linear (`ctType` linear, ctValCcy = base):
base = sz × ctVal, USD = base × price. Inverse (ctValCcy = USD, e.g. 100 USD for
BTC-USD-SWAP): USD = sz × ctVal, base = USD / price (§1.2). Spot/margin sizes are base.
An instrument with no known contract value is a parse error — never a guessed size.

Liquidations: `side` is the ORDER side (sell ⇒ a long was liquidated; `posSide` may be
"net"). The feed shows at most one order per contract per second (`sampled`). Both SWAP
and FUTURES (dated) liquidations are subscribed. OKX replays recent liquidations after a
(re)subscribe (tardis-node drops the first push for this reason; docs/exchanges.md §1.4):
the parser sets `replays_on_subscribe`, so feeds/base.py counts rows from before the
connection as `stale`, and a row already counted (same instId, side, ts, sz, bkPx) as a
`duplicate` — only once it was accepted. One detail of an instrument with no known contract
value is counted (`rejected`) and skipped; the other rows of the push are kept.

Metadata read, keyed by instId (fields as in GET /api/v5/public/instruments), e.g.
`{"BTC-USDT-SWAP": {"ctVal": 0.01, "ctMult": 1, "ctType": "linear", "ctValCcy": "BTC",
"baseAsset": "BTC"}}`: `ctVal` (required for contracts), `ctMult` (default 1), `ctType`
(`linear`/`inverse`; else inferred from ctValCcy == "USD"), `baseAsset` (optional).
Bundled values cover the BTC/ETH/SOL/XRP/DOGE USDT and USD perpetuals. A dated future
(`BTC-USD-250926`) without metadata takes its family's swap contract value: in OKX's
instrument list of 2022 (cryptofeed sample OKX.0) all 104 futures had exactly the ctVal and
ctValCcy of the swap of the same family.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    is_text,
    json_message,
    ms_to_s,
    opt_num,
    unique,
)
from cascade_tui.model import LONG, SHORT, Event, Funding, Liquidation, Mark, OpenInterest, Trade

VENUE = "okx"
WS_PUBLIC = "wss://ws.okx.com:8443/ws/v5/public"
ARGS_PER_MESSAGE = 100  # request args ≤ 64 KB; 100 short args is far below it
DEFAULT_FUNDING_H = 8.0

# ctVal per contract; values from GET /api/v5/public/instruments (2022 and 2025 agree).
BUNDLED: dict[str, dict[str, Any]] = {
    "BTC-USDT-SWAP": {"ctVal": 0.01, "ctType": "linear", "ctValCcy": "BTC"},
    "ETH-USDT-SWAP": {"ctVal": 0.1, "ctType": "linear", "ctValCcy": "ETH"},
    "SOL-USDT-SWAP": {"ctVal": 1, "ctType": "linear", "ctValCcy": "SOL"},
    "XRP-USDT-SWAP": {"ctVal": 100, "ctType": "linear", "ctValCcy": "XRP"},
    "DOGE-USDT-SWAP": {"ctVal": 1000, "ctType": "linear", "ctValCcy": "DOGE"},
    "BTC-USD-SWAP": {"ctVal": 100, "ctType": "inverse", "ctValCcy": "USD"},
    "ETH-USD-SWAP": {"ctVal": 10, "ctType": "inverse", "ctValCcy": "USD"},
    "SOL-USD-SWAP": {"ctVal": 10, "ctType": "inverse", "ctValCcy": "USD"},
    "XRP-USD-SWAP": {"ctVal": 10, "ctType": "inverse", "ctValCcy": "USD"},
    "DOGE-USD-SWAP": {"ctVal": 10, "ctType": "inverse", "ctValCcy": "USD"},
}


# --------------------------------------------------------------------------- typed fast path
# Hot channels decoded straight into structs with only the fields we read (others skipped by
# the decoder). A frame that does not fit exactly (an event/ack, a number where OKX sends a
# string, "pong", bad JSON) fails the typed decode and takes the generic dict path.


class _Arg(msgspec.Struct):
    channel: str


class _Message(msgspec.Struct):
    arg: _Arg
    data: msgspec.Raw
    event: Any = UNSET  # present on acks and errors: those take the generic path


class _LiqDetail(msgspec.Struct):
    side: str
    sz: str
    bkPx: str
    ts: str


class _LiqItem(msgspec.Struct):
    instId: str
    details: list[_LiqDetail]


class _TradeRow(msgspec.Struct):
    instId: str
    side: str
    sz: str
    px: str
    ts: str


class _FundingRow(msgspec.Struct):
    instId: str
    fundingRate: str
    fundingTime: str | None = None
    nextFundingTime: str | None = None
    ts: str | None = None


class _OiRow(msgspec.Struct):
    instId: str
    oiCcy: str
    ts: str
    oiUsd: str | None = None
    oi: str | UnsetType | None = UNSET


_decode_message = msgspec.json.Decoder(_Message).decode
_decode_liq = msgspec.json.Decoder(list[_LiqItem]).decode
_decode_trades = msgspec.json.Decoder(list[_TradeRow]).decode
_decode_funding = msgspec.json.Decoder(list[_FundingRow]).decode
_decode_oi = msgspec.json.Decoder(list[_OiRow]).decode
_MISSING: Any = object()


class UnknownContract(FrameError):
    """No contract value for an instrument whose sizes are in contracts."""


def _is_spot(inst_id: str) -> bool:
    # spot/margin ids are BASE-QUOTE; swaps end in -SWAP, futures in -YYMMDD, options longer
    return inst_id.count("-") == 1


def _family_swap(inst_id: str) -> str | None:
    """"BTC-USD-250926" -> "BTC-USD-SWAP" (a dated future's perpetual sibling)."""
    family, _, expiry = inst_id.rpartition("-")
    if family.count("-") == 1 and len(expiry) == 6 and expiry.isdigit():
        return f"{family}-SWAP"
    return None


class OkxParser(FrameParser):
    venue = VENUE
    sampled = True
    replays_on_subscribe = True

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self._info = InstrumentInfo(self.metadata, BUNDLED)
        self._contracts: dict[str, tuple[float, bool]] = {}  # instId -> (ctVal×ctMult, inverse)
        self._prices: dict[str, float] = {}  # instId -> last mark/trade price (OI in USD)

    def reset(self) -> None:
        self._prices.clear()

    # ------------------------------------------------------------------ units

    def contract(self, inst_id: str) -> tuple[float, bool]:
        """(contract value, inverse) of a swap/futures instrument; raises when unknown."""
        known = self._contracts.get(inst_id)
        if known is not None:
            return known
        source = inst_id
        ct_val = opt_num(self._info.field(inst_id, "ctVal"))
        if ct_val is None:
            swap = _family_swap(inst_id)
            if swap is not None:
                source = swap
                ct_val = opt_num(self._info.field(swap, "ctVal"))
        if ct_val is None or not ct_val > 0:
            raise UnknownContract(f"no ctVal for OKX instrument {inst_id} (pass instrument metadata)")
        mult = opt_num(self._info.field(source, "ctMult")) or 1.0
        ct_type = self._info.field(source, "ctType")
        if ct_type in ("linear", "inverse"):
            inverse = ct_type == "inverse"
        else:
            inverse = self._info.field(source, "ctValCcy") == "USD"
        known = (ct_val * mult, inverse)
        if len(self._contracts) < 8192:  # bounded by OKX's instrument count
            self._contracts[inst_id] = known
        return known

    def _to_base_usd(self, inst_id: str, size: float, price: float) -> tuple[float, float]:
        if _is_spot(inst_id):
            return size, size * price
        ct_val, inverse = self.contract(inst_id)
        if inverse:
            usd = size * ct_val
            return (usd / price if price else float("nan")), usd
        qty = size * ct_val
        return qty, qty * price

    # ------------------------------------------------------------------ frames

    def _parse(self, frame: str | bytes, recv_ts: float, channel: str) -> list[Event]:
        try:
            events = self._parse_typed(frame, recv_ts)
        except msgspec.DecodeError:  # ValidationError too: not the shape we know
            events = None
        if events is not None:
            return events
        if is_text(frame, "pong"):
            raise Ignore
        msg = as_dict(decode(frame), "okx frame")
        if "event" in msg:
            if msg["event"] == "error":
                self.stats.last_error = f"okx error {msg.get('code')}: {msg.get('msg')}"
            raise Ignore  # subscribe acks, errors, notices
        arg = as_dict(msg.get("arg"), "okx arg")
        data = as_list(msg.get("data"), "okx data")
        ch = arg.get("channel")
        if ch == "liquidation-orders":
            return self._liquidations(data, recv_ts)
        if ch == "trades" or ch == "trades-all":
            return self._trades(data, recv_ts)
        if ch == "funding-rate":
            return self._funding(data, recv_ts)
        if ch == "open-interest":
            return self._open_interest(data, recv_ts)
        if ch == "mark-price":
            return self._mark(data, recv_ts)
        if isinstance(ch, str):
            raise Ignore  # books, tickers...: valid, unused
        raise FrameError("okx arg without a channel")

    def _parse_typed(self, frame: str | bytes, recv_ts: float) -> list[Event] | None:
        """Events of a hot channel from typed structs; None for any other frame."""
        msg = _decode_message(frame)
        if msg.event is not UNSET:
            return None
        ch = msg.arg.channel
        if ch == "liquidation-orders":
            out: list[Event] = []
            for item in _decode_liq(msg.data):
                for d in item.details:
                    try:
                        out.append(self._liquidation(item.instId, d.side, d.sz, d.bkPx, d.ts, recv_ts))
                    except (FrameError, ValueError) as exc:
                        self.row_failed(exc)  # this row only; the push's other rows stand
            return out
        if ch == "trades" or ch == "trades-all":
            return [
                self._trade(r.instId, r.side, r.sz, r.px, r.ts, recv_ts) for r in _decode_trades(msg.data)
            ]
        if ch == "funding-rate":
            return [
                self._funding_row(r.instId, r.fundingRate, r.fundingTime, r.nextFundingTime, r.ts, recv_ts)
                for r in _decode_funding(msg.data)
            ]
        if ch == "open-interest":
            oi_events: list[Event] = []
            for r in _decode_oi(msg.data):
                oi = _MISSING if r.oi is UNSET else r.oi
                oi_events.append(self._open_interest_row(r.instId, r.oiCcy, r.oiUsd, oi, r.ts, recv_ts))
            return oi_events
        return None

    def _liquidations(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for item in data:
            item = as_dict(item, "liquidation-orders item")
            inst_id = str(item["instId"])
            for d in as_list(item["details"], "liquidation details"):
                try:
                    d = as_dict(d, "liquidation detail")
                    ev = self._liquidation(inst_id, d.get("side", _MISSING), d["sz"], d["bkPx"], d["ts"], recv_ts)
                except (FrameError, KeyError, ValueError, TypeError) as exc:
                    self.row_failed(exc)  # this row only; the push's other rows stand
                    continue
                out.append(ev)
        return out

    def _liquidation(self, inst_id: str, side: Any, sz: Any, bk_px: Any, ts: Any, recv_ts: float) -> Liquidation:
        """One liquidation detail (replays and repeats are judged by feeds/base.py)."""
        if side is _MISSING:
            raise KeyError("side")
        if side not in ("buy", "sell"):
            raise FrameError(f"liquidation side {side!r}")
        size = fnum(sz)
        price = fnum(bk_px)
        qty, usd = self._to_base_usd(inst_id, size, price)
        return Liquidation(
            venue=VENUE,
            instrument=inst_id,
            asset=self._info.asset(inst_id),
            side=LONG if side == "sell" else SHORT,  # order side
            price=price,
            qty=qty,
            usd=usd,
            raw_size=size,
            event_ts=ms_to_s(ts),
            recv_ts=recv_ts,
            sampled=True,
        )

    def _trades(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            row = as_dict(row, "trade")
            inst_id = str(row["instId"])
            out.append(self._trade(inst_id, row["side"], row["sz"], row["px"], row["ts"], recv_ts))
        return out

    def _trade(self, inst_id: str, side: Any, sz: Any, px: Any, ts: Any, recv_ts: float) -> Trade:
        if side not in ("buy", "sell"):
            raise FrameError(f"trade side {side!r}")
        size = fnum(sz)
        price = fnum(px)
        qty, usd = self._to_base_usd(inst_id, size, price)
        self._prices[inst_id] = price
        return Trade(
            venue=VENUE,
            instrument=inst_id,
            asset=self._info.asset(inst_id),
            price=price,
            qty=qty,
            usd=usd,
            taker_side=side,
            event_ts=ms_to_s(ts),
            recv_ts=recv_ts,
        )

    def _funding(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            row = as_dict(row, "funding-rate")
            inst_id = str(row["instId"])
            out.append(
                self._funding_row(
                    inst_id,
                    row["fundingRate"],
                    row.get("fundingTime"),
                    row.get("nextFundingTime"),
                    row.get("ts"),
                    recv_ts,
                )
            )
        return out

    def _funding_row(
        self, inst_id: str, rate: Any, funding_time: Any, next_time: Any, ts: Any, recv_ts: float
    ) -> Funding:
        funding_ms = opt_num(funding_time)
        next_ms = opt_num(next_time)
        # OKX shortens the interval for volatile contracts: derive it, never assume 8 h
        interval = DEFAULT_FUNDING_H
        if funding_ms and next_ms and next_ms > funding_ms:
            interval = (next_ms - funding_ms) / 3_600_000.0
        return Funding(
            venue=VENUE,
            instrument=inst_id,
            asset=self._info.asset(inst_id),
            rate=fnum(rate),
            interval_h=interval,
            event_ts=ms_to_s(ts or funding_ms),
            recv_ts=recv_ts,
            next_ts=funding_ms / 1000.0 if funding_ms else None,  # the coming settlement
        )

    def _open_interest(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            row = as_dict(row, "open-interest")
            inst_id = str(row["instId"])
            out.append(
                self._open_interest_row(
                    inst_id, row["oiCcy"], row.get("oiUsd"), row.get("oi", _MISSING), row["ts"], recv_ts
                )
            )
        return out

    def _open_interest_row(
        self, inst_id: str, oi_ccy: Any, oi_usd: Any, oi: Any, ts: Any, recv_ts: float
    ) -> OpenInterest:
        """One OI row; `oi` (contracts, _MISSING when absent) is read only when needed."""
        oi_base = fnum(oi_ccy)  # coin units; `oi` is contracts
        usd = opt_num(oi_usd)
        if usd is None and not _is_spot(inst_id):
            ct_val, inverse = self._contracts.get(inst_id) or self._maybe_contract(inst_id)
            if inverse and ct_val:
                if oi is _MISSING:
                    raise KeyError("oi")
                usd = fnum(oi) * ct_val
            elif inst_id in self._prices:
                usd = oi_base * self._prices[inst_id]
        return OpenInterest(
            venue=VENUE,
            instrument=inst_id,
            asset=self._info.asset(inst_id),
            oi=oi_base,
            event_ts=ms_to_s(ts),
            recv_ts=recv_ts,
            usd=usd,
        )

    def _maybe_contract(self, inst_id: str) -> tuple[float, bool]:
        try:
            return self.contract(inst_id)
        except UnknownContract:
            return 0.0, False  # OI is already in coin; only its USD value stays unknown

    def _mark(self, data: list[Any], recv_ts: float) -> list[Event]:
        out: list[Event] = []
        for row in data:
            row = as_dict(row, "mark-price")
            inst_id = str(row["instId"])
            price = fnum(row["markPx"])
            self._prices[inst_id] = price
            out.append(
                Mark(
                    venue=VENUE,
                    instrument=inst_id,
                    asset=self._info.asset(inst_id),
                    price=price,
                    event_ts=ms_to_s(row["ts"]),
                    recv_ts=recv_ts,
                )
            )
        return out


# ---------------------------------------------------------------------- connection spec


def subscriptions(req: SubscribeRequest) -> list[Subscription]:
    """One public connection. The liquidation channel covers every swap and every dated future
    (instId filters are dropped by OKX); per-instrument channels for trades, funding, OI, mark."""
    args: list[dict[str, str]] = [
        {"channel": "liquidation-orders", "instType": "SWAP"},
        {"channel": "liquidation-orders", "instType": "FUTURES"},  # dated futures (BTC-USD-250926)
    ]
    trade_ids = unique([*req.instruments, *([BTC_INSTRUMENT] if req.btc_trades else [])])
    args += [{"channel": "trades", "instId": i} for i in trade_ids]
    for inst_id in req.instruments:
        args += [
            {"channel": "funding-rate", "instId": inst_id},
            {"channel": "open-interest", "instId": inst_id},
            {"channel": "mark-price", "instId": inst_id},
        ]
    messages = [json_message({"op": "subscribe", "args": part}) for part in chunks(args, ARGS_PER_MESSAGE)]
    return [Subscription(url=WS_PUBLIC, messages=messages, name="public")]


def instruments_for(assets: Sequence[str]) -> list[str]:
    return [f"{a.upper()}-USDT-SWAP" for a in assets]


BTC_INSTRUMENT = "BTC-USDT-SWAP"

SPEC = VenueSpec(
    id=VENUE,
    rank=3,
    metadata_source=metadata.OKX_SOURCE,
    name="OKX",
    parser=OkxParser,
    subscriptions=subscriptions,
    # text "ping" before 30 s of silence, answered by text "pong"
    keepalive=Keepalive(kind="text", interval=20.0, message="ping"),
    rest_polls=None,  # funding-rate and open-interest are streamed
    sampled=True,
    has_liquidations=True,
    max_connection_s=23.5 * 3600,
    stale_after_s=60.0,
    notes=(
        "liquidation-orders is a lower bound: at most 1 order per contract per second. "
        "Swaps and dated futures. Sizes are contracts (ctVal from instrument metadata). Replays after "
        "subscribe are counted as stale, repeats as duplicates."
    ),
    instruments_for=instruments_for,
    btc_instrument=BTC_INSTRUMENT,
)
