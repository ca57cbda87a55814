"""Mechanistic market: cascades that arise from a book of leveraged positions.

Traders open positions over time as taker orders (direction from a slowly drifting
sentiment, leverage from a per-seed mix, venue by VENUE_SHARES) and close them after an
exponential holding time (every open position has the same hazard: voluntary closes are
pro rata). Every taker order moves price by its USD against the asset's depth; the depth
thins while forced orders flow (withdrawal). When price crosses a position's liquidation
price — long entry × (1 − 1/L + mmr), short entry × (1 + 1/L − mmr), mmr by venue — it is
liquidated: a forced market order at the current price, which moves price further and can
reach the next band. Nothing is injected; a cascade is a run of liquidations the book made.

`run_chunk()` returns the same `Chunk` arrays as `market.Market`, so the venue observation
models of `observe.Observer` (throttles, batching, latency, encoders) are reused unchanged.
The true position book is kept (`book_bands`) for scoring an estimate of it.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cascade_tui.labels import Label
from cascade_tui.sources.simulate.config import ASSETS, CHUNK_S, STEP_S, VENUE_SHARES, YEAR_S, AssetSpec
from cascade_tui.sources.simulate.market import Chunk

# The leveraged book is this share of the asset's open interest; the rest (hedged, unlevered)
# is constant and never liquidated.
BOOK_SHARE = 0.08
HOLD_MEAN_S = 3 * 3600.0  # mean holding time of a position
SIZE_MEDIAN_USD = 60_000.0  # BTC; alts scale by AssetSpec.size_scale
SIZE_SIGMA_LN = 1.2
SENTIMENT_HALF_LIFE_S = 2 * 3600.0
SENTIMENT_TILT = 0.30  # long share of opens = 0.5 + tilt × tanh(sentiment)
# Appetite for leverage: opens/s are scaled by exp(appetite − sd²/2), an OU process, so open
# interest builds up and bleeds off in phases (as it does before and after real cascades)
# instead of turning over at a constant level that no OI change would reveal.
APPETITE_SD = 0.6
APPETITE_HALF_LIFE_S = 3 * 3600.0
NOISE_SIGMA_ANN = 0.30  # BTC's exogenous (non-flow) volatility; alts × vol_mult
IMPACT_PER_DEPTH = 0.01  # USD equal to the 1 % depth moves price 1 %
WITHDRAWAL_TAU_S = 10.0  # forced flow is remembered this long ...
WITHDRAWAL_SCALE = 0.005  # ... and halves depth at 0.5 % of depth per τ ...
MAX_WITHDRAWAL = 4.0  # ... down to at most 1/4 of it (makers come back at some price)
# Per-venue maintenance margin of the true book (first tier; Hyperliquid's is higher).
TRUE_MMR: dict[str, float] = {"binance": 0.004, "bybit": 0.005, "okx": 0.004, "hyperliquid": 0.0125}
# The true leverage choices; each seed draws its own weights around these (Dirichlet).
LEVERAGES = (2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 75.0, 100.0)
LEVERAGE_BASE_WEIGHTS = (0.04, 0.07, 0.14, 0.24, 0.10, 0.16, 0.08, 0.10, 0.03, 0.04)
LEVERAGE_CONCENTRATION = 40.0
BUCKET_LN = math.log1p(0.0002)  # book buckets: 0.02 % of price (liquidations checked per bucket)
# Episodes (labels): liquidations closer than this join one episode ...
EPISODE_GAP_S = 20.0
# ... which is labelled when its USD reaches this × size_scale (minor) / 10 × (major).
MINOR_USD = 2e6
MAJOR_USD = 20e6
EXTREME_USD = 500e6
DEFAULT_ASSETS = ("BTC", "ETH", "SOL")
LIQUIDATION_ROUNDS = (
    1  # liquidation engines work through a step's crossings once; the next step sees the new price
)


@dataclass(slots=True)
class Position:
    long: bool
    qty: float  # base units
    entry: float
    leverage: float
    liq: float
    venue: int  # index into VENUE_SHARES
    bucket: int


@dataclass
class _Episode:
    asset: int
    start: float
    end: float
    price_start: float
    price_end: float = 0.0
    usd_long: float = 0.0
    usd_short: float = 0.0
    count: int = 0
    venue_usd: dict[str, float] = field(default_factory=dict)
    per_5s: dict[int, float] = field(default_factory=dict)


class AssetBook:
    """The true position book of one asset, bucketed by liquidation price."""

    def __init__(self, spec: AssetSpec) -> None:
        self.spec = spec
        self.positions: dict[int, Position] = {}
        self.long_buckets: dict[int, list[int]] = {}
        self.short_buckets: dict[int, list[int]] = {}
        self.long_hi = -(1 << 62)
        self.short_lo = 1 << 62
        self.qty = 0.0  # open leveraged quantity (one side)

    def add(self, pid: int, pos: Position) -> None:
        self.positions[pid] = pos
        self.qty += pos.qty
        if pos.long:
            self.long_buckets.setdefault(pos.bucket, []).append(pid)
            self.long_hi = max(self.long_hi, pos.bucket)
        else:
            self.short_buckets.setdefault(pos.bucket, []).append(pid)
            self.short_lo = min(self.short_lo, pos.bucket)

    def remove(self, pid: int) -> Position | None:
        pos = self.positions.pop(pid, None)
        if pos is not None:
            self.qty -= pos.qty
        return pos  # its id stays in its bucket list and is skipped there

    def crossed(self, price: float) -> list[Position]:
        """Remove and return every position whose liquidation price the price has reached."""
        k = math.floor(math.log(price) / BUCKET_LN)
        out: list[Position] = []
        if self.long_hi >= k:
            for b in [b for b in self.long_buckets if b >= k]:
                for pid in self.long_buckets.pop(b):
                    pos = self.positions.get(pid)
                    if pos is not None and pos.liq >= price:
                        out.append(self.remove(pid))  # type: ignore[arg-type]
                    elif pos is not None:
                        self.long_buckets.setdefault(b, []).append(pid)  # same bucket, not yet
            self.long_hi = max(self.long_buckets, default=-(1 << 62))
        if self.short_lo <= k:
            for b in [b for b in self.short_buckets if b <= k]:
                for pid in self.short_buckets.pop(b):
                    pos = self.positions.get(pid)
                    if pos is not None and pos.liq <= price:
                        out.append(self.remove(pid))  # type: ignore[arg-type]
                    elif pos is not None:
                        self.short_buckets.setdefault(b, []).append(pid)
            self.short_lo = min(self.short_buckets, default=1 << 62)
        return out


class MechanisticMarket:
    """Advances the book and the price in STEP_S steps; one `run_chunk()` = CHUNK_S seconds."""

    def __init__(self, rng: np.random.Generator, start_ts: float, assets: list[int]) -> None:
        self.rng = rng
        self.t = start_ts
        self.specs = [ASSETS[a] for a in assets]
        n = len(self.specs)
        weights = rng.dirichlet(np.array(LEVERAGE_BASE_WEIGHTS) * LEVERAGE_CONCENTRATION)
        self.leverage_weights = weights  # the true mix of this seed (the estimator never sees it)
        self.books = [AssetBook(s) for s in self.specs]
        self.price = np.array([s.price for s in self.specs], dtype=float)
        self.sentiment = rng.standard_normal(n)
        self.appetite = APPETITE_SD * rng.standard_normal(n)
        self.forced_decayed = np.zeros(n)
        self.base_qty = np.array([s.oi_usd * (1.0 - BOOK_SHARE) / s.price for s in self.specs])
        self.size_median = np.array([SIZE_MEDIAN_USD * s.size_scale for s in self.specs])
        mean_size = self.size_median * math.exp(SIZE_SIGMA_LN**2 / 2.0)
        book_usd = np.array([s.oi_usd * BOOK_SHARE for s in self.specs])
        self.open_rate = book_usd / (HOLD_MEAN_S * mean_size)  # opens/s that hold the book steady
        self.noise_sd = np.array(
            [NOISE_SIGMA_ANN * s.vol_mult * math.sqrt(STEP_S / YEAR_S) for s in self.specs]
        )
        self._closes: list[tuple[float, int, int]] = []  # (close time, asset, position id)
        self._next_id = 0
        self._open: list[_Episode | None] = [None] * n
        self.finished: list[_Episode] = []
        self.true_liquidated: list[tuple[float, int, bool, float, float]] = []  # ts, asset, long, usd, liq
        self.keep_liquidations = False  # benchmarks keep every true liquidation for scoring
        self._warm_up()

    # ------------------------------------------------------------------ book

    def _new_position(self, a: int, long: bool, usd: float, price: float) -> tuple[int, Position]:
        lev = float(self.rng.choice(LEVERAGES, p=self.leverage_weights))
        venue = int(self.rng.choice(len(VENUE_SHARES), p=[w for _, w in VENUE_SHARES]))
        mmr = TRUE_MMR[VENUE_SHARES[venue][0]]
        liq = price * (1.0 - 1.0 / lev + mmr) if long else price * (1.0 + 1.0 / lev - mmr)
        pos = Position(long, usd / price, price, lev, liq, venue, math.floor(math.log(liq) / BUCKET_LN))
        pid = self._next_id
        self._next_id += 1
        return pid, pos

    def _warm_up(self) -> None:
        """Start with a steady-state book: positions opened over the last few holding times
        around the starting price (so the first hours are not an empty market)."""
        for a, book in enumerate(self.books):
            n = int(self.open_rate[a] * HOLD_MEAN_S)
            for _ in range(n):
                drift = float(self.rng.normal(0.0, 0.02))
                usd = float(self.size_median[a] * math.exp(SIZE_SIGMA_LN * self.rng.standard_normal()))
                pid, pos = self._new_position(
                    a, bool(self.rng.random() < 0.5), usd, float(self.price[a]) * math.exp(drift)
                )
                if (pos.long and pos.liq >= self.price[a]) or (not pos.long and pos.liq <= self.price[a]):
                    continue
                book.add(pid, pos)
                heapq.heappush(self._closes, (self.t + float(self.rng.exponential(HOLD_MEAN_S)), a, pid))

    def book_bands(self, a: int, band_ln: float) -> tuple[dict[int, float], dict[int, float]]:
        """The true book as (long, short) band index -> USD at entry, on a log grid of step
        band_ln (the estimator's grid when band_ln = ln(1 + band_fraction))."""
        longs: dict[int, float] = {}
        shorts: dict[int, float] = {}
        for pos in self.books[a].positions.values():
            j = math.floor(math.log(pos.liq) / band_ln + 1e-9)
            side = longs if pos.long else shorts
            side[j] = side.get(j, 0.0) + pos.qty * pos.entry
        return longs, shorts

    # ------------------------------------------------------------------ stepping

    def run_chunk(self, end: float) -> Chunk:
        n_steps = round(CHUNK_S / STEP_S)
        n_assets = len(self.specs)
        t0 = self.t
        step_ts = t0 + STEP_S * np.arange(1, n_steps + 1)
        price_out = np.empty((n_steps, n_assets))
        oi_out = np.empty((n_steps, n_assets))
        funding_out = np.empty((n_steps, n_assets))
        ev: list[tuple[float, int, bool, float, float, float, int]] = []
        rng = self.rng
        decay = math.exp(-STEP_S / WITHDRAWAL_TAU_S)
        sent_keep = math.exp(-STEP_S * math.log(2.0) / SENTIMENT_HALF_LIFE_S)
        sent_sd = math.sqrt(1.0 - sent_keep * sent_keep)
        app_keep = math.exp(-STEP_S * math.log(2.0) / APPETITE_HALF_LIFE_S)
        app_sd = APPETITE_SD * math.sqrt(1.0 - app_keep * app_keep)
        for k in range(n_steps):
            t_start = t0 + k * STEP_S
            t_end = float(step_ts[k])
            self.sentiment = self.sentiment * sent_keep + sent_sd * rng.standard_normal(n_assets)
            self.appetite = self.appetite * app_keep + app_sd * rng.standard_normal(n_assets)
            self.forced_decayed *= decay
            n_open = rng.poisson(self.open_rate * STEP_S * np.exp(self.appetite - APPETITE_SD**2 / 2.0))
            noise = self.noise_sd * rng.standard_normal(n_assets)
            close_flow = np.zeros(n_assets)  # a close is a taker order against the position
            while self._closes and self._closes[0][0] <= t_end:
                _, ca, pid = heapq.heappop(self._closes)
                pos = self.books[ca].remove(pid)
                if pos is not None:  # None: liquidated before its close time
                    usd = pos.qty * float(self.price[ca])
                    close_flow[ca] += -usd if pos.long else usd
            for a in range(n_assets):
                book = self.books[a]
                flow = 0.0  # net taker USD (buy positive)
                p = float(self.price[a])
                long_share = 0.5 + SENTIMENT_TILT * math.tanh(float(self.sentiment[a]))
                for _ in range(int(n_open[a])):
                    long = bool(rng.random() < long_share)
                    usd = float(self.size_median[a] * math.exp(SIZE_SIGMA_LN * rng.standard_normal()))
                    pid, pos = self._new_position(a, long, usd, p)
                    book.add(pid, pos)
                    heapq.heappush(self._closes, (t_end + float(rng.exponential(HOLD_MEAN_S)), a, pid))
                    flow += usd if long else -usd
                flow += float(close_flow[a])
                depth = self._depth(a)
                p *= math.exp(IMPACT_PER_DEPTH * flow / depth + float(noise[a]))
                # liquidations: each forced order moves price again, which may reach the next band
                for _round in range(LIQUIDATION_ROUNDS):
                    hit = book.crossed(p)
                    if not hit:
                        break
                    forced = 0.0
                    for pos in hit:
                        usd = pos.qty * p
                        ts = round(t_start + float(rng.uniform(0.0, STEP_S)), 3)
                        ev.append((ts, a, pos.long, usd, p, pos.qty, pos.venue))
                        forced += -usd if pos.long else usd
                        self._record(a, ts, pos, usd, p)
                    self.forced_decayed[a] += abs(forced)
                    depth = self._depth(a)
                    p *= math.exp(IMPACT_PER_DEPTH * forced / depth)
                self.price[a] = p
                price_out[k, a] = p
                oi_out[k, a] = self.base_qty[a] + book.qty
                funding_out[k, a] = 0.0001 + 0.0002 * math.tanh(float(self.sentiment[a]))
                self._close_episode_if_quiet(a, t_end, p)
        self.t = t0 + CHUNK_S
        ev.sort(key=lambda e: e[0])
        return self._chunk(t0, step_ts, price_out, oi_out, funding_out, ev)

    def _depth(self, a: int) -> float:
        """The asset's 1 % depth now: thinned by recent forced flow (withdrawal), capped."""
        depth = self.specs[a].depth_usd
        return depth / min(1.0 + float(self.forced_decayed[a]) / (WITHDRAWAL_SCALE * depth), MAX_WITHDRAWAL)

    def _chunk(self, t0: float, step_ts: np.ndarray, price: np.ndarray, oi: np.ndarray,
               funding: np.ndarray, ev: list[tuple[float, int, bool, float, float, float, int]]) -> Chunk:  # fmt: skip
        m = len(ev)
        cols: list[tuple[Any, ...]] = list(zip(*ev, strict=True)) if m else [() for _ in range(7)]
        qty = np.array(cols[5], dtype=float)
        steps = np.array([self.specs[int(a)].qty_step for a in cols[1]], dtype=float)
        qty = np.round(qty / np.maximum(steps, 1e-12)) * steps if m else qty
        ev_price = np.array(cols[4], dtype=float)
        return Chunk(
            t0=t0,
            step_ts=step_ts,
            price=price,
            oi=oi,
            funding=funding,
            ev_ts=np.array(cols[0], dtype=float),
            ev_asset=np.array(cols[1], dtype=np.int64),
            ev_long=np.array(cols[2], dtype=bool),
            ev_usd=qty * ev_price,
            ev_price=ev_price,
            ev_qty=qty,
            ev_venue=np.array(cols[6], dtype=np.int64),
            ev_leg=np.full(m, -1, dtype=np.int64),
        )

    # ------------------------------------------------------------------ labels

    def _record(self, a: int, ts: float, pos: Position, usd: float, price: float) -> None:
        if self.keep_liquidations:
            self.true_liquidated.append((ts, a, pos.long, usd, pos.liq))
        ep = self._open[a]
        if ep is None or ts - ep.end > EPISODE_GAP_S:
            if ep is not None:
                self._finish(ep)
            ep = self._open[a] = _Episode(a, ts, ts, price)
        ep.end = max(ep.end, ts)
        ep.price_end = price
        ep.count += 1
        if pos.long:
            ep.usd_long += usd
        else:
            ep.usd_short += usd
        venue = VENUE_SHARES[pos.venue][0]
        ep.venue_usd[venue] = ep.venue_usd.get(venue, 0.0) + usd
        slot = math.floor(ts / 5.0)
        ep.per_5s[slot] = ep.per_5s.get(slot, 0.0) + usd

    def _close_episode_if_quiet(self, a: int, t: float, price: float) -> None:
        ep = self._open[a]
        if ep is not None and t - ep.end > EPISODE_GAP_S:
            self._finish(ep)
            self._open[a] = None

    def _finish(self, ep: _Episode) -> None:
        scale = self.specs[ep.asset].size_scale
        if ep.usd_long + ep.usd_short >= MINOR_USD * scale:
            self.finished.append(ep)

    def finished_labels(self) -> list[Label]:
        out = [self._label(ep) for ep in self.finished]
        self.finished.clear()
        return out

    def close_all(self) -> list[Label]:
        for a, ep in enumerate(self._open):
            if ep is not None:
                self._finish(ep)
                self._open[a] = None
        return self.finished_labels()

    def _label(self, ep: _Episode) -> Label:
        spec = self.specs[ep.asset]
        usd = ep.usd_long + ep.usd_short
        scale = spec.size_scale
        cls = (
            "extreme" if usd >= EXTREME_USD * scale
            else "major" if usd >= 5 * MAJOR_USD * scale
            else "moderate" if usd >= MAJOR_USD * scale
            else "minor"
        )  # fmt: skip
        peak = max(ep.per_5s.items(), key=lambda kv: kv[1])[0] if ep.per_5s else math.floor(ep.start / 5.0)
        return Label(
            start=float(ep.start),
            end=float(ep.end),
            asset=spec.name,
            direction="long" if ep.usd_long >= ep.usd_short else "short",
            usd=float(usd),
            severity="minor" if cls == "minor" else "major",
            cls=cls,
            peak_ts=peak * 5.0 + 2.5,
            count=ep.count,
            price_move=float(ep.price_end / ep.price_start - 1.0),
            exogenous=False,
            venues=sorted(v for v in ep.venue_usd if v in ("binance", "bybit", "okx")),
            venue_usd={v: float(u) for v, u in sorted(ep.venue_usd.items())},
        )
