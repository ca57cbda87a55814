"""Capture format: round trip, binary frames, damage reporting, kill-after-flush readability."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from cascade_tui.capture import CaptureError, CaptureReader, CaptureWriter, read_capture
from cascade_tui.model import RawFrame

FRAMES = [
    RawFrame(1_700_000_000.125, "binance", '{"stream":"!forceOrder@arr","data":{}}'),
    RawFrame(1_700_000_000.5, "htx", b"\x1f\x8b\x08\x00binary\x00\xff"),
    RawFrame(1_700_000_001.0, "binance", '{"openInterest":"1.5"}', channel="rest:openInterest"),
    RawFrame(1_700_000_001.0, "okx", "pong"),
    RawFrame(1_700_000_002.0, "bybit", 'unicode ✓ "quoted" \\ backslash\nnewline'),
]


def test_round_trip_keeps_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.cap.gz"
    with CaptureWriter(path, {"source": "test"}) as w:
        for f in FRAMES:
            w.write(f)
    reader = CaptureReader(path)
    assert list(reader) == FRAMES
    assert reader.header["kind"] == "cascade-tui-capture"
    assert reader.header["v"] == 1
    assert reader.header["source"] == "test"
    assert reader.error is None
    assert reader.frames_read == len(FRAMES)


def test_lines_follow_the_documented_format(tmp_path: Path) -> None:
    import json

    path = tmp_path / "a.cap.gz"
    with CaptureWriter(path) as w:
        for f in FRAMES:
            w.write(f)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert json.loads(lines[0]) == {"v": 1, "kind": "cascade-tui-capture"}
    first = json.loads(lines[1])
    assert first == {"ts": 1_700_000_000.125, "venue": "binance", "frame": FRAMES[0].data}
    binary = json.loads(lines[2])
    assert set(binary) == {"ts", "venue", "frame_b64"}
    assert json.loads(lines[3])["channel"] == "rest:openInterest"


def test_truncated_capture_plays_up_to_the_damage(tmp_path: Path) -> None:
    path = tmp_path / "t.cap.gz"
    with CaptureWriter(path) as w:
        for i in range(2000):
            w.write(RawFrame(1000.0 + i, "bybit", f'{{"i":{i},"pad":"{"x" * 50}"}}'))
    data = path.read_bytes()
    cut = tmp_path / "cut.cap.gz"
    cut.write_bytes(data[: len(data) // 2])
    reader = CaptureReader(cut)
    got = list(reader)
    assert 0 < len(got) < 2000
    assert [f.ts for f in got] == [1000.0 + i for i in range(len(got))]
    assert reader.error is not None and "cut.cap.gz" in reader.error


def test_corrupt_line_stops_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "c.cap.gz"
    with gzip.open(path, "wt") as fh:
        fh.write('{"v":1,"kind":"cascade-tui-capture"}\n')
        fh.write('{"ts":1.0,"venue":"okx","frame":"pong"}\n')
        fh.write("{not json\n")
        fh.write('{"ts":2.0,"venue":"okx","frame":"pong"}\n')
    reader = CaptureReader(path)
    assert len(list(reader)) == 1
    assert reader.error is not None and "line 3" in reader.error


def test_flushed_frames_survive_an_unclosed_writer(tmp_path: Path) -> None:
    path = tmp_path / "k.cap.gz"
    w = CaptureWriter(path)
    for i in range(10):
        w.write(RawFrame(float(i), "okx", "pong"))
    w.flush()
    w.write(RawFrame(99.0, "okx", "never flushed"))
    # simulate a kill: the file is read while the writer was never closed
    reader = CaptureReader(path)
    got = list(reader)
    assert [f.ts for f in got][:10] == [float(i) for i in range(10)]


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    with gzip.open(path, "wt") as fh:
        fh.write('{"hello": 1}\n')
    with pytest.raises(CaptureError, match="not a cascade-tui capture"):
        read_capture(path)
    with pytest.raises(CaptureError, match="no such file"):
        CaptureReader(tmp_path / "missing.cap.gz")
