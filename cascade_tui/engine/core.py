"""The engine: pure, synchronous, no I/O, no wall clock.

API (the contract every source, sink and the UI relies on):

    engine = Engine(params: EngineParams | None = None)
    engine.process(ev: Event) -> list[Signal]     # O(1) amortized; clock = ev.recv_ts
    engine.process_frame(events) -> list[Signal]  # one frame's events: all counted, then
                                                  # each touched asset evaluated once
    engine.tick(ts: float) -> list[Signal]        # advance the clock with no event (quiet
                                                  # periods close signals); ts <= clock is a no-op
    engine.snapshot() -> Snapshot                 # immutable view (engine/types.py)
    engine.set_params(params: EngineParams) -> None   # validated; takes effect at once
    engine.params -> EngineParams
    engine.set_feed_status(venue: str, **status) -> None  # connection health shown in snapshot
    engine.record_latency(stage: str, seconds: float) -> None  # stages measured outside the
                                                  # engine (parse, publish) join the snapshot
    engine.stats() -> dict                        # counters for --stats (signals, events,
                                                  # evicted_assets, rejected)
    engine.next_evaluation_ts -> float | None     # engine time a deferred evaluation is due
                                                  # (tick(ts >= it) runs it); None if none

Clock: the engine's time is the receive time of the frame being processed (`recv_ts`), never
`time.time()`. Events are expected in non-decreasing recv_ts order; a late event is processed
at the current clock (counted in stats()["out_of_order"]); a time outside [0, MAX_TS] is
rejected (counted), so an absurd timestamp can neither crash nor freeze the clock.

How the work is split (all O(1) amortized per event):
- per liquidation: decayed rates of its venue, its asset and the market (one exp each), 60 s
  slot rings, occupancy bits, the asset's baseline minute, its venue's print scale, and the
  fast path of its side (burst.py: one decayed sum, checked at once — no cadence delay). A
  burst that fires evaluates the asset at once; otherwise the full score runs at most once per
  EVAL_INTERVAL_S of engine clock per asset (a deferred evaluation at the interval's end);
- per second of engine clock (lazily, when the clock crosses a second): the BTC volatility
  grid and regime, a re-evaluation of every asset that is in an alarm or had a liquidation in
  the last ACTIVE_AFTER_LAST_LIQ_S, and the market-wide state.

Modules: rates (decayed sums, slot rings, occupancy), printscale + burst (the fast path),
side (per-side level machine and price confirmation), market ("*"), baseline, volatility,
prices, openinterest, scoring (the weighted score: WATCH, context, escalation), signals
(levels and episodes), state (per-venue and per-asset holders), latency, views (snapshot
pieces); this module orchestrates them.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Final

from cascade_tui.engine.burst import SideBurst, fires
from cascade_tui.engine.latency import LatencyReservoir
from cascade_tui.engine.liqmap import LiquidationMap, LiquidationMapViews
from cascade_tui.engine.market import MARKET, MARKET_FLOOR_MULT, MarketState
from cascade_tui.engine.params import FACTORS, LEVEL_NAMES, EngineParams, long_window, validate
from cascade_tui.engine.prices import move_from
from cascade_tui.engine.printscale import PrintScale
from cascade_tui.engine.scoring import (
    FLOW_SCORE_INDEX,
    ScoreInputs,
    SurpriseCache,
    occupancy_rate,
    score,
    throttle_correction,
)
from cascade_tui.engine.side import SideState
from cascade_tui.engine.signals import (
    CRITICAL,
    PRICE_CONFIRM_WINDOW_S,
    WARNING,
    WATCH,
    Thresholds,
    level_from_score,
    price_confirm_move,
    thresholds_in_force,
)
from cascade_tui.engine.state import (
    CH_CAPPED_LONG,
    CH_CAPPED_SHORT,
    CH_COUNT,
    CH_USD_LONG,
    CH_USD_SHORT,
    OCCUPANCY_WINDOW_S,
    AssetState,
    AssetVenue,
    FeedStatus,
    VenueFlow,
    direction_of,
)
from cascade_tui.engine.types import Signal, Snapshot, TapeEntry
from cascade_tui.engine.views import asset_view, velocities, venue_view, volatility_view
from cascade_tui.engine.volatility import BtcVolatility
from cascade_tui.model import (
    EVENT_KINDS,
    LONG,
    SHORT,
    Event,
    Funding,
    Liquidation,
    Mark,
    OpenInterest,
    Trade,
)

SNAPSHOT_VERSION: Final = 1
SIGNAL_VERSION: Final = 1
TAPE_LEN: Final = 200
SIGNALS_LEN: Final = 500
# an asset is re-evaluated each second this long after its last liquidation (its 60 s window
# is empty by then, so it can only be at level 0)
ACTIVE_AFTER_LAST_LIQ_S: Final = 65.0
MAX_SWEEP_SECONDS: Final = 600  # a longer clock jump sweeps its first 600 s, then its end
MAX_TS: Final = 1.0e11  # receive times beyond this (year 5138) are rejected, not run
DOWN_STATES: Final = frozenset({"stale", "blocked", "disabled"})
EVAL_INTERVAL_S: Final = 0.1  # engine seconds between liquidation-triggered evaluations of an asset
EVICT_SWEEP_S: Final = 60  # idle assets are looked for once a minute
EVICT_BATCH_SHARE: Final = 0.05  # at the cap, evict this share of the assets at once (amortized)
# the per-second sweep evaluates a quiet asset (no print since its last evaluation, score
# under this share of WATCH, no burst to speak of, no alarm) only every few seconds
QUIET_SCORE_SHARE: Final = 0.5
QUIET_BURST_X: Final = 0.05
QUIET_EVAL_EVERY_S: Final = 5
DOMINANCE_TURN: Final = 1.5  # the other side must have 1.5× the units for the score to turn
_INF: Final = math.inf
_LEVEL_KEYS: Final = LEVEL_NAMES[1:]
_isfinite = math.isfinite
_floor = math.floor


class _Keep:
    """Sentinel type: "leave this feed-status field as it is"."""


KEEP: Final = _Keep()


class Engine:
    """Liquidation velocity, BTC volatility regime, OI/funding, cascade scores and signals."""

    def __init__(self, params: EngineParams | None = None, venue_order: Sequence[str] = ()) -> None:
        # display order of venues (the venue registry's, handed in: the engine imports no feeds)
        self._venue_rank = {v: i for i, v in enumerate(venue_order)}
        self._params = validate(params or EngineParams())
        self._params_version = 0
        self._clock: float | None = None
        self._sec = 0  # current engine second
        self._next_boundary = math.inf
        self._started: float | None = None
        self._events_total = 0
        self._sec_events = 0  # events in the current engine second
        self._recent_events: deque[int] = deque(maxlen=5)  # events in each of the last 5 seconds
        self._venues: dict[str, VenueFlow] = {}
        self._assets: dict[str, AssetState] = {}
        self._active: dict[str, AssetState] = {}
        self._due: dict[str, AssetState] = {}  # assets with a deferred evaluation pending
        self._next_due = _INF  # the earliest eval_due among them
        self._frame: dict[str, AssetState] | None = None  # assets touched by the frame in process
        self._market = MarketState(0.0, 0, self._usd_floor("BTC"), self._params.baseline_halflife_s)
        self._market_direction = LONG  # direction of the open market episode
        self._vol = BtcVolatility()
        self._multiplier = 1.0
        self._expansion: float | None = None
        self._thresholds: Thresholds = thresholds_in_force(self._params, self._vol.regime.name)
        self._weights: dict[str, float] = {}
        self._feeds: dict[str, FeedStatus] = {}
        self._latency: dict[str, LatencyReservoir] = {}
        self._tape: deque[TapeEntry] = deque(maxlen=TAPE_LEN)
        self._signals: deque[Signal] = deque(maxlen=SIGNALS_LEN)
        self._inp = ScoreInputs()
        self._surprise = SurpriseCache()
        # counters for stats()
        self._kind_counts: dict[str, int] = dict.fromkeys(EVENT_KINDS, 0)
        self._signal_counts: dict[str, int] = dict.fromkeys(_LEVEL_KEYS, 0)
        self._out_of_order = 0
        self._rejected = 0
        self._bad_time = 0
        self._evicted = 0
        # the estimated liquidation map (engine/liqmap.py): fed OI, trades, marks and
        # liquidations; its near_cluster context may raise WATCH (never more) on a quiet side
        self.liqmap = LiquidationMap()
        self._liqmap_views = LiquidationMapViews()

    # ------------------------------------------------------------------ public API

    @property
    def params(self) -> EngineParams:
        return self._params

    def set_params(self, params: EngineParams) -> None:
        """Validate and apply at once; thresholds in force are always base × regime factor."""
        self._params = validate(params)
        self._params_version += 1
        self._weights.clear()
        self._thresholds = thresholds_in_force(params, self._vol.regime.name)
        f = params.fast
        for st in self._assets.values():
            st.usd_floor = self._usd_floor(st.asset)
            st.baseline.usd_floor = st.usd_floor
            st.baseline.set_halflife(params.baseline_halflife_s)
            prior = self._prior_print(st.asset)
            st.pooled_scale.configure(prior, f.scale_quantile, f.scale_halflife_s, f.learn_prints)
            for av in st.venues.values():
                av.scale.configure(prior, f.scale_quantile, f.scale_halflife_s, f.learn_prints)
            st.long.burst.set_taus(f.tau_s, f.background_tau_s, f.long_tau_s)
            st.short.burst.set_taus(f.tau_s, f.background_tau_s, f.long_tau_s)
        self._market.baseline.usd_floor = MARKET_FLOOR_MULT * self._usd_floor("BTC")
        self._market.baseline.set_halflife(params.baseline_halflife_s)
        if len(self._assets) > params.max_assets:
            self._evict(len(self._assets) - params.max_assets)

    def set_feed_status(
        self,
        venue: str,
        *,
        state: str | None = None,
        state_detail: str | None = None,
        last_message_age_s: float | _Keep | None = KEEP,
        frames: int | None = None,
        parse_errors: int | None = None,
        reconnects: int | None = None,
        failure: str | None = None,
    ) -> None:
        """Connection health from the runtime; a stale/blocked/disabled venue weighs 0.

        Arguments left out keep their previous value; `last_message_age_s=None` means unknown.
        """
        fs = self._feeds.get(venue)
        if fs is None:
            fs = self._feeds[venue] = FeedStatus()
        if state is not None:
            fs.state = state
        if state_detail is not None:
            fs.state_detail = state_detail
        if not isinstance(last_message_age_s, _Keep):
            fs.last_message_age_s = last_message_age_s
        if frames is not None:
            fs.frames = frames
        if parse_errors is not None:
            fs.parse_errors = parse_errors
        if reconnects is not None:
            fs.reconnects = reconnects
        if failure is not None:
            fs.failure = failure
        self._weights.pop(venue, None)

    def record_latency(self, stage: str, seconds: float) -> None:
        res = self._latency.get(stage)
        if res is None:
            res = self._latency[stage] = LatencyReservoir()
        if not res.add(seconds):
            self._rejected += 1

    def process(self, ev: Event) -> list[Signal]:
        out: list[Signal] = []
        t = ev.recv_ts
        clock = self._clock
        if (
            type(t) is float
            and clock is not None
            and clock <= t < self._next_boundary
            and t < self._next_due
            and t <= MAX_TS
        ):
            # the common case, an event within the current second with nothing deferred due
            # by then: all `_advance_to` would do is move the clock (runs for every event)
            self._clock = t
        else:
            t = self._advance_to(t, out)  # type: ignore[assignment]
            if t is None:
                return out
        # the map's handler of each kind is called directly (what `liqmap.on_event` picks);
        # kinds in order of how often they come
        kind = type(ev)
        if kind is Mark:
            self._on_price(ev, t, False)  # type: ignore[arg-type]
            self.liqmap.on_price(ev.asset, ev.price, t)  # type: ignore[union-attr]
        elif kind is Funding:
            self._on_funding(ev, t)  # type: ignore[arg-type]
        elif kind is OpenInterest:
            self._on_open_interest(ev, t)  # type: ignore[arg-type]
            self.liqmap.on_open_interest(ev, t)  # type: ignore[arg-type]
        elif kind is Trade:
            self._on_price(ev, t, True)  # type: ignore[arg-type]
            self.liqmap.on_trade(ev, t)  # type: ignore[arg-type]
        elif kind is Liquidation:
            self._on_liquidation(ev, t, out)  # type: ignore[arg-type]
            self.liqmap.on_liquidation(ev, t)  # type: ignore[arg-type]
        else:
            self._rejected += 1
        return out

    def process_frame(self, events: Iterable[Event]) -> list[Signal]:
        """One frame's events (a venue batch): every print is counted first, then each asset
        the frame touched is evaluated once, at the frame's receive time. Signals are the same
        as `process` for each event would give at the frame's end, for less work."""
        out: list[Signal] = []
        touched: dict[str, AssetState] = {}
        self._frame = touched
        try:
            for ev in events:
                out.extend(self.process(ev))
        finally:
            self._frame = None
        if touched and self._clock is not None:
            t = self._clock
            for st in touched.values():
                self._schedule(st, t, out)
        return out

    @property
    def next_evaluation_ts(self) -> float | None:
        """Engine time of the earliest deferred evaluation, None when none is pending.

        A live runtime with no frame arriving can `tick()` the engine at this time so a
        deferred signal is not held until the next frame."""
        return None if self._next_due == _INF else self._next_due

    def tick(self, ts: float) -> list[Signal]:
        out: list[Signal] = []
        clock = self._clock
        if (
            type(ts) is float
            and clock is not None
            and clock < ts < self._next_boundary
            and ts < self._next_due
            and ts <= MAX_TS
        ):
            # the common case, a frame within the current second with nothing deferred due by
            # then: only the clock moves (runs for every frame)
            self._clock = ts
            return out
        try:
            ok = _isfinite(ts) and 0.0 <= ts <= MAX_TS
        except TypeError:
            ok = False
        if not ok or self._clock is None or ts <= self._clock:
            return out
        if ts >= self._next_boundary:
            self._cross_seconds(ts, out)  # runs the deferred evaluations in between too
        elif ts >= self._next_due:
            self._run_due(ts, out)
        self._clock = ts
        return out

    def side_state(self, asset: str, side: str) -> tuple[int, dict[str, float | str]]:
        """(level, why) in force on one side of an asset now — what the dashboard's score
        detail shows for the side it shows; (0, {}) for an asset the engine does not hold."""
        st = self._assets.get(asset)
        if st is None:
            return 0, {}
        ss = st.long if side == LONG else st.short
        return ss.level.level, ss.why

    def stats(self) -> dict[str, Any]:
        liquidations = {
            v: {
                "long": {"count": f.long_count, "usd": f.long_usd},
                "short": {"count": f.short_count, "usd": f.short_usd},
            }
            for v, f in self._venues.items()
        }
        return {
            "events": dict(self._kind_counts),
            "events_total": self._events_total,
            "signals": dict(self._signal_counts),
            "out_of_order": self._out_of_order,
            "rejected": self._rejected,
            "bad_time": self._bad_time,
            "liquidations": liquidations,
            "assets": len(self._assets),
            "evicted_assets": self._evicted,
            "params_version": self._params_version,
        }

    # ------------------------------------------------------------------ clock

    def _advance_to(self, t: float, out: list[Signal]) -> float | None:
        """Move the clock to an event's receive time; None (counted) for a time to reject."""
        try:
            ok = _isfinite(t) and 0.0 <= t <= MAX_TS
        except TypeError:  # a hand-built event with a non-numeric time
            ok = False
        if not ok:
            self._rejected += 1
            self._bad_time += 1
            return None
        clock = self._clock
        if clock is None:
            self._start(float(t))
        elif t < clock:
            self._out_of_order += 1
            t = clock
        elif t >= self._next_boundary:
            self._cross_seconds(t, out)  # runs the deferred evaluations in between too
        elif t >= self._next_due:
            self._run_due(t, out)
        self._clock = t
        return t

    def _start(self, t: float) -> None:
        self._started = t
        sec = _floor(t)
        self._sec = sec
        self._next_boundary = float(sec + 1)
        self._market = MarketState(t, sec, self._usd_floor("BTC"), self._params.baseline_halflife_s)

    def _cross_seconds(self, t: float, out: list[Signal]) -> None:
        """Run the per-second bookkeeping for every second boundary in (clock, t]."""
        new_sec = _floor(t)
        first = self._sec + 1
        seconds = range(first, new_sec + 1)
        if len(seconds) > MAX_SWEEP_SECONDS:
            # after 10 quiet minutes every score has decayed; sweep the rest at its end only
            seconds = [*range(first, first + MAX_SWEEP_SECONDS), new_sec]  # type: ignore[assignment]
        for s in seconds:
            if self._next_due <= s:
                self._run_due(float(s), out)
            self._on_second(s, out)
        if self._next_due <= t:
            self._run_due(t, out)
        self._sec = new_sec
        self._next_boundary = float(new_sec + 1)

    def _on_second(self, sec: int, out: list[Signal]) -> None:
        ts = float(sec)
        p = self._params
        vol = self._vol
        self._recent_events.append(self._sec_events)
        self._sec_events = 0
        vol.advance(sec, ts, p.regime)
        self._expansion = vol.expansion()
        self._multiplier = vol.multiplier_at(p.regime, self._expansion)
        self._thresholds = thresholds_in_force(p, vol.regime.name)
        self._market.baseline.roll(sec // 60)
        if sec % EVICT_SWEEP_S == 0:
            self._evict_idle(ts)
        near_names = set(self.liqmap.assets_near(ts))
        for name in near_names:  # a near cluster keeps its asset evaluated
            near = self._assets.get(name)
            if near is not None:
                self._active[name] = near
        if not self._active:
            self._update_market(ts, sec, out)
            return
        done: list[str] = []
        due = self._due
        quiet_below = QUIET_SCORE_SHARE * self._thresholds.enter[0]
        for name, st in self._active.items():
            if st.eval_due != _INF:  # this sweep covers the deferred evaluation
                st.eval_due = _INF
                del due[name]
            elif (
                st.last_eval_ts >= st.last_liq_ts
                and sec % QUIET_EVAL_EVERY_S
                and name not in near_names
                and st.score < quiet_below
                and not st.in_alarm()
                and st.long.x < QUIET_BURST_X
                and st.short.x < QUIET_BURST_X
            ):
                # quiet: nothing printed since its last evaluation, far from any threshold,
                # so its flow can only decay; it is looked at every few seconds, not each
                st.history.record(sec, st.score)
                continue
            self._evaluate(st, ts, sec, out)
            st.history.record(sec, st.score)
            if not st.in_alarm() and ts - st.last_liq_ts > ACTIVE_AFTER_LAST_LIQ_S:
                done.append(name)
        for name in done:
            del self._active[name]
        self._next_due = min((st.eval_due for st in due.values()), default=_INF)
        self._update_market(ts, sec, out)

    # ------------------------------------------------------------------ assets

    def _venue_weight(self, venue: str) -> float:
        w = self._weights.get(venue)
        if w is None:
            fs = self._feeds.get(venue)
            w = (
                0.0
                if fs is not None and fs.state in DOWN_STATES
                else self._params.venue_weights.get(venue, 1.0)
            )
            self._weights[venue] = w
        return w

    def _usd_floor(self, asset: str) -> float:
        floors = self._params.gates.usd_floor
        return floors.get(asset, floors.get("default", 0.0))

    def _prior_print(self, asset: str) -> float:
        priors = self._params.fast.prior_print_usd
        return priors.get(asset, priors.get("default", 1_000.0))

    def _asset(self, asset: str, t: float) -> AssetState:
        st = self._assets.get(asset)
        if st is None:
            p = self._params
            if len(self._assets) >= p.max_assets:
                self._evict(max(1, int(p.max_assets * EVICT_BATCH_SHARE)))
            f = p.fast
            st = AssetState(
                asset,
                _floor(t),
                t,
                self._usd_floor(asset),
                p.baseline_halflife_s,
                f.tau_s,
                f.background_tau_s,
                PrintScale(self._prior_print(asset), f.scale_quantile, f.scale_halflife_s, f.learn_prints),
                f.long_tau_s,
            )
            self._assets[asset] = st
        st.last_seen = t
        return st

    def _asset_venue(self, st: AssetState, venue: str, sec: int) -> AssetVenue:
        av = st.venues.get(venue)
        if av is None:
            f = self._params.fast
            scale = PrintScale(
                self._prior_print(st.asset), f.scale_quantile, f.scale_halflife_s, f.learn_prints
            )
            av = st.venues[venue] = AssetVenue(sec, scale)
        return av

    def _evict(self, n: int) -> None:
        """Drop the n least recently seen assets that have no alarm open (counted)."""
        idle = sorted((st.last_seen, name) for name, st in self._assets.items() if not st.in_alarm())
        for _, name in idle[:n]:
            self._drop(name)

    def _evict_idle(self, t: float) -> None:
        limit = self._params.idle_evict_s
        stale = [name for name, st in self._assets.items() if t - st.last_seen > limit and not st.in_alarm()]
        for name in stale:
            self._drop(name)

    def _drop(self, name: str) -> None:
        del self._assets[name]
        self._active.pop(name, None)
        if self._due.pop(name, None) is not None:
            self._next_due = min((st.eval_due for st in self._due.values()), default=_INF)
        self._market.breadth.pop(name, None)
        self.liqmap.forget(name)
        for book in self._market.bursts.values():
            book.pop(name, None)
        for firing in self._market.firing.values():
            firing.discard(name)
        self._evicted += 1

    # ------------------------------------------------------------------ events

    def _on_liquidation(self, ev: Liquidation, t: float, out: list[Signal]) -> None:
        usd = ev.usd
        side = ev.side
        if not (_isfinite(usd) and usd >= 0.0 and _isfinite(ev.price) and side in (LONG, SHORT) and ev.asset):
            self._rejected += 1
            return
        sec = self._sec
        weight = self._weights.get(ev.venue)
        if weight is None:
            weight = self._venue_weight(ev.venue)
        self._record_venue(ev, t, sec, usd, weight)
        st = self._counted_asset("liquidation", ev.asset, t)
        units = self._record_asset(st, ev, t, sec, usd, weight)
        if usd >= self._params.tape_min_usd:
            self._tape.append(
                TapeEntry(
                    ts=t,
                    event_ts=ev.event_ts,
                    venue=ev.venue,
                    asset=ev.asset,
                    instrument=ev.instrument,
                    side=side,
                    price=ev.price,
                    usd=usd,
                    sampled=ev.sampled,
                )
            )
        if self._frame is not None:
            self._frame[st.asset] = st  # evaluated once the whole frame is counted
        elif units > 0.0:
            self._schedule(st, t, out, st.long if side == LONG else st.short)
        elif t - st.last_eval_ts >= EVAL_INTERVAL_S:
            self._evaluate_now(st, t, out)

    def _schedule(self, st: AssetState, t: float, out: list[Signal], only: SideState | None = None) -> None:
        """After new prints (on side `only`, or either): evaluate at once when a side's burst
        fires (the fast path, no cadence delay) or the cadence allows, else defer to the end
        of the interval."""
        sides = (only,) if only is not None else (st.long, st.short)
        if t - st.last_eval_ts >= EVAL_INTERVAL_S or any(
            ss.level.level < WARNING and self._burst_fires(st, ss, t) for ss in sides
        ):
            self._evaluate_now(st, t, out)
        elif st.eval_due == _INF:
            due = st.eval_due = st.last_eval_ts + EVAL_INTERVAL_S
            self._due[st.asset] = st
            if due < self._next_due:
                self._next_due = due

    def _record_venue(self, ev: Liquidation, t: float, sec: int, usd: float, weight: float) -> None:
        """The venue's flow: rates, sparkline ring, occupancy and side totals."""
        venue = ev.venue
        vf = self._venues.get(venue)
        if vf is None:
            vf = self._venues[venue] = VenueFlow(venue, sec, t)
        vf.sampled = vf.sampled or ev.sampled
        vf.rates.add(t, usd, weight, not ev.sampled)
        vf.ring.add_row(sec, (1.0, usd))  # CH_VENUE_COUNT, CH_VENUE_USD
        vf.occ.mark(sec)
        vf.last_event_ts = t
        if ev.side == LONG:
            vf.long_count += 1
            vf.long_usd += usd
        else:
            vf.short_count += 1
            vf.short_usd += usd

    def _record_asset(
        self, st: AssetState, ev: Liquidation, t: float, sec: int, usd: float, weight: float
    ) -> float:
        """Asset scope (rates, 60 s window, baseline, print scale, the side's burst sum) and the
        market's sums; returns the large-print units the print added to its side's burst."""
        venue = ev.venue
        sampled = ev.sampled
        f = self._params.fast
        av = st.venues.get(venue) or self._asset_venue(st, venue, sec)
        av.last_ts = t
        boost = 1.0
        if sampled:
            av.sampled = True
            av.occ.mark(sec)
            # a 1-per-second feed shows ~1 - e^-λ of λ prints/s: a print in a run of occupied
            # seconds stands for several (§3.2), so its units are scaled up
            boost = throttle_correction(av.occ.occupied(sec, f.sampled_occupancy_s), f.sampled_occupancy_s)
        scale = av.scale
        pooled = st.pooled_scale
        # a venue still learning its own prints borrows the asset's (all venues'), once that
        # is learnt: better than the prior, which can be far off for the first minutes
        unit_usd = scale.scale if scale.n >= scale.learn_prints or pooled.n < pooled.learn_prints else pooled.scale
        units_one = usd / unit_usd
        cap = f.print_cap
        units = (units_one if units_one < cap else cap) * boost * weight
        scale.add(t, usd)
        pooled.add(t, usd)
        is_long = ev.side == LONG
        ss = st.long if is_long else st.short
        if weight:
            # fills of one order count once: what the burst took is what every capped sum takes
            units = ss.burst.add(
                t, units, cap * boost * weight, (venue, ev.event_ts, ev.price), units_one >= f.large_x,
                f.big_x != 0.0 and units_one >= f.big_x,
            )  # fmt: skip
            if f.long_tau_s:
                ss.occ.mark(sec)
            if ev.price > 0.0 and ss.liq_price.accepts(venue, ev.instrument, False, t):
                ss.liq_price.update(sec, t, ev.price)
        capped_usd = units * unit_usd  # weighted, whale-capped, throttle-scaled USD
        # market scope
        mk = self._market
        mk.rates.add(t, usd, weight, not sampled, capped_usd / weight if weight else 0.0)
        # three of the five channels: the count, the side's USD and its capped USD
        ch_usd, ch_capped = (CH_USD_LONG, CH_CAPPED_LONG) if is_long else (CH_USD_SHORT, CH_CAPPED_SHORT)
        mk.win60.add_three(sec, CH_COUNT, 1.0, ch_usd, usd, ch_capped, capped_usd)
        mk.venues[venue] = t
        mk.baseline.add(sec // 60, weight, usd, sampled)
        # asset scope
        st.rates.add(t, usd, weight, not sampled, capped_usd / weight if weight else 0.0)
        st.win60.add_three(sec, CH_COUNT, 1.0, ch_usd, usd, ch_capped, units)
        st.occ.mark(sec)
        st.baseline.add(sec // 60, weight, usd, sampled)
        st.last_liq_ts = t
        self._active[st.asset] = st
        return units

    def _burst_fires(self, st: AssetState, ss: SideState, t: float) -> bool:
        s, large, bg, x, prints_bar, _ = self._short_burst(ss.burst, t)
        fired = fires(x, large, prints_bar) and self._big_print(ss.burst, t)
        if not fired and self._params.fast.long_tau_s:
            fired = self._long_x(st, ss, t, bg) >= 1.0
        return fired and not self._other_side_leads(st, ss, t, s)

    def _big_print(self, b: SideBurst, t: float) -> bool:
        """The side had a big print within big_window_s (or the rule is off)."""
        f = self._params.fast
        return f.big_x == 0.0 or t - b.big_t <= f.big_window_s

    def _short_burst(self, b: SideBurst, t: float) -> tuple[float, float, float, float, float, bool]:
        """The burst test's reading at t: (units, large prints, background units, burst_x,
        large prints needed, whether the quick lane holds). The quick lane needs only
        quick_prints large prints when they all came within quick_window_s with units at
        quick_x times their bar: a cascade's large prints arrive together, and big."""
        f = self._params.fast
        s, large, bg, bgl = b.at(t)
        x = s / b.bar(bg, f.units_to_fire, f.background_mult)
        quick = bool(f.quick_prints) and x >= f.quick_x and b.quick(
            t, f.quick_prints, f.quick_window_s, bgl, f.quick_chance_per_day
        )
        # quick: the prints are counted exactly in the quick window, no decayed count is needed
        prints_bar = 0.0 if quick else b.large_bar(bgl, f.large_prints, f.background_mult)
        return s, large, bg, x, prints_bar, quick

    def _long_x(self, st: AssetState, ss: SideState, t: float, bg: float) -> float:
        """The slow lane's burst_x, 0 while the side's prints filled fewer than long_seconds
        of the last long_tau_s (a short cluster is not a build-up)."""
        f = self._params.fast
        if ss.occ.occupied(_floor(t), long_window(f)) < f.long_seconds:
            return 0.0
        b = ss.burst
        s = b.at_long(t)
        x = s / b.bar(bg, f.long_units, f.long_mult, b.tau_long)
        if x >= f.exit_x:
            other = st.short if ss is st.long else st.long
            if other.burst.at_long(t) * f.long_dominance > s:
                return 0.0
        return x

    @staticmethod
    def _other_side_leads(st: AssetState, ss: SideState, t: float, units: float) -> bool:
        """True when the asset's other side is in an alarm or has more burst units than this
        one: a cascade liquidates one side, while a volatile market (or the aftershocks of a
        cascade) liquidates both; a side that does not lead its asset does not open one."""
        other = st.short if ss is st.long else st.long
        return other.level.level >= WARNING or other.burst.at(t)[0] > units

    def _evaluate_now(self, st: AssetState, t: float, out: list[Signal]) -> None:
        if st.eval_due != _INF:  # this evaluation covers the deferred one
            st.eval_due = _INF
            del self._due[st.asset]
            self._next_due = min((s.eval_due for s in self._due.values()), default=_INF)
        st.last_eval_ts = t
        sec = self._sec
        before = st.long.level.level, st.short.level.level
        self._evaluate(st, t, sec, out)
        if (st.long.level.level, st.short.level.level) != before or max(st.long.x, st.short.x) >= 1.0:
            self._update_market(t, sec, out)

    def _run_due(self, limit: float, out: list[Signal]) -> None:
        """Run the deferred evaluations due at or before `limit`, each at its own due time
        (in due order; ties in the order they were deferred), so results never depend on
        when the next event happened to arrive."""
        due = self._due
        ready = sorted((st for st in due.values() if st.eval_due <= limit), key=lambda st: st.eval_due)
        for st in ready:
            t = st.eval_due
            st.eval_due = _INF
            del due[st.asset]
            st.last_eval_ts = t
            sec = _floor(t)
            before = st.long.level.level, st.short.level.level
            self._evaluate(st, t, sec, out)
            if (st.long.level.level, st.short.level.level) != before or max(st.long.x, st.short.x) >= 1.0:
                self._update_market(t, sec, out)
        self._next_due = min((st.eval_due for st in due.values()), default=_INF)

    def _counted_asset(self, kind: str, asset: str, t: float) -> AssetState:
        """Count an accepted event of `kind` and return its asset (`_asset(asset, t)`), the
        known asset without a second call: every accepted event comes through here."""
        self._kind_counts[kind] += 1
        self._events_total += 1
        self._sec_events += 1
        st = self._assets.get(asset)
        if st is None:
            return self._asset(asset, t)
        st.last_seen = t
        return st

    def _on_price(self, ev: Trade | Mark, t: float, is_trade: bool) -> None:
        price = ev.price
        if not (_isfinite(price) and price > 0.0 and ev.asset):
            self._rejected += 1
            return
        st = self._counted_asset("trade" if is_trade else "mark", ev.asset, t)
        trail = st.price
        if trail.accepts(ev.venue, ev.instrument, is_trade, t):
            trail.update(self._sec, t, price)
            if ev.asset == "BTC":
                self._vol.on_price(self._sec, price)

    def _on_open_interest(self, ev: OpenInterest, t: float) -> None:
        if not (_isfinite(ev.oi) and ev.oi >= 0.0 and ev.asset):
            self._rejected += 1
            return
        st = self._counted_asset("open_interest", ev.asset, t)
        st.oi.update(ev.venue, ev.instrument, self._sec // 60, ev.oi)

    def _on_funding(self, ev: Funding, t: float) -> None:
        if not (_isfinite(ev.rate) and _isfinite(ev.interval_h) and ev.interval_h > 0.0 and ev.asset):
            self._rejected += 1
            return
        self._counted_asset("funding", ev.asset, t).funding.update(ev.venue, ev.rate, ev.interval_h, t)

    # ------------------------------------------------------------------ scoring and signals

    def _evaluate(self, st: AssetState, t: float, sec: int, out: list[Signal]) -> None:
        """Score the asset at t (for display, WATCH, context and escalation), run each side's
        burst test, and move each side's level state machine."""
        p = self._params
        inp = self._inp
        wcount5, wcount60, wusd20, full5 = st.rates.score_sums_at(t)
        sampled_rate: float | None = None
        most_occupied = 0
        weights = self._weights
        for venue, av in st.venues.items():
            if av.sampled and (weights.get(venue) or self._venue_weight(venue)) > 0.0:
                occupied = av.occ.occupied(sec, OCCUPANCY_WINDOW_S)
                most_occupied = max(most_occupied, occupied)
                sampled_rate = (sampled_rate or 0.0) + occupancy_rate(occupied, OCCUPANCY_WINDOW_S)
        inp.sampled_occupancy = most_occupied / OCCUPANCY_WINDOW_S
        win = st.win60
        win.advance(sec)
        sums = win.sums
        units_long = sums[CH_CAPPED_LONG]
        units_short = sums[CH_CAPPED_SHORT]
        # the score speaks for one side; it turns only when the other side clearly leads
        if st.dominant == LONG and units_short > DOMINANCE_TURN * units_long:
            st.dominant = SHORT
        elif st.dominant == SHORT and units_long > DOMINANCE_TURN * units_short:
            st.dominant = LONG
        bl = st.baseline
        inp.count5_full = full5
        inp.sampled_rate = sampled_rate
        inp.r5 = wcount5 / 5.0
        inp.r60 = wcount60 / 60.0
        inp.u20 = wusd20
        inp.units60 = units_long + units_short
        inp.base_rate_full = bl.rate_full
        inp.base_rate_sampled = bl.rate_sampled
        inp.base_usd20 = bl.usd_20s
        inp.floor_units = p.gates.floor_units
        inp.oi_change_5m = st.oi.change(sec // 60, "5m") if st.oi.tracks else None
        inp.funding_ann = st.funding.annualized()
        inp.direction_sign = -1 if st.dominant == LONG else 1
        inp.vol_expansion = self._expansion
        st.score, st.components, st.raw = score(inp, p, self._multiplier, self._surprise)
        events = round(sums[CH_COUNT])
        for ss in (st.long, st.short):
            units_side = units_long if ss.side == LONG else units_short
            desired = self._desired_level(st, ss, t, sec, events, units_side)
            below_warning = ss.level.level < WARNING
            tr = ss.level.step(st.asset, t, desired, p)
            if tr is not None:
                if tr.state == "open":
                    ss.peak_x = ss.x
                    ss.slow_open = False
                if below_warning and tr.level >= WARNING:
                    ss.warn_px = {"trades": st.price.last, "liquidations": ss.liq_price.last}
                    if ss.why.get("lane") == "slow":
                        ss.slow_open, ss.peak_x = True, 0.0
                if tr.state == "close":
                    ss.peak_x = 0.0
                self._emit(
                    out,
                    t,
                    st.asset,
                    tr.level,
                    tr.state,
                    tr.episode,
                    st.score,
                    dict(zip(FACTORS, st.components, strict=True)),
                    ss.side,
                    st.venues_60s(t),
                    ss.why,
                )
            ss.burst.frozen = ss.level.level >= WARNING
            self._market.report_burst(st.asset, ss.side, t, ss.x, p.market.burst_min_x, ss.level.level)
        alarm = max(st.long.level.level, st.short.level.level)
        frozen = alarm >= WARNING  # a cascade must not raise its own baselines or print scales
        bl.frozen = frozen
        st.pooled_scale.frozen = frozen
        for av in st.venues.values():
            av.scale.frozen = frozen
        if alarm >= p.market.breadth_level:
            self._market.breadth[st.asset] = (t, alarm, st.score)

    def _desired_level(
        self, st: AssetState, ss: SideState, t: float, sec: int, events: int, units_side: float
    ) -> int:
        """The level one side supports, and its `why` (which test holds it, which gate holds
        the next level).

        WARNING opens from the fast path (the side's burst test) only; once open, the weighted
        score with its gates (enough prints over 2+ seconds, the flow factors at WATCH alone,
        the side's large-print units over 60 s at the floor, a partial burst) also holds it.
        WATCH comes from the score or a partial burst. CRITICAL needs a WARNING-level cascade
        that is intense (its burst peaked at critical_x, or the score is at CRITICAL) AND a
        confirmed price move in its direction, from trades, marks or the side's own
        liquidation prices — never without — part of which came after the side's WARNING
        opened (fast.after_warning_share).
        """
        p = self._params
        f = p.fast
        th = self._thresholds
        s, n, bg, x, prints_bar, quick = self._short_burst(ss.burst, t)
        x_long = self._long_x(st, ss, t, bg) if f.long_tau_s else 0.0
        ss.x, ss.prints = x, n
        level = ss.level.level
        if level >= WARNING:  # the side's own cascade runs through its near cluster, if any
            self.liqmap.restart_near(st.asset, ss.side)
        if level == 0 and ss.side != st.dominant and x < f.exit_x and x_long < 1.0:
            # nothing on this side: no score, no burst (the common case, kept cheap)
            ss.why = {"trigger": "none", "burst_x": round(x, 3)}
            return self._near_cluster_watch(st, ss, t)
        at_bars = fires(x, n, prints_bar)  # units and large prints; the big print read apart
        fired_short = at_bars and self._big_print(ss.burst, t)
        if ss.level.episode is not None and x > ss.peak_x and (not ss.slow_open or fired_short):
            # an episode the slow lane opened is intense only by a burst of its own (its
            # large prints at their bar): units alone, without them, never make it CRITICAL
            ss.peak_x = x
        why: dict[str, float | str] = {
            "burst_x": round(x, 3),
            "large_prints": round(n, 1),
            "needs_large": round(prints_bar, 1),
            "score": round(st.score, 3),
        }
        if x_long:
            why["long_x"] = round(x_long, 3)
        if quick:
            # the quick lane holds: its prints came together, the decayed count need not rise
            why["quick_prints"] = f.quick_prints
        if events == 0:
            why["trigger"] = "quiet"
            ss.why = why
            # no liquidations, no liquidation cascade (OI/funding/vol alone never alarm); the
            # liquidation map may only say WATCH: price is near a dense band of this side
            return self._near_cluster_watch(st, ss, t)
        # the fast path
        burst_level = 0
        fired = fired_short or x_long >= 1.0
        led = fired and level < WARNING and self._other_side_leads(st, ss, t, s)
        if (level >= WARNING and max(x, x_long) >= f.exit_x) or (fired and not led):
            burst_level = WARNING
        elif (x >= f.watch_x and n >= f.watch_prints_share * prints_bar) or (level >= WATCH and x >= f.exit_x):
            burst_level = WATCH  # a partial burst: part of the units and of the prints (never one whale)
        # the weighted score speaks for the dominant side only
        score_level = 0
        score_gate = ""
        if ss.side == st.dominant:
            score_level = level_from_score(st.score, min(level, CRITICAL), th)
            if score_level >= WARNING and level < WARNING:
                # WARNING opens from the fast path only: the score is an asset's, not a side's
                # (a whale on the other side lifts it), and on the validation markets its own
                # WARNINGs were 2 of 5 false ones for 5 minor cascades of 53 (all at WATCH)
                score_gate = "fast_path"
                score_level = WATCH
            elif score_level >= WARNING:
                # a side at WARNING: the score holds it (and speaks for CRITICAL) while the
                # gates below hold
                g = p.gates
                # events must also span 2+ seconds: one print split into fills is still one
                enough = events >= g.min_events and st.occ.occupied(sec, 60) >= min(2, g.min_events)
                # the flow factors alone must stay at WATCH: OI, funding and vol cannot carry it
                flow_ok = st.raw[FLOW_SCORE_INDEX] >= th.enter[0] - th.exit_gap
                floor_ok = units_side >= g.floor_units
                # the side's own large prints must be there too (at least a partial burst)
                burst_ok = burst_level >= WATCH
                if not (enough and flow_ok and floor_ok and burst_ok):
                    score_gate = (
                        "events" if not enough else "flow" if not flow_ok else "units_floor" if not floor_ok
                        else "burst"
                    )  # fmt: skip
                    score_level = WATCH
        desired = max(burst_level, min(score_level, WARNING))
        if desired == 0:
            why["trigger"] = "none"
        elif burst_level >= score_level:
            why["trigger"] = "burst" if burst_level >= WARNING or level < WARNING else "burst_fading"
            if fired and not fired_short:
                why["lane"] = "slow"  # the build-up over long_tau_s, not a burst within tau_s
        else:
            why["trigger"] = "score"
        if score_gate:
            why["score_held_by"] = score_gate  # the score is high but its gate holds WARNING
        if desired < WARNING:
            why["held_by"] = (
                "other_side" if led else "burst" if x < 1.0 else "large_prints" if not at_bars else "big_print"
            )  # fmt: skip
            if why["held_by"] == "big_print":
                why["needs_big_x"] = f.big_x
            why["needs_x"] = 1.0
            if level >= WARNING and desired < level:
                why["exit_x"] = f.exit_x
            ss.why = why
            if desired == 0:
                return self._near_cluster_watch(st, ss, t)
            self._near_cluster_context(st, ss, t)
            return desired
        # CRITICAL: intensity and a confirmed price move in the cascade's direction
        burst_intense = x >= f.critical_x and (not ss.slow_open or fired_short)
        intense = ss.peak_x >= f.critical_x or burst_intense or score_level >= CRITICAL
        move, needs, source, over_s = self._price_move(st, ss, sec)
        why["price_move_pct"] = round(100.0 * (move or 0.0), 3)
        if over_s > PRICE_CONFIRM_WINDOW_S:
            why["move_over_s"] = over_s
        why["needs_pct"] = round(100.0 * needs, 3)
        why["price_from"] = source
        confirmed = move is not None and move >= needs
        after_warning = True
        if f.after_warning_share and confirmed and level < CRITICAL:
            # part of the move must come after this side's WARNING opened: a surge that
            # follows a move the market had already made is not that move's cascade
            since = self._move_since_warning(st, ss, source) if level >= WARNING else 0.0
            why["after_warning_pct"] = round(100.0 * since, 3)
            why["needs_after_warning_pct"] = round(100.0 * f.after_warning_share * needs, 3)
            after_warning = since >= f.after_warning_share * needs
        if level == CRITICAL or (intense and confirmed and after_warning):
            desired = CRITICAL
        elif not intense:
            why["held_by"] = "intensity"
            why["needs_x"] = f.critical_x
            why["peak_x"] = round(ss.peak_x, 3)
        else:
            why["held_by"] = "price_move" if not confirmed else "move_after_warning"
        ss.why = why
        return desired

    def _near_cluster_watch(self, st: AssetState, ss: SideState, t: float) -> int:
        """WATCH with why `near_cluster` when the map puts a dense band of this side near the
        price, else 0 (the why set by the caller stays). The map alone never raises WARNING."""
        near = self.liqmap.near_cluster(st.asset, t, ss.side)
        if near is None:
            return 0
        ss.why = near
        return WATCH

    def _near_cluster_context(self, st: AssetState, ss: SideState, t: float) -> None:
        """A side at WATCH from its own liquidations (a partial burst, the score) names the
        map's near_cluster in its why when the map also puts a dense band of this side near the
        price: the trader watching that WATCH is told a cluster is within reach as soon as the
        map holds it, not only when the side is otherwise quiet. Context only: the level and
        the trigger are the side's own."""
        near = self.liqmap.near_cluster(st.asset, t, ss.side)
        if near is not None:
            ss.why["context"] = "near_cluster"
            ss.why["near_expected_usd"] = near["expected_usd"]
            ss.why["near_cluster_x"] = near["cluster_x"]

    def _price_move(self, st: AssetState, ss: SideState, sec: int) -> tuple[float | None, float, str, int]:
        """(side-aligned move, move needed, its source, seconds it was measured over): trades or
        marks when the asset has them, else this side's liquidation prices; None without any.
        The move is over the confirmation window, or (fast.move_lookback_s) from the episode's
        extreme when that lies further back."""
        needs = price_confirm_move(st.asset)
        trail, source = st.price, "trades"
        if trail.last is None or self._clock is None or self._clock - trail.last_ts > PRICE_CONFIRM_WINDOW_S:
            trail, source = ss.liq_price, "liquidations"
        if trail.last is None:
            return None, needs, "none", PRICE_CONFIRM_WINDOW_S
        extreme = trail.extreme(sec, PRICE_CONFIRM_WINDOW_S, ss.sign)
        if extreme is None:
            return None, needs, source, PRICE_CONFIRM_WINDOW_S
        lookback = self._params.fast.move_lookback_s
        over_s = PRICE_CONFIRM_WINDOW_S
        if lookback:
            extreme, seen = ss.move_anchor(extreme, sec, source, lookback)
            if seen < sec:  # further back than the window: say how far
                over_s = sec - seen + PRICE_CONFIRM_WINDOW_S
        return move_from(extreme, trail.last, ss.sign), needs, source, over_s

    def _move_since_warning(self, st: AssetState, ss: SideState, source: str) -> float:
        """The side-aligned move of `source`'s price since this side's WARNING opened (0 when
        that price was not known then, or is not known now)."""
        then = ss.warn_px.get(source)
        now = (st.price if source == "trades" else ss.liq_price).last
        if then is None or now is None:
            return 0.0
        return move_from(then, now, ss.sign) or 0.0

    def _update_market(self, t: float, sec: int, out: list[Signal]) -> None:
        """Market-wide state: market burst, breadth of assets in alarm, or an all-asset USD surge."""
        mk = self._market
        tr = mk.step(t, self._params, self._thresholds.enter[WARNING - 1], self._usd_floor("BTC"))
        if tr is None:
            return
        if tr.state == "open":
            if mk.why.get("trigger") == "burst":
                self._market_direction = str(mk.why["burst_side"])
            else:
                mk.win60.advance(sec)
                self._market_direction = direction_of(mk.win60)
        venues = sorted(v for v, ts in mk.venues.items() if t - ts <= 60.0)
        self._emit(
            out, t, MARKET, tr.level, tr.state, tr.episode, mk.score, mk.components, self._market_direction,
            venues, mk.why,
        )  # fmt: skip

    def _emit(
        self,
        out: list[Signal],
        t: float,
        asset: str,
        level: int,
        state: str,
        episode: str,
        sc: float,
        components: dict[str, float],
        direction: str,
        venues: list[str],
        why: dict[str, float | str],
    ) -> None:
        sig = Signal(
            v=SIGNAL_VERSION,
            ts=t,
            asset=asset,
            level=level,
            level_name=LEVEL_NAMES[level],
            state=state,
            episode=episode,
            score=sc,
            components=components,
            direction=direction,
            venues=venues,
            regime=self._vol.regime.name,
            why=dict(why),
        )
        if state in ("open", "escalate"):
            self._signal_counts[LEVEL_NAMES[level]] += 1
        self._signals.append(sig)
        out.append(sig)

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> Snapshot:
        t = self._clock if self._clock is not None else 0.0
        sec = self._sec
        venues = [
            venue_view(
                v, self._venues.get(v), self._feeds.get(v) or FeedStatus(), self._venue_weight(v), t, sec
            )
            for v in self._venue_order()
        ]
        assets = sorted(
            (asset_view(st, t, sec) for st in self._assets.values()), key=lambda a: (-a.score, a.asset)
        )
        return Snapshot(
            v=SNAPSHOT_VERSION,
            ts=t,
            started_ts=self._started,
            events_total=self._events_total,
            events_per_s=sum(self._recent_events) / 5.0,
            market=velocities(self._market.rates, t),
            market_level=self._market.level.level,
            market_episode=self._market.level.episode,
            venues=tuple(venues),
            assets=tuple(assets),
            volatility=volatility_view(self._vol, self._params.regime),
            tape=tuple(reversed(self._tape)),
            signals=tuple(reversed(self._signals)),
            signal_counts=dict(self._signal_counts),
            latency={stage: res.view() for stage, res in self._latency.items()},
            params_version=self._params_version,
            liqmap=self._liqmap_views.views(self.liqmap, t),
        )

    def _venue_order(self) -> list[str]:
        seen = set(self._venues) | set(self._feeds)
        rank = self._venue_rank
        return sorted(seen, key=lambda v: (rank.get(v, len(rank)), v))
