"""Estimated liquidation map: where leveraged positions opened since we started watching
would be force-closed. Pure, no I/O; the clock is the receive time of the events fed in.

What is estimated, from what (issue 17):
- Each open-interest INCREASE on a (venue, instrument) becomes new positions opened at the
  price where it happened (the VWAP of the asset's trades over the interval, else the last
  price). It is split long/short by the taker flow over the same interval (the share of
  taker-buy USD among the asset's trades; 50/50 when no trade was seen), then spread over a
  leverage mix. A position of leverage L at a venue with maintenance margin mmr is liquidated
  at  long: entry × (1 − 1/L + mmr),  short: entry × (1 + 1/L − mmr).
- An OI DECREASE of a share f of the venue's open interest removes the same share f of every
  band of that venue (after subtracting the quantity the venue reported liquidated in the
  same interval: that is already gone from the map, by the band crossing below). Pro rata, because voluntary closes are not chosen by
  distance to liquidation: in the mechanistic market (and, as far as anyone can observe, in
  real ones) every open position has the same chance of being closed by its owner; the
  positions nearest liquidation leave by the crossing rule instead.
- Price (mark or trade) CROSSING a band removes it: those positions are liquidated now. The
  liquidations actually seen near a crossed (or live) band are matched against it; the
  shares are the calibration figures (`coverage`: share of seen liquidation USD that fell
  where the map had positions; `seen_per_est`: seen USD per estimated USD crossed — a lower
  bound on throttled feeds).
- The OI present before the first observation is not placed (where it was opened is not
  known): the map covers positions opened since the program started watching.

Memory is bounded: bands are 0.1 % wide on a fixed log-price grid (band k covers
[g^k, g^(k+1)), g = 1 + band_fraction), and only bands within ±15 % of the current price
are kept; bands leaving the window as price moves are dropped (counted in `dropped_usd`).

`near_cluster(asset)` is the pre-cascade context the engine consults for WATCH: USD within
`near_pct` of price on one side, large against the asset's usual (observed) liquidation flow.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import repeat
from typing import Final

import msgspec

from cascade_tui.model import LONG, Liquidation, Mark, OpenInterest, Trade

WITHIN_PCTS: Final[tuple[float, ...]] = (0.5, 1.0, 2.0, 5.0)
USUAL_FLOW_HALFLIFE_S: Final = 6 * 3600.0
VOL_SAMPLE_S: Final = 5.0  # price variance is sampled on steps of at least 5 s ...
VOL_HALFLIFE_S: Final = 3600.0  # ... and averaged over about an hour
DEFAULT_VAR_PER_S: Final = 0.5**2 / (365.0 * 86400.0)  # 50 % a year until measured ...
MIN_VAR_PER_S: Final = 0.1**2 / (365.0 * 86400.0)  # ... and never below 10 % a year
_LN2: Final = math.log(2.0)
_log = math.log
_floor = math.floor
# `near_bound`: bands are summed in rings of this many by distance from price, each ring
# weighed by the reach probability of its nearest possible edge; the distances are shortened
# by _BAND_SLACK band widths (more than the rounding of the price's band and of each
# distance), and the bound is raised by a relative and an absolute margin far above the
# rounding of the sums and of erfc, so it is never under the expectation as computed
_RING_BANDS: Final = 4
_VAR_HEADROOM: Final = 1.5  # the bound is taken at this × the variance, kept while it stays under
_BAND_SLACK: Final = 1e-6
_BOUND_MARGIN: Final = 1.0 + 1e-6
# pending closes are applied at once when they would leave a venue less than this share
_SETTLE_BELOW: Final = 0.25
_BOUND_ABS_USD: Final = 1e-6


class LiqMapParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Estimator settings. The leverage mix is (leverage, share of new notional) pairs.

    Default mix: retail-heavy perpetual books as the venues' own leverage statistics and the
    public heatmap tools assume them — most notional at 5–25×, a tail at 50–100×."""

    leverage_mix: tuple[tuple[float, float], ...] = (
        (3.0, 0.08),
        (5.0, 0.14),
        (10.0, 0.28),
        (20.0, 0.22),
        (25.0, 0.12),
        (50.0, 0.10),
        (100.0, 0.06),
    )
    # maintenance margin rate of the first (smallest) risk tier, per venue
    mmr: dict[str, float] = msgspec.field(
        default_factory=lambda: {
            "binance": 0.004,
            "bybit": 0.005,
            "okx": 0.004,
            "bitmex": 0.0035,
            "deribit": 0.005,
            "gate": 0.005,
            "bitget": 0.004,
            "htx": 0.005,
            "kraken": 0.005,
            "dydx": 0.03,
            "hyperliquid": 0.0125,
        }
    )
    default_mmr: float = 0.005
    band_fraction: float = 0.001  # 0.1 % bands
    span_fraction: float = 0.15  # keep bands within ±15 % of price
    dense_band_usd_mult: float = 0.25  # a band is dense at this × usual hourly liquidated USD
    # near_cluster (chosen on the training markets of benchmarks/liqmap_quality.py, checked on
    # its validation markets): the USD of one side expected to be liquidated within
    # near_horizon_s — bands within near_pct of price, each × the chance price reaches it
    # at the asset's measured volatility, so distance counts in units of σ√horizon — reaches
    # near_cluster_mult × the asset's usual hourly liquidated USD (and the floor). Once
    # raised it holds for near_min_hold_s, then until the expectation falls under
    # near_exit_ratio × that (hysteresis in level and time: a trader is not told "near",
    # "not near", "near" as price wobbles at the edge of a band). While the engine has the
    # side at WARNING or more, that hysteresis is dropped (`restart_near`): the cascade runs
    # through the cluster, and after it the side is told "near" only on the bar itself
    near_pct: float = 3.0
    near_horizon_s: float = 300.0
    near_cluster_mult: float = 0.3
    near_cluster_floor_usd: float = 1.0e6
    near_exit_ratio: float = 0.1
    near_min_hold_s: float = 900.0
    # the expectation must stay at the bar this long before the side is raised (0: at once;
    # tried at 10-60 s, it lost more preceded cascades than false warnings: benchmarks/liqmap_quality.py)
    near_confirm_s: float = 0.0
    # a side is raised only when price has come toward its bands by at least this % within
    # the last near_approach_s (0: off), sampled at each read (the engine reads every second):
    # the false warnings left on the training and validation markets had price come 0.15-0.25 %
    # toward the band in the 5 minutes before; with this gate the bar could come down 0.4 -> 0.3
    near_approach_pct: float = 0.25
    near_approach_s: float = 300.0
    min_history_s: float = 1800.0  # usual flow is not trusted before this much clock
    match_bands: int = 3  # a seen liquidation matches a band within ±3 bands (0.3 %)
    match_window_s: float = 120.0  # ... crossed at most this long before


