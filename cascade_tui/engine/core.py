"""The engine: pure, synchronous, no I/O, no wall clock.

API (the contract every source, sink and the UI relies on):

    engine = Engine(params: EngineParams | None = None)
    engine.process(ev: Event) -> list[Signal]     # O(1) amortized; clock = ev.recv_ts
    engine.tick(ts: float) -> list[Signal]        # advance the clock with no event (quiet
                                                  # periods close signals); ts <= clock is a no-op
    engine.snapshot() -> Snapshot                 # immutable view (engine/types.py)
    engine.set_params(params: EngineParams) -> None   # validated; takes effect at once
    engine.params -> EngineParams
    engine.set_feed_status(venue: str, **status) -> None  # connection health shown in snapshot
    engine.record_latency(stage: str, seconds: float) -> None  # stages measured outside the
                                                  # engine (parse, publish) join the snapshot
    engine.stats() -> dict                        # counters for --stats (signals, events)
    engine.next_evaluation_ts -> float | None     # engine time a deferred evaluation is due
                                                  # (tick(ts >= it) runs it); None if none

Clock: the engine's time is the receive time of the frame being processed (`recv_ts`), never
`time.time()`. Events are expected in non-decreasing recv_ts order; a late event is processed
at the current clock (counted in stats()["out_of_order"]).

How the work is split (all O(1) amortized per event):
- per event: decayed rates of its venue, its asset and the market (one exp each), 60 s and
  300 s slot rings, occupancy bits, the asset's baseline minute, and — for a liquidation —
  the asset's score and level, at most once per EVAL_INTERVAL_S of engine clock per asset:
  a liquidation 100 ms or more after the asset's last liquidation-triggered evaluation is
  scored at once; one inside that interval is scored by a deferred evaluation at the
  interval's end (run, at that engine time, by the first event or tick that reaches it), so
  a burst's signal opens within 100 ms of engine time of its triggering event while a
  burst of thousands of prints is scored ~10 times a second, not thousands;
- per second of engine clock (lazily, when the clock crosses a second): the BTC volatility
  grid and regime, and a re-evaluation of every active asset and of the market-wide state, so
  quiet periods decay scores and close signals.

Modules: rates (decayed sums, slot rings, occupancy), baseline, volatility, prices,
openinterest (OI and funding), scoring, signals (levels and episodes), state (per-venue and
per-asset holders), latency, views (snapshot pieces); this module orchestrates them.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any, Final

from cascade_tui.engine.baseline import Baseline
from cascade_tui.engine.latency import LatencyReservoir
from cascade_tui.engine.params import FACTORS, LEVEL_NAMES, EngineParams, validate
from cascade_tui.engine.rates import DecayedRates, SlotRing
from cascade_tui.engine.scoring import (
    FLOW_SCORE_INDEX,
    ScoreInputs,
    SurpriseCache,
    clip01,
    occupancy_rate,
    score,
    throttle_correction,
)
from cascade_tui.engine.signals import (
    CRITICAL,
    PRICE_CONFIRM_WINDOW_S,
    WARNING,
    LevelState,
    Thresholds,
    level_from_score,
    price_confirm_move,
    thresholds_in_force,
)
from cascade_tui.engine.state import (
    CH_CAPPED_LONG,
    CH_CAPPED_SHORT,
    CH_COUNT,
    OCCUPANCY_WINDOW_S,
    WINDOW_CHANNELS,
    AssetState,
    AssetVenue,
    FeedStatus,
    VenueFlow,
    direction_of,
)
from cascade_tui.engine.types import (
    Signal,
    Snapshot,
    TapeEntry,
)
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
MARKET_USD_MULT: Final = 10.0  # market USD rule: U20 >= 10 × its baseline ...
MARKET_FLOOR_MULT: Final = 4.0  # ... and >= 4 × the BTC USD floor
DOWN_STATES: Final = frozenset({"stale", "blocked", "disabled"})
MARKET: Final = "*"
EVAL_INTERVAL_S: Final = 0.1  # engine seconds between liquidation-triggered evaluations of an asset
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
        self._market_rates = DecayedRates()
        self._market_win60 = SlotRing(60, WINDOW_CHANNELS)
        self._market_baseline = self._new_market_baseline(0)
        self._market_level = LevelState()
        self._market_score = 0.0
        self._market_components: dict[str, float] = {}
        self._market_venues: dict[str, float] = {}
        self._breadth: dict[str, tuple[float, int, float]] = {}  # asset -> (ts, level, score)
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
        self._min_prints = 1
        self._market_print_cap = 0.0
        self._cache_param_values()
        self._surprise = SurpriseCache()
        # counters for stats()
        self._kind_counts: dict[str, int] = dict.fromkeys(EVENT_KINDS, 0)
        self._signal_counts: dict[str, int] = dict.fromkeys(_LEVEL_KEYS, 0)
        self._out_of_order = 0
        self._rejected = 0

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
        self._cache_param_values()
        for st in self._assets.values():
            st.usd_floor = self._usd_floor(st.asset)
            st.baseline.usd_floor = st.usd_floor
            st.baseline.set_halflife(params.baseline_halflife_s)
        self._market_baseline.usd_floor = MARKET_FLOOR_MULT * self._usd_floor("BTC")
        self._market_baseline.set_halflife(params.baseline_halflife_s)

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
        self._weights.pop(venue, None)

    def record_latency(self, stage: str, seconds: float) -> None:
        res = self._latency.get(stage)
        if res is None:
            res = self._latency[stage] = LatencyReservoir()
        if not res.add(seconds):
            self._rejected += 1

    def process(self, ev: Event) -> list[Signal]:
        t = ev.recv_ts
        clock = self._clock
        try:
            finite = _isfinite(t)
        except TypeError:  # a hand-built event with a non-numeric time
            finite = False
        if not finite:
            self._rejected += 1
            return []
        out: list[Signal] = []
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
        kind = type(ev)
        if kind is Liquidation:
            self._on_liquidation(ev, t, out)  # type: ignore[arg-type]
        elif kind is Trade:
            self._on_price(ev, t, True)  # type: ignore[arg-type]
        elif kind is Mark:
            self._on_price(ev, t, False)  # type: ignore[arg-type]
        elif kind is OpenInterest:
            self._on_open_interest(ev, t)  # type: ignore[arg-type]
        elif kind is Funding:
            self._on_funding(ev, t)  # type: ignore[arg-type]
        else:
            self._rejected += 1
            return out
        return out

    @property
    def next_evaluation_ts(self) -> float | None:
        """Engine time of the earliest deferred evaluation, None when none is pending.

        A live runtime with no frame arriving can `tick()` the engine at this time so a
        deferred signal is not held until the next frame."""
        return None if self._next_due == _INF else self._next_due

    def tick(self, ts: float) -> list[Signal]:
        out: list[Signal] = []
        if not _isfinite(ts) or self._clock is None or ts <= self._clock:
            return out
        if ts >= self._next_boundary:
            self._cross_seconds(ts, out)  # runs the deferred evaluations in between too
        elif ts >= self._next_due:
            self._run_due(ts, out)
        self._clock = ts
        return out

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
            "liquidations": liquidations,
            "assets": len(self._assets),
            "params_version": self._params_version,
        }

    # ------------------------------------------------------------------ clock

    def _start(self, t: float) -> None:
        self._started = t
        sec = _floor(t)
        self._sec = sec
        self._next_boundary = float(sec + 1)
        self._market_rates = DecayedRates(t)
        self._market_win60 = SlotRing(60, WINDOW_CHANNELS, sec)
        self._market_baseline = self._new_market_baseline(sec // 60)

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
        self._multiplier = vol.multiplier(p.regime)
        self._expansion = vol.expansion()
        self._thresholds = thresholds_in_force(p, vol.regime.name)
        self._market_baseline.roll(sec // 60)
        if not self._active:
            self._update_market(ts, sec, out)
            return
        done: list[str] = []
        due = self._due
        for name, st in self._active.items():
            if st.eval_due != _INF:  # this sweep covers the deferred evaluation
                st.eval_due = _INF
                del due[name]
            self._evaluate(st, ts, sec, out)
            st.history.record(sec, st.score)
            if st.level.level == 0 and ts - st.last_liq_ts > ACTIVE_AFTER_LAST_LIQ_S:
                done.append(name)
        for name in done:
            del self._active[name]
        self._next_due = min((st.eval_due for st in due.values()), default=_INF)
        self._update_market(ts, sec, out)

    # ------------------------------------------------------------------ events

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

    def _cache_param_values(self) -> None:
        """Values the per-event path derives from the params, computed once per set_params."""
        self._min_prints = max(self._params.gates.min_events, 1)
        self._market_print_cap = MARKET_FLOOR_MULT * self._usd_floor("BTC") / self._min_prints

    def _usd_floor(self, asset: str) -> float:
        floors = self._params.gates.usd_floor
        return floors.get(asset, floors.get("default", 0.0))

    def _new_market_baseline(self, minute: int) -> Baseline:
        return Baseline(minute, MARKET_FLOOR_MULT * self._usd_floor("BTC"), self._params.baseline_halflife_s)

    def _asset(self, asset: str, t: float) -> AssetState:
        st = self._assets.get(asset)
        if st is None:
            st = AssetState(asset, _floor(t), t, self._usd_floor(asset), self._params.baseline_halflife_s)
            self._assets[asset] = st
        return st

    def _count_event(self, kind: str, t: float) -> None:
        self._kind_counts[kind] += 1
        self._events_total += 1
        self._sec_events += 1

    def _on_liquidation(self, ev: Liquidation, t: float, out: list[Signal]) -> None:
        usd = ev.usd
        side = ev.side
        if not (_isfinite(usd) and usd >= 0.0 and _isfinite(ev.price) and side in (LONG, SHORT) and ev.asset):
            self._rejected += 1
            return
        # _count_event inlined: this is the hottest path
        self._kind_counts["liquidation"] += 1
        self._events_total += 1
        self._sec_events += 1
        sec = self._sec
        venue = ev.venue
        sampled = ev.sampled
        weight = self._venue_weight(venue)
        # venue scope
        vf = self._venues.get(venue)
        if vf is None:
            vf = self._venues[venue] = VenueFlow(venue, sec, t)
        vf.sampled = vf.sampled or sampled
        vf.rates.add(t, usd, weight, not sampled)
        vf.ring.add_row(sec, (1.0, usd))  # CH_VENUE_COUNT, CH_VENUE_USD
        vf.occ.mark(sec)
        vf.last_event_ts = t
        if side == LONG:
            vf.long_count += 1
            vf.long_usd += usd
        else:
            vf.short_count += 1
            vf.short_usd += usd
        # asset and asset-venue state first: a throttled print's weight depends on occupancy
        st = self._asset(ev.asset, t)
        av = st.venues.get(venue)
        if av is None:
            av = st.venues[venue] = AssetVenue(sec)
        av.last_ts = t
        est_usd = usd
        if sampled:
            av.sampled = True
            av.occ.mark(sec)
            # a 1-per-second feed shows ~1 - e^-λ of λ prints/s: scale USD back up (§3.2)
            est_usd = usd * throttle_correction(av.occ.occupied(sec, OCCUPANCY_WINDOW_S), OCCUPANCY_WINDOW_S)
        # scores count one print at most floor/min_events of USD, so reaching a USD floor takes
        # several prints: a whale liquidation alone is a large print, not a cascade
        min_prints = self._min_prints
        market_cap = self._market_print_cap
        # market scope
        market_capped = min(est_usd, market_cap) if market_cap > 0 else est_usd
        self._market_rates.add(t, usd, weight, not sampled, market_capped)
        market_usd = market_capped * weight
        is_long = side == LONG
        # channels: CH_COUNT, CH_USD_LONG, CH_USD_SHORT, CH_CAPPED_LONG, CH_CAPPED_SHORT
        self._market_win60.add_row(
            sec,
            (1.0, usd, 0.0, market_usd, 0.0) if is_long else (1.0, 0.0, usd, 0.0, market_usd),
        )
        self._market_venues[venue] = t
        self._market_baseline.add(sec // 60, weight, usd, sampled)
        # asset scope
        capped = min(est_usd, st.usd_floor / min_prints) if st.usd_floor > 0 else est_usd
        st.rates.add(t, usd, weight, not sampled, capped)
        wc = capped * weight
        st.win60.add_row(sec, (1.0, usd, 0.0, wc, 0.0) if is_long else (1.0, 0.0, usd, 0.0, wc))
        st.occ.mark(sec)
        st.baseline.add(sec // 60, weight, usd, sampled)
        st.last_liq_ts = t
        self._active[ev.asset] = st
        if usd >= self._params.tape_min_usd:
            self._tape.append(
                TapeEntry(
                    ts=t,
                    event_ts=ev.event_ts,
                    venue=venue,
                    asset=ev.asset,
                    instrument=ev.instrument,
                    side=side,
                    price=ev.price,
                    usd=usd,
                    sampled=sampled,
                )
            )
        if t - st.last_eval_ts >= EVAL_INTERVAL_S:
            st.last_eval_ts = t
            level_before = st.level.level
            self._evaluate(st, t, sec, out)
            if st.level.level != level_before:
                self._update_market(t, sec, out)
        elif st.eval_due == _INF:
            due = st.eval_due = st.last_eval_ts + EVAL_INTERVAL_S
            self._due[st.asset] = st
            if due < self._next_due:
                self._next_due = due

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
            level_before = st.level.level
            self._evaluate(st, t, sec, out)
            if st.level.level != level_before:
                self._update_market(t, sec, out)
        self._next_due = min((st.eval_due for st in due.values()), default=_INF)

    def _on_price(self, ev: Trade | Mark, t: float, is_trade: bool) -> None:
        price = ev.price
        if not (_isfinite(price) and price > 0.0 and ev.asset):
            self._rejected += 1
            return
        self._count_event("trade" if is_trade else "mark", t)
        st = self._asset(ev.asset, t)
        trail = st.price
        if trail.accepts(ev.venue, ev.instrument, is_trade, t):
            trail.update(self._sec, t, price)
            if ev.asset == "BTC":
                self._vol.on_price(self._sec, price)

    def _on_open_interest(self, ev: OpenInterest, t: float) -> None:
        if not (_isfinite(ev.oi) and ev.oi >= 0.0 and ev.asset):
            self._rejected += 1
            return
        self._count_event("open_interest", t)
        self._asset(ev.asset, t).oi.update(ev.venue, ev.instrument, self._sec // 60, ev.oi)

    def _on_funding(self, ev: Funding, t: float) -> None:
        if not (_isfinite(ev.rate) and _isfinite(ev.interval_h) and ev.interval_h > 0.0 and ev.asset):
            self._rejected += 1
            return
        self._count_event("funding", t)
        self._asset(ev.asset, t).funding.update(ev.venue, ev.rate, ev.interval_h, t)

    # ------------------------------------------------------------------ scoring and signals

    def _evaluate(self, st: AssetState, t: float, sec: int, out: list[Signal]) -> None:
        """Score the asset at t and move its level state machine."""
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
        capped_long = sums[CH_CAPPED_LONG]
        capped_short = sums[CH_CAPPED_SHORT]
        bl = st.baseline
        inp.count5_full = full5
        inp.sampled_rate = sampled_rate
        inp.r5 = wcount5 / 5.0
        inp.r60 = wcount60 / 60.0
        inp.u20 = wusd20
        inp.u60 = capped_long + capped_short
        inp.base_rate_full = bl.rate_full
        inp.base_rate_sampled = bl.rate_sampled
        inp.base_usd20 = bl.usd_20s
        inp.usd_floor = st.usd_floor
        inp.oi_change_5m = st.oi.change(sec // 60, "5m") if st.oi.tracks else None
        inp.funding_ann = st.funding.annualized()
        inp.direction_sign = -1 if capped_long >= capped_short else 1
        inp.vol_expansion = self._expansion
        st.score, st.components, st.raw = score(inp, p, self._multiplier, self._surprise)
        desired = self._desired_level(st, sec, inp, round(sums[CH_COUNT]))
        lvl = st.level
        tr = lvl.step(st.asset, t, desired, p)
        bl.frozen = lvl.level >= WARNING  # a cascade must not raise its own baseline
        if lvl.level >= p.market.breadth_level:
            self._breadth[st.asset] = (t, lvl.level, st.score)
        if tr is not None:
            direction = LONG if inp.direction_sign < 0 else SHORT
            self._emit(
                out,
                t,
                st.asset,
                tr.level,
                tr.state,
                tr.episode,
                st.score,
                dict(zip(FACTORS, st.components, strict=True)),
                direction,
                st.venues_60s(t),
            )

    def _desired_level(self, st: AssetState, sec: int, inp: ScoreInputs, events: int) -> int:
        """The level the score supports once the gates are applied (events = count in 60 s)."""
        if events == 0:
            return 0  # no liquidations, no liquidation cascade (OI/funding/vol alone never alarm)
        th = self._thresholds
        desired = level_from_score(st.score, st.level.level, th)
        if desired >= WARNING:
            g = self._params.gates
            # events must also span 2+ seconds: one print split into fills is still one print
            enough_events = events >= g.min_events and st.occ.occupied(sec, 60) >= min(2, g.min_events)
            # the flow factors alone must reach WATCH: OI, funding and vol cannot carry an alarm
            flow_ok = st.raw[FLOW_SCORE_INDEX] >= th.enter[0] - (
                th.exit_gap if st.level.level >= WARNING else 0.0
            )
            if not (enough_events and flow_ok and inp.u60 >= st.usd_floor):
                desired = 1
        if desired == CRITICAL and st.price.last is not None:
            move = st.price.move(sec, PRICE_CONFIRM_WINDOW_S, inp.direction_sign)
            if move is None or move < price_confirm_move(st.asset):
                desired = WARNING
        return desired

    def _update_market(self, t: float, sec: int, out: list[Signal]) -> None:
        """Market-wide state: breadth of assets at breadth_level, or all-asset USD surge."""
        p = self._params
        window = p.market.window_s
        contributing: list[tuple[str, int, float]] = []
        stale: list[str] = []
        for asset, (ts, level, sc) in self._breadth.items():
            if t - ts <= window:
                contributing.append((asset, level, sc))
            else:
                stale.append(asset)
        for asset in stale:
            del self._breadth[asset]
        desired = 0
        breadth_ok = len(contributing) >= p.market.min_assets and any(
            a in ("BTC", "ETH") for a, _, _ in contributing
        )
        if breadth_ok:
            desired = max(level for _, level, _ in contributing)
        _, _, _, wusd, _ = self._market_rates.sums_at(t)
        u20 = wusd[2]
        base20 = self._market_baseline.usd_20s
        usd_ok = u20 >= MARKET_USD_MULT * base20 and u20 >= MARKET_FLOOR_MULT * self._usd_floor("BTC")
        if usd_ok:
            desired = max(desired, WARNING)
        self._market_baseline.frozen = self._market_level.level >= WARNING
        self._market_score = max((sc for _, _, sc in contributing), default=0.0)
        if usd_ok:
            self._market_score = max(self._market_score, self._thresholds.enter[WARNING - 1])
        self._market_components = {
            "breadth": clip01(len(contributing) / max(p.market.min_assets, 1)),
            "volume": clip01(math.log10(max(u20, 1e-9) / base20) / p.normalizers.volume_log10),
        }
        tr = self._market_level.step(MARKET, t, desired, p)
        if tr is None:
            return
        self._market_win60.advance(sec)
        venues = sorted(v for v, ts in self._market_venues.items() if t - ts <= 60.0)
        self._emit(
            out,
            t,
            MARKET,
            tr.level,
            tr.state,
            tr.episode,
            self._market_score,
            self._market_components,
            direction_of(self._market_win60),
            venues,
        )

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
            market=velocities(self._market_rates, t),
            market_level=self._market_level.level,
            market_episode=self._market_level.episode,
            venues=tuple(venues),
            assets=tuple(assets),
            volatility=volatility_view(self._vol, self._params.regime),
            tape=tuple(reversed(self._tape)),
            signals=tuple(reversed(self._signals)),
            signal_counts=dict(self._signal_counts),
            latency={stage: res.view() for stage, res in self._latency.items()},
            params_version=self._params_version,
        )

    def _venue_order(self) -> list[str]:
        seen = set(self._venues) | set(self._feeds)
        rank = self._venue_rank
        return sorted(seen, key=lambda v: (rank.get(v, len(rank)), v))
