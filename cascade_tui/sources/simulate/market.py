"""The true market (§5.2–§5.6): liquidations, price, volatility, open interest and funding.

Liquidations are a marked multivariate Hawkes process with a two-exponential kernel, simulated
on a 250 ms intensity clock with its O(1) exponential state (so time-varying branching ratios,
fuel budgets and price feedback are exact per step), vectorised across assets. Price follows a
stochastic-volatility diffusion (OU log-vol + Markov regimes + Student-t shocks) with the impact
of net forced flow amplified by depth withdrawal in episodes. One `run_chunk()` call advances
the market by `CHUNK_S` seconds and returns arrays; nothing here formats frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cascade_tui.labels import Label
from cascade_tui.sources.simulate.config import (
    ASSETS,
    BACKGROUND_BUSY_RANGE,
    CHUNK_S,
    CLUSTER_MEDIUM_Z,
    CLUSTER_PRINTS,
    CLUSTER_SMALL_Z,
    CLUSTER_SPAN_S,
    KERNEL_TIMES_S,
    KERNEL_WEIGHTS,
    MARK_EXCITATION_EXP,
    MAX_EVENT_RATE,
    PARETO_ALPHA,
    PARETO_FAMILY_SHARE,
    SIZE_CAP_USD,
    SIZE_MEDIAN_USD,
    SIZE_SIGMA_LN,
    STEP_S,
    TAIL_ALPHA,
    TAIL_PROB,
    TAIL_XM_USD,
    VENUE_SHARES,
    YEAR_S,
    Profile,
)
from cascade_tui.sources.simulate.episodes import IMPACT_KAPPA, Episode, EpisodePlanner, Leg, funding_bump

FEEDBACK_GAMMA = 0.5  # §5.6 price -> liquidation feedback in background
FEEDBACK_WINDOW_STEPS = round(10.0 / STEP_S)
FUNDING_MEAN = 0.0001  # per 8 h
FUNDING_SD = 0.0001
FUNDING_HALF_LIFE_S = 86_400.0
LOGVOL_SD = 0.35
LOGVOL_HALF_LIFE_S = 6 * 3600.0
# Calm / normal / active vol regimes (a Markov chain drawing uniformly among them). The raw
# multipliers are normalised to a mean square of 1 so they shape the vol, not its level.
_RAW_REGIME_MULTS = (0.65, 1.0, 1.5)
REGIME_MULTS = tuple(
    m / math.sqrt(sum(x * x for x in _RAW_REGIME_MULTS) / len(_RAW_REGIME_MULTS)) for m in _RAW_REGIME_MULTS
)
# E[e^{2h}] = e^{2·sd²} for the stationary OU log-vol h: subtracting sd² from h makes E[e^{2h}] = 1.
LOGVOL_VARIANCE_SHIFT = LOGVOL_SD * LOGVOL_SD
OI_REBUILD_S = 6 * 3600.0
OI_HOURLY_SD = 0.003
STUDENT_NU = 4.0
POOL_SIZE = 8192
LEG_EVENT_SIDE_SHARE = 0.87  # within a cascade 85–90 % of events are on one side
# A near-critical leg (n_c 0.90–0.98) fed by its plateau immigrants creeps toward several times
# its planned rate as the 45 s kernel fills up, burning its fuel budget (sized for the planned
# rate over the planned duration) in a fraction of the duration: extreme episodes ran dry in
# ~10 min instead of 40–60. The self-excited part of a live leg's rate is held at this share of
# its sustained (plateau) rate, about what the fast kernel alone gives (0.6·n_c); bursts come on top.
LEG_SELF_EXCITED_CAP = 0.7
OBSERVED_VENUE_WEIGHTS = (0.45, 0.35, 0.20)  # binance, bybit, okx: where planted prints show
VOL_SPIKE_S = 600.0
VOL_SPIKE_LOG = math.log(5.0)


def season(t: np.ndarray) -> np.ndarray:
    """Time-of-day / weekend factor s_tod(t): US hours busier, Asia night and weekends calmer."""
    hour = (t % 86_400.0) / 3600.0
    factor = np.where((hour >= 13.5) & (hour < 21.0), 1.3, np.where((hour >= 21.0) | (hour < 1.0), 0.8, 1.0))
    weekday = ((t // 86_400.0) + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Saturday, Sunday
    return factor * np.where(weekday >= 5, 0.7, 1.0)


# The seasonal factor scales σ too; divided by its root mean square over a week, it moves vol
# around the week without changing the weekly mean variance (σ_base² stays the average).
SEASON_VOL_NORM = float(np.sqrt(np.mean(season(np.arange(0.0, 7 * 86_400.0, 60.0)) ** 2)))


@dataclass
class Chunk:
    """One chunk of the true market: state per step and every true liquidation, time-ordered."""

    t0: float
    step_ts: np.ndarray  # (n,) end time of each step
    price: np.ndarray  # (n, A) price at step end
    oi: np.ndarray  # (n, A) open interest, base units, all venues, one side
    funding: np.ndarray  # (n, A) funding rate per 8 h
    ev_ts: np.ndarray  # (m,) event time, epoch s rounded to ms
    ev_asset: np.ndarray  # (m,) local asset index
    ev_long: np.ndarray  # (m,) True when a long was liquidated
    ev_usd: np.ndarray  # (m,) true notional
    ev_price: np.ndarray  # (m,) fill / bankruptcy price, rounded to the tick
    ev_qty: np.ndarray  # (m,) base quantity, rounded to the lot (ev_usd = ev_qty * ev_price)
    ev_venue: np.ndarray  # (m,) index into VENUE_SHARES
    ev_leg: np.ndarray  # (m,) index into `legs`, -1 for background
    legs: list[Leg] = field(default_factory=list)


@dataclass(frozen=True)
class PlantedPrint:
    """One liquidation placed on purpose as bait (a whale print, or a print of a short cluster).

    `g` is its Hawkes excitation; `note` is the injected record to publish when it is drawn
    (a whale's own, or its cluster's on the cluster's first print)."""

    ts: float
    asset: int  # local asset index
    long: bool  # a long was liquidated
    usd: float
    venue: int  # index into VENUE_SHARES (an observed venue)
    g: float
    note: Label | None = None


@dataclass
class Schedule:
    """A chunk's per-step inputs that do not depend on what happens in it."""

    step_end: np.ndarray  # (n,)
    seasonal: np.ndarray  # (n,) s_tod
    mu_bg: np.ndarray  # (n, A) background immigrant rate (incl. common-shock bursts)
    ret_jump: np.ndarray  # (n, A) common-shock price co-jumps
    n_ep: np.ndarray  # (n, A) branching ratio of leg events that stays with the leg
    n_handover: np.ndarray  # (n, A) branching ratio of leg events handed to the background
    mu_ep: np.ndarray  # (n, A) leg immigrant rate
    shock: np.ndarray  # (n, A) exogenous price drift of legs (positive = against the leg's side)
    starts: dict[int, list[Leg]]  # step -> legs starting in it
    fund_bump: np.ndarray  # (n, A) funding crowding / drop around episodes
    spike: np.ndarray  # (n,) log-vol added by "volspike" injections
    whales: dict[int, list[PlantedPrint]]  # step -> planted prints (whales, clusters)


class LegArrays:
    """Per-asset view of the active legs, as arrays for the vectorised step."""

    def __init__(self, n_assets: int) -> None:
        self.side = np.zeros(n_assets)
        self.fuel = np.zeros(n_assets)
        self.impact = np.zeros(n_assets)
        self.withdrawal = np.ones(n_assets)
        self.mark_mult = np.ones(n_assets)
        self.index = np.full(n_assets, -1)  # index of the leg in the chunk's `legs`
        self.rate_cap = np.full(n_assets, np.inf)  # cap on a live leg's self-excited events/s

    def set(self, a: int, leg: Leg, index: int) -> None:
        self.side[a], self.fuel[a], self.impact[a] = leg.side, leg.fuel, leg.impact_per_usd
        self.withdrawal[a], self.mark_mult[a], self.index[a] = leg.depth_withdrawal, leg.mark_mult, index
        self.rate_cap[a] = LEG_SELF_EXCITED_CAP * min(leg.peak_rate, leg.plateau_rate)


@dataclass
class StepEvents:
    """The true liquidations of one step (arrays of equal length)."""

    step: int
    bins: np.ndarray  # asset for background events, n_assets + asset for leg events
    asset: np.ndarray
    is_long: np.ndarray
    usd: np.ndarray
    g: np.ndarray  # mark excitation
    venue: np.ndarray
    frac: np.ndarray  # position of the event inside its step, [0, 1)
    slip: np.ndarray  # uniform driving the fill price's distance from the mark
    leg: np.ndarray  # index into the chunk's legs, -1 for background

    def append(self, asset: int, is_long: bool, usd: float, g: float, venue: int, frac: float) -> None:
        """Add one background event (a planted print)."""
        self.bins = np.append(self.bins, asset)
        self.asset = np.append(self.asset, asset)
        self.is_long = np.append(self.is_long, is_long)
        self.usd = np.append(self.usd, usd)
        self.g = np.append(self.g, g)
        self.venue = np.append(self.venue, venue)
        self.frac = np.append(self.frac, frac)
        self.slip = np.append(self.slip, 0.5)
        self.leg = np.append(self.leg, -1)


class MarkPool:
    """Pre-drawn standardised marks and uniforms, consumed in order (fast and deterministic).

    Columns: mark (body+tail family), excitation g, and uniforms for the side, venue, time in
    the step and price slippage; with `family_uniform`, one more uniform that draws the marks
    of pure-Pareto assets (only markets with several size families draw it, so the others'
    streams stay as they were)."""

    def __init__(
        self, rng: np.random.Generator, median: float, sigma: float, family_uniform: bool = False
    ) -> None:
        self.rng = rng
        self.median = median
        self.sigma = sigma
        self.uniforms = 5 if family_uniform else 4
        body_mean = median * math.exp(sigma * sigma / 2)
        tail_mean = TAIL_ALPHA * TAIL_XM_USD / (TAIL_ALPHA - 1.0)
        self.mean = (1 - TAIL_PROB) * body_mean + TAIL_PROB * tail_mean
        e = MARK_EXCITATION_EXP
        body_g = median**e * math.exp((e * sigma) ** 2 / 2)
        tail_g = TAIL_ALPHA * TAIL_XM_USD**e / (TAIL_ALPHA - e)
        self.g_norm = ((1 - TAIL_PROB) * body_g + TAIL_PROB * tail_g) / self.mean**e
        self.pos = 0
        self.data = np.empty((0, 2 + self.uniforms))
        self._refill(POOL_SIZE)

    def _refill(self, need: int) -> None:
        rng = self.rng
        n = max(POOL_SIZE, need)
        body = self.median * np.exp(self.sigma * rng.standard_normal(n))
        tail = TAIL_XM_USD * (1.0 - rng.random(n)) ** (-1.0 / TAIL_ALPHA)
        marks = np.minimum(np.where(rng.random(n) < TAIL_PROB, tail, body), SIZE_CAP_USD)
        g = (marks / self.mean) ** MARK_EXCITATION_EXP / self.g_norm
        uniforms = rng.random((n, self.uniforms))  # side, venue, time within step, slippage[, family]
        fresh = np.column_stack([marks, g, uniforms])
        self.data = np.concatenate([self.data[self.pos :], fresh])
        self.pos = 0

    def take(self, k: int) -> np.ndarray:
        if self.pos + k > self.data.shape[0]:
            self._refill(k)
        out = self.data[self.pos : self.pos + k]
        self.pos += k
        return out


class Market:
    """The true market for a set of assets; advanced one chunk at a time."""

    def __init__(
        self,
        rng: np.random.Generator,
        start_ts: float,
        profile: Profile,
        asset_idx: list[int],
        sigma_base: float | None = None,
    ) -> None:
        self.rng = rng
        self.profile = profile
        self.asset_idx = asset_idx
        self.specs = [ASSETS[i] for i in asset_idx]
        self.t = start_ts
        self.start_ts = start_ts
        a = len(asset_idx)
        self.n_assets = a
        drawn = float(rng.uniform(*profile.sigma_base_range))  # BTC annualised, per seed (§5.6)
        self.sigma_base = drawn if sigma_base is None else float(sigma_base)
        self.n0 = float(rng.uniform(0.35, 0.65))
        self.pool = MarkPool(
            rng,
            float(rng.uniform(*SIZE_MEDIAN_USD)),
            float(rng.uniform(*SIZE_SIGMA_LN)),
            family_uniform=profile.size_families,
        )
        self.rate = np.array([s.rate for s in self.specs])
        self.scale = np.array([profile.size_scales.get(s.name, s.size_scale) for s in self.specs])
        # size family per asset: pure Pareto (tail index alpha) or the body+tail mix (alpha 0)
        self.pareto_alpha = np.zeros(a)
        if profile.size_families:
            pareto = rng.random(a) < PARETO_FAMILY_SHARE
            alphas = rng.uniform(*PARETO_ALPHA, a)
            self.pareto_alpha = np.where(pareto, alphas, 0.0)
        self.size_family = ["pareto" if x > 0 else "lognormal" for x in self.pareto_alpha]
        self.vol_mult = np.array([s.vol_mult for s in self.specs])
        self.corr = np.array([s.corr for s in self.specs])
        self.depth = np.array([s.depth_usd for s in self.specs])
        self.cross = self._cross_matrix()
        self.logp = np.log(np.array([s.price for s in self.specs]) * np.exp(rng.normal(0.0, 0.05, a)))
        self.h = float(rng.normal(0.0, LOGVOL_SD))
        self.regime = 1  # runs start in the normal regime; the chain moves every ~regime_dwell_s
        self.jump_log = np.zeros(a)  # episode volatility jumps, decaying
        self.jump_decay = np.ones(a)
        self.funding_dev = rng.normal(0.0, FUNDING_SD, a)
        self.oi = np.array([s.oi_usd / s.price for s in self.specs]) * rng.uniform(0.8, 1.2, a)
        self.oi_target = self.oi.copy()
        self.s_bg = np.zeros((2, a))
        self.s_ep = np.zeros((2, a))
        self.hist = np.tile(self.logp, (FEEDBACK_WINDOW_STEPS, 1))
        self.hist_pos = 0
        self.leg_of: list[Leg | None] = [None] * a
        self.local = {g: k for k, g in enumerate(asset_idx)}
        self.planner = EpisodePlanner(rng, profile, start_ts, asset_idx, self.pool.mean, self.n0)
        self.episodes: list[Episode] = []
        self.injected: list[Label] = []  # bait: whales, clusters, vol spikes (not cascades, not labels)
        self.vol_spikes: list[float] = []
        self.whales: list[PlantedPrint] = []  # planted prints not yet drawn
        self._next_spike = start_ts + 900.0
        self._next_whale = start_ts + float(rng.uniform(120.0, 600.0))
        self._next_cluster = (
            start_ts + float(rng.uniform(60.0, profile.cluster_every_s))
            if profile.cluster_every_s > 0
            else 0.0
        )
        self._asset_weights = self.rate / self.rate.sum()

    def _cross_matrix(self) -> np.ndarray:
        """Background cross-excitation N[a, b] (§5.4), scaled by sqrt(λ̄_b/λ̄_a) so a BTC burst
        does not dwarf a small alt's baseline; the diagonal is the self-excitation n₀."""
        a = self.n_assets
        names = [s.name for s in self.specs]
        c = np.zeros((a, a))
        for i in range(a):
            for j in range(a):
                if i == j:
                    continue
                if names[i] == "BTC":
                    base = 0.15
                elif names[j] == "BTC":
                    base = 0.035
                else:
                    base = 0.05
                c[i, j] = base * math.sqrt(self.rate[j] / self.rate[i])
        # Keep the background subcritical: spectral radius of n₀·I + C at about 0.7 (§5.4).
        # For a non-negative C, ρ(n₀·I + s·C) = n₀ + s·ρ(C).
        rho = float(max(abs(np.linalg.eigvals(c)))) if a > 1 else 0.0
        target = max(0.7, self.n0 + 0.05)
        if rho > 0 and self.n0 + rho > target:
            c *= (target - self.n0) / rho
        return c

    def _plan_injections(self, until: float) -> None:
        """Extend the vol-spike, whale and cluster schedules up to `until`, forgetting past ones."""
        prof = self.profile
        rng = self.rng
        self.vol_spikes = [t for t in self.vol_spikes if t + VOL_SPIKE_S > self.t]
        self.whales = [w for w in self.whales if w.ts >= self.t]
        if prof.vol_spike_every_s > 0:
            while self._next_spike < until:
                self.vol_spikes.append(self._next_spike)
                self._next_spike += prof.vol_spike_every_s
        if prof.whale_every_s > 0:
            btc = self.local.get(0, 0)
            eth = self.local.get(1, btc)
            while self._next_whale < until:
                ts = round(self._next_whale, 3)
                if prof.whale_scaled:
                    # any asset, sized against its own prints: a lone huge print, nothing around it
                    asset = int(rng.choice(self.n_assets, p=self._asset_weights))
                    venue = int(rng.choice(3, p=OBSERVED_VENUE_WEIGHTS))
                    long = bool(rng.random() < 0.5)
                    lo, hi = prof.whale_usd
                    usd = float(np.exp(rng.uniform(math.log(lo), math.log(hi)))) * float(self.scale[asset])
                    g = 1.0
                else:
                    asset = btc if rng.random() < 0.7 else eth
                    venue = int(rng.choice(3, p=OBSERVED_VENUE_WEIGHTS))
                    long = bool(rng.random() < 0.6)
                    usd = float(rng.uniform(*prof.whale_usd))
                    g = (usd / self.scale[asset] / self.pool.mean) ** MARK_EXCITATION_EXP
                side = "long" if long else "short"
                note = Label(ts, ts, self.specs[asset].name, side, round(usd, 2), "minor", "whale", count=1)
                self.whales.append(PlantedPrint(ts, asset, long, usd, venue, g, note))
                self._next_whale += prof.whale_every_s * float(rng.uniform(0.7, 1.3))
        if prof.cluster_every_s > 0:
            while self._next_cluster < until:
                self.whales.extend(self._plant_cluster(self._next_cluster))
                self._next_cluster += prof.cluster_every_s * float(rng.uniform(0.5, 1.5))

    def _plant_cluster(self, t: float) -> list[PlantedPrint]:
        """A short unlabelled cluster: 4–15 same-side prints of one asset within a few seconds,
        small (at or below the asset's median print) or medium (median to ~80th percentile)."""
        rng = self.rng
        asset = int(rng.choice(self.n_assets, p=self._asset_weights))
        long = bool(rng.random() < 0.5)
        n = int(rng.integers(CLUSTER_PRINTS[0], CLUSTER_PRINTS[1] + 1))
        span = float(rng.uniform(*CLUSTER_SPAN_S))
        medium = bool(rng.random() < 0.5)
        times = np.sort(np.round(t + span * rng.random(n), 3))
        if medium:
            z = rng.uniform(*CLUSTER_MEDIUM_Z, n)
        else:  # half-normal below the median
            z = np.maximum(-np.abs(rng.standard_normal(n)), CLUSTER_SMALL_Z[0])
        usd = self.pool.median * np.exp(self.pool.sigma * z) * float(self.scale[asset])
        venues = rng.choice(3, size=n, p=OBSERVED_VENUE_WEIGHTS)
        side = "long" if long else "short"
        note = Label(
            float(times[0]),
            float(times[-1]),
            self.specs[asset].name,
            side,
            round(float(usd.sum()), 2),
            "minor",
            "cluster-medium" if medium else "cluster-small",
            count=n,
        )
        return [
            PlantedPrint(float(ts), asset, long, float(u), int(v), 1.0, note if i == 0 else None)
            for i, (ts, u, v) in enumerate(zip(times.tolist(), usd.tolist(), venues.tolist(), strict=True))
        ]

    # ------------------------------------------------------------------ chunk preparation

    def _activate_legs(self, t0: float, t1: float) -> list[Leg]:
        """Plan ahead (funding crowds before episodes) and collect legs touching [t0, t1)."""
        for ep in self.planner.plan_until(t1 + 3600.0):
            self.episodes.append(ep)
        legs: list[Leg] = []
        for ep in self.episodes:
            for leg in ep.legs:
                if leg.done or leg.asset not in self.local:
                    continue
                if leg.t0 < t1:
                    legs.append(leg)
        return legs

    def _schedule(self, t0: float, legs: list[Leg]) -> Schedule:
        """Everything about the chunk that is known before its steps run."""
        rng = self.rng
        a_n = self.n_assets
        dt = STEP_S
        n = round(CHUNK_S / dt)
        step_end = t0 + dt * np.arange(1, n + 1)
        tau_mid = step_end - dt / 2
        seasonal = season(tau_mid)
        mu_bg = np.outer(seasonal, self.rate * (1.0 - self.n0))
        ret_jump = np.zeros((n, a_n))
        # common shocks (§5.4): a short burst of immigrants on every symbol and a price co-jump
        for _ in range(int(rng.poisson(self.profile.common_shocks_per_hour * CHUNK_S / 3600.0))):
            ts = t0 + float(rng.uniform(0.0, CHUNK_S))
            betas = rng.uniform(0.5, 1.5, a_n)
            since = tau_mid - ts
            burst = np.where(since >= 0, np.exp(-np.maximum(since, 0.0) / 8.0), 0.0)
            mu_bg += burst[:, None] * (self.rate * betas * 30.0)
            k = min(n - 1, int((ts - t0) / dt))
            sign = float(rng.choice([-1.0, 1.0]))
            ret_jump[k] += sign * float(rng.uniform(0.002, 0.005)) * betas * self.vol_mult
        n_ep = np.zeros((n, a_n))
        n_handover = np.full((n, a_n), self.n0)
        mu_ep = np.zeros((n, a_n))
        shock = np.zeros((n, a_n))
        starts: dict[int, list[Leg]] = {}
        for leg in legs:
            a = self.local[leg.asset]
            tau = tau_mid - leg.t0
            live = tau >= 0.0
            # Past its duration the leg keeps only its excess over n₀: the ordinary share of its
            # events' aftershocks (45 s kernel) is background activity, not the cascade. Kept
            # whole, that tail stretched minor labels to 70–300 s for a 30–120 s class.
            past = live & (tau > leg.duration)
            n_leg = leg.n_at(tau, self.n0)
            n_ep[:, a] = np.where(live, np.where(past, n_leg - self.n0, n_leg), n_ep[:, a])
            n_handover[:, a] = np.where(live & ~past, 0.0, n_handover[:, a])
            mu_ep[:, a] += np.where(live, leg.immigrants_at(tau), 0.0)
            shock[:, a] += leg.side * leg.shock_at_steps(tau, dt)
            if not leg.active:
                starts.setdefault(max(0, math.floor((leg.t0 - t0) / dt)), []).append(leg)
        fund_bump = funding_bump(self.episodes, step_end, a_n) if self.episodes else np.zeros((n, a_n))
        spike = np.zeros(n)
        for ts in self.vol_spikes:
            if ts < t0 + CHUNK_S and ts + VOL_SPIKE_S > t0:
                spike += np.where((tau_mid >= ts) & (tau_mid < ts + VOL_SPIKE_S), VOL_SPIKE_LOG, 0.0)
                if ts >= t0:
                    self.injected.append(Label(ts, ts + VOL_SPIKE_S, "*", "none", 0.0, "minor", "volspike"))
        whales: dict[int, list[PlantedPrint]] = {}
        for w in self.whales:
            if t0 <= w.ts < t0 + CHUNK_S:
                whales.setdefault(min(n - 1, int((w.ts - t0) / dt)), []).append(w)
        return Schedule(
            step_end,
            seasonal,
            mu_bg,
            ret_jump,
            n_ep,
            n_handover,
            mu_ep,
            shock,
            starts,
            fund_bump,
            spike,
            whales,
        )

    def run_chunk(self, limit: float) -> Chunk:
        """Advance CHUNK_S seconds. `limit` = end of the run: legs only tally events before it."""
        rng = self.rng
        a_n = self.n_assets
        dt = STEP_S
        t0 = self.t
        legs = self._activate_legs(t0, t0 + CHUNK_S)
        self._plan_injections(t0 + CHUNK_S)
        leg_index = {id(leg): k for k, leg in enumerate(legs)}
        sch = self._schedule(t0, legs)
        n = sch.step_end.size

        # random inputs of the chunk, drawn in one go
        scale_t = math.sqrt((STUDENT_NU - 2.0) / STUDENT_NU)
        z_mkt = rng.standard_t(STUDENT_NU, n) * scale_t
        z_own = rng.standard_t(STUDENT_NU, (n, a_n)) * scale_t
        z_h = rng.standard_normal(n)
        u_regime = rng.random(n)
        z_oi = rng.standard_normal((n, a_n))
        z_f = rng.standard_normal((n, a_n))

        beta = np.array([1.0 / KERNEL_TIMES_S[0], 1.0 / KERNEL_TIMES_S[1]])
        decay = np.exp(-beta * dt)[:, None]
        kern = (np.array(KERNEL_WEIGHTS) * beta)[:, None]
        h_keep = math.exp(-math.log(2) * dt / LOGVOL_HALF_LIFE_S)
        h_noise = LOGVOL_SD * math.sqrt(1 - h_keep * h_keep)
        f_keep = math.exp(-math.log(2) * dt / FUNDING_HALF_LIFE_S)
        f_noise = FUNDING_SD * math.sqrt(1 - f_keep * f_keep)
        regime_switch = dt / self.profile.regime_dwell_s
        oi_sd = OI_HOURLY_SD * math.sqrt(dt / 3600.0)
        idio = np.sqrt(1.0 - self.corr**2)
        vol_base = self.sigma_base * self.vol_mult * math.sqrt(dt / YEAR_S)

        out_price = np.empty((n, a_n))
        out_oi = np.empty((n, a_n))
        out_funding = np.empty((n, a_n))
        rec: list[StepEvents] = []
        on = LegArrays(a_n)
        for a, leg in enumerate(self.leg_of):
            if leg is not None:
                on.set(a, leg, leg_index.get(id(leg), -1))

        logp = self.logp
        h = self.h
        s_bg, s_ep = self.s_bg, self.s_ep
        hist = self.hist
        for k in range(n):
            for leg in sch.starts.get(k, ()):
                a = self.local[leg.asset]
                old = self.leg_of[a]
                if old is not None and old is not leg:
                    old.done = True
                self.leg_of[a] = leg
                leg.active = True
                leg.price_start = float(math.exp(logp[a]))
                on.set(a, leg, leg_index[id(leg)])
                # overlapping episodes do not compound: the larger jump wins
                self.jump_log[a] = max(self.jump_log[a], leg.vol_jump_log)
                self.jump_decay[a] = math.exp(-math.log(2) * dt / leg.vol_half_life_s)
            if u_regime[k] < regime_switch:
                self.regime = int(rng.integers(0, len(REGIME_MULTS)))
            h = h * h_keep + h_noise * z_h[k]
            regime = (
                REGIME_MULTS[self.regime]
                * (sch.seasonal[k] / SEASON_VOL_NORM)
                * math.exp(h - LOGVOL_VARIANCE_SHIFT + sch.spike[k])
            )
            sig = vol_base * regime * np.exp(self.jump_log)
            self.jump_log *= self.jump_decay

            # intensities: background (self + cross + price feedback) and the episode legs
            k_bg = (kern * s_bg).sum(axis=0)
            k_ep = (kern * s_ep).sum(axis=0)
            z10 = (logp - hist[self.hist_pos]) / (sig * math.sqrt(FEEDBACK_WINDOW_STEPS))
            fb_long = FEEDBACK_GAMMA * self.rate * np.maximum(0.0, -z10 - 2.0) ** 1.5
            fb_short = FEEDBACK_GAMMA * self.rate * np.maximum(0.0, z10 - 2.0) ** 1.5
            alive = on.fuel > 0.0
            # a leg out of fuel or past its duration hands its events' ordinary aftershocks over
            handover = np.where(alive, sch.n_handover[k], self.n0) * k_ep
            mu_bg = sch.mu_bg[k]
            if self.profile.background_vol_coupling > 0:
                # a volatile hour is a busier one: background immigrants follow σ (not the
                # episodes' own vol jumps, which are the cascades' doing)
                busy = (
                    REGIME_MULTS[self.regime] * math.exp(h - LOGVOL_VARIANCE_SHIFT + sch.spike[k])
                ) ** self.profile.background_vol_coupling
                mu_bg = mu_bg * min(max(busy, BACKGROUND_BUSY_RANGE[0]), BACKGROUND_BUSY_RANGE[1])
            lam_bg = mu_bg + fb_long + fb_short + self.n0 * k_bg + k_bg @ self.cross + handover
            # bursts (in mu_ep) come on top of the capped self-excitation, so waves reach the peak
            lam_ep = np.where(alive, sch.mu_ep[k] + np.minimum(sch.n_ep[k] * k_ep, on.rate_cap), 0.0)
            counts = rng.poisson(np.minimum(np.concatenate([lam_bg, lam_ep]), MAX_EVENT_RATE) * dt)
            whales = sch.whales.get(k)
            s_bg *= decay
            s_ep *= decay
            impact = np.zeros(a_n)
            funding_now = FUNDING_MEAN + self.funding_dev + sch.fund_bump[k]
            if whales or np.count_nonzero(counts):
                p_bg = 0.5 + 0.1 * np.tanh((funding_now - FUNDING_MEAN) / 0.0002)
                tilt = (fb_long - fb_short) / (fb_long + fb_short + mu_bg + 1e-12)
                p_bg = np.clip(p_bg + 0.4 * tilt, 0.05, 0.95)
                ev = self._draw_events(k, counts, p_bg, on, whales or [], sch.step_end[k] - dt)
                g_sum = np.bincount(ev.bins, ev.g, 2 * a_n)
                usd_long = np.bincount(ev.bins, np.where(ev.is_long, ev.usd, 0.0), 2 * a_n)
                usd_short = np.bincount(ev.bins, np.where(ev.is_long, 0.0, ev.usd), 2 * a_n)
                s_bg += g_sum[:a_n]
                s_ep += g_sum[a_n:]
                on.fuel -= usd_long[a_n:] + usd_short[a_n:]
                net_ep = usd_long[a_n:] - usd_short[a_n:]
                net_all = usd_long[:a_n] - usd_short[:a_n] + net_ep
                impact = (
                    IMPACT_KAPPA * on.withdrawal * net_all / self.depth
                    + np.where(alive, on.impact, 0.0) * net_ep
                )
                liq_base = (usd_long[:a_n] + usd_long[a_n:] + usd_short[:a_n] + usd_short[a_n:]) / np.exp(
                    logp
                )
                # voluntary closes join forced ones in an episode (§5.6: 1–2× the liquidated notional)
                self.oi -= liq_base * (1.0 + np.where(on.index >= 0, 1.5, 0.2))
                rec.append(ev)
            ret = sig * (self.corr * z_mkt[k] + idio * z_own[k]) - impact - sch.shock[k] + sch.ret_jump[k]
            hist[self.hist_pos] = logp
            self.hist_pos = (self.hist_pos + 1) % FEEDBACK_WINDOW_STEPS
            logp = logp + ret
            self.funding_dev = self.funding_dev * f_keep + f_noise * z_f[k]
            self.oi += (self.oi_target - self.oi) * (dt / OI_REBUILD_S)
            self.oi = np.maximum(self.oi * np.exp(oi_sd * z_oi[k]), 0.0)
            out_price[k] = np.exp(logp)
            out_oi[k] = self.oi
            out_funding[k] = funding_now
        self.logp = logp
        self.h = h
        self.t = t0 + CHUNK_S
        for a, leg in enumerate(self.leg_of):
            if leg is not None:
                leg.fuel = float(on.fuel[a])
        chunk = self._events(t0, sch.step_end, out_price, out_oi, out_funding, rec, legs)
        self._tally(chunk, limit)
        self._retire_legs(lam_ep=(kern * s_ep).sum(axis=0) * sch.n_ep[-1])
        return chunk

    def _draw_events(
        self,
        k: int,
        counts: np.ndarray,
        p_bg: np.ndarray,
        on: LegArrays,
        whales: list[PlantedPrint],
        step_start: float,
    ) -> StepEvents:
        """Marks, sides, venues and times of the step's events (background first, then legs'),
        plus any planted prints (whales, clusters) scheduled in the step."""
        a_n = self.n_assets
        draw = self.pool.take(int(counts.sum()))
        bins = np.repeat(np.arange(2 * a_n), counts)  # asset, or n_assets + asset for leg events
        asset = bins % a_n
        is_ep = bins >= a_n
        marks = draw[:, 0]
        if self.profile.size_families:
            alpha = self.pareto_alpha[asset]
            pareto = alpha > 0
            if pareto.any():
                # pure Pareto with the same median as the body: x_m = median / 2^(1/alpha)
                a_safe = np.where(pareto, alpha, 1.0)
                x_m = self.pool.median * 2.0 ** (-1.0 / a_safe)
                tail = x_m * (1.0 - draw[:, 6]) ** (-1.0 / a_safe)
                marks = np.where(pareto, np.minimum(tail, SIZE_CAP_USD), marks)
        usd = marks * self.scale[asset] * np.where(is_ep, on.mark_mult[asset], 1.0)
        # late children of a finished leg (no leg on the asset any more) take background sides
        p_ep = np.where(
            on.side > 0, LEG_EVENT_SIDE_SHARE, np.where(on.side < 0, 1.0 - LEG_EVENT_SIDE_SHARE, p_bg)
        )
        is_long = draw[:, 2] < np.where(is_ep, p_ep[asset], p_bg[asset])
        shares = np.cumsum([share for _, share in VENUE_SHARES])
        venue = np.minimum(np.searchsorted(shares, draw[:, 3] * shares[-1], side="right"), len(shares) - 1)
        ev = StepEvents(
            step=k,
            bins=bins,
            asset=asset,
            is_long=is_long,
            usd=usd,
            g=draw[:, 1],
            venue=venue,
            frac=draw[:, 4],
            slip=draw[:, 5],
            leg=np.where(is_ep, on.index[asset], -1),
        )
        for w in whales:
            ev.append(
                asset=w.asset,
                is_long=w.long,
                usd=w.usd,
                g=w.g,
                venue=w.venue,
                frac=min(max((w.ts - step_start) / STEP_S, 0.0), 0.999),
            )
            if w.note is not None:
                self.injected.append(w.note)
        return ev

    # ------------------------------------------------------------------ after the step loop

    def _events(
        self,
        t0: float,
        step_end: np.ndarray,
        price: np.ndarray,
        oi: np.ndarray,
        funding: np.ndarray,
        rec: list[StepEvents],
        legs: list[Leg],
    ) -> Chunk:
        dt = STEP_S
        steps = np.concatenate([np.full(r.asset.size, r.step) for r in rec] or [np.zeros(0, dtype=np.int64)])
        asset = np.concatenate([r.asset for r in rec] or [np.zeros(0, dtype=np.int64)])
        is_long = np.concatenate([r.is_long for r in rec] or [np.zeros(0, dtype=bool)])
        usd = np.concatenate([r.usd for r in rec] or [np.zeros(0)])
        venue = np.concatenate([r.venue for r in rec] or [np.zeros(0, dtype=np.int64)])
        frac = np.concatenate([r.frac for r in rec] or [np.zeros(0)])
        slip_u = np.concatenate([r.slip for r in rec] or [np.zeros(0)])
        leg = np.concatenate([r.leg for r in rec] or [np.zeros(0, dtype=np.int64)])
        ts = np.round((step_end[steps] - dt + frac * dt) * 1000.0) / 1000.0
        ts = np.clip(ts, t0, t0 + CHUNK_S - 0.001)
        # bankruptcy/fill price: a liquidated long sells below the mark, a short buys above it
        slip = 0.0002 + 0.0015 * slip_u
        fill = price[steps, asset] * np.where(is_long, 1.0 - slip, 1.0 + slip)
        # venues trade in ticks and lots: the truth is what the venues print, so round here
        decimals = np.array([s.price_decimals for s in self.specs])[asset]
        step = np.array([s.qty_step for s in self.specs])[asset]
        fill = np.round(fill * 10.0**decimals) / 10.0**decimals
        lots = np.maximum(np.round(usd / fill / step), 1.0)
        qty = np.round(lots * step, 8)
        usd = qty * fill
        order = np.argsort(ts, kind="stable")
        return Chunk(
            t0=t0,
            step_ts=step_end,
            price=price,
            oi=oi,
            funding=funding,
            ev_ts=ts[order],
            ev_asset=asset[order].astype(np.int64),
            ev_long=is_long[order],
            ev_usd=usd[order],
            ev_price=fill[order],
            ev_qty=qty[order],
            ev_venue=venue[order].astype(np.int64),
            ev_leg=leg[order].astype(np.int64),
            legs=legs,
        )

    def _tally(self, chunk: Chunk, limit: float) -> None:
        """Add the chunk's episode events (before `limit`) to their legs' running totals."""
        if not chunk.legs or chunk.ev_ts.size == 0:
            return
        n_venues = len(VENUE_SHARES)
        for j, leg in enumerate(chunk.legs):
            mask = (chunk.ev_leg == j) & (chunk.ev_ts < limit)
            if not mask.any():
                continue
            ts = chunk.ev_ts[mask]
            usd = chunk.ev_usd[mask]
            leg.note_onset(ts)
            leg.first_ts = min(leg.first_ts, float(ts[0]))
            leg.last_ts = max(leg.last_ts, float(ts[-1]))
            leg.usd += float(usd.sum())
            leg.count += int(mask.sum())
            per_venue = np.bincount(chunk.ev_venue[mask], usd, n_venues)
            leg.venue_usd = [x + float(y) for x, y in zip(leg.venue_usd, per_venue, strict=True)]
            seconds = np.floor(ts).astype(np.int64)
            uniq, inv = np.unique(seconds, return_inverse=True)
            sums = np.bincount(inv, usd)
            for s, u in zip(uniq.tolist(), sums.tolist(), strict=True):
                leg.usd_by_second[s] = leg.usd_by_second.get(s, 0.0) + u
            k_last = min(len(chunk.step_ts) - 1, int((ts[-1] - chunk.t0) / STEP_S))
            leg.price_end = float(chunk.price[k_last, self.local[leg.asset]])

    def _retire_legs(self, lam_ep: np.ndarray) -> None:
        """A leg is over once its own events have died out after its planned duration."""
        now = self.t
        for a, leg in enumerate(self.leg_of):
            if leg is None:
                continue
            over = now > leg.t0 + leg.duration
            quiet = lam_ep[a] < max(0.05, 0.01 * leg.peak_rate)
            if (over and quiet) or now > leg.end_estimate + 900.0:
                leg.done = True
                self.leg_of[a] = None

    def finished_episodes(self) -> list[Episode]:
        """Episodes all of whose legs are done and not yet labelled (in start order)."""
        out = [ep for ep in self.episodes if not ep.labelled and ep.done]
        for ep in out:
            ep.labelled = True
        self.episodes = [ep for ep in self.episodes if not ep.labelled]
        return out

    def close_all(self) -> list[Episode]:
        """End of the run: every episode that has started is finished as it stands."""
        out = []
        for ep in self.episodes:
            if ep.labelled:
                continue
            if any(leg.count > 0 for leg in ep.legs):
                for leg in ep.legs:
                    leg.done = True
                ep.labelled = True
                out.append(ep)
        self.episodes = []
        return out