def validate_liqmap(p: LiqMapParams) -> LiqMapParams:
    """Raise ValueError naming the first bad key; return p unchanged when valid."""
    if not p.leverage_mix:
        raise ValueError("liqmap.leverage_mix: needs at least one (leverage, share)")
    for lev, share in p.leverage_mix:
        if not (1.0 <= lev <= 200.0 and share > 0.0):
            raise ValueError("liqmap.leverage_mix: leverage within [1, 200], share > 0")
    for venue, m in {**p.mmr, "default": p.default_mmr}.items():
        if not (0.0 <= m < 0.5):
            raise ValueError(f"liqmap.mmr.{venue}: must be within [0, 0.5)")
    if not (0.0001 <= p.band_fraction <= 0.01):
        raise ValueError("liqmap.band_fraction: must be within [0.0001, 0.01]")
    if not (0.01 <= p.span_fraction <= 0.5):
        raise ValueError("liqmap.span_fraction: must be within [0.01, 0.5]")
    if not (
        p.near_pct > 0 and p.near_horizon_s > 0 and p.near_cluster_mult > 0 and p.near_cluster_floor_usd >= 0
    ):
        raise ValueError("liqmap.near_*: must be positive")
    if not (0.0 < p.near_exit_ratio <= 1.0):
        raise ValueError("liqmap.near_exit_ratio: must be within (0, 1]")
    if not (0.0 <= p.near_min_hold_s <= 86_400.0):
        raise ValueError("liqmap.near_min_hold_s: must be within [0, 86400]")
    if not (0.0 <= p.near_confirm_s <= 3_600.0):
        raise ValueError("liqmap.near_confirm_s: must be within [0, 3600]")
    if not (0.0 <= p.near_approach_pct <= 50.0):
        raise ValueError("liqmap.near_approach_pct: must be within [0, 50]")
    if not (1.0 <= p.near_approach_s <= 3_600.0):
        raise ValueError("liqmap.near_approach_s: must be within [1, 3600]")
    return p


def liquidation_price(entry: float, leverage: float, mmr: float, long: bool) -> float:
    """Isolated-margin liquidation price (issue 17): long entry × (1 − 1/L + mmr), short
    entry × (1 + 1/L − mmr). Fees and funding are left out (unknown per position)."""
    if long:
        return entry * (1.0 - 1.0 / leverage + mmr)
    return entry * (1.0 + 1.0 / leverage - mmr)


class BandView(msgspec.Struct, frozen=True, gc=False):
    """One band of the map: prices [low, high), estimated USD of longs and shorts there."""

    low: float
    high: float
    long_usd: float
    short_usd: float


class LiqMapView(msgspec.Struct, frozen=True, gc=False):
    """The map of one asset at `ts` (what the panel, Redis and the `liqmap` command show)."""

    asset: str
    ts: float
    price: float | None
    band_fraction: float
    bands: tuple[BandView, ...]  # ascending price, only bands with USD on either side
    long_within: dict[str, float]  # "0.5" "1" "2" "5" (% below price) -> USD of longs
    short_within: dict[str, float]  # % above price -> USD of shorts
    nearest_dense_long_pct: float | None  # distance (%) to the nearest dense long band
    nearest_dense_short_pct: float | None
    dense_band_usd: float  # the density threshold in force
    usual_hourly_usd: float  # the asset's usual observed liquidation USD per hour
    total_long_usd: float
    total_short_usd: float
    coverage: float | None  # share of seen liquidation USD that matched estimated bands
    seen_per_est: float | None  # seen liquidation USD per estimated USD crossed
    crossed_usd: float  # estimated USD removed by price crossing, since start
    seen_usd: float  # liquidation USD seen within the map's range, since start
    near_cluster: dict[str, float | str] | None  # the WATCH why, when it holds now
    # False while no trade of the asset has been seen: new positions are then split 50/50
    # long/short, not by the taker flow (a default, so payloads written before it decode)
    trades_seen: bool = True


class _Track:
    """One (venue, instrument): the last OI and the asset's flow counters at that time."""

    __slots__ = ("buy", "liq_qty", "oi", "pq", "q", "sell")

    def __init__(self, oi: float, buy: float, sell: float, pq: float, q: float) -> None:
        self.oi = oi
        self.buy = buy
        self.sell = sell
        self.pq = pq
        self.q = q
        self.liq_qty = 0.0  # base quantity reported liquidated at this venue since `oi`


