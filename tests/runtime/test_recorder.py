"""--record: frames land in a readable capture, rotate by size, survive a kill after flush."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cascade_tui.capture import read_capture
from cascade_tui.model import RawFrame
from cascade_tui.sinks.recorder import RecorderSink, rotated_path


def frames(n: int, start: float = 1_700_000_000.0) -> list[RawFrame]:
    return [RawFrame(start + i * 0.01, "bybit", f'{{"topic":"x","i":{i}}}') for i in range(n)]


def test_rotated_names() -> None:
    p = Path("/d/cap.cap.gz")
    assert rotated_path(p, 0) == p
    assert rotated_path(p, 2) == Path("/d/cap.2.cap.gz")


async def test_records_every_frame_in_order(tmp_path: Path) -> None:
    sink = RecorderSink(tmp_path / "r.cap.gz", flush_interval_s=0.01)
    await sink.start()
    sent = frames(500)
    for f in sent[:250]:
        sink.on_frame(f)
    await asyncio.sleep(0.05)
    for f in sent[250:]:
        sink.on_frame(f)
    await sink.close()
    assert read_capture(tmp_path / "r.cap.gz") == sent
    assert sink.stats()["frames"] == 500
    assert sink.stats()["drops"] == {"recorder": 0}


async def test_rotation_by_size_keeps_all_frames(tmp_path: Path) -> None:
    sink = RecorderSink(tmp_path / "r.cap.gz", max_bytes=4_000, flush_interval_s=0.01)
    await sink.start()
    sent = frames(400)
    for f in sent:
        sink.on_frame(f)
    await sink.close()
    assert len(sink.files) > 2
    got = [fr for path in sink.files for fr in read_capture(path)]
    assert got == sent


async def test_bounded_buffer_counts_drops(tmp_path: Path) -> None:
    sink = RecorderSink(tmp_path / "r.cap.gz", buffer_frames=100, flush_interval_s=60)
    await sink.start()
    for f in frames(150):
        sink.on_frame(f)
    await sink.close()
    assert sink.stats()["drops"] == {"recorder": 50}
    assert len(read_capture(tmp_path / "r.cap.gz")) == 100
