"""Readers for the recorded venue frames in tests/fixtures/venues (provenance, licences and
dates in tests/fixtures/venues/PROVENANCE.md).

cryptofeed captures (gzip text, `<name>.gz`): `<ts>: <payload>` lines are frames received;
`<url> <- ...` lines were sent by the client and `<url> -> <ts>: <body>` lines are REST
bodies. nautilus_trader files are single JSON documents. The fixtures are part of the
repository: a missing file is an error, never a skip.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "venues"
_RECEIVED = re.compile(r"^(\d+(?:\.\d+)?): (.*)$")


def sample_path(*parts: str) -> Path:
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"venue fixture missing from the repository: {path}")
    return path


def capture_text(name: str) -> str:
    """The whole text of a cryptofeed capture (stored gzip-compressed)."""
    with gzip.open(sample_path("cryptofeed", f"{name}.gz"), "rt", encoding="utf-8") as fh:
        return fh.read()


def _lines(name: str) -> list[str]:
    return capture_text(name).splitlines()


def ws_frames(name: str) -> list[tuple[float, str]]:
    """(receive ts, raw frame text) of every received line in a cryptofeed `.ws.` capture."""
    out: list[tuple[float, str]] = []
    for line in _lines(name):
        m = _RECEIVED.match(line)
        if m:
            out.append((float(m.group(1)), m.group(2)))
    return out


def rest_bodies(name: str) -> list[tuple[str, Any]]:
    """(url, decoded JSON body) of every REST response line in a cryptofeed `.0` file."""
    out: list[tuple[str, Any]] = []
    for line in _lines(name):
        if " -> " in line and line.startswith("http"):
            url, rest = line.split(" -> ", 1)
            out.append((url, json.loads(rest.split(": ", 1)[1])))
    return out


def nautilus_text(venue: str, name: str) -> str:
    return sample_path("nautilus_trader", venue, name).read_text(encoding="utf-8")