class AssetMap:
    """Bands of one asset: per venue (for the pro-rata OI rule) and summed (for reading)."""

    __slots__ = (
        "asset",
        "buy_usd",
        "crossed",
        "crossed_usd",
        "dropped_usd",
        "flow_decayed",
        "flow_t",
        "hi",
        "keep",
        "lo",
        "long",
        "long_hi",
        "matched_usd",
        "near",
        "near_bounds",
        "near_hi",
        "near_lo",
        "near_pending",
        "near_sec",
        "near_since",
        "pq",
        "price",
        "price_band",
        "q",
        "raised",
        "seen_usd",
        "sell_usd",
        "short",
        "short_lo",
        "started",
        "tracks",
        "var_per_s",
        "venue_long",
        "venue_short",
        "version",
        "vol_price",
        "vol_t",
    )

    def __init__(self, asset: str, t: float) -> None:
        self.asset = asset
        self.price: float | None = None
        self.price_band = 0
        self.lo = 0  # window of kept band indices [lo, hi]
        self.hi = -1
        self.long: dict[int, float] = {}
        self.short: dict[int, float] = {}
        self.venue_long: dict[str, dict[int, float]] = {}
        self.venue_short: dict[str, dict[int, float]] = {}
        # venue -> the share of its bands left by voluntary closes not yet applied (see
        # LiquidationMap._close_pro_rata): the bands above hold at least the true USD until
        # `_settle` applies it
        self.keep: dict[str, float] = {}
        self.long_hi = -(1 << 62)  # no long band above this index
        self.short_lo = 1 << 62  # no short band below this index
        self.tracks: dict[tuple[str, str], _Track] = {}
        # cumulative taker flow and trade VWAP accumulators (differences give an interval's)
        self.buy_usd = 0.0
        self.sell_usd = 0.0
        self.pq = 0.0
        self.q = 0.0
        # calibration
        self.crossed: dict[tuple[bool, int], tuple[float, float]] = {}  # (long, band) -> (usd, ts)
        self.crossed_usd = 0.0
        self.matched_usd = 0.0
        self.seen_usd = 0.0
        self.dropped_usd = 0.0
        # usual liquidation flow: decayed observed USD
        self.flow_decayed = 0.0
        self.flow_t = t
        self.started = t
        self.version = 0
        # near_cluster state per side ("long"/"short" -> why), refreshed once per second
        self.near: dict[str, dict[str, float | str]] = {}
        self.near_sec = -1
        self.near_since: dict[str, float] = {}  # side -> when its near_cluster was raised
        self.near_pending: dict[str, float] = {}  # side -> since when it is at the bar, not yet raised
        # the price's highest and lowest over the last near_approach_s, from one (second, price)
        # sample a second, kept only while `near_approach_pct` is on: each deque holds only the
        # samples that can still be the window's extreme (prices falling from the left in
        # `near_hi`, rising in `near_lo`), so the extreme is its first entry and a calm market
        # keeps a handful per asset, not one per second
        self.near_hi: deque[tuple[int, float]] = deque()
        self.near_lo: deque[tuple[int, float]] = deque()
        # bumped by every change that can raise a band (new positions): everything else the
        # map does to its bands lowers them, and leaves a bound on their USD a bound
        self.raised = 0
        # per side (True = long): (raised, price band, variance, upper bound of its near
        # expectation at any variance up to that one), see LiquidationMap.near_bound
        self.near_bounds: dict[bool, tuple[int, int, float, float]] = {}
        # price variance per second (EWMA of squared log returns over >= VOL_SAMPLE_S steps)
        self.var_per_s: float | None = None
        self.vol_price = 0.0
        self.vol_t = t


def _less_pending(am: AssetMap, per_venue: dict[str, dict[int, float]], j: int, usd: float) -> float:
    """Band j's summed USD `usd` less the closes still pending on it, venue by venue in the
    order `LiquidationMap._settle` takes them (the same float operations), never below 0."""
    for venue, keep in am.keep.items():
        bands_v = per_venue.get(venue)
        if bands_v:
            v = bands_v.get(j)
            if v:
                usd -= v * (1.0 - keep)
    return usd if usd > 1e-6 else 0.0


def _bound_variance(am: AssetMap) -> float:
    """The variance a near bound is taken and checked at: the measured one, else the default,
    never under the minimum."""
    var = am.var_per_s if am.var_per_s is not None else DEFAULT_VAR_PER_S
    return max(var, MIN_VAR_PER_S)


def _held_bound(am: AssetMap, long: bool, var: float) -> float | None:
    """The side's near bound taken earlier, while it still holds: no band raised since (closes,
    crossings and liquidations only lower them or leave them), the price in the same band and
    the variance within the headroom it was taken at; else None."""
    hit = am.near_bounds.get(long)
    if hit is None:
        return None
    raised, band, var_cap, bound = hit
    if raised == am.raised and band == am.price_band and var <= var_cap:
        return bound
    return None


