"""The --stats summary (docs/DESIGN.md §5.1), built from the pipeline at exit."""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

from cascade_tui.runtime.pipeline import Pipeline


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _empty_liquidations() -> dict[str, dict[str, float]]:
    return {"long": {"count": 0, "usd": 0.0}, "short": {"count": 0, "usd": 0.0}}


def build_stats(pipeline: Pipeline, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    engine_stats = pipeline.engine.stats()
    snap = pipeline.latest_snapshot
    first = pipeline.first_ts
    duration = max(0.0, snap.ts - first) if snap is not None and first is not None else 0.0
    wall = 0.0
    if pipeline.wall_started is not None:
        wall = (pipeline.wall_finished or pipeline.wall_started) - pipeline.wall_started
    if pipeline.source.kind == "live":
        duration = wall  # live market time is wall time, events or not
    feed = pipeline.final_feed_status or pipeline.source.feed_status()
    liq = engine_stats.get("liquidations", {})
    venues: dict[str, Any] = {}
    for venue in sorted(set(pipeline.parsers) | set(feed) | set(liq)):
        parser = pipeline.parsers.get(venue)
        st = feed.get(venue)
        venues[venue] = {
            "frames": parser.stats.frames if parser else (st.frames if st else 0),
            "parse_errors": parser.stats.parse_errors if parser else 0,
            "rejected": parser.stats.rejected if parser else 0,
            "duplicates": parser.stats.duplicates if parser else 0,
            "stale": parser.stats.stale if parser else 0,
            "ignored": parser.stats.ignored if parser else 0,
            "events": dict(parser.stats.events) if parser else {},
            "liquidations": liq.get(venue, _empty_liquidations()),
            "state": st.state if st else ("done" if parser else "unknown"),
            "reconnects": st.reconnects if st else 0,
            "failure": st.failure if st else "",
        }
    drops: dict[str, int] = {}
    for venue, st in feed.items():
        if st.drops:
            drops[f"source:{venue}"] = st.drops
    # the engine's own bounds: assets evicted to keep per-asset state bounded, and events
    # whose receive time it refused as impossible (both counted, never silent)
    if engine_stats.get("evicted_assets"):
        drops["engine:evicted_assets"] = int(engine_stats["evicted_assets"])
    if engine_stats.get("bad_time"):
        drops["engine:bad_time"] = int(engine_stats["bad_time"])
    sinks: dict[str, Any] = {}
    for sink in pipeline.sinks:
        s = sink.stats()
        sinks[sink.name] = s
        for queue, n in (s.get("drops") or {}).items():
            drops[f"{sink.name}:{queue}" if queue != sink.name else queue] = n
    latency = {}
    if snap is not None:
        latency = {k: {"p50": round(v.p50_ms, 4), "p99": round(v.p99_ms, 4)} for k, v in snap.latency.items()}
    signals = {k: engine_stats.get("signals", {}).get(k, 0) for k in ("WATCH", "WARNING", "CRITICAL")}
    out: dict[str, Any] = {
        "v": 1,
        "duration_s": round(duration, 3),
        "events_per_s": round(pipeline.events / duration, 3) if duration > 0 else 0.0,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "venues": venues,
        "drops": drops,
        "signals": signals,
        "latency_ms": latency,
        # beyond the §5.1 minimum: handy for people reading the file
        "events": pipeline.events,
        "frames": pipeline.frames,
        "wall_s": round(wall, 3),
        "events_per_wall_s": round(pipeline.events / wall, 1) if wall > 0 else 0.0,
        "signal_transitions": pipeline.signals_emitted,
        "source": pipeline.source.label(),
        "sinks": sinks,
    }
    # input that was counted and skipped or corrected: frames behind the clock (replay) and
    # events the engine saw late; receive times too far from their neighbours; capture lines
    counted = pipeline.source.counters()
    out["out_of_order"] = counted.get("out_of_order", 0) + int(engine_stats.get("out_of_order", 0))
    out["bad_time"] = counted.get("bad_time", 0)
    if counted:
        out["input"] = {**counted, "late_events": int(engine_stats.get("out_of_order", 0))}
    if pipeline.unknown_venue_frames:
        out["unknown_venue_frames"] = pipeline.unknown_venue_frames
    err = getattr(pipeline.source, "error", None)
    if err:
        out["source_error"] = err
    if extra:
        out.update(extra)
    return out


def write_stats(path: str | os.PathLike[str], stats: dict[str, Any]) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(stats, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)
