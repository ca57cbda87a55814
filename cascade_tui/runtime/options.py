"""Everything one run needs to know, gathered from the command line and the config file."""

from __future__ import annotations

from dataclasses import dataclass, field

from cascade_tui.config import Config


@dataclass
class RunOptions:
    source: str = "live"  # live | demo | replay | redis
    replay: list[str] = field(default_factory=list)  # capture paths for source "replay"
    speed: float = 1.0  # demo/replay pacing; 0 = as fast as possible
    seed: int = 7  # demo market seed
    profile: str = "demo"  # simulator profile for the demo market
    venues: list[str] | None = None  # None = every venue in the config
    symbols: list[str] | None = None  # None = all symbols
    duration_s: float | None = None  # seconds of engine clock (market time)
    record: str | None = None  # capture path
    stats: str | None = None  # --stats FILE
    redis_url: str | None = None  # None = auto (env, localhost, embedded); "off" = no Redis
    redis_prefix: str | None = None  # None = config value ("" live, "replay:" for replays)
    redis_from: str = "$"  # remote viewer: stream id to start from ("$" = now, "0" = all)
    history_url: str | None = None  # None = config; live runs default to SQLite, demo/replay to off
    no_ui: bool = False
    theme: str | None = None
    config: Config = field(default_factory=Config)
    config_path: str | None = None  # --config FILE (the dashboard's `s` saves back there)
