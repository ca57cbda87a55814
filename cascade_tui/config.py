"""Settings file (TOML): engine thresholds and weights, venues, Redis, UI, keymap, alerts.

Loading validates every key; an error names the file, the line and the dotted key, e.g.
    config.toml:12: engine.thresholds.warning: expected `float`, got `str`
Unknown keys are errors too (a typo must not silently do nothing).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from cascade_tui.engine.params import EngineParams, ParamError, validate
from cascade_tui.paths import default_config_path

# Range-checked numbers (msgspec enforces them while converting, so an error names the key and
# the line like any other type error). NaN fails every bound; upper bounds keep out inf and
# values that only a typo produces.
PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=1_000)]
Seconds = Annotated[float, msgspec.Meta(ge=0.0, le=365 * 86400.0)]
PositiveSeconds = Annotated[float, msgspec.Meta(gt=0.0, le=3600.0)]
Hours = Annotated[float, msgspec.Meta(ge=0.0, le=24 * 365.0)]
Usd = Annotated[float, msgspec.Meta(ge=0.0, le=1e15)]
WindowS = Literal[1, 5, 20, 60]  # the velocity windows the engine keeps

MAX_CONFIG_BYTES = 1 << 20  # a settings file is a few KiB; anything near this is not one


def _every_venue() -> list[str]:
    """All registered venues (cascade_tui.feeds discovers them from their modules)."""
    from cascade_tui.feeds import venue_ids

    return list(venue_ids())


class VenueConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: list[str] = msgspec.field(default_factory=_every_venue)
    # base assets polled/subscribed for OI, funding and trades
    oi_symbols: list[str] = msgspec.field(default_factory=lambda: ["BTC", "ETH", "SOL", "XRP", "DOGE"])
    btc_trades_venue: str = "binance"
    metadata_cache_hours: Hours = 24.0


class RedisConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str = ""  # "" = auto (CASCADE_REDIS_URL, localhost:6379 if it answers, else embedded)
    prefix: str = ""
    replay_prefix: str = "replay:"
    stream_maxlen: PositiveInt = 100_000
    history_max: PositiveInt = 10_000
    history_max_age_s: Annotated[float, msgspec.Meta(gt=0.0, le=3650 * 86400.0)] = 7 * 86400.0
    queue_size: PositiveInt = 10_000


class AlertConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    level: str = "CRITICAL"
    webhooks: list[str] = msgspec.field(default_factory=list)
    command: list[str] = msgspec.field(default_factory=list)  # argv; the signal JSON goes to stdin
    timeout_s: PositiveSeconds = 5.0
    retries: Annotated[int, msgspec.Meta(ge=0, le=100)] = 3
    min_interval_s: Seconds = 60.0  # per episode


class UIConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    theme: str = "cascade-dark"
    bell: bool = True
    toasts: bool = True
    window_s: WindowS = 5  # velocity window shown: 1, 5, 20, 60
    tape_min_usd: dict[str, Usd] = msgspec.field(
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


def read_config_text(path: Path) -> str:
    """The text of a settings file: a regular file of at most MAX_CONFIG_BYTES, UTF-8.

    Opened once and checked on the open descriptor, so `/dev/zero`, a FIFO or a directory is
    refused before a byte is read and a huge file is never loaded whole."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ConfigError(f"{path}: {kind}; a settings file must be a regular TOML file")
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; not a settings file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


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
    return parse_config(read_config_text(p), str(p))


def non_default(value: msgspec.Struct, default: msgspec.Struct) -> dict[str, Any]:
    """The fields of a settings struct that differ from its defaults, sections recursed into
    (a dict or list value is written whole when it differs: loading replaces it whole)."""
    out: dict[str, Any] = {}
    for name in value.__struct_fields__:
        mine, theirs = getattr(value, name), getattr(default, name)
        if isinstance(mine, msgspec.Struct) and type(mine) is type(theirs):
            section = non_default(mine, theirs)
            if section:
                out[name] = section
        elif mine != theirs:
            out[name] = msgspec.to_builtins(mine)
    return out


def config_to_toml(cfg: Config) -> str:
    """The settings that differ from the defaults, as TOML: a saved file says what the user
    chose, and a later release's better default still reaches everything else."""
    import tomli_w

    return tomli_w.dumps(non_default(cfg, Config()))


def _holds_secret(cfg: Config) -> bool:
    """A Redis or history URL with credentials, webhooks (their URLs are tokens) or a command."""
    from urllib.parse import urlsplit

    for url in (cfg.redis.url, cfg.history.url):
        try:
            parts = urlsplit(url)
        except ValueError:
            return True  # unparseable: assume the worst
        if parts.password or parts.username or "password" in parts.query.lower():
            return True
    return bool(cfg.alerts.webhooks or cfg.alerts.command)


def save_config(cfg: Config, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the whole config atomically (temp file + rename).

    The file keeps its permission bits (a 0600 file holding a password stays 0600); a new
    file is 0600 when it holds a secret, else 0644 less the umask. The temp file is created
    with the final mode, so the secret is never readable by others, not even for a moment."""
    p = Path(path) if path is not None else default_config_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(p.stat().st_mode)
    except FileNotFoundError:
        if _holds_secret(cfg):
            mode = 0o600
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o644 & ~umask
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)  # O_CREAT's mode is filtered by the umask
            f.write(config_to_toml(cfg))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return p
