"""Config and theme files are data: parsed by tomllib into typed structs, never evaluated.

Code-looking values stay inert strings, unknown keys and wrong types are refused with a
message naming the key (exit 2 from the command line), and hostile shapes are errors,
not crashes.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from cascade_tui.config import ConfigError, parse_config

PACKAGE = Path(__file__).resolve().parents[2] / "cascade_tui"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", ["config.py", "ui/themes.py"])
def test_settings_files_are_read_with_tomllib_only(module: str) -> None:
    imports = imported_modules(PACKAGE / module)
    assert "tomllib" in imports
    assert not imports & {"yaml", "pickle", "marshal", "shelve", "runpy", "importlib"}


def test_code_in_a_value_stays_an_inert_string(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    cfg = parse_config(f'[ui]\ntheme = "{payload}"\n[redis]\nprefix = "{payload}"\n')
    assert cfg.ui.theme == payload and cfg.redis.prefix == payload
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[redis]\nqueue_size = "__import__(\'os\')"\n', "redis.queue_size"),
        ("[redis]\nurl_eval = 1\n", "url_eval"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[redis\nurl = 1\n", "<config>"),
    ],
)
def test_bad_shapes_are_config_errors_naming_the_key(text: str, named: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert named in str(err.value)


def test_cli_refuses_a_bad_config_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "evil.toml"
    path.write_text("[redis]\nqueue_size = \"__import__('os').system('true')\"\n")
    proc = subprocess.run(
        [sys.executable, "-m", "cascade_tui.cli", "--config", str(path), "--demo", "--no-ui", "--duration", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "redis.queue_size" in proc.stderr and "Traceback" not in proc.stderr


def test_binary_garbage_is_a_config_error(tmp_path: Path) -> None:
    from cascade_tui.config import load_config

    path = tmp_path / "garbage.toml"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(ConfigError):
        load_config(path)


@pytest.mark.parametrize("text", ["a = " + "[" * 5000 + "]" * 5000, "x = {" * 3000])
def test_deep_nesting_is_a_config_error_not_a_crash(text: str) -> None:
    escaped = ""
    try:
        parse_config(text)
    except ConfigError:
        return
    except RecursionError as exc:  # reported outside the handler: a 1000-frame traceback is slow to print
        escaped = type(exc).__name__
    pytest.fail(f"parse_config let {escaped or 'nothing'} out instead of ConfigError")
