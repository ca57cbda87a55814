"""Config: defaults round-trip through TOML; errors name the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cascade_tui.config import Config, ConfigError, config_to_toml, load_config, parse_config, save_config


def test_defaults_round_trip(tmp_path: Path) -> None:
    cfg = Config()
    assert parse_config(config_to_toml(cfg)) == cfg
    path = save_config(cfg, tmp_path / "c.toml")
    assert load_config(path) == cfg


def test_partial_file_overrides_only_what_it_names() -> None:
    cfg = parse_config("[engine.thresholds]\nwarning = 0.55\n\n[ui]\ntheme = 'cascade-light'\n")
    assert cfg.engine.thresholds.warning == 0.55
    assert cfg.engine.thresholds.watch == Config().engine.thresholds.watch
    assert cfg.ui.theme == "cascade-light"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[engine.thresholds]\nwatch = 0.3\nwarning = 'high'\n", "cfg.toml:3: engine.thresholds.warning"),
        ("[ui]\nbell = true\nthem = 'x'\n", "cfg.toml:3: ui.them: unknown key"),
        ("[engine.thresholds]\nwarning = 0.2\n", "cfg.toml:1: engine.thresholds"),
        ("[engine.weights]\nvelocity = 3.0\n", "engine.weights.velocity"),
        ("[engine\n", "cfg.toml: "),
    ],
)
def test_errors_name_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "cfg.toml")
    assert expected in str(info.value)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_unknown_engine_key_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[engine.thresholds]\nwarnng = 0.5\n", "cfg.toml")
    assert "cfg.toml:2: engine.thresholds.warnng: unknown key" in str(info.value)
