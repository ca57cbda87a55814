"""The Redis schema (docs/DESIGN.md §4, docs/redis.md): key names, TTLs and JSON payloads.

Pure functions of engine values, shared by the writer (sinks/redis.py) and the remote
viewer (sources/redis.py) so the two can never disagree on a name. Every JSON payload
carries `"v": 1` and `"instance"`, the id of the run that wrote it (`host:pid:random`), so
readers can tell two writers apart; the signal payload is the §5.1 signal line with that one
field added at the end.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from cascade_tui.engine.liqmap import BandView, LiqMapView
from cascade_tui.engine.params import EngineParams
from cascade_tui.engine.types import AssetView, LatencyView, Snapshot, Velocity, VolatilityView
from cascade_tui.model import Event, event_decoder, event_encoder

PAYLOAD_VERSION: Final = 1
TTL_VELOCITY_S: Final = 60
TTL_VOLATILITY_S: Final = 10
TTL_SCORE_S: Final = 5
TTL_SIGNAL_S: Final = 3600
TTL_HEARTBEAT_S: Final = 10
TTL_LIQMAP_S: Final = 30  # the map changes slowly; a stopped writer's map expires in 30 s
MARKET_ASSET: Final = "*"  # market-wide rows, as in the signal line's asset field
STREAM_FIELD_VERSION: Final = "v"
STREAM_FIELD_EVENT: Final = "e"  # one normalized event as JSON (model.event_encoder, "kind" tag)
STREAM_FIELD_INSTANCE: Final = "instance"  # the writing run's instance id

_json = msgspec.json.Encoder()


class RedisKeys:
    """Every key and channel name, with the namespace prefix applied."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.volatility = f"{prefix}btc:vol:current"
        self.signals_channel = f"{prefix}cascade:signals"
        self.signals_history = f"{prefix}cascade:signals:history"
        self.latency = f"{prefix}performance:latency"
        self.heartbeat = f"{prefix}cascade:heartbeat"
        self.events = f"{prefix}cascade:events"
        self.params = f"{prefix}cascade:params"

    def velocity(self, asset: str, window_s: int) -> str:
        return f"{self.prefix}liq:vel:{asset}:{window_s}s"

    def score(self, asset: str) -> str:
        return f"{self.prefix}cascade:score:{asset}"

    def liqmap(self, asset: str) -> str:
        return f"{self.prefix}cascade:liqmap:{asset}"

    def signal(self, level_name: str, ts: float) -> str:
        return f"{self.prefix}signal:{level_name}:{round(ts * 1000)}"


def encode(payload: dict[str, Any]) -> bytes:
    return _json.encode(payload)


def signal_payload(signal_line: bytes, instance: str) -> bytes:
    """The §5.1 signal line (a JSON object) with `"instance"` appended as its last field."""
    return signal_line[:-1] + b',"instance":' + _json.encode(instance) + b"}"


def velocity_payload(asset: str, vel: Velocity, ts: float, instance: str = "") -> bytes:
    return encode(
        {
            "v": PAYLOAD_VERSION,
            "asset": asset,
            "window_s": vel.window_s,
            "events_per_s": vel.events_per_s,
            "usd_per_s": vel.usd_per_s,
            "acceleration": vel.acceleration,
            "ts": ts,
            "instance": instance,
        }
    )


def score_payload(view: AssetView, ts: float, instance: str = "") -> bytes:
    return encode(
        {
            "v": PAYLOAD_VERSION,
            "asset": view.asset,
            "score": view.score,
            "components": view.components,
            "level": view.level,
            "level_name": view.level_name,
            "direction": view.direction,
            "episode": view.episode,
            "venues": list(view.venues),
            # what holds the level and the next one, kept current between signal lines (the
            # map's near_cluster context, a gate that changed): what the score detail shows
            "why": view.why,
            "ts": ts,
            "instance": instance,
        }
    )


def volatility_payload(vol: VolatilityView, ts: float, instance: str = "") -> bytes:
    return encode(
        {
            "v": PAYLOAD_VERSION,
            "regime": vol.regime,
            "regime_since": vol.regime_since,
            "rv": vol.rv,
            "bv_1h": vol.bv_1h,
            "expansion": vol.expansion,
            "cascade_risk_multiplier": vol.cascade_risk_multiplier,
            "btc_price": vol.btc_price,
            "ts": ts,
            "instance": instance,
        }
    )


def liqmap_payload(view: LiqMapView, instance: str = "") -> bytes:
    """`cascade:liqmap:{asset}`: the estimated liquidation map; bands as [low, high,
    long_usd, short_usd] rows in ascending price (only bands holding USD)."""
    doc = msgspec.to_builtins(view)
    doc["bands"] = [[b.low, b.high, b.long_usd, b.short_usd] for b in view.bands]
    return encode({"v": PAYLOAD_VERSION, **doc, "instance": instance})


