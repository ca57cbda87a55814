"""Injected cascade episodes (§5.5): planning, per-leg schedules, and the labels they become.

An episode has one *leg* per asset it hits (BTC-led major/extreme episodes spread to alts with
1–60 s lags). A leg is a Hawkes surrogate: its branching ratio ramps from n₀ to n_c, an
immigrant burst kicks it off, "fuel-crossing" immigrants sustain it for its duration, and a
fuel budget (USD) ends it early when exhausted. The leg also carries its price shock, impact
calibration, volatility jump and funding crowding, so the market model can couple them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cascade_tui.labels import Label
from cascade_tui.sources.simulate.config import (
    ASSETS,
    CLASSES,
    MAX_EVENT_RATE,
    VENUE_SHARES,
    EpisodeClass,
    Profile,
    ScriptedEpisode,
)

LONG_SIDE = 1  # longs liquidated (forced sells, price falls)
SHORT_SIDE = -1
IMPACT_KAPPA = 0.01  # §5.6: 1 % price move per unit of Q / D_s
END_USD_SHARE = 0.98  # a label ends when this share of its USD has been liquidated
# Onset: the first moment the leg's true stream meets an observable rule, ONSET_PRINTS of its
# liquidations within ONSET_WINDOW_S (docs/detection-science.md §4.2: lag is measured from a fixed,
# observable onset; the first print of a slow ramp is indistinguishable from the background).
ONSET_PRINTS = 4
ONSET_WINDOW_S = 2.0
EXTREME_WAVE_TAU_S = (60.0, 120.0)  # decay of an extreme episode's bursts (other classes: 5–30 s)
EXTREME_PLATEAU_SHARE = 0.4  # of an extreme leg's budget; its waves burn the rest
MAX_FUNDING_BUMP = 0.0004  # per 8 h; crowded states sit at 0.03–0.05 % (§5.6)


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def _at(lo_hi: tuple[float, float], share: float) -> float:
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * share


def _log_uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(math.exp(rng.uniform(math.log(lo_hi[0]), math.log(lo_hi[1]))))


@dataclass
class Leg:
    """One asset's part of an episode: its schedule (fixed at planning) and its running tally."""

    episode: int
    asset: int
    side: int
    t0: float  # the leg's clock origin: start of ramp (endogenous) or of the shock (exogenous)
    duration: float
    peak_rate: float
    fuel: float  # remaining USD budget
    n_crit: float
    ramp_s: float
    burst_at: float  # seconds after t0 when the immigrant burst starts
    burst_tau: float
    relax_tau: float
    mark_mult: float
    depth_withdrawal: float  # W: multiplies the static impact of all forced flow on the asset
    impact_per_usd: float  # extra price fraction per USD of the leg's own net flow
    shock: float  # price fraction delivered exogenously (signed like the leg: >0 = price down for longs)
    shock_at: float
    shock_s: float
    vol_jump_log: float
    vol_half_life_s: float
    waves: tuple[float, ...] = ()  # later bursts (seconds after t0): extreme episodes come in 2–3 waves
    # Sustained rate between bursts (events/s): the peak, or less when the fuel budget could
    # not pay for the peak rate over the whole duration (the bursts still reach the peak).
    plateau_rate: float = math.inf
    active: bool = False
    done: bool = False
    fuel_out: bool = False
    first_ts: float = math.inf
    last_ts: float = -math.inf
    usd: float = 0.0
    count: int = 0
    price_start: float = 0.0
    price_end: float = 0.0
    venue_usd: list[float] = field(default_factory=lambda: [0.0] * len(VENUE_SHARES))
    usd_by_second: dict[int, float] = field(default_factory=dict)
    onset_ts: float = math.inf
    recent_ts: list[float] = field(default_factory=list)  # the last few event times before onset

    def note_onset(self, ts: np.ndarray) -> None:
        """Find the onset among this chunk's (time-ordered) leg events, if not found yet."""
        if self.onset_ts < math.inf or ts.size == 0:
            return
        k = ONSET_PRINTS - 1
        times = np.concatenate([np.asarray(self.recent_ts[-k:]), ts])
        if times.size > k:
            met = np.flatnonzero(times[k:] - times[:-k] <= ONSET_WINDOW_S)
            if met.size:
                self.onset_ts = float(times[k + met[0]])
                self.recent_ts = []
                return
        self.recent_ts = times[-k:].tolist()

    @property
    def end_estimate(self) -> float:
        return self.t0 + self.duration + 4.0 * self.relax_tau

    def n_at(self, tau: np.ndarray, n0: float) -> np.ndarray:
        """Branching ratio of the leg's events at leg times tau (seconds since t0)."""
        up = n0 + (self.n_crit - n0) * np.clip(tau / self.ramp_s, 0.0, 1.0)
        relax = n0 + (self.n_crit - n0) * np.exp(-np.maximum(tau - self.duration, 0.0) / self.relax_tau)
        return np.where(tau <= self.duration, up, relax)

    def immigrants_at(self, tau: np.ndarray) -> np.ndarray:
        """Immigrant rate (events/s) of the leg at leg times tau: burst + fuel-crossing plateau."""
        burst = np.zeros_like(tau)
        for at in (self.burst_at, *self.waves):
            since = tau - at
            burst += np.where(since >= 0.0, np.exp(-np.maximum(since, 0.0) / self.burst_tau), 0.0)
        burst *= 0.6 * self.peak_rate
        # Enough immigrants that the fast kernel alone sustains roughly the plateau rate.
        sustained = min(self.peak_rate, self.plateau_rate)
        plateau = sustained * (1.0 - 0.6 * self.n_crit) * np.clip(tau / self.ramp_s, 0.0, 1.0)
        return burst + np.where((tau >= 0.0) & (tau <= self.duration), plateau, 0.0)

    def shock_at_steps(self, tau: np.ndarray, dt: float) -> np.ndarray:
        """Exogenous price drift per step (fraction, sign as `shock`), spread over shock_s."""
        inside = (tau >= self.shock_at) & (tau < self.shock_at + self.shock_s)
        return np.where(inside, self.shock * dt / self.shock_s, 0.0)


