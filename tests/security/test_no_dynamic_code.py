"""No shell, eval or unsafe deserialisation anywhere in the package.

An AST walk (not a text grep, so comments and docstrings that mention the words do not
count, and `subprocess.run(..., shell=x)` with any non-False value does).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cascade_tui"
SOURCES = sorted(PACKAGE.rglob("*.py"))

FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_ATTRS = {
    ("os", "system"),
    ("os", "popen"),
    ("pickle", "loads"),
    ("pickle", "load"),
    ("marshal", "loads"),
    ("yaml", "load"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("asyncio", "create_subprocess_shell"),
}


def dotted(node: ast.expr) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def offences(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if len(name) == 1 and name[0] in FORBIDDEN_BUILTINS:
                found.append(f"line {node.lineno}: {name[0]}()")
            if len(name) >= 2 and name[-2:] in FORBIDDEN_ATTRS:
                found.append(f"line {node.lineno}: {'.'.join(name)}()")
            for kw in node.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"line {node.lineno}: shell={ast.unparse(kw.value)}")
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "pickle", "marshal"):
            for alias in node.names:
                if (node.module, alias.name) in FORBIDDEN_ATTRS:
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
    return found


def test_the_scan_sees_the_package() -> None:
    assert len(SOURCES) > 30
    assert PACKAGE / "cli.py" in SOURCES


def test_the_scan_catches_what_it_forbids() -> None:
    bad = (
        "import os, subprocess\n"
        "eval(x)\nexec(y)\nos.system('ls')\nsubprocess.run(c, shell=True)\n"
        "subprocess.Popen(c, shell=flag)\nsubprocess.run(c, shell=False)\n"
    )
    found = offences(bad)
    assert len(found) == 5, found
    assert offences("# eval(x) in a comment\ns = 'os.system'\n") == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_eval_exec_shell_or_unsafe_loads(path: Path) -> None:
    assert offences(path.read_text(encoding="utf-8")) == []
