"""Capture format: round trip, binary frames, damage reporting, kill-after-flush readability."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from cascade_tui.capture import CaptureError, CaptureReader, CaptureWriter
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
    assert reader.header["v"] == 2
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
    assert json.loads(lines[0]) == {"v": 2, "kind": "cascade-tui-capture"}
    first = json.loads(lines[1])
    # v2: a JSON frame is stored as its JSON value, byte for byte
    assert first == {"ts": 1_700_000_000.125, "venue": "binance", "json": json.loads(FRAMES[0].data)}
    assert lines[1].endswith('"json":' + FRAMES[0].data + "}")
    binary = json.loads(lines[2])
    assert set(binary) == {"ts", "venue", "frame_b64"}
    assert json.loads(lines[3])["channel"] == "rest:openInterest"
    # text that is not one JSON value stays a string
    assert json.loads(lines[4]) == {"ts": 1_700_000_001.0, "venue": "okx", "frame": "pong"}
    assert json.loads(lines[5])["frame"] == FRAMES[4].data


def test_version_1_writes_and_reads_frames_as_strings(tmp_path: Path) -> None:
    import json

    path = tmp_path / "v1.cap.gz"
    with CaptureWriter(path, version=1) as w:
        w.write_many(FRAMES)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert json.loads(lines[0])["v"] == 1
    assert json.loads(lines[1])["frame"] == FRAMES[0].data
    reader = CaptureReader(path)
    assert list(reader) == FRAMES
    assert reader.version == 1


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


def test_corrupt_line_is_counted_named_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "c.cap.gz"
    with gzip.open(path, "wt") as fh:
        fh.write('{"v":1,"kind":"cascade-tui-capture"}\n')
        fh.write('{"ts":1.0,"venue":"okx","frame":"pong"}\n')
        fh.write("{not json\n")
        fh.write('{"ts":2.0,"venue":"okx","frame":"pong"}\n')
    reader = CaptureReader(path)
    assert [f.ts for f in reader] == [1.0, 2.0]
    assert reader.bad_lines == 1
    assert reader.error is None
    assert len(reader.problems) == 1 and "line 3" in reader.problems[0]


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
        CaptureReader(path)
    with pytest.raises(CaptureError, match="no such file"):
        CaptureReader(tmp_path / "missing.cap.gz")


def test_isal_and_zlib_write_the_same_gzip_each_reads_the_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default compressor (ISA-L when installed) and zlib at an explicit level write the
    same format: stdlib gzip reads both, and the reader gives the same frames with either
    decompressor, including a file of many members."""
    from cascade_tui import capture

    many = [RawFrame(1_700_000_000.0 + i, "binance", f'{{"i":{i},"pad":"{"x" * (i % 97)}"}}') for i in range(3000)]
    fast, plain = tmp_path / "fast.cap.gz", tmp_path / "zlib.cap.gz"
    for path, level in ((fast, None), (plain, 3)):
        with CaptureWriter(path, level=level) as w:
            for i in range(0, len(many), 500):  # several gzip members
                w.write_many(many[i : i + 500])
                w.flush()
        with gzip.open(path, "rb") as fh:
            assert len(fh.read().splitlines()) == len(many) + 1
    assert list(CaptureReader(fast)) == list(CaptureReader(plain)) == many
    monkeypatch.setattr(capture, "_isal", None)  # zlib only: what a machine without ISA-L does
    assert list(CaptureReader(fast)) == list(CaptureReader(plain)) == many
    fallback = tmp_path / "fallback.cap.gz"
    with CaptureWriter(fallback) as w:
        w.write_many(many)
    assert list(CaptureReader(fallback)) == many