@dataclass
class Episode:
    id: int
    cls: EpisodeClass
    side: int
    start: float
    exogenous: bool
    legs: list[Leg]
    crowding: float  # funding bump (per 8 h) before the episode on its assets
    crowding_lead_s: float
    funding_drop: float  # funding drop after the episode
    labelled: bool = False

    @property
    def done(self) -> bool:
        return all(leg.done for leg in self.legs)


def funding_bump(episodes: list[Episode], t: np.ndarray, n_assets: int) -> np.ndarray:
    """Funding offset (per 8 h) at times t per asset from crowding before and the drop after episodes."""
    out = np.zeros((t.size, n_assets))
    for ep in episodes:
        if ep.crowding == 0.0 and ep.funding_drop == 0.0:
            continue
        lead_start = ep.start - ep.crowding_lead_s
        if t[-1] < lead_start or t[0] > ep.start + 6 * 3600:
            continue
        before = np.clip((t - lead_start) / ep.crowding_lead_s, 0.0, 1.0) * ep.crowding
        after_tau = np.maximum(t - ep.start, 0.0)
        after = ep.crowding * np.exp(-after_tau / 300.0) - ep.funding_drop * (
            1 - np.exp(-after_tau / 300.0)
        ) * np.exp(-after_tau / 14_400.0)
        bump = ep.side * np.where(t < ep.start, before, after)
        for leg in ep.legs:
            out[:, leg.asset] += bump
    # overlapping episodes (frequent in the demo) must not stack funding to absurd levels
    return np.clip(out, -MAX_FUNDING_BUMP, MAX_FUNDING_BUMP)


