"""Readers for the recorded venue frames in ../shared/samples (see samples/SOURCES.md).

cryptofeed captures: `<ts>: <payload>` lines are frames received; `<url> <- ...` lines were
sent by the client and `<url> -> <ts>: <body>` lines are REST bodies. nautilus_trader files
are single JSON documents. Tests skip when the shared samples are not beside the clone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples"
_RECEIVED = re.compile(r"^(\d+(?:\.\d+)?): (.*)$")


def sample_path(*parts: str) -> Path:
    path = SAMPLES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared sample not available: {path}")
    return path


def ws_frames(name: str) -> list[tuple[float, str]]:
    """(receive ts, raw frame text) of every received line in a cryptofeed `.ws.` capture."""
    out: list[tuple[float, str]] = []
    with sample_path("cryptofeed", name).open(encoding="utf-8") as fh:
        for line in fh:
            m = _RECEIVED.match(line.rstrip("\n"))
            if m:
                out.append((float(m.group(1)), m.group(2)))
    return out


def rest_bodies(name: str) -> list[tuple[str, Any]]:
    """(url, decoded JSON body) of every REST response line in a cryptofeed `.0` file."""
    out: list[tuple[str, Any]] = []
    with sample_path("cryptofeed", name).open(encoding="utf-8") as fh:
        for line in fh:
            if " -> " in line and line.startswith("http"):
                url, rest = line.split(" -> ", 1)
                out.append((url, json.loads(rest.split(": ", 1)[1])))
    return out


def nautilus_text(venue: str, name: str) -> str:
    return sample_path("nautilus_trader", venue, name).read_text(encoding="utf-8")
