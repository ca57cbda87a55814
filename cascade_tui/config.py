"""Settings file (TOML): engine thresholds and weights, venues, Redis, UI, keymap, alerts.

Loading validates every key; an error names the file, the line and the dotted key, e.g.
    config.toml:12: engine.thresholds.warning: expected `float`, got `str`
Unknown keys are errors too (a typo must not silently do nothing).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import platformdirs

from cascade_tui.engine.params import EngineParams, ParamError, validate


def _every_venue() -> list[str]:
    """All registered venues (cascade_tui.feeds discovers them from their modules)."""
    from cascade_tui.feeds import venue_ids

    return list(venue_ids())


class VenueConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: list[str] = msgspec.field(default_factory=_every_venue)
    # base assets polled/subscribed for OI, funding and trades
    oi_symbols: list[str] = msgspec.field(default_factory=lambda: ["BTC", "ETH", "SOL", "XRP", "DOGE"])
    btc_trades_venue: str = "binance"
    metadata_cache_hours: float = 24.0


class RedisConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str = ""  # "" = auto (CASCADE_REDIS_URL, localhost:6379 if it answers, else embedded)
    prefix: str = ""
    replay_prefix: str = "replay:"
    stream_maxlen: int = 100_000
    history_max: int = 10_000
    history_max_age_s: float = 7 * 86400.0
    queue_size: int = 10_000


class AlertConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    level: str = "CRITICAL"
    webhooks: list[str] = msgspec.field(default_factory=list)
    command: list[str] = msgspec.field(default_factory=list)  # argv; the signal JSON goes to stdin
    timeout_s: float = 5.0
    retries: int = 3
    min_interval_s: float = 60.0  # per episode


class UIConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    theme: str = "cascade-dark"
    bell: bool = True
    toasts: bool = True
    window_s: int = 5  # velocity window shown: 1, 5, 20, 60
    tape_min_usd: dict[str, float] = msgspec.field(
        default_factory=lambda: {"BTC": 50_000.0, "ETH": 25_000.0, "default": 10_000.0}
    )
    keymap: dict[str, str] = msgspec.field(default_factory=dict)  # binding id -> key(s)


class HistoryConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str = ""  # "" = SQLite in the user data dir; postgresql://... ; "off"


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    engine: EngineParams = msgspec.field(default_factory=EngineParams)
    venues: VenueConfig = msgspec.field(default_factory=VenueConfig)
    redis: RedisConfig = msgspec.field(default_factory=RedisConfig)
    alerts: AlertConfig = msgspec.field(default_factory=AlertConfig)
    ui: UIConfig = msgspec.field(default_factory=UIConfig)
    history: HistoryConfig = msgspec.field(default_factory=HistoryConfig)


class ConfigError(ValueError):
    """A config that cannot be used; str() names the file, line and key."""


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("cascade-tui")) / "config.toml"


def data_dir() -> Path:
    return Path(os.environ.get("CASCADE_DATA_DIR") or platformdirs.user_data_dir("cascade-tui"))


def _line_of(text: str, dotted: str) -> int | None:
    """Best-effort line number of a dotted key in TOML text (for error messages)."""
    parts = dotted.split(".")
    lines = text.splitlines()
    section: list[str] = []
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        m = re.match(r"^\[+\s*([^\]]+?)\s*\]+", line)
        if m:
            section = [s.strip().strip('"') for s in m.group(1).split(".")]
            continue
        m = re.match(r'^"?([A-Za-z0-9_\-]+)"?\s*=', line)
        if m and [*section, m.group(1)] == parts[: len(section) + 1]:
            return no
    # the key itself may be missing (e.g. a section-level error): point at the section
    for no, raw in enumerate(lines, 1):
        m = re.match(r"^\[+\s*([^\]]+?)\s*\]+", raw.strip())
        if m and [s.strip() for s in m.group(1).split(".")] in (parts, parts[:-1]):
            return no
    return None


def _path_from_msgspec(msg: str) -> tuple[str, str]:
    """msgspec says "Expected `float`, got `str` - at `$.engine.thresholds.warning`"."""
    m = re.search(r"at `\$((?:\.[A-Za-z0-9_\-]+|\[[^\]]*\])*)`", msg)
    dotted = ""
    if m:
        dotted = ".".join(re.findall(r"\.([A-Za-z0-9_\-]+)", m.group(1)))
    text = re.sub(r"\s*-\s*at `\$[^`]*`", "", msg)
    unknown = re.search(r"Object contains unknown field `([^`]+)`", msg)
    if unknown:
        dotted = f"{dotted}.{unknown.group(1)}" if dotted else unknown.group(1)
        text = "unknown key"
    return dotted, text


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a settings file") from None
    try:
        cfg = msgspec.convert(raw, Config, strict=False)
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a settings file") from None
    except msgspec.ValidationError as exc:
        dotted, why = _path_from_msgspec(str(exc))
        line = _line_of(text, dotted) if dotted else None
        where = f"{source}:{line}" if line else source
        raise ConfigError(f"{where}: {dotted or 'config'}: {why}") from None
    try:
        validate(cfg.engine)
    except ParamError as exc:
        key = "engine." + str(exc).split(":", 1)[0]
        line = _line_of(text, key)
        where = f"{source}:{line}" if line else source
        raise ConfigError(f"{where}: {key}: {str(exc).split(':', 1)[-1].strip()}") from None
    return cfg


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load a config file. With no path, the user's default file if it exists, else defaults."""
    if path is None:
        p = default_config_path()
        if not p.exists():
            return Config()
    else:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"{p}: no such config file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read ({exc})") from None
    return parse_config(text, str(p))


def config_to_toml(cfg: Config) -> str:
    import tomli_w

    data: dict[str, Any] = msgspec.to_builtins(cfg)
    return tomli_w.dumps(data)


def save_config(cfg: Config, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the whole config atomically (temp file + rename)."""
    p = Path(path) if path is not None else default_config_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(config_to_toml(cfg), encoding="utf-8")
    os.replace(tmp, p)
    return p