def decode_liqmap(raw: bytes | str) -> LiqMapView:
    """The map of a `cascade:liqmap:{asset}` value; raises ValueError on a bad payload."""
    try:
        doc = msgspec.json.decode(raw)
        if not isinstance(doc, dict) or doc.pop("v", None) != PAYLOAD_VERSION:
            raise ValueError("cascade:liqmap: missing or unknown version")
        doc.pop("instance", None)
        doc["bands"] = [BandView(*row) for row in doc.get("bands", [])]
        return msgspec.convert(doc, LiqMapView)
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as exc:
        raise ValueError(f"cascade:liqmap: {exc}") from None


def latency_payload(view: LatencyView, ts: float, instance: str = "") -> bytes:
    return encode(
        {"v": PAYLOAD_VERSION, "p50_ms": view.p50_ms, "p99_ms": view.p99_ms, "n": view.n, "ts": ts, "instance": instance}
    )


def heartbeat_payload(
    snap: Snapshot | None,
    *,
    version: str,
    started_wall: float,
    now_wall: float,
    sink: dict[str, Any],
    instance: str = "",
) -> bytes:
    venues: dict[str, dict[str, Any]] = {}
    if snap is not None:
        for vv in snap.venues:
            venues[vv.venue] = {
                "state": vv.state,
                "detail": vv.state_detail,
                "age_s": vv.last_message_age_s,
                "frames": vv.frames,
                "parse_errors": vv.parse_errors,
                "reconnects": vv.reconnects,
                "sampled": vv.sampled,
            }
    return encode(
        {
            "v": PAYLOAD_VERSION,
            "version": version,
            "uptime_s": round(now_wall - started_wall, 3),
            "started_at": started_wall,
            "ts": now_wall,  # wall clock: the heartbeat is about the process being alive
            "engine_ts": snap.ts if snap is not None else None,
            "events_total": snap.events_total if snap is not None else 0,
            "venues": venues,
            "redis": sink,
            "instance": instance,
        }
    )


def params_payload(params: EngineParams, version: int, now_wall: float, instance: str = "") -> bytes:
    return encode(
        {
            "v": PAYLOAD_VERSION,
            "version": version,
            "ts": now_wall,
            "params": msgspec.to_builtins(params),
            "instance": instance,
        }
    )


def decode_params(raw: bytes | str) -> tuple[int, EngineParams]:
    """(version, params) from a `cascade:params` value; raises ValueError on a bad payload."""
    try:
        doc = msgspec.json.decode(raw)
        if not isinstance(doc, dict) or doc.get("v") != PAYLOAD_VERSION:
            raise ValueError("cascade:params: missing or unknown version")
        params = msgspec.convert(doc["params"], EngineParams)
        return int(doc.get("version", 0)), params
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as exc:
        raise ValueError(f"cascade:params: {exc}") from None


def snapshot_metrics(snap: Snapshot, keys: RedisKeys, instance: str = "") -> list[tuple[str, bytes, int]]:
    """(key, JSON, TTL) of every string metric a snapshot produces, in a stable order."""
    ts = snap.ts
    out: list[tuple[str, bytes, int]] = []
    for vel in snap.market:
        out.append(
            (keys.velocity(MARKET_ASSET, vel.window_s), velocity_payload(MARKET_ASSET, vel, ts, instance), TTL_VELOCITY_S)
        )
    for view in snap.assets:
        for vel in view.velocity:
            out.append(
                (keys.velocity(view.asset, vel.window_s), velocity_payload(view.asset, vel, ts, instance), TTL_VELOCITY_S)
            )
        out.append((keys.score(view.asset), score_payload(view, ts, instance), TTL_SCORE_S))
    out.append((keys.volatility, volatility_payload(snap.volatility, ts, instance), TTL_VOLATILITY_S))
    for liqmap in snap.liqmap:
        out.append((keys.liqmap(liqmap.asset), liqmap_payload(liqmap, instance), TTL_LIQMAP_S))
    return out


def stream_entry(ev: Event, instance: str = "") -> dict[str, bytes]:
    return {
        STREAM_FIELD_VERSION: b"1",
        STREAM_FIELD_EVENT: event_encoder.encode(ev),
        STREAM_FIELD_INSTANCE: instance.encode(),
    }


def decode_stream_entry(fields: dict[bytes, bytes]) -> Event:
    """The event of one `cascade:events` entry; raises ValueError on a bad entry."""
    raw = fields.get(STREAM_FIELD_EVENT.encode())
    if raw is None or fields.get(STREAM_FIELD_VERSION.encode()) != b"1":
        raise ValueError("cascade:events entry without v=1 and e fields")
    try:
        return event_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"cascade:events entry: {exc}") from None
