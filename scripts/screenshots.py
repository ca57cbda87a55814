#!/usr/bin/env python3
"""Regenerate the README's pictures: screenshots/*.png of the dashboard.

Only the pictures the README shows are kept in the repository (each theme at 120x40, and
80x24): every regenerated PNG is history in the git pack. They show the seeded demo market
(seed 7, 40 minutes of market time: a market-wide cascade under way) through the real
engine, with the status line a user gets by default (the embedded Redis, connected), so
they change only when the engine, the simulator or the UI does.

PNGs are rendered with `rsvg-convert` (Debian: librsvg2-bin) or the `cairosvg` Python
package; without either the script stops and says so. `--svg DIR` also writes the SVGs
(and the help screen, the threshold editor and 160x50) somewhere else, to look at.

    .venv/bin/python scripts/screenshots.py [--out screenshots] [--svg /tmp/shots]
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

# what a user sees by default: an embedded redis-server on a socket in a temporary folder
STATUS = {"source": "demo seed 7 ×1", "redis": "embedded (/tmp/cascade-redis-k2j3h4/redis.sock)"}
MARKET_SECONDS = 2400.0  # seed 7 is mid-cascade here (several assets at WARNING)


@dataclass(frozen=True)
class Shot:
    name: str
    theme: str
    size: tuple[int, int]
    keys: Sequence[str] = ()
    in_readme: bool = True


def shots() -> list[Shot]:
    themes = [t.name for t in load_themes().themes]
    out = [Shot(f"dashboard-{theme}", theme, (120, 40)) for theme in themes]
    out += [
        Shot("dashboard-80x24", "cascade-dark", (80, 24)),
        Shot("dashboard-160x50", "cascade-dark", (160, 50), in_readme=False),
        Shot("help", "cascade-dark", (120, 40), ("question_mark",), in_readme=False),
        Shot("threshold-editor", "cascade-dark", (120, 40), ("t",), in_readme=False),
    ]
    return out


async def render(shot: Shot, snapshot: Snapshot) -> str:
    app = CascadeApp(snapshot=snapshot, status=STATUS, config=Config(), options=RunOptions(theme=shot.theme))
    async with app.run_test(size=shot.size) as pilot:
        app.redis_state = "connected"
        app.refresh_frame(force=True)
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
    parser.add_argument("--svg", metavar="DIR", help="also write every shot as SVG here (not in the repo)")
    args = parser.parse_args(argv)
    converter = png_converter()
    if converter is None:
        print("no rsvg-convert (apt install librsvg2-bin) or cairosvg found: nothing written", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    svg_dir = Path(args.svg) if args.svg else None
    if svg_dir is not None:
        svg_dir.mkdir(parents=True, exist_ok=True)
    snapshot = demo_snapshot(seed=7, seconds=MARKET_SECONDS)
    for shot in shots():
        if not shot.in_readme and svg_dir is None:
            continue
        svg_text = asyncio.run(render(shot, snapshot))
        written = []
        if svg_dir is not None:
            (svg_dir / f"{shot.name}.svg").write_text(svg_text, encoding="utf-8")
            written.append(str(svg_dir / f"{shot.name}.svg"))
        if shot.in_readme:
            write_png(svg_text, out / f"{shot.name}.png", converter)
            written.append(str(out / f"{shot.name}.png"))
        print(" ".join(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
