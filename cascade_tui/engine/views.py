"""Snapshot views: immutable pictures of the engine's state for the UI and sinks."""

from __future__ import annotations

from typing import Any, Final

from cascade_tui.engine.params import FACTORS, LEVEL_NAMES, WINDOWS, RegimeParams
from cascade_tui.engine.rates import DecayedRates, acceleration
from cascade_tui.engine.scoring import RAW_KEYS
from cascade_tui.engine.state import (
    CH_VENUE_COUNT,
    CH_VENUE_USD,
    HISTORY_S,
    OCCUPANCY_WINDOW_S,
    AssetState,
    FeedStatus,
    VenueFlow,
)
from cascade_tui.engine.types import AssetView, Velocity, VenueView, VolatilityView
from cascade_tui.engine.volatility import BtcVolatility

SATURATED_OCCUPANCY: Final = 0.7  # a sampled feed this occupied is most likely a lower bound
_EMPTY_HISTORY: Final = (0.0,) * HISTORY_S


def velocities(rates: DecayedRates, t: float) -> tuple[Velocity, ...]:
    ev, usd = rates.rates_at(t)
    acc = acceleration(ev)
    return tuple(
        Velocity(window_s=w, events_per_s=e, usd_per_s=u, acceleration=a)
        for w, e, u, a in zip(WINDOWS, ev, usd, acc, strict=True)
    )


def _zero_velocities() -> tuple[Velocity, ...]:
    return tuple(Velocity(window_s=w, events_per_s=0.0, usd_per_s=0.0, acceleration=0.0) for w in WINDOWS)


def venue_view(
    venue: str, flow: VenueFlow | None, feed: FeedStatus, weight: float, t: float, sec: int
) -> VenueView:
    """A venue's liquidation flow (if it had any) with its connection health."""
    health: dict[str, Any] = {
        "state": feed.state,
        "state_detail": feed.state_detail,
        "last_message_age_s": feed.last_message_age_s,
        "frames": feed.frames,
        "parse_errors": feed.parse_errors,
        "reconnects": feed.reconnects,
        "failure": feed.failure,
        "weight": weight,
    }
    if flow is None:
        return VenueView(
            venue=venue,
            sampled=False,
            velocity=_zero_velocities(),
            occupancy=None,
            saturated=False,
            history=_EMPTY_HISTORY,
            usd_history=_EMPTY_HISTORY,
            long_count=0,
            long_usd=0.0,
            short_count=0,
            short_usd=0.0,
            last_event_ts=None,
            **health,
        )
    occupancy = flow.occ.occupied(sec, OCCUPANCY_WINDOW_S) / OCCUPANCY_WINDOW_S if flow.sampled else None
    return VenueView(
        venue=venue,
        sampled=flow.sampled,
        velocity=velocities(flow.rates, t),
        occupancy=occupancy,
        saturated=occupancy is not None and occupancy >= SATURATED_OCCUPANCY,
        history=flow.ring.history(CH_VENUE_COUNT, sec),
        usd_history=flow.ring.history(CH_VENUE_USD, sec),
        long_count=flow.long_count,
        long_usd=flow.long_usd,
        short_count=flow.short_count,
        short_usd=flow.short_usd,
        last_event_ts=flow.last_event_ts,
        **health,
    )


def asset_view(st: AssetState, t: float, sec: int) -> AssetView:
    usd_long, usd_short = st.usd_60s(sec)
    side = st.shown
    level = side.level.level
    return AssetView(
        asset=st.asset,
        score=st.score,
        level=level,
        level_name=LEVEL_NAMES[level],
        direction=side.side if level else st.direction(sec),
        components=dict(zip(FACTORS, st.components, strict=True)),
        raw=dict(zip(RAW_KEYS, st.raw, strict=True)),
        velocity=velocities(st.rates, t),
        usd_60s=usd_long + usd_short,
        events_60s=st.events_60s(sec),
        price=st.price.last,
        oi_change_pct=st.oi.changes(sec // 60),
        funding_rate=st.funding.latest_rate,
        funding_annualized=st.funding.annualized(),
        funding_trend=st.funding.trend(t),
        venues=tuple(st.venues_60s(t)),
        episode=side.level.episode,
        history=st.history.values(sec),
        why=dict(side.why),
    )


def volatility_view(vol: BtcVolatility, p: RegimeParams) -> VolatilityView:
    return VolatilityView(
        regime=vol.regime.name,
        regime_since=vol.regime.since,
        rv=vol.rv(),
        bv_1h=vol.bv(),
        expansion=vol.expansion(),
        cascade_risk_multiplier=vol.multiplier(p),
        btc_price=vol.last_price,
        price_history=tuple(vol.price_history),
        regime_history=tuple(vol.regime_history),
    )
