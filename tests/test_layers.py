"""Imports run one way: from a higher layer to a lower one, never back, never sideways.

The layers, lowest first (README "Architecture"):

0. the event model and the program's folders
1. shared leaves built on them: capture format, labels, redaction, backoff, small helpers
2. engine (pure) and feeds (venue parsers): neither imports the other
3. config and the Redis schema: they describe engine values
4. sources (where frames come from) and sinks (where results go): neither imports the other
5. runtime: the pipeline and the process plumbing that join sources, engine and sinks
6. front ends: ui, backtest and the other commands; none imports another
7. cli: parses arguments and dispatches to a front end

A module may import its own package and any lower layer. A new top-level module or
package must be given a layer here: the test names it until it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "cascade_tui"

# (layer, group): modules of the same group may import each other; other groups of the
# same layer may not be imported.
LAYERS: dict[str, tuple[int, str]] = {
    "cascade_tui": (0, "root"),  # the package's __init__ (version)
    "cascade_tui.model": (0, "model"),
    "cascade_tui.paths": (0, "paths"),
    "cascade_tui.capture": (1, "capture"),
    "cascade_tui.labels": (1, "labels"),
    "cascade_tui.redaction": (1, "redaction"),
    "cascade_tui.backoff": (1, "backoff"),
    "cascade_tui.stats_math": (1, "stats_math"),
    "cascade_tui.text": (1, "text"),
    "cascade_tui.data": (1, "data"),
    "cascade_tui.engine": (2, "engine"),
    "cascade_tui.feeds": (2, "feeds"),
    "cascade_tui.config": (3, "config"),
    "cascade_tui.redis_schema": (3, "redis_schema"),
    "cascade_tui.redis_client": (3, "redis_client"),
    "cascade_tui.sources": (4, "sources"),
    "cascade_tui.sinks": (4, "sinks"),
    "cascade_tui.runtime": (5, "runtime"),
    "cascade_tui.cli_support": (5, "cli_support"),  # argument errors, progress: every subcommand
    "cascade_tui.ui": (6, "ui"),
    "cascade_tui.backtest": (6, "backtest"),
    "cascade_tui.doctor": (6, "doctor"),
    "cascade_tui.liqmap_cli": (6, "liqmap_cli"),
    "cascade_tui.history_cli": (6, "history_cli"),
    "cascade_tui.cli": (7, "cli"),
    "cascade_tui.__main__": (7, "cli"),
}

# Imports that run backwards today and are being moved (each names who moves it). The
# list only shrinks: test_known_exceptions_are_still_needed fails once one is fixed.
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    rel = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> tuple[int, str] | None:
    """The layer of the longest matching prefix in LAYERS."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in LAYERS:
            return LAYERS[key]
    return None


def project_imports(path: Path, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Every cascade_tui module the file imports, nested and relative imports included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, package_dir)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("cascade_tui"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if not module.startswith("cascade_tui"):
                continue
            found.add(module)
            # `from cascade_tui import ui` imports a subpackage by name (a plain name
            # imported this way shares its module's layer, so adding it is harmless)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def violations(package_dir: Path = PACKAGE_DIR) -> set[tuple[str, str]]:
    bad: set[tuple[str, str]] = set()
    for path in sorted(package_dir.rglob("*.py")):
        importer = module_name(path, package_dir)
        own = layer_of(importer)
        assert own is not None
        for imported in project_imports(path, package_dir):
            theirs = layer_of(imported)
            assert theirs is not None, f"{importer} imports {imported}, which has no layer"
            if theirs[1] == own[1]:
                continue
            if theirs[0] >= own[0]:
                bad.add((importer, imported))
    return bad


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(
        module_name(path) for path in PACKAGE_DIR.rglob("*.py") if layer_of(module_name(path)) is None
    )
    assert not unplaced, f"give these a layer in tests/test_layers.py: {unplaced}"


def test_imports_run_from_higher_layers_to_lower_ones() -> None:
    found = violations() - KNOWN_EXCEPTIONS
    assert not found, "\n".join(f"{a} imports {b}" for a, b in sorted(found))


def test_known_exceptions_are_still_needed() -> None:
    fixed = KNOWN_EXCEPTIONS - violations()
    assert not fixed, f"remove from KNOWN_EXCEPTIONS, now fixed: {sorted(fixed)}"


def test_the_checker_sees_a_backward_import(tmp_path: Path) -> None:
    package = tmp_path / "cascade_tui"
    (package / "engine").mkdir(parents=True)
    (package / "engine" / "probe.py").write_text(
        "from cascade_tui.sinks import base\nfrom ..ui import app\nfrom . import rates\n", encoding="utf-8"
    )
    (package / "sources").mkdir()
    (package / "sources" / "probe.py").write_text("from cascade_tui.engine import core\n", encoding="utf-8")
    found = violations(package)
    assert found == {
        ("cascade_tui.engine.probe", "cascade_tui.ui"),
        ("cascade_tui.engine.probe", "cascade_tui.sinks"),
        ("cascade_tui.engine.probe", "cascade_tui.sinks.base"),
        ("cascade_tui.engine.probe", "cascade_tui.ui.app"),
    }
