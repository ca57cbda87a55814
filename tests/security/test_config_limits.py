"""Issue 12 rows 7, 14 and 15 (config side): every number in the settings file is
range-checked (exit 2 naming file:line and key), the file must be a regular file of bounded
size (`--config /dev/zero` used to grow to 19.8 GB), and saving keeps the file private."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cascade_tui.config import (
    MAX_CONFIG_BYTES,
    AlertConfig,
    Config,
    ConfigError,
    RedisConfig,
    load_config,
    parse_config,
    save_config,
)


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("[redis]\nqueue_size = -5\n", "redis.queue_size", 2),
        ("[redis]\nurl = \"\"\nstream_maxlen = -1\n", "redis.stream_maxlen", 3),
        ("[redis]\nhistory_max = 0\n", "redis.history_max", 2),
        ("[redis]\nhistory_max_age_s = inf\n", "redis.history_max_age_s", 2),
        ("[alerts]\nretries = -100\n", "alerts.retries", 2),
        ("[alerts]\nmin_interval_s = nan\n", "alerts.min_interval_s", 2),
        ("[alerts]\ntimeout_s = 0\n", "alerts.timeout_s", 2),
        ("[venues]\nmetadata_cache_hours = -1\n", "venues.metadata_cache_hours", 2),
        ("[ui]\nwindow_s = 7\n", "ui.window_s", 2),
        ("[ui]\ntape_min_usd = { BTC = -1.0 }\n", "ui.tape_min_usd", 2),
    ],
)
def test_out_of_range_numbers_name_the_line_and_key(text: str, key: str, line: int) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.toml")
    assert str(err.value).startswith(f"c.toml:{line}: {key}:"), str(err.value)


def test_defaults_and_sane_values_still_load() -> None:
    cfg = parse_config("[redis]\nqueue_size = 1\nstream_maxlen = 1000\n[alerts]\nretries = 0\nmin_interval_s = 0\n")
    assert cfg.redis == RedisConfig(queue_size=1, stream_maxlen=1000)
    assert cfg.alerts == AlertConfig(retries=0, min_interval_s=0.0)
    assert parse_config("") == Config()


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", *args, "--demo", "--no-ui", "--duration", "1", "--redis-url", "off"],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_cli_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[alerts]\nlevel = \"CRITICAL\"\nmin_interval_s = nan\n")
    proc = run_cli("--config", str(path))
    assert proc.returncode == 2
    assert f"{path}:3: alerts.min_interval_s" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "DIR", "FIFO"])
def test_non_regular_files_are_refused_at_once(tmp_path: Path, target: str) -> None:
    if target == "DIR":
        target = str(tmp_path)
    elif target == "FIFO":
        target = str(tmp_path / "fifo")
        os.mkfifo(target)  # nobody writes: a blocking read would hang for ever
    with pytest.raises(ConfigError) as err:
        load_config(target)
    assert target in str(err.value)


def test_cli_refuses_dev_zero_quickly_with_bounded_memory() -> None:
    proc = run_cli("--config", "/dev/zero", timeout=30)
    assert proc.returncode == 2
    assert "/dev/zero" in proc.stderr and "regular file" in proc.stderr


def test_an_oversized_file_is_refused_without_being_loaded(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    with path.open("wb") as f:
        f.write(b"# " + b"x" * (MAX_CONFIG_BYTES + 10) + b"\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path)


def test_saving_keeps_a_private_files_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[redis]\nurl = "redis://u:SECRET@h:6379/0"\n')
    path.chmod(0o600)
    cfg = load_config(path)
    save_config(cfg, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path).redis.url == "redis://u:SECRET@h:6379/0"
    path.chmod(0o640)  # whatever the user chose is kept
    save_config(cfg, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"], "no temp file left behind"


@pytest.mark.parametrize(
    "cfg",
    [
        Config(redis=RedisConfig(url="redis://:SECRET@h:6379/0")),
        Config(alerts=AlertConfig(webhooks=["https://hooks.example/T0/B0/secret"])),
    ],
)
def test_a_new_file_holding_a_secret_is_0600(tmp_path: Path, cfg: Config) -> None:
    old = os.umask(0)  # even with a permissive umask
    try:
        path = save_config(cfg, tmp_path / "new" / "config.toml")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_new_file_without_secrets_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = save_config(Config(), tmp_path / "config.toml")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
