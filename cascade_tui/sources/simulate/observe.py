"""Observation models (§5.7) and frame encoders (exchanges.md §2–§4).

The true market is seen through each venue's defects: Binance keeps only the last liquidation
per symbol per 1000 ms, OKX at most one per contract per second (in contracts), Bybit batches
every liquidation per 500 ms. Every frame reaches us after a lognormal network latency
(median 60 ms, p99 ≈ 400 ms), and frames of one connection arrive in the order they were sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cascade_tui.model import RawFrame
from cascade_tui.sources.simulate.config import CHUNK_S, STEP_S, VENUE_SHARES, AssetSpec
from cascade_tui.sources.simulate.market import Chunk

LATENCY_MEDIAN_S = 0.060
LATENCY_SIGMA = math.log(0.400 / 0.060) / 2.326  # p99 ≈ 400 ms
FUNDING_INTERVAL_S = 8 * 3600.0
VENUE_INDEX = {name: k for k, (name, _) in enumerate(VENUE_SHARES)}
VENUE_OI_SHARE = dict(VENUE_SHARES)
BINANCE_OI_POLL_S = 30.0
OKX_OI_EVERY_S = 3.0
OKX_FUNDING_EVERY_S = 60.0
DROP_PROB = 0.001  # network faults: share of WebSocket frames lost
GAP_EVERY_S = 6 * 3600.0  # network faults: mean time between disconnects of one venue
FORCED_PRINT_OFFSET = 0.00001  # a forced market order prints about a tick through the touch
GAP_S = (30.0, 120.0)


def okx_contract_values(specs: list[AssetSpec]) -> list[float | None]:
    """OKX linear-swap contract value per asset, from the OKX parser's bundled instrument table
    when it is importable (so frames always parse), else from config. None = OKX does not
    list the instrument in the simulation (the parser could not size its contracts)."""
    try:
        from cascade_tui.feeds.okx import BUNDLED
    except ImportError:
        return [s.okx_ct_val for s in specs]
    out: list[float | None] = []
    for s in specs:
        row = BUNDLED.get(f"{s.name}-USDT-SWAP")
        out.append(
            float(row["ctVal"]) * float(row.get("ctMult", 1))
            if row and row.get("ctType") == "linear"
            else None
        )
    return out


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def _fmt_trim(x: float, decimals: int = 8) -> str:
    s = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
    return s or "0"


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9))


def _next_funding_ms(t: float) -> int:
    return int((math.floor(t / FUNDING_INTERVAL_S) + 1) * FUNDING_INTERVAL_S * 1000)


# (send time, connection key, data, channel)
Outgoing = tuple[float, str, str, str]


def last_per_window(ts: np.ndarray, key: np.ndarray, window_s: float) -> np.ndarray:
    """Indices of the last event per (key, window) — the Binance/OKX snapshot throttle."""
    if ts.size == 0:
        return np.zeros(0, dtype=np.int64)
    window = np.floor(ts / window_s + 1e-9).astype(np.int64)
    combo = window * 1024 + key
    rev = combo[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    return np.sort(ts.size - 1 - first_in_rev)


@dataclass
class ObserverState:
    """What the encoders remember between chunks (ids, sequence numbers, snapshots sent)."""

    agg_id: int = 1_000_000
    trade_id: int = 5_000_000
    next_trade_ts: float = 0.0
    bybit_cs: int = 90_000_000_000
    bybit_snapshot_sent: set[str] = field(default_factory=set)
    bybit_next_funding: dict[str, int] = field(default_factory=dict)
    last_recv: dict[str, float] = field(default_factory=dict)


class Observer:
    """Turns true-market chunks into raw venue frames in receive order (per chunk)."""

    def __init__(
        self,
        rng: np.random.Generator,
        specs: list[AssetSpec],
        venues: list[str],
        network_faults: bool = False,
    ) -> None:
        self.rng = rng
        self.specs = specs
        self.venues = venues
        self.network_faults = network_faults
        self.gaps: list[tuple[str, float, float]] = []  # (venue, start, end) WebSocket disconnects
        self._next_gap: dict[str, float] = {}
        self.state = ObserverState()
        self.binance_sym = [f"{s.name}USDT" for s in specs]
        self.okx_inst = [f"{s.name}-USDT-SWAP" for s in specs]
        self.okx_ct_val = okx_contract_values(specs)
        self.okx_listed = [k for k, ct in enumerate(self.okx_ct_val) if ct is not None]
        self.qty_dec = [_decimals(s.qty_step) for s in specs]
        self.btc = next((k for k, s in enumerate(specs) if s.name == "BTC"), None)

    def frames(self, chunk: Chunk) -> list[RawFrame]:
        if self.network_faults:
            self._plan_gaps(chunk.t0 + CHUNK_S)
        out: list[Outgoing] = []
        if "binance" in self.venues:
            out += self._binance_liquidations(chunk)
            out += self._binance_mark(chunk)
            out += self._binance_trades(chunk)
            out += self._binance_oi_poll(chunk)
        if "bybit" in self.venues:
            out += self._bybit_liquidations(chunk)
            out += self._bybit_tickers(chunk)
        if "okx" in self.venues:
            out += self._okx_liquidations(chunk)
            out += self._okx_open_interest(chunk)
            out += self._okx_funding(chunk)
        if self.network_faults:
            out = self._lose(out)
        return self._deliver(out)

    # ------------------------------------------------------------------ network faults

    def _plan_gaps(self, until: float) -> None:
        for venue in self.venues:
            if venue not in self._next_gap:
                self._next_gap[venue] = until - CHUNK_S + float(self.rng.exponential(GAP_EVERY_S))
            while self._next_gap[venue] < until:
                start = self._next_gap[venue]
                self.gaps.append((venue, start, start + float(self.rng.uniform(*GAP_S))))
                self._next_gap[venue] = start + float(self.rng.exponential(GAP_EVERY_S))

    def in_gap(self, venue: str, t: float) -> bool:
        return any(v == venue and start <= t < end for v, start, end in self.gaps[-8:])

    def _lose(self, out: list[Outgoing]) -> list[Outgoing]:
        """Drop WebSocket frames sent while their venue is disconnected, and a few at random.
        REST polls are separate requests and survive a WebSocket disconnect."""
        lost = self.rng.random(len(out)) < DROP_PROB
        kept: list[Outgoing] = []
        for o, drop in zip(out, lost.tolist(), strict=True):
            venue, kind = o[1].split(":", 1)
            if kind == "rest" or not (drop or self.in_gap(venue, o[0])):
                kept.append(o)
        return kept

    # ------------------------------------------------------------------ delivery

    def _deliver(self, out: list[Outgoing]) -> list[RawFrame]:
        """Add latency; keep each connection's frames in send order; sort by receive time."""
        if not out:
            return []
        out.sort(key=lambda o: (o[1], o[0]))
        send = np.array([o[0] for o in out])
        recv = send + LATENCY_MEDIAN_S * np.exp(LATENCY_SIGMA * self.rng.standard_normal(send.size))
        frames: list[RawFrame] = []
        start = 0
        last = self.state.last_recv
        while start < len(out):
            conn = out[start][1]
            end = start
            while end < len(out) and out[end][1] == conn:
                end += 1
            seg = np.maximum.accumulate(np.maximum(recv[start:end], last.get(conn, 0.0)))
            last[conn] = float(seg[-1])
            venue = conn.split(":", 1)[0]
            for i, r in zip(range(start, end), seg.tolist(), strict=True):
                frames.append(RawFrame(ts=round(r, 6), venue=venue, data=out[i][2], channel=out[i][3]))
            start = end
        frames.sort(key=lambda f: f.ts)
        return frames

    def _venue_events(self, chunk: Chunk, venue: str) -> np.ndarray:
        return np.flatnonzero(chunk.ev_venue == VENUE_INDEX[venue])

    # ------------------------------------------------------------------ binance

    def _binance_liquidations(self, chunk: Chunk) -> list[Outgoing]:
        idx = self._venue_events(chunk, "binance")
        keep = idx[last_per_window(chunk.ev_ts[idx], chunk.ev_asset[idx], 1.0)]
        out: list[Outgoing] = []
        for i in keep.tolist():
            a = int(chunk.ev_asset[i])
            spec = self.specs[a]
            ts = float(chunk.ev_ts[i])
            t_ms = round(ts * 1000)
            e_ms = (t_ms // 1000 + 1) * 1000  # pushed at the end of its 1000 ms window
            long = bool(chunk.ev_long[i])
            ap = float(chunk.ev_price[i])
            limit = ap * (0.996 if long else 1.004)
            qty = _fmt(float(chunk.ev_qty[i]), self.qty_dec[a])
            last_fill = _fmt(
                float(chunk.ev_qty[i]) * (0.5 if chunk.ev_qty[i] > spec.qty_step else 1.0), self.qty_dec[a]
            )
            data = (
                f'{{"stream":"!forceOrder@arr","data":{{"e":"forceOrder","E":{e_ms},"o":{{"s":"{self.binance_sym[a]}",'
                f'"S":"{"SELL" if long else "BUY"}","o":"LIMIT","f":"IOC","q":"{qty}",'
                f'"p":"{_fmt(limit, spec.price_decimals)}","ap":"{_fmt(ap, spec.price_decimals)}","X":"FILLED",'
                f'"l":"{last_fill}","z":"{qty}","T":{t_ms}}}}}}}'
            )
            out.append((e_ms / 1000.0, "binance:ws", data, ""))
        return out

    def _binance_mark(self, chunk: Chunk) -> list[Outgoing]:
        out: list[Outgoing] = []
        per_s = round(1.0 / STEP_S)
        for k in range(per_s - 1, len(chunk.step_ts), per_s):
            t = float(chunk.step_ts[k])
            e_ms = round(t * 1000)
            nxt = _next_funding_ms(t)
            items = []
            for a, spec in enumerate(self.specs):
                mark = float(chunk.price[k, a])
                index = mark * (1.0 - 0.0002)
                d = spec.price_decimals + 2
                items.append(
                    f'{{"e":"markPriceUpdate","E":{e_ms},"s":"{self.binance_sym[a]}","p":"{_fmt(mark, d)}",'
                    f'"P":"{_fmt(index, d)}","i":"{_fmt(index, d)}","r":"{_fmt(float(chunk.funding[k, a]), 8)}","T":{nxt}}}'
                )
            out.append((t, "binance:ws", f'{{"stream":"!markPrice@arr@1s","data":[{",".join(items)}]}}', ""))
        return out

    def _binance_trades(self, chunk: Chunk) -> list[Outgoing]:
        if self.btc is None:
            return []
        st = self.state
        rng = self.rng
        t_end = chunk.t0 + CHUNK_S
        if st.next_trade_ts < chunk.t0:
            st.next_trade_ts = chunk.t0 + float(rng.uniform(0.1, 0.25))
        gaps = rng.uniform(0.1, 0.25, int(CHUNK_S / 0.1) + 2)
        times = st.next_trade_ts + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
        inside = times < t_end
        st.next_trade_ts = float(times[~inside][0]) if (~inside).any() else t_end
        times = np.round(times[inside] * 1000.0) / 1000.0
        path = chunk.price[:, self.btc]
        grid = np.concatenate([[chunk.t0], chunk.step_ts])
        prices = np.interp(times, grid, np.concatenate([[path[0]], path]))
        prices *= 1.0 + 0.000005 * rng.standard_normal(times.size)  # bid/ask bounce: about half a spread
        step = np.clip(np.searchsorted(chunk.step_ts, times), 0, len(chunk.step_ts) - 1)
        ret = np.log(path[step] / path[np.maximum(step - 1, 0)])
        seller = rng.random(times.size) < 0.5 - 0.3 * np.sign(ret)
        fills = rng.integers(1, 6, times.size)
        qty = np.maximum(np.round(np.exp(rng.normal(math.log(0.05), 1.3, times.size)), 3), 0.001)
        forced = self._binance_forced_trades(chunk)
        if forced is not None:
            order = np.argsort(np.concatenate([times, forced[0]]), kind="stable")
            times, prices, qty, seller, fills = (
                np.concatenate([a, b])[order]
                for a, b in zip((times, prices, qty, seller, fills), forced, strict=True)
            )
        dec = self.specs[self.btc].price_decimals
        out: list[Outgoing] = []
        for t, p, q, m, n in zip(
            times.tolist(), prices.tolist(), qty.tolist(), seller.tolist(), fills.tolist(), strict=True
        ):
            t_ms = round(t * 1000)
            st.agg_id += 1
            first = st.trade_id + 1
            st.trade_id += n
            data = (
                f'{{"stream":"btcusdt@aggTrade","data":{{"e":"aggTrade","E":{t_ms + 2},"a":{st.agg_id},"s":"BTCUSDT",'
                f'"p":"{_fmt(p, dec)}","q":"{_fmt(q, 3)}","f":{first},"l":{st.trade_id},"T":{t_ms},'
                f'"m":{"true" if m else "false"}}}}}'
            )
            out.append((t + 0.002, "binance:ws", data, ""))
        return out

    def _binance_forced_trades(self, chunk: Chunk) -> tuple[np.ndarray, ...] | None:
        """Every Binance BTC liquidation executes as a taker order on the book, so it prints in
        the trade feed too (unthrottled): one aggregate per 100 ms and side, at the last fill.
        The liquidation engine's order hits the book, so it prints at the market price (a
        tick through the touch), not at the bankruptcy price of the forceOrder frame: printing
        that price, 2–17 bp off the market, added a fake jump to the BTC price series."""
        rows = np.flatnonzero((chunk.ev_asset == self.btc) & (chunk.ev_venue == VENUE_INDEX["binance"]))
        if rows.size == 0:
            return None
        sells = chunk.ev_long[rows]  # a liquidated long is a forced market sell
        bucket = np.floor(chunk.ev_ts[rows] * 10.0 + 1e-9).astype(np.int64) * 2 + sells
        _, inverse = np.unique(bucket, return_inverse=True)
        last = np.zeros(int(inverse.max()) + 1, dtype=np.int64)
        np.maximum.at(last, inverse, np.arange(rows.size))
        qty = np.round(np.bincount(inverse, chunk.ev_qty[rows]), 3)
        picked = rows[last]
        ts = chunk.ev_ts[picked]
        path = chunk.price[:, self.btc]
        grid = np.concatenate([[chunk.t0], chunk.step_ts])
        market = np.interp(ts, grid, np.concatenate([[path[0]], path]))
        touch = market * np.where(sells[last], 1.0 - FORCED_PRINT_OFFSET, 1.0 + FORCED_PRINT_OFFSET)
        return (ts, touch, qty, sells[last], np.bincount(inverse))

    def _binance_oi_poll(self, chunk: Chunk) -> list[Outgoing]:
        out: list[Outgoing] = []
        per_poll = round(BINANCE_OI_POLL_S / STEP_S)
        first = round(chunk.t0 / STEP_S)
        share = VENUE_OI_SHARE["binance"]
        for k in range(len(chunk.step_ts)):
            if (first + k + 1) % per_poll:
                continue
            t = float(chunk.step_ts[k])
            t_ms = round(t * 1000)
            for a, _spec in enumerate(self.specs):
                oi = _fmt(float(chunk.oi[k, a]) * share, self.qty_dec[a])
                data = f'{{"openInterest":"{oi}","symbol":"{self.binance_sym[a]}","time":{t_ms}}}'
                out.append((t + 0.05 + 0.01 * a, "binance:rest", data, "rest:openInterest"))
        return out

    # ------------------------------------------------------------------ bybit

    def _bybit_liquidations(self, chunk: Chunk) -> list[Outgoing]:
        idx = self._venue_events(chunk, "bybit")
        if idx.size == 0:
            return []
        ts = chunk.ev_ts[idx]
        window = np.floor(ts * 2.0 + 1e-9).astype(np.int64)
        key = window * 1024 + chunk.ev_asset[idx]
        order = np.argsort(key, kind="stable")
        out: list[Outgoing] = []
        start = 0
        sorted_key = key[order]
        while start < order.size:
            end = start
            while end < order.size and sorted_key[end] == sorted_key[start]:
                end += 1
            rows = idx[order[start:end]]
            a = int(chunk.ev_asset[rows[0]])
            spec = self.specs[a]
            sym = self.binance_sym[a]
            push_ms = int((window[order[start]] + 1) * 500)
            items = ",".join(
                f'{{"T":{round(float(chunk.ev_ts[i]) * 1000)},"s":"{sym}","S":"{"Buy" if chunk.ev_long[i] else "Sell"}",'
                f'"v":"{_fmt(float(chunk.ev_qty[i]), self.qty_dec[a])}","p":"{_fmt(float(chunk.ev_price[i]), spec.price_decimals)}"}}'
                for i in rows.tolist()
            )
            data = f'{{"topic":"allLiquidation.{sym}","type":"snapshot","ts":{push_ms},"data":[{items}]}}'
            out.append((push_ms / 1000.0, "bybit:ws", data, ""))
            start = end
        return out

    def _bybit_tickers(self, chunk: Chunk) -> list[Outgoing]:
        st = self.state
        out: list[Outgoing] = []
        per_s = round(1.0 / STEP_S)
        share = VENUE_OI_SHARE["bybit"]
        for k in range(per_s - 1, len(chunk.step_ts), per_s):
            t = float(chunk.step_ts[k])
            t_ms = round(t * 1000)
            nxt = _next_funding_ms(t)
            if self.network_faults and self.in_gap("bybit", t):
                st.bybit_snapshot_sent.clear()  # a reconnect starts again with snapshots
                continue
            for a, spec in enumerate(self.specs):
                sym = self.binance_sym[a]
                mark = float(chunk.price[k, a])
                single = float(chunk.oi[k, a]) * share
                d = spec.price_decimals
                q = self.qty_dec[a]
                st.bybit_cs += 1
                fields = (
                    f'"markPrice":"{_fmt(mark, d)}","indexPrice":"{_fmt(mark * 0.9998, d)}",'
                    f'"openInterest":"{_fmt(2 * single, q)}","openInterestValue":"{_fmt(2 * single * mark, 2)}",'
                    f'"singleOpenInterest":"{_fmt(single, q)}","singleOpenInterestValue":"{_fmt(single * mark, 2)}",'
                    f'"fundingRate":"{_fmt(float(chunk.funding[k, a]), 6)}"'
                )
                if sym not in st.bybit_snapshot_sent:
                    st.bybit_snapshot_sent.add(sym)
                    st.bybit_next_funding[sym] = nxt
                    data = (
                        f'{{"topic":"tickers.{sym}","type":"snapshot","data":{{"symbol":"{sym}","tickDirection":"PlusTick",'
                        f'"lastPrice":"{_fmt(mark, d)}",{fields},"nextFundingTime":"{nxt}","fundingIntervalHour":"8",'
                        f'"fundingCap":"0.005"}},"cs":{st.bybit_cs},"ts":{t_ms}}}'
                    )
                else:
                    extra = ""
                    if st.bybit_next_funding.get(sym) != nxt:
                        st.bybit_next_funding[sym] = nxt
                        extra = f',"nextFundingTime":"{nxt}"'
                    data = (
                        f'{{"topic":"tickers.{sym}","type":"delta","data":{{"symbol":"{sym}",{fields}{extra}}},'
                        f'"cs":{st.bybit_cs},"ts":{t_ms}}}'
                    )
                out.append((t + 0.001 * a, "bybit:ws", data, ""))
        return out

    # ------------------------------------------------------------------ okx

    def _okx_liquidations(self, chunk: Chunk) -> list[Outgoing]:
        idx = self._venue_events(chunk, "okx")
        idx = idx[np.isin(chunk.ev_asset[idx], self.okx_listed)]
        keep = idx[last_per_window(chunk.ev_ts[idx], chunk.ev_asset[idx], 1.0)]
        if keep.size == 0:
            return []
        window = np.floor(chunk.ev_ts[keep] + 1e-9).astype(np.int64)
        out: list[Outgoing] = []
        for w in np.unique(window).tolist():
            rows = keep[window == w]
            items = []
            for i in rows.tolist():
                a = int(chunk.ev_asset[i])
                spec = self.specs[a]
                long = bool(chunk.ev_long[i])
                contracts = float(chunk.ev_qty[i]) / (self.okx_ct_val[a] or spec.okx_ct_val)
                items.append(
                    f'{{"details":[{{"bkLoss":"0","bkPx":"{_fmt(float(chunk.ev_price[i]), spec.price_decimals)}","ccy":"",'
                    f'"posSide":"{"long" if long else "short"}","side":"{"sell" if long else "buy"}",'
                    f'"sz":"{_fmt_trim(contracts)}","ts":"{round(float(chunk.ev_ts[i]) * 1000)}"}}],'
                    f'"instFamily":"{spec.name}-USDT","instId":"{self.okx_inst[a]}","instType":"SWAP","uly":"{spec.name}-USDT"}}'
                )
            data = (
                f'{{"arg":{{"channel":"liquidation-orders","instType":"SWAP"}},"data":[{",".join(items)}]}}'
            )
            out.append((w + 1.0, "okx:ws", data, ""))
        return out

    def _okx_open_interest(self, chunk: Chunk) -> list[Outgoing]:
        out: list[Outgoing] = []
        per = round(OKX_OI_EVERY_S / STEP_S)
        first = round(chunk.t0 / STEP_S)
        share = VENUE_OI_SHARE["okx"]
        for k in range(len(chunk.step_ts)):
            if (first + k + 1) % per:
                continue
            t = float(chunk.step_ts[k])
            t_ms = round(t * 1000)
            for a in self.okx_listed:
                base = float(chunk.oi[k, a]) * share
                inst = self.okx_inst[a]
                ct_val = self.okx_ct_val[a] or 1.0
                data = (
                    f'{{"arg":{{"channel":"open-interest","instId":"{inst}"}},"data":[{{"instType":"SWAP","instId":"{inst}",'
                    f'"oi":"{_fmt(base / ct_val, 2)}","oiCcy":"{_fmt(base, 4)}",'
                    f'"oiUsd":"{_fmt(base * float(chunk.price[k, a]), 2)}","ts":"{t_ms}"}}]}}'
                )
                out.append((t + 0.001 * a, "okx:ws", data, ""))
        return out

    def _okx_funding(self, chunk: Chunk) -> list[Outgoing]:
        out: list[Outgoing] = []
        per = round(OKX_FUNDING_EVERY_S / STEP_S)
        first = round(chunk.t0 / STEP_S)
        for k in range(len(chunk.step_ts)):
            if (first + k + 1) % per:
                continue
            t = float(chunk.step_ts[k])
            t_ms = round(t * 1000)
            nxt = _next_funding_ms(t)
            for a in self.okx_listed:
                inst = self.okx_inst[a]
                rate = float(chunk.funding[k, a])
                data = (
                    f'{{"arg":{{"channel":"funding-rate","instId":"{inst}"}},"data":[{{"fundingRate":"{_fmt(rate, 16)}",'
                    f'"fundingTime":"{nxt}","instId":"{inst}","instType":"SWAP","method":"current_period",'
                    f'"maxFundingRate":"0.0075","minFundingRate":"-0.0075","nextFundingRate":"",'
                    f'"nextFundingTime":"{nxt + int(FUNDING_INTERVAL_S * 1000)}","premium":"{_fmt(rate * 0.8, 16)}",'
                    f'"settFundingRate":"0.0001","settState":"settled","ts":"{t_ms}"}}]}}'
                )
                out.append((t + 0.001 * a, "okx:ws", data, ""))
        return out