class LiquidationMap:
    """The estimator for every asset. Feed it events with `on_event`; read with `view`,
    `context` and `near_cluster`. O(bands touched) per event, bounded by the window."""

    def __init__(self, params: LiqMapParams | None = None) -> None:
        self.params = validate_liqmap(params or LiqMapParams())
        self._assets: dict[str, AssetMap] = {}
        self._ln_g = math.log1p(self.params.band_fraction)
        self._span_bands = math.ceil(math.log1p(self.params.span_fraction) / self._ln_g)
        total = sum(share for _, share in self.params.leverage_mix)
        self._mix = tuple((lev, share / total) for lev, share in self.params.leverage_mix)
        # per venue: ((liquidation price / entry, share) per leverage) for longs and shorts
        self._factors: dict[str, tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]] = {}
        self._flow_tau = USUAL_FLOW_HALFLIFE_S / _LN2
        self.rejected = 0

    # ------------------------------------------------------------------ grid

    def band_of(self, price: float) -> int:
        return math.floor(math.log(price) / self._ln_g + 1e-9)

    def band_low(self, band: int) -> float:
        return math.exp(band * self._ln_g)

    @property
    def assets(self) -> list[str]:
        return sorted(self._assets)

    def _asset(self, asset: str, t: float) -> AssetMap:
        am = self._assets.get(asset)
        if am is None:
            am = self._assets[asset] = AssetMap(asset, t)
        return am

    # ------------------------------------------------------------------ events

    def on_event(self, ev: object, t: float) -> None:
        """Any model event; kinds the map does not use are ignored."""
        kind = type(ev)
        if kind is Trade:
            self.on_trade(ev, t)  # type: ignore[arg-type]
        elif kind is Mark:
            self.on_price(ev.asset, ev.price, t)  # type: ignore[attr-defined]
        elif kind is OpenInterest:
            self.on_open_interest(ev, t)  # type: ignore[arg-type]
        elif kind is Liquidation:
            self.on_liquidation(ev, t)  # type: ignore[arg-type]

    def on_trade(self, ev: Trade, t: float) -> None:
        if not (
            math.isfinite(ev.price) and ev.price > 0 and math.isfinite(ev.usd) and ev.usd >= 0 and ev.asset
        ):
            self.rejected += 1
            return
        am = self._asset(ev.asset, t)
        if ev.taker_side == "buy":
            am.buy_usd += ev.usd
        else:
            am.sell_usd += ev.usd
        am.pq += ev.price * ev.qty
        am.q += ev.qty
        self.on_price(ev.asset, ev.price, t)

    def on_price(self, asset: str, price: float, t: float) -> None:
        if not (math.isfinite(price) and price > 0 and asset):
            self.rejected += 1
            return
        # every trade and mark comes here: the known asset without a call to `_asset`, and
        # `band_of(price)` spelled out
        am = self._assets.get(asset) or self._asset(asset, t)
        k = _floor(_log(price) / self._ln_g + 1e-9)
        am.price = price
        dt = t - am.vol_t
        if am.vol_price <= 0.0:
            am.vol_price, am.vol_t = price, t
        elif dt >= VOL_SAMPLE_S:
            r2 = math.log(price / am.vol_price) ** 2 / dt
            w = 1.0 - math.exp(-dt * _LN2 / VOL_HALFLIFE_S)
            var = DEFAULT_VAR_PER_S if am.var_per_s is None else am.var_per_s
            am.var_per_s = var + w * (r2 - var)
            am.vol_price, am.vol_t = price, t
        if am.hi < am.lo:  # first price: open the window
            am.price_band = k
            am.lo, am.hi = k - self._span_bands, k + self._span_bands
            return
        if k != am.price_band:
            self._recentre(am, k)
        # crossing: longs at or above the price's band, shorts at or below it, are liquidated
        if am.long_hi >= k:
            self._cross(am, True, k, am.long_hi, t)
            am.long_hi = k - 1
        if am.short_lo <= k:
            self._cross(am, False, am.short_lo, k, t)
            am.short_lo = k + 1

    def _recentre(self, am: AssetMap, k: int) -> None:
        lo, hi = k - self._span_bands, k + self._span_bands
        if lo > am.hi or hi < am.lo:  # a jump past the whole window
            self._drop_all(am)
        else:
            if lo > am.lo:
                self._drop(am, range(am.lo, lo))
            if hi < am.hi:
                self._drop(am, range(hi + 1, am.hi + 1))
        am.lo, am.hi, am.price_band = lo, hi, k

    def _drop(self, am: AssetMap, bands: range) -> None:
        for j in bands:
            for side, per_venue in ((am.long, am.venue_long), (am.short, am.venue_short)):
                usd = side.pop(j, None)
                if usd is not None:
                    am.dropped_usd += _less_pending(am, per_venue, j, usd) if am.keep else usd
                    am.version += 1
                    for bands_v in per_venue.values():
                        bands_v.pop(j, None)

    def _drop_all(self, am: AssetMap) -> None:
        if am.keep:
            self._settle(am)
        am.dropped_usd += sum(am.long.values()) + sum(am.short.values())
        am.long.clear()
        am.short.clear()
        for d in (*am.venue_long.values(), *am.venue_short.values()):
            d.clear()
        am.version += 1

    def _cross(self, am: AssetMap, long: bool, first: int, last: int, t: float) -> None:
        side = am.long if long else am.short
        per_venue = am.venue_long if long else am.venue_short
        first = max(first, am.lo)
        last = min(last, am.hi)
        for j in range(first, last + 1):
            usd = side.pop(j, None)
            if usd is None:
                continue
            if am.keep:  # the USD crossed, net of the closes still pending
                usd = _less_pending(am, per_venue, j, usd)
            for bands_v in per_venue.values():
                bands_v.pop(j, None)
            if not usd:  # closed before price got there, as `_settle` would have found
                continue
            am.crossed_usd += usd
            am.crossed[(long, j)] = (usd, t)
            am.version += 1
        if len(am.crossed) > 4 * self._span_bands:  # bounded: forget matches too old to count
            horizon = t - self.params.match_window_s
            am.crossed = {key: v for key, v in am.crossed.items() if v[1] >= horizon}

    def on_open_interest(self, ev: OpenInterest, t: float) -> None:
        if not (math.isfinite(ev.oi) and ev.oi >= 0 and ev.asset):
            self.rejected += 1
            return
        am = self._assets.get(ev.asset) or self._asset(ev.asset, t)
        key = (ev.venue, ev.instrument)
        track = am.tracks.get(key)
        if track is None:  # the OI already open: where it was opened is unknown
            am.tracks[key] = _Track(ev.oi, am.buy_usd, am.sell_usd, am.pq, am.q)
            return
        before = track.oi
        delta = ev.oi - before
        buy, sell = am.buy_usd - track.buy, am.sell_usd - track.sell
        dq = am.q - track.q
        entry = (am.pq - track.pq) / dq if dq > 0 else am.price
        liq_qty = track.liq_qty
        track.oi, track.buy, track.sell, track.pq, track.q, track.liq_qty = (
            ev.oi,
            am.buy_usd,
            am.sell_usd,
            am.pq,
            am.q,
            0.0,
        )
        if entry is None or am.price is None:
            return
        if delta > 0:
            long_share = buy / (buy + sell) if buy + sell > 0 else 0.5
            self._open(am, ev.venue, delta * entry, entry, long_share)
        elif delta < 0:
            voluntary = -delta - liq_qty
            if voluntary > 0 and before > 0:
                # that share of ALL the venue's open positions closed: every band loses it
                self._close_pro_rata(am, ev.venue, min(1.0, voluntary / before))

    def _venue_factors(self, venue: str) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
        """Computed once per venue: the same float expressions `liquidation_price` multiplies
        the entry by, so the bands placed are exactly those of the formula."""
        got = self._factors.get(venue)
        if got is None:
            mmr = self.params.mmr.get(venue, self.params.default_mmr)
            got = self._factors[venue] = (
                tuple((1.0 - 1.0 / lev + mmr, w) for lev, w in self._mix),
                tuple((1.0 + 1.0 / lev - mmr, w) for lev, w in self._mix),
            )
        return got

    def _open(self, am: AssetMap, venue: str, usd: float, entry: float, long_share: float) -> None:
        k = am.price_band
        lo, hi = am.lo, am.hi
        ln_g, log, floor = self._ln_g, math.log, math.floor
        long_factors, short_factors = self._venue_factors(venue)
        # closes of this venue still pending will scale its bands by `keep`: what opens now
        # goes in at 1 / keep, so that it is `usd` once they are applied
        usd /= am.keep.get(venue, 1.0)
        # longs: only bands below the price's band are live; shorts: only bands above it
        for long, share, factors in ((True, long_share, long_factors), (False, 1.0 - long_share, short_factors)):
            if share <= 0:
                continue
            side = am.long if long else am.short
            per_venue = am.venue_long if long else am.venue_short
            bands_v = per_venue.get(venue)
            if bands_v is None:
                bands_v = per_venue[venue] = {}
            first, last = (lo, k - 1) if long else (k + 1, hi)
            for factor, w in factors:
                j = floor(log(entry * factor) / ln_g + 1e-9)  # band_of(liquidation_price(...))
                # already through the price (or outside the window): nothing left to liquidate
                if j < first or j > last:
                    continue
                add = usd * share * w
                side[j] = side.get(j, 0.0) + add
                bands_v[j] = bands_v.get(j, 0.0) + add
                if long:
                    if j > am.long_hi:
                        am.long_hi = j
                elif j < am.short_lo:
                    am.short_lo = j
        am.version += 1
        am.raised += 1

    def _close_pro_rata(self, am: AssetMap, venue: str, fraction: float) -> None:
        """Remove `fraction` of every band the venue holds (voluntary closes are pro rata).

        Applied lazily: a venue's OI changes every second or so and it holds hundreds of bands,
        but the map is read exactly far less often. The share kept is multiplied into
        `am.keep` and applied to every band by `_settle` before an exact read; until then the
        bands over-state the USD, so the near check's bound (`near_bound`) still holds."""
        keep = am.keep.get(venue, 1.0) * (1.0 - fraction)
        am.keep[venue] = keep
        if keep < _SETTLE_BELOW:  # what `_open` divides by stays well away from 0
            self._settle(am)
        am.version += 1

    def _settle(self, am: AssetMap) -> None:
        """Apply every venue's pending closes to its bands and to the summed ones."""
        for venue, keep in am.keep.items():
            fraction = 1.0 - keep
            for bands_v, side in ((am.venue_long.get(venue), am.long), (am.venue_short.get(venue), am.short)):
                if not bands_v:
                    continue
                get = side.get
                # one pass: assigning to existing keys does not resize the dict being iterated
                for j, v in bands_v.items():
                    left = get(j, 0.0) - v * fraction
                    if left > 1e-6:
                        side[j] = left
                    else:
                        side.pop(j, None)
                    bands_v[j] = v * keep
                if keep <= 0.0:
                    bands_v.clear()
        am.keep.clear()

    def on_liquidation(self, ev: Liquidation, t: float) -> None:
        if not (
            math.isfinite(ev.price) and ev.price > 0 and math.isfinite(ev.usd) and ev.usd >= 0 and ev.asset
        ):
            self.rejected += 1
            return
        # every liquidation comes here: the known asset without a call to `_asset`, and
        # `band_of(price)` spelled out
        am = self._assets.get(ev.asset) or self._asset(ev.asset, t)
        # usual flow: decayed USD (its rate is read in `usual_hourly_usd`)
        am.flow_decayed = am.flow_decayed * math.exp(-(t - am.flow_t) / self._flow_tau) + ev.usd
        am.flow_t = t
        track = am.tracks.get((ev.venue, ev.instrument))
        if track is not None:
            track.liq_qty += ev.qty
        if am.hi < am.lo:
            return
        j = _floor(_log(ev.price) / self._ln_g + 1e-9)
        if not (am.lo <= j <= am.hi):
            return
        am.seen_usd += ev.usd
        long = ev.side == LONG
        live = am.long if long else am.short
        m = self.params.match_bands
        horizon = t - self.params.match_window_s
        # (closes still pending are not taken off here: they leave each venue at least
        # _SETTLE_BELOW of its share, so a band they would empty holds a few µUSD at most)
        for i in range(j - m, j + m + 1):
            crossed = am.crossed.get((long, i))
            if live.get(i, 0.0) > 0 or (crossed is not None and crossed[1] >= horizon):
                am.matched_usd += ev.usd
                break
        am.version += 1

    # ------------------------------------------------------------------ reading

    def usual_hourly_usd(self, asset: str, t: float) -> float:
        """Observed liquidation USD per hour, decayed over ~6 h (0 before any)."""
        am = self._assets.get(asset)
        if am is None:
            return 0.0
        decayed = am.flow_decayed * math.exp(-max(0.0, t - am.flow_t) / self._flow_tau)
        # a decayed sum over an elapsed time e < τ holds τ(1 − e^{−e/τ}) seconds' worth
        held_s = self._flow_tau * (1.0 - math.exp(-max(t - am.started, 1.0) / self._flow_tau))
        return 3600.0 * decayed / held_s

    def within(self, asset: str, long: bool, pct: float) -> float:
        """USD of the side's bands between price and price × (1 ∓ pct %)."""
        am = self._assets.get(asset)
        if am is None or am.price is None:
            return 0.0
        if am.keep:
            self._settle(am)
        k = am.price_band
        n = math.ceil(math.log1p(pct / 100.0) / self._ln_g)
        if long:
            side = am.long
            return sum(side.get(j, 0.0) for j in range(k - n, k + 1))
        side = am.short
        return sum(side.get(j, 0.0) for j in range(k, k + n + 1))

    def reach_probability(self, asset: str, distance: float, horizon_s: float) -> float:
        """Chance that price touches a level `distance` (log-price) away within the horizon,
        for a driftless random walk at the asset's measured volatility (reflection
        principle: 2·(1 − Φ(d / σ√h)))."""
        am = self._assets.get(asset)
        var = am.var_per_s if am is not None and am.var_per_s is not None else DEFAULT_VAR_PER_S
        spread = math.sqrt(max(var, MIN_VAR_PER_S) * horizon_s)
        return math.erfc(abs(distance) / (spread * math.sqrt(2.0)))

    def expected_near(self, asset: str, long: bool, horizon_s: float, radius_pct: float) -> float:
        """USD of one side expected to be liquidated within the horizon, over the bands within
        radius_pct of price: Σ band USD × the chance price reaches the band.

        Runs for every asset every second (the engine's near-cluster check), so the spread
        `reach_probability` computes is computed once here, and each band's term is the same
        float expression inline (`expected_near_reference` is the plain form; a test holds
        them equal to the bit)."""
        am = self._assets.get(asset)
        if am is None or am.price is None:
            return 0.0
        side = am.long if long else am.short
        if not side:
            return 0.0
        # closes still pending are taken off band by band as `_settle` would (the same float
        # operations as `_less_pending`, inline): this runs every second, and settling
        # touches every band of the window
        per_venue = am.venue_long if long else am.venue_short
        pending = [
            (bands_v, 1.0 - keep) for venue, keep in am.keep.items() if (bands_v := per_venue.get(venue))
        ]
        ln_p = math.log(am.price)
        ln_g = self._ln_g
        k = am.price_band
        n = math.ceil(math.log1p(radius_pct / 100.0) / ln_g)
        var = am.var_per_s if am.var_per_s is not None else DEFAULT_VAR_PER_S
        scale = math.sqrt(max(var, MIN_VAR_PER_S) * horizon_s) * math.sqrt(2.0)
        erfc = math.erfc
        get = side.get
        total = 0.0
        bands = range(k - n, k + 1) if long else range(k, k + n + 1)
        edge = 1 if long else 0  # a long band is reached at its top, a short one at its bottom
        for j in bands:
            usd = get(j)
            if usd:
                if pending:
                    for bands_v, fraction in pending:
                        v = bands_v.get(j)
                        if v:
                            usd -= v * fraction
                    if usd <= 1e-6:
                        continue
                total += usd * erfc(abs((j + edge) * ln_g - ln_p) / scale)
        return total

    def expected_near_reference(self, asset: str, long: bool, horizon_s: float, radius_pct: float) -> float:
        """`expected_near` written plainly, band by band through `reach_probability`."""
        am = self._assets.get(asset)
        if am is None or am.price is None:
            return 0.0
        if am.keep:
            self._settle(am)
        ln_p = math.log(am.price)
        k = am.price_band
        n = math.ceil(math.log1p(radius_pct / 100.0) / self._ln_g)
        side = am.long if long else am.short
        total = 0.0
        for j in range(k - n, k + 1) if long else range(k, k + n + 1):
            usd = side.get(j)
            if usd:
                edge = (j + 1) * self._ln_g if long else j * self._ln_g
                total += usd * self.reach_probability(asset, edge - ln_p, horizon_s)
        return total

    def near_bound(self, am: AssetMap, long: bool) -> float:
        """An upper bound of `expected_near` for the near check (near_horizon_s, near_pct):
        the bands' USD in rings by distance from price, each ring times the reach probability
        of its nearest possible edge. Reach probabilities grow with the variance, so a bound
        taken at a variance with headroom holds until a band is raised (`raised`), the price
        changes band or the variance passes it: most seconds, most sides are settled by a
        look-up and two comparisons. Closes still pending (`am.keep`) only lower the bands, so
        a bound read from them without applying the closes is still a bound."""
        var = _bound_variance(am)
        held = _held_bound(am, long, var)
        if held is not None:
            return held
        var_cap = var * _VAR_HEADROOM
        bound = self._ring_bound(am, long, var_cap)
        am.near_bounds[long] = (am.raised, am.price_band, var_cap, bound)
        return bound

    def _ring_bound(self, am: AssetMap, long: bool, var: float) -> float:
        side = am.long if long else am.short
        if not side or am.price is None:
            return 0.0
        p = self.params
        ln_g = self._ln_g
        k = am.price_band
        n = math.ceil(math.log1p(p.near_pct / 100.0) / ln_g)
        # the same bands as expected_near, nearest first: d = 0 .. n band widths away
        by_distance = list(map(side.get, range(k, k - n - 1, -1) if long else range(k, k + n + 1), repeat(0.0)))
        scale = math.sqrt(var * p.near_horizon_s) * math.sqrt(2.0)
        total = 0.0
        for d in range(0, n + 1, _RING_BANDS):
            ring = sum(by_distance[d : d + _RING_BANDS])
            if ring:
                # a band d widths away has its edge at least (d - 1) widths from the price
                total += ring * math.erfc(max(0.0, (d - 1 - _BAND_SLACK) * ln_g) / scale)
        return total * _BOUND_MARGIN + _BOUND_ABS_USD

    def expected(self, asset: str, horizon_s: float = 3600.0) -> dict[tuple[bool, int], float]:
        """(long, band) -> USD expected to be liquidated within the horizon: the band's
        estimated USD × the chance price reaches it. The map's ranking of bands."""
        am = self._assets.get(asset)
        if am is None or am.price is None:
            return {}
        if am.keep:
            self._settle(am)
        ln_p = math.log(am.price)
        out: dict[tuple[bool, int], float] = {}
        for long, side in ((True, am.long), (False, am.short)):
            for j, usd in side.items():
                edge = (j + 1) * self._ln_g if long else j * self._ln_g
                out[(long, j)] = usd * self.reach_probability(am.asset, edge - ln_p, horizon_s)
        return out

    def forget(self, asset: str) -> None:
        """Drop an asset's map (the engine evicted the asset)."""
        self._assets.pop(asset, None)

    def assets_near(self, t: float) -> list[str]:
        """Assets with a near cluster on either side now (checked once a second by the engine).
        What `near_cluster(asset, t)` is not None for, without its look-up and pick of a side:
        this runs for every asset every second."""
        refresh = self._refresh_near
        out: list[str] = []
        for asset, am in self._assets.items():
            refresh(am, t)
            if am.near:
                out.append(asset)
        return out

    def near_cluster(self, asset: str, t: float, side: str | None = None) -> dict[str, float | str] | None:
        """The WATCH `why` when the USD of a side expected to be liquidated within
        `near_horizon_s` is large against the asset's usual liquidation flow, else None.
        Never more than WATCH (the engine's hook enforces it): an estimate alone is context,
        not a cascade. `side` ("long" or "short") asks about one side only."""
        am = self._assets.get(asset)
        if am is None:
            return None
        self._refresh_near(am, t)
        if side is not None:
            return am.near.get(side)
        held = list(am.near.values())
        return max(held, key=lambda why: float(why["expected_usd"])) if held else None

    def restart_near(self, asset: str, side: str) -> None:
        """A cascade of this side is under way (the engine's WARNING or more): the cluster is
        being liquidated, so the side's near_cluster no longer holds by its hysteresis (the
        minimum hold and the exit ratio are for price wobbling at a band's edge, not for a
        band the cascade has run through). It is decided afresh at the next read, on its own
        bar, with a new hold from then: after the cascade the side is told "near" only while
        the map still expects a cluster near, not for the hold's remainder with ~$0 left."""
        am = self._assets.get(asset)
        if am is None or side not in am.near_since:
            return
        del am.near_since[side]
        am.near.pop(side, None)
        am.near_sec = -1  # the next read refreshes this second again

    def _refresh_near(self, am: AssetMap, t: float) -> None:
        """Update both sides' near_cluster state, at most once per second of clock."""
        second = math.floor(t)
        if second == am.near_sec:
            return
        am.near_sec = second
        p = self.params
        if p.near_approach_pct > 0.0 and am.price is not None:
            self._sample_extremes(am, second, am.price)
        if am.price is None or t - am.started < p.min_history_s:
            am.near.clear()
            am.near_since.clear()
            am.near_pending.clear()
            return
        if self._stays_clear(am):
            return
        bar: tuple[float, float] | None = None  # (usual, need): read only when a side may reach it
        for long, name in ((True, "long"), (False, "short")):
            since = am.near_since.get(name)
            pending = am.near_pending.pop(name, None)  # put back only while the side waits at the bar
            if since is None:
                # the expectation is at most the bound: under the bar, the side stays clear
                # (the common case, settled without the band-by-band expectation). The bar is
                # never under the floor, so most sides are settled before the usual flow is read.
                bound = self.near_bound(am, long)
                if bound < p.near_cluster_floor_usd:
                    continue
                bar = bar or self._near_bar(am, t)
                if bound < bar[1]:
                    continue
            usual, need = bar = bar or self._near_bar(am, t)
            expected = self.expected_near(am.asset, long, p.near_horizon_s, p.near_pct)
            held = since is not None and (
                t - since < p.near_min_hold_s or expected >= p.near_exit_ratio * need
            )
            if since is None and expected >= need and p.near_confirm_s > 0.0:
                # a one-second touch of the bar is not a cluster the price is heading into
                pending = t if pending is None else pending
                if t - pending < p.near_confirm_s:
                    am.near_pending[name] = pending
                    continue
            if since is None and expected >= need and not self._approached(am, long):
                continue
            if expected >= need or held:
                if since is None:
                    am.near_since[name] = t
                am.near[name] = {
                    "trigger": "near_cluster",
                    "side": name,
                    "expected_usd": round(expected, 0),
                    "horizon_s": p.near_horizon_s,
                    "within_pct": p.near_pct,
                    "usual_hourly_usd": round(usual, 0),
                    "cluster_x": round(expected / usual, 3) if usual > 0 else 0.0,
                    "needs_x": p.near_cluster_mult,
                }
            else:
                am.near.pop(name, None)
                am.near_since.pop(name, None)

    def _approached(self, am: AssetMap, long: bool) -> bool:
        """Price has come toward the side's bands (down for longs, up for shorts) by at least
        `near_approach_pct` within `near_approach_s` (always true when that gate is off)."""
        pct = self.params.near_approach_pct
        if pct <= 0.0 or am.price is None:
            return True
        now = am.price
        if long:
            return 100.0 * (am.near_hi[0][1] - now) / now >= pct
        return 100.0 * (now - am.near_lo[0][1]) / now >= pct

    def _sample_extremes(self, am: AssetMap, second: int, price: float) -> None:
        """Add this second's price to the sliding extremes of the last near_approach_s."""
        oldest = second - self.params.near_approach_s
        hi, lo = am.near_hi, am.near_lo
        while hi and hi[-1][1] <= price:
            hi.pop()
        hi.append((second, price))
        while hi[0][0] < oldest:
            hi.popleft()
        while lo and lo[-1][1] >= price:
            lo.pop()
        lo.append((second, price))
        while lo[0][0] < oldest:
            lo.popleft()

    def _stays_clear(self, am: AssetMap) -> bool:
        """True when `_refresh_near`'s loop would leave both sides clear from the bounds
        `near_bound` holds: neither side raised nor waiting at the bar, and both bounds still
        hold (`_held_bound`) and are under the floor. Each asset is refreshed every second,
        and this is most of them: one call instead of two of `near_bound` and the loop."""
        if am.near_since or am.near_pending:
            return False
        var = _bound_variance(am)
        floor_usd = self.params.near_cluster_floor_usd
        for long in (True, False):
            held = _held_bound(am, long, var)
            if held is None or held >= floor_usd:
                return False
        return True

    def _near_bar(self, am: AssetMap, t: float) -> tuple[float, float]:
        """(usual hourly liquidated USD, the expectation a near cluster needs)."""
        p = self.params
        usual = self.usual_hourly_usd(am.asset, t)
        return usual, max(p.near_cluster_mult * usual, p.near_cluster_floor_usd)

    def _nearest_dense(self, am: AssetMap, long: bool, threshold: float) -> float | None:
        if am.price is None or threshold <= 0:
            return None
        side = am.long if long else am.short
        k = am.price_band
        rng = range(k, am.lo - 1, -1) if long else range(k, am.hi + 1)
        for j in rng:
            if side.get(j, 0.0) >= threshold:
                edge = self.band_low(j + 1) if long else self.band_low(j)
                return round(abs(am.price - edge) / am.price * 100.0, 3)
        return None

    def view(self, asset: str, t: float) -> LiqMapView | None:
        am = self._assets.get(asset)
        if am is None:
            return None
        if am.keep:
            self._settle(am)
        p = self.params
        usual = self.usual_hourly_usd(asset, t)
        dense = max(p.dense_band_usd_mult * usual, p.near_cluster_floor_usd / 10.0)
        keys = sorted(set(am.long) | set(am.short))
        bands = tuple(
            BandView(
                low=self.band_low(j),
                high=self.band_low(j + 1),
                long_usd=am.long.get(j, 0.0),
                short_usd=am.short.get(j, 0.0),
            )
            for j in keys
        )
        return LiqMapView(
            asset=asset,
            ts=t,
            price=am.price,
            band_fraction=p.band_fraction,
            bands=bands,
            long_within={f"{x:g}": self.within(asset, True, x) for x in WITHIN_PCTS},
            short_within={f"{x:g}": self.within(asset, False, x) for x in WITHIN_PCTS},
            nearest_dense_long_pct=self._nearest_dense(am, True, dense),
            nearest_dense_short_pct=self._nearest_dense(am, False, dense),
            dense_band_usd=dense,
            usual_hourly_usd=usual,
            total_long_usd=sum(am.long.values()),
            total_short_usd=sum(am.short.values()),
            coverage=am.matched_usd / am.seen_usd if am.seen_usd > 0 else None,
            seen_per_est=am.matched_usd / am.crossed_usd if am.crossed_usd > 0 else None,
            crossed_usd=am.crossed_usd,
            seen_usd=am.seen_usd,
            near_cluster=self.near_cluster(asset, t),
            trades_seen=am.buy_usd + am.sell_usd > 0.0,
        )

    def version(self, asset: str) -> int:
        """Bumped by every change of the asset's map (lets readers skip rebuilding views)."""
        am = self._assets.get(asset)
        return -1 if am is None else am.version

    def band_usd(self, asset: str) -> tuple[dict[int, float], dict[int, float]]:
        """(long, short) band index -> USD copies, for scoring against the true book."""
        am = self._assets.get(asset)
        if am is None:
            return {}, {}
        if am.keep:
            self._settle(am)
        return dict(am.long), dict(am.short)

    def bands_kept(self, asset: str) -> int:
        am = self._assets.get(asset)
        return (
            0
            if am is None
            else len(am.long)
            + len(am.short)
            + sum(len(d) for d in (*am.venue_long.values(), *am.venue_short.values()))
        )


class LiquidationMapViews:
    """Views for the snapshot, rebuilt per asset only when its map changed or a second passed
    (the near_cluster flag and the usual flow move with the clock)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, int, LiqMapView]] = {}

    def views(self, liqmap: LiquidationMap, t: float) -> tuple[LiqMapView, ...]:
        out: list[LiqMapView] = []
        second = math.floor(t)
        for asset in liqmap.assets:
            version = liqmap.version(asset)
            hit = self._cache.get(asset)
            if hit is not None and hit[0] == version and hit[1] == second:
                out.append(hit[2])
                continue
            view = liqmap.view(asset, t)
            if view is None or view.price is None:
                continue
            self._cache[asset] = (version, second, view)
            out.append(view)
        for gone in set(self._cache) - set(liqmap.assets):
            del self._cache[gone]
        return tuple(out)
