"""The engine is pure: it imports no UI, sink, feed or source code, no I/O library, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parents[1] / "cascade_tui" / "engine"
FORBIDDEN_PACKAGES = ("cascade_tui.ui", "cascade_tui.sinks", "cascade_tui.feeds", "cascade_tui.sources")
FORBIDDEN_LIBRARIES = ("textual", "redis", "websockets", "httpx", "time")


def imported_modules(path: Path) -> list[str]:
    """Absolute names of every module imported anywhere in the file (nested imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = "cascade_tui.engine"
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against cascade_tui.engine
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.append(module)
            # `from cascade_tui import ui` imports the subpackage by name
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def is_forbidden(module: str) -> bool:
    if any(module == p or module.startswith(p + ".") for p in FORBIDDEN_PACKAGES):
        return True
    return module.split(".")[0] in FORBIDDEN_LIBRARIES


def test_engine_modules_exist() -> None:
    assert len(list(ENGINE_DIR.glob("*.py"))) >= 5


def test_engine_imports_nothing_forbidden() -> None:
    offenders = {
        f"{path.name}: {module}"
        for path in sorted(ENGINE_DIR.rglob("*.py"))
        for module in imported_modules(path)
        if is_forbidden(module)
    }
    assert not offenders, sorted(offenders)


def test_the_checker_catches_violations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import time\nfrom cascade_tui import ui\nfrom ..sinks import redis_sink\n"
        "def f():\n    import websockets\n",
        encoding="utf-8",
    )
    found = [m for m in imported_modules(bad) if is_forbidden(m)]
    assert "time" in found and "cascade_tui.ui" in found and "cascade_tui.sinks" in found
    assert "websockets" in found