class EpisodePlanner:
    """Draws episodes ahead of the simulation clock so funding can crowd before them."""

    def __init__(
        self,
        rng: np.random.Generator,
        profile: Profile,
        start_ts: float,
        asset_idx: list[int],
        mean_mark_usd: float,
        n0: float,
    ) -> None:
        self.rng = rng
        self.profile = profile
        self.asset_idx = asset_idx  # indices into ASSETS of the simulated assets
        self.mean_mark_usd = mean_mark_usd
        self.n0 = n0
        self.horizon = start_ts
        self.next_id = 0
        self.busy_until = dict.fromkeys(asset_idx, start_ts)
        self.next_arrival: dict[str, float] = {}
        rates = np.array([ASSETS[i].rate for i in asset_idx])
        self.asset_weights = rates / rates.sum()
        self.scale = {i: profile.size_scales.get(ASSETS[i].name, ASSETS[i].size_scale) for i in asset_idx}
        names = {ASSETS[i].name: i for i in asset_idx}
        # scripted episodes whose leading asset is simulated (the others are simply left out)
        self.scripted: list[tuple[float, ScriptedEpisode, list[int]]] = []
        for sc in profile.scripted:
            picked = [names[a] for a in sc.assets if a in names]
            if sc.assets and sc.assets[0] in names:
                self.scripted.append((start_ts + sc.at_s, sc, picked))
        for name, per_hour in sorted(profile.episodes_per_hour.items()):
            if per_hour > 0:
                self.next_arrival[name] = start_ts + float(rng.exponential(3600.0 / per_hour))
        if profile.first_episode_within_s > 0 and "minor" in self.next_arrival:
            self.next_arrival["minor"] = start_ts + float(rng.uniform(20.0, profile.first_episode_within_s))

    def plan_until(self, until: float) -> list[Episode]:
        """Episodes whose arrivals fall before `until` (not planned before), in start order."""
        if until <= self.horizon:
            return []
        arrivals: list[tuple[float, str]] = []
        for name in sorted(self.next_arrival):
            t = self.next_arrival[name]
            per_hour = self.profile.episodes_per_hour[name]
            while t < until:
                arrivals.append((t, name))
                t += float(self.rng.exponential(3600.0 / per_hour))
            self.next_arrival[name] = t
        self.horizon = until
        planned = [self._plan_scripted(t, sc, assets) for t, sc, assets in self.scripted if t < until]
        self.scripted = [item for item in self.scripted if item[0] >= until]
        arrivals.sort()
        return planned + [self._plan(t, CLASSES[name]) for t, name in arrivals]

    def _plan_scripted(self, t: float, sc: ScriptedEpisode, assets: list[int]) -> Episode:
        side = LONG_SIDE if sc.side == "long" else SHORT_SIDE
        return self._plan(t, CLASSES[sc.cls], side, sc.exogenous, assets, sc.strength)

    def _plan(
        self,
        t: float,
        cls: EpisodeClass,
        side: int | None = None,
        exogenous: bool | None = None,
        assets: list[int] | None = None,
        strength: float | None = None,
    ) -> Episode:
        """One episode of a class; a scripted one fixes its side, kind and assets."""
        rng = self.rng
        drawn_side = LONG_SIDE if rng.random() < 0.62 else SHORT_SIDE
        drawn_exogenous = bool(rng.random() < 0.5)
        side = drawn_side if side is None else side
        exogenous = drawn_exogenous if exogenous is None else exogenous
        btc = 0 if 0 in self.asset_idx else None
        if assets:
            pass
        elif cls.spread and btc is not None:
            others = [i for i in self.asset_idx if i != 0]
            n_alts = len(others) if cls.name == "extreme" else min(len(others), int(rng.integers(3, 7)))
            alts = sorted(int(i) for i in rng.choice(others, size=n_alts, replace=False)) if n_alts else []
            assets = [0, *alts]
        else:
            assets = [int(rng.choice(self.asset_idx, p=self.asset_weights))]
        start = max(t, *(self.busy_until[a] + 30.0 for a in assets))
        duration = _uniform(rng, cls.duration_s)
        peak = _log_uniform(rng, cls.peak_rate)
        budget = _log_uniform(rng, cls.usd)
        move = _uniform(rng, cls.price_move)
        if strength is not None:
            # a scripted episode sits at a fixed point of its class's ranges, not a random one
            duration = _at(cls.duration_s, 1.0 - strength)
            peak = math.exp(_at((math.log(cls.peak_rate[0]), math.log(cls.peak_rate[1])), strength))
            budget = math.exp(_at((math.log(cls.usd[0]), math.log(cls.usd[1])), strength))
            move = _at(cls.price_move, strength)
        budget_scale = sum(self.scale[a] for a in assets) if cls.name == "extreme" else 1.0
        legs: list[Leg] = []
        for k, a in enumerate(assets):
            spec = ASSETS[a]
            lag = 0.0 if k == 0 else _uniform(rng, (1.0, 60.0))
            beta = 1.0 if a == 0 else _uniform(rng, (1.3, 2.5))
            leg_move = min(0.8, move * (beta if len(assets) > 1 else spec.vol_mult))
            # The class's USD is BTC's share, except for "extreme", whose USD is market-wide.
            leg_budget = (
                budget * self.scale[a] * (1.0 if a == 0 else _uniform(rng, (0.6, 1.4))) / budget_scale
            )
            leg_peak = min(MAX_EVENT_RATE, max(1.0, peak * math.sqrt(spec.rate / ASSETS[0].rate)))
            leg_duration = duration * (1.0 if k == 0 else _uniform(rng, (0.6, 1.0)))
            ramp = leg_duration * _uniform(rng, (0.05, 0.12) if exogenous else (0.15, 0.30))
            expected_events = leg_peak * leg_duration * 1.2
            mark_mult = min(
                50.0, max(1.0, leg_budget / (expected_events * self.mean_mark_usd * self.scale[a]))
            )
            if self.profile.episode_mark_mult != (1.0, 1.0):
                # cascades liquidate larger positions than the background's
                mark_mult = max(mark_mult, _uniform(rng, self.profile.episode_mark_mult))
            waves: tuple[float, ...] = ()
            plateau_share = 1.0  # of the budget, paid out between bursts
            if cls.name == "extreme":
                # §5.5: 2–3 waves, and a market-wide peak near $50 M/s that the capped event
                # rate can only reach with the large positions such a crash liquidates
                mark_mult = max(mark_mult, 2.5)
                n_waves = int(rng.integers(1, 3))
                waves = tuple(sorted(_uniform(rng, (0.2, 0.7)) * leg_duration for _ in range(n_waves)))
                # the waves, minutes long, carry most of the USD so it comes early (§5.9: 70 %
                # within ~40 min); the plateau between them gets the rest
                plateau_share = EXTREME_PLATEAU_SHARE
            # the plateau the budget pays for over the duration (20 % spare for bursts and waves)
            plateau_rate = min(
                leg_peak,
                plateau_share
                * leg_budget
                / (leg_duration * 1.2 * self.mean_mark_usd * self.scale[a] * mark_mult),
            )
            w = _log_uniform(rng, cls.depth_withdrawal)
            shock_share = 0.4 if exogenous else 0.1
            # Depth withdrawal amplifies the static impact of all forced flow on the asset; cap
            # it so the episode's own flow cannot move the price past the class's range, and let
            # a leg-specific impact make up the rest of the planned move.
            flow_move = (1.0 - shock_share) * leg_move
            w = max(1.0, min(w, flow_move * spec.depth_usd / (IMPACT_KAPPA * leg_budget)))
            static = IMPACT_KAPPA * w / spec.depth_usd
            impact_per_usd = max(0.0, flow_move / leg_budget - static)
            legs.append(
                Leg(
                    episode=self.next_id,
                    asset=a,
                    side=side,
                    t0=start + lag,
                    duration=leg_duration,
                    peak_rate=leg_peak,
                    fuel=leg_budget,
                    n_crit=_uniform(rng, (0.90, 0.98)),
                    ramp_s=max(ramp, 2.0),
                    burst_at=0.0 if exogenous else ramp,
                    burst_tau=_uniform(rng, EXTREME_WAVE_TAU_S if cls.name == "extreme" else (5.0, 30.0)),
                    relax_tau=leg_duration / 3.0,
                    mark_mult=mark_mult,
                    depth_withdrawal=w,
                    impact_per_usd=impact_per_usd,
                    shock=shock_share * leg_move,
                    shock_at=0.0 if exogenous else ramp,
                    shock_s=_uniform(rng, (10.0, 30.0)),
                    vol_jump_log=self.profile.episode_vol_scale * math.log(_uniform(rng, cls.vol_jump)),
                    vol_half_life_s=_uniform(rng, cls.vol_half_life_s),
                    waves=waves,
                    plateau_rate=max(plateau_rate, 1.0),
                )
            )
            self.busy_until[a] = max(self.busy_until[a], legs[-1].end_estimate)
        crowded = cls.name != "minor"
        episode = Episode(
            id=self.next_id,
            cls=cls,
            side=side,
            start=start,
            exogenous=exogenous,
            legs=legs,
            crowding=_uniform(rng, (0.0002, 0.0004)) if crowded else 0.0,
            crowding_lead_s=_uniform(rng, (1800.0, 3600.0)),
            funding_drop=_uniform(rng, (0.0002, 0.0005)) if crowded else 0.0,
        )
        self.next_id += 1
        return episode


