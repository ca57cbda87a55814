"""What a remote viewer shows of the ingester's own results (pure: no I/O).

The viewer (`--source redis`) replays the ingester's event stream through a local engine for
the tape, the velocities and the venue panels, but that stream is lossy: under load the
writer drops events before signals (docs/redis.md), so a local engine would miss or invent
signals. Levels, scores, signals and the BTC regime therefore come from what the ingester
itself published (`cascade:signals` + `cascade:signals:history`, `cascade:score:*`,
`btc:vol:current`): `overlay` lays them over the local snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from cascade_tui.engine.params import LEVEL_NAMES
from cascade_tui.engine.types import AssetView, Signal, Snapshot, VolatilityView, signal_decoder

MAX_SIGNALS = 500  # as many as the engine's own snapshot keeps
MARKET_ASSET = "*"


@dataclass(frozen=True)
class RemoteView:
    """The ingester's published state as last read; replaced whole, never mutated."""

    signals: tuple[Signal, ...] = ()  # newest first
    scores: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # asset -> score payload
    volatility: Mapping[str, Any] | None = None  # btc:vol:current payload
    version: int = 0  # bumped by every change, so a caller can cache its overlay

    @property
    def has_data(self) -> bool:
        return bool(self.signals or self.scores or self.volatility)


def decode_signal(raw: bytes | str) -> Signal:
    """A signal line from the channel or the history set; raises ValueError when malformed."""
    try:
        return signal_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"signal: {exc}") from None


def decode_payload(raw: bytes | str | None) -> dict[str, Any] | None:
    """A JSON metric payload (`"v": 1`), or None when absent or malformed."""
    if raw is None:
        return None
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return doc if isinstance(doc, dict) and doc.get("v") == 1 else None


def signal_key(sig: Signal) -> tuple[str, float, str, int, str]:
    # both sides of an asset can change level at the same instant: direction is part of it
    return (sig.episode, sig.ts, sig.state, sig.level, sig.direction)


def merge_signals(known: tuple[Signal, ...], new: Iterable[Signal]) -> tuple[Signal, ...]:
    """Known and new signals without duplicates (history and channel overlap), newest first."""
    by_key = {signal_key(s): s for s in known}
    for sig in new:
        by_key.setdefault(signal_key(sig), sig)
    merged = sorted(by_key.values(), key=lambda s: s.ts, reverse=True)
    return tuple(merged[:MAX_SIGNALS])


def signal_counts(signals: Iterable[Signal]) -> dict[str, int]:
    counts = {"WATCH": 0, "WARNING": 0, "CRITICAL": 0}
    for sig in signals:
        if sig.state in ("open", "escalate") and sig.level_name in counts:
            counts[sig.level_name] += 1
    return counts


def market_state(signals: tuple[Signal, ...]) -> tuple[int, str | None]:
    """(level, episode) of the market-wide cascade from its newest signal; (0, None) when closed."""
    for sig in signals:
        if sig.asset == MARKET_ASSET:
            return (0, None) if sig.state == "close" else (sig.level, sig.episode)
    return 0, None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _asset(local: AssetView | None, name: str, payload: Mapping[str, Any] | None, why: dict[str, Any]) -> AssetView:
    level = int(payload.get("level", 0)) if payload else 0
    level = max(0, min(3, level))
    score = _float(payload.get("score")) if payload else None
    components = payload.get("components") if payload else None
    venues = payload.get("venues") if payload else None
    current = payload.get("why") if payload else None
    if isinstance(current, dict):  # the ingester's current why (older ones publish none)
        why = current
    values: dict[str, Any] = {
        "score": score if score is not None else 0.0,
        "level": level,
        "level_name": LEVEL_NAMES[level],
        "direction": str(payload.get("direction", "long")) if payload else (local.direction if local else "long"),
        "components": dict(components) if isinstance(components, dict) else {},
        "episode": payload.get("episode") if payload else None,
        "why": why if level else {},
    }
    if isinstance(venues, list):
        values["venues"] = tuple(str(v) for v in venues)
    if local is not None:
        return msgspec.structs.replace(local, **values)
    return AssetView(
        asset=name,
        raw={},
        velocity=(),
        usd_60s=0.0,
        events_60s=0,
        price=None,
        oi_change_pct={},
        funding_rate=None,
        funding_annualized=None,
        funding_trend=None,
        venues=values.pop("venues", ()),
        history=(),
        **values,
    )


def _volatility(local: VolatilityView, payload: Mapping[str, Any] | None) -> VolatilityView:
    if payload is None:
        return local
    rv = payload.get("rv")
    return msgspec.structs.replace(
        local,
        regime=str(payload.get("regime", local.regime)),
        regime_since=_float(payload.get("regime_since")),
        rv={str(k): _float(v) for k, v in rv.items()} if isinstance(rv, dict) else local.rv,
        bv_1h=_float(payload.get("bv_1h")),
        expansion=_float(payload.get("expansion")),
        cascade_risk_multiplier=_float(payload.get("cascade_risk_multiplier")) or 1.0,
        btc_price=_float(payload.get("btc_price")) or local.btc_price,
    )


def empty_snapshot(ts: float) -> Snapshot:
    """A snapshot with nothing in it, for a viewer that has read no event yet."""
    return Snapshot(
        v=1,
        ts=ts,
        started_ts=None,
        events_total=0,
        events_per_s=0.0,
        market=(),
        market_level=0,
        market_episode=None,
        venues=(),
        assets=(),
        volatility=VolatilityView(
            regime="NORMAL",
            regime_since=None,
            rv={},
            bv_1h=None,
            expansion=None,
            cascade_risk_multiplier=1.0,
            btc_price=None,
            price_history=(),
            regime_history=(),
        ),
        tape=(),
        signals=(),
        signal_counts={},
        latency={},
        params_version=0,
    )


def overlay(local: Snapshot | None, remote: RemoteView, now_ts: float) -> Snapshot | None:
    """The local snapshot with the ingester's signals, levels, scores and regime."""
    if not remote.has_data:
        return local
    base = local if local is not None else empty_snapshot(now_ts)
    latest_why: dict[str, dict[str, Any]] = {}
    for sig in remote.signals:  # newest first: the first per asset is its current why
        latest_why.setdefault(sig.asset, dict(sig.why))
    local_assets = {a.asset: a for a in base.assets}
    names = list(local_assets) + [n for n in remote.scores if n not in local_assets and n != MARKET_ASSET]
    assets = [_asset(local_assets.get(n), n, remote.scores.get(n), latest_why.get(n, {})) for n in names]
    assets.sort(key=lambda a: -a.score)
    market_level, market_episode = market_state(remote.signals)
    return msgspec.structs.replace(
        base,
        # a viewer with no event yet still has a clock: the newest thing the ingester said
        ts=max(base.ts, remote.signals[0].ts if remote.signals else base.ts),
        assets=tuple(assets),
        signals=remote.signals,
        signal_counts=signal_counts(remote.signals),
        market_level=market_level,
        market_episode=market_episode,
        volatility=_volatility(base.volatility, remote.volatility),
    )
