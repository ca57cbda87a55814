"""Shared UI test fixtures: isolated config/data dirs, fixed snapshots, app factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cascade_tui.config import Config
from cascade_tui.engine.types import Snapshot
from cascade_tui.ui.app import CascadeApp
from tests.ui.fake_snapshot import build_snapshot

STATUS = {"source": "demo seed 7", "redis": "off"}


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never read or write the developer's real config, data or screenshots, and never take
    their colour settings: a NO_COLOR in the shell would turn every snapshot grey."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("CASCADE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    return tmp_path


@pytest.fixture(scope="session")
def fake_snap() -> Snapshot:
    return build_snapshot()


@pytest.fixture
def make_app(fake_snap: Snapshot, tmp_path: Path) -> Callable[..., CascadeApp]:
    def factory(**kwargs: Any) -> CascadeApp:
        kwargs.setdefault("snapshot", fake_snap)
        kwargs.setdefault("status", STATUS)
        kwargs.setdefault("config", Config())
        kwargs.setdefault("config_path", tmp_path / "saved.toml")
        return CascadeApp(**kwargs)

    return factory