def _peak_ts(by_second: dict[int, float]) -> float:
    """Middle of the 5 s window holding the most USD."""
    if not by_second:
        return 0.0
    seconds = sorted(by_second)
    first = seconds[0]
    usd = np.zeros(seconds[-1] - first + 1)
    for s in seconds:
        usd[s - first] = by_second[s]
    window = np.convolve(usd, np.ones(5), mode="full")[: usd.size]
    best = int(np.argmax(window))
    return float(first + best - 2.0 + 0.5)


def _end_ts(by_second: dict[int, float], last_ts: float) -> float:
    """When the episode is over: the end of the second by which 98 % of its USD had gone
    (the sparse tail of late children is not part of the cascade)."""
    if not by_second:
        return last_ts
    total = sum(by_second.values())
    running = 0.0
    for second in sorted(by_second):
        running += by_second[second]
        if running >= END_USD_SHARE * total:
            return min(last_ts, second + 1.0)
    return last_ts


def _onset(leg: Leg) -> float:
    """The leg's onset, or its first event when its stream never met the onset rule."""
    return leg.onset_ts if leg.onset_ts < math.inf else leg.first_ts


def labels_for(episode: Episode, venue_names: tuple[str, ...]) -> list[Label]:
    """Labels of a finished episode: one per leg with events, plus "*" for a cross-symbol one."""
    out: list[Label] = []
    cls = episode.cls
    direction = "long" if episode.side == LONG_SIDE else "short"
    legs = [leg for leg in episode.legs if leg.count > 0]
    for leg in legs:
        out.append(
            Label(
                start=round(leg.first_ts, 3),
                end=round(_end_ts(leg.usd_by_second, leg.last_ts), 3),
                onset=round(_onset(leg), 3),
                asset=ASSETS[leg.asset].name,
                direction=direction,
                usd=round(leg.usd, 2),
                severity=cls.severity,
                cls=cls.name,
                episode=episode.id,
                peak_ts=round(_peak_ts(leg.usd_by_second), 3),
                count=leg.count,
                price_move=round(leg.price_end / leg.price_start - 1.0, 6) if leg.price_start > 0 else 0.0,
                exogenous=episode.exogenous,
                venues=[v for v, u in zip(venue_names, leg.venue_usd, strict=True) if u > 0],
                venue_usd={v: round(u, 2) for v, u in zip(venue_names, leg.venue_usd, strict=True) if u > 0},
            )
        )
    if len(legs) > 1:
        by_second: dict[int, float] = {}
        venue_usd = [0.0] * len(venue_names)
        for leg in legs:
            for s, u in leg.usd_by_second.items():
                by_second[s] = by_second.get(s, 0.0) + u
            venue_usd = [a + b for a, b in zip(venue_usd, leg.venue_usd, strict=True)]
        lead = legs[0]
        out.append(
            Label(
                start=round(min(leg.first_ts for leg in legs), 3),
                onset=round(min(_onset(leg) for leg in legs), 3),
                end=round(_end_ts(by_second, max(leg.last_ts for leg in legs)), 3),
                asset="*",
                direction=direction,
                usd=round(sum(leg.usd for leg in legs), 2),
                severity=cls.severity,
                cls=cls.name,
                episode=episode.id,
                peak_ts=round(_peak_ts(by_second), 3),
                count=sum(leg.count for leg in legs),
                price_move=round(lead.price_end / lead.price_start - 1.0, 6) if lead.price_start > 0 else 0.0,
                exogenous=episode.exogenous,
                venues=[v for v, u in zip(venue_names, venue_usd, strict=True) if u > 0],
                venue_usd={v: round(u, 2) for v, u in zip(venue_names, venue_usd, strict=True) if u > 0},
            )
        )
    return out
