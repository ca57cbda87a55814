"""What the dashboard shows about queues and Redis, read on the engine's own loop.

Queue drops and the Redis state live in the source and the sinks, which the engine thread
mutates. Reading them from the UI thread raced (the old code caught RuntimeError from a dict
changing size). Instead the dashboard asks the pipeline to run `collect_health` on the
engine loop once a second; it returns an immutable `HealthView`, swapped in by one
reference assignment, which the UI thread reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

log = logging.getLogger(__name__)


class _SourceLike(Protocol):
    kind: str

    def feed_status(self) -> Mapping[str, Any]: ...


class _PipelineLike(Protocol):
    source: Any
    sinks: list[Any]


@dataclass(frozen=True)
class HealthView:
    """Drops per venue queue and per sink queue, the Redis sink's state, a viewer's state."""

    venue_drops: Mapping[str, int] = field(default_factory=dict)
    queue_drops: Mapping[str, int] = field(default_factory=dict)
    redis_state: str = ""
    viewer: Mapping[str, Any] | None = None  # RedisSource.stats() of a remote viewer


def collect_health(pipeline: _PipelineLike) -> HealthView:
    """Build the view; must run on the engine loop (the thread that owns these objects)."""
    venue_drops: dict[str, int] = {}
    queue_drops: dict[str, int] = {}
    redis_state = ""
    viewer: dict[str, Any] | None = None
    source = pipeline.source
    try:
        for venue, st in source.feed_status().items():
            venue_drops[venue] = int(st.drops)
        for sink in pipeline.sinks:
            stats = sink.stats()
            for queue, n in dict(stats.get("drops", {})).items():
                queue_drops[f"{sink.name}.{queue}"] = int(n)
            if sink.name == "redis":
                redis_state = str(stats.get("state", ""))
        source_stats = getattr(source, "stats", None)
        if source.kind == "redis" and source_stats is not None:
            viewer = dict(source_stats())
    except (AttributeError, TypeError, ValueError) as exc:  # odd stats: shown as missing, logged
        log.debug("health view: %s", exc)
    return HealthView(
        MappingProxyType(venue_drops),
        MappingProxyType(queue_drops),
        redis_state,
        MappingProxyType(viewer) if viewer is not None else None,
    )
