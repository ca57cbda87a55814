"""Capture files (DESIGN.md §5.1): gzip JSON lines of raw frames with their receive time.

    {"v": 1, "kind": "cascade-tui-capture", "created": <epoch s>, "source": "...", ...}   header
    {"ts": 1700000000.123, "venue": "binance", "frame": "<raw text>"}                      text frame
    {"ts": ..., "venue": "htx", "frame_b64": "<base64 of the bytes>"}                       binary frame
    {"ts": ..., "venue": "binance", "channel": "rest:openInterest", "frame": "..."}         REST result

The writer flushes a gzip member boundary on `flush()` so a process killed after a flush
leaves a file readable up to that point. The reader stops at the first damage and reports
where (`CaptureReader.error`, `.lines_read`) instead of raising.
"""

from __future__ import annotations

import base64
import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from cascade_tui.model import RawFrame

CAPTURE_KIND = "cascade-tui-capture"


class CaptureLine(msgspec.Struct, omit_defaults=True):
    ts: float
    venue: str
    frame: str | None = None
    frame_b64: str | None = None
    channel: str = ""


class CaptureError(Exception):
    """A capture that cannot be read at all (missing, not a capture)."""


_line_encoder = msgspec.json.Encoder()
_line_decoder = msgspec.json.Decoder(CaptureLine)


def encode_frame(frame: RawFrame) -> bytes:
    if isinstance(frame.data, bytes | bytearray):
        line = CaptureLine(
            ts=frame.ts, venue=frame.venue, frame_b64=base64.b64encode(frame.data).decode(), channel=frame.channel
        )
    else:
        line = CaptureLine(ts=frame.ts, venue=frame.venue, frame=frame.data, channel=frame.channel)
    return _line_encoder.encode(line) + b"\n"


class CaptureWriter:
    """Appends frames to a gzip capture. Not thread-safe; one writer per file."""

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        # mtime 0: the same frames make the same bytes (a seeded simulation is byte-identical)
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=5, mtime=0)
        head = {"v": 1, "kind": CAPTURE_KIND}
        head.update(header or {})
        self._gz.write(msgspec.json.encode(head) + b"\n")
        self.frames = 0
        self.bytes_written = 0

    def write(self, frame: RawFrame) -> None:
        data = encode_frame(frame)
        self._gz.write(data)
        self.frames += 1
        self.bytes_written += len(data)

    def write_many(self, frames: list[RawFrame]) -> None:
        for f in frames:
            self.write(f)

    def flush(self) -> None:
        """Make everything written so far durable and readable (a full gzip flush)."""
        self._gz.flush(zlib.Z_FULL_FLUSH)
        self._raw.flush()
        os.fsync(self._raw.fileno())

    def close(self) -> None:
        if self._raw.closed:
            return
        self._gz.close()
        self._raw.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CaptureReader:
    """Iterates the frames of a capture. Damage ends iteration; `error` says where and why."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise CaptureError(f"{self.path}: no such file")
        self.header: dict[str, Any] = {}
        self.lines_read = 0  # lines including the header
        self.frames_read = 0
        self.bytes_read = 0  # compressed bytes consumed so far (progress against the file size)
        self.error: str | None = None

    def _lines(self) -> Iterator[bytes]:
        """Decompress incrementally so a file cut short (a killed writer, no gzip trailer)
        still yields every complete line before the cut."""
        pending = b""
        inflate = zlib.decompressobj(wbits=31)
        clean_end = False  # the last gzip member ended with its trailer
        with open(self.path, "rb") as raw:
            while True:
                chunk = raw.read(1 << 16)
                if not chunk:
                    break
                self.bytes_read += len(chunk)
                while chunk:
                    try:
                        data = inflate.decompress(chunk)
                    except zlib.error as exc:
                        self.error = f"{self.path}: compressed data is damaged after line {self.lines_read} ({exc})"
                        data = b""
                        chunk = b""
                        pending = pending[: pending.rfind(b"\n") + 1] if b"\n" in pending else b""
                        break
                    chunk = b""
                    clean_end = inflate.eof
                    if inflate.eof:
                        # concatenated gzip members (e.g. appended captures) continue here
                        chunk = inflate.unused_data
                        inflate = zlib.decompressobj(wbits=31)
                    pending += data
                    if b"\n" in pending:
                        *lines, pending = pending.split(b"\n")
                        for line in lines:
                            yield line + b"\n"
                if self.error:
                    break
        if not clean_end and self.error is None:
            self.error = f"{self.path}: capture ends without a gzip trailer after line {self.lines_read} (writer killed?)"
        if pending:
            yield pending  # an incomplete last line: __iter__ reports it as truncated

    def __iter__(self) -> Iterator[RawFrame]:
        first = True
        for line in self._lines():
            if not line.endswith(b"\n"):
                # a line cut short by a kill: everything before it was complete
                cut = f"truncated line {self.lines_read + 1}"
                self.error = f"{self.error}; {cut}" if self.error else f"{self.path}: {cut}"
                return
            self.lines_read += 1
            if first:
                first = False
                try:
                    head = msgspec.json.decode(line)
                except msgspec.DecodeError as exc:
                    raise CaptureError(f"{self.path}: line 1 is not a capture header ({exc})") from None
                if not isinstance(head, dict) or head.get("kind") != CAPTURE_KIND:
                    raise CaptureError(f"{self.path}: line 1 is not a cascade-tui capture header")
                self.header = head
                continue
            try:
                rec = _line_decoder.decode(line)
            except msgspec.DecodeError as exc:
                self.error = f"{self.path}: line {self.lines_read} is not a frame record ({exc})"
                return
            if rec.frame is not None:
                data: str | bytes = rec.frame
            elif rec.frame_b64 is not None:
                try:
                    data = base64.b64decode(rec.frame_b64, validate=True)
                except ValueError as exc:
                    self.error = f"{self.path}: line {self.lines_read} has bad base64 ({exc})"
                    return
            else:
                self.error = f"{self.path}: line {self.lines_read} has neither frame nor frame_b64"
                return
            self.frames_read += 1
            yield RawFrame(ts=rec.ts, venue=rec.venue, data=data, channel=rec.channel)
        if first and self.error is None:
            raise CaptureError(f"{self.path}: empty file, not a capture")


def read_capture(path: str | os.PathLike[str]) -> list[RawFrame]:
    """Whole capture in memory (tests and small files)."""
    return list(CaptureReader(path))
