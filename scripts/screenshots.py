#!/usr/bin/env python3
"""Regenerate screenshots/*.svg and *.png of the dashboard, in every bundled theme.

The pictures show the seeded demo market (seed 7, 40 minutes of market time: a market-wide
cascade under way) through the real engine, so they change only when the engine, the
simulator or the UI does. PNGs are rendered with
`rsvg-convert` (Debian: librsvg2-bin) or the `cairosvg` Python package, whichever exists;
without either, only SVGs are written and the script says so.

    .venv/bin/python scripts/screenshots.py [--out screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cascade_tui.config import Config
from cascade_tui.engine.types import Snapshot
from cascade_tui.runtime.options import RunOptions
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.demo_snapshot import demo_snapshot
from cascade_tui.ui.themes import load_themes

STATUS = {"source": "demo seed 7", "redis": "off"}
MARKET_SECONDS = 2400.0  # seed 7 is mid-cascade here (several assets at WARNING)


@dataclass(frozen=True)
class Shot:
    name: str
    theme: str
    size: tuple[int, int]
    keys: Sequence[str] = ()


def shots() -> list[Shot]:
    themes = [t.name for t in load_themes().themes]
    out = [Shot(f"dashboard-{theme}", theme, (120, 40)) for theme in themes]
    out += [
        Shot("dashboard-80x24", "cascade-dark", (80, 24)),
        Shot("dashboard-160x50", "cascade-dark", (160, 50)),
        Shot("help", "cascade-dark", (120, 40), ("question_mark",)),
        Shot("threshold-editor", "cascade-dark", (120, 40), ("t",)),
    ]
    return out


async def render(shot: Shot, snapshot: Snapshot) -> str:
    app = CascadeApp(snapshot=snapshot, status=STATUS, config=Config(), options=RunOptions(theme=shot.theme))
    async with app.run_test(size=shot.size) as pilot:
        await pilot.pause()
        for key in shot.keys:
            await pilot.press(key)
        await pilot.pause(0.2)
        return app.export_screenshot(title=f"cascade-tui · {shot.name}")


def png_converter() -> str | None:
    if shutil.which("rsvg-convert"):
        return "rsvg-convert"
    if importlib.util.find_spec("cairosvg") is not None:
        return "cairosvg"
    return None


def write_png(svg_text: str, png: Path, converter: str) -> None:
    # Textual writes runs of spaces as &#160;; without xml:space="preserve" SVG renderers
    # collapse them and words run together in the PNG.
    preserved = svg_text.replace("<svg ", '<svg xml:space="preserve" ', 1)
    if converter == "cairosvg":
        import cairosvg  # type: ignore[import-not-found]

        cairosvg.svg2png(bytestring=preserved.encode(), write_to=str(png))
        return
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False, encoding="utf-8") as tmp:
        tmp.write(preserved)
    try:
        subprocess.run(["rsvg-convert", tmp.name, "-o", str(png)], check=True, timeout=60)
    finally:
        Path(tmp.name).unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "screenshots"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    snapshot = demo_snapshot(seed=7, seconds=MARKET_SECONDS)
    converter = png_converter()
    for shot in shots():
        svg_text = asyncio.run(render(shot, snapshot))
        svg = out / f"{shot.name}.svg"
        svg.write_text(svg_text, encoding="utf-8")
        written = [svg.name]
        if converter is not None:
            write_png(svg_text, svg.with_suffix(".png"), converter)
            written.append(svg.with_suffix(".png").name)
        print(" ".join(written))
    if converter is None:
        print("no rsvg-convert or cairosvg found: wrote SVG only", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
