"""Capture files (docs/DESIGN.md §5.1): gzip JSON lines of raw frames with their receive time.

    {"v": 2, "kind": "cascade-tui-capture", "created": <epoch s>, "source": "...", ...}  header
    {"ts": 1700000000.123, "venue": "binance", "json": {"stream": ...}}                  JSON frame (v2)
    {"ts": ..., "venue": "okx", "frame": "pong"}                                          other text frame
    {"ts": ..., "venue": "htx", "frame_b64": "<base64 of the bytes>"}                      binary frame
    {"ts": ..., "venue": "binance", "channel": "rest:openInterest", "json": {...}}         REST result

Version 2 stores a text frame that is one JSON object or array (no surrounding whitespace, no
line break) as that JSON value under "json", byte for byte, so a reader decodes each line
once: the line decoder only delimits the value (msgspec.Raw) and the frame's text is that
slice, handed to the venue parser as the same `str` a v1 line's "frame" gives. Version 1
lines ("frame" only) are read by the same decoder; a v2 writer falls back to "frame" for any
text that is not such a JSON value, so every frame round-trips unchanged.

Writing: frames are buffered and each flush appends one complete gzip member, so the file
is always a sequence of whole members and a killed writer loses only what was not flushed.
A failed write (disk full) truncates the file back to the last whole member: the capture
stays readable up to it, and the frames of that batch are counted as lost.

Reading: decompression is incremental and bounded; lines are decoded a block at a time. One
bad line (bad JSON, a lone surrogate, "ts": "x", bad base64) or an oversized line is counted,
logged once and skipped; damage to the compressed stream ends the capture there
(`CaptureReader.error`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import msgspec

from cascade_tui.model import RawFrame

try:  # ISA-L's DEFLATE: the same gzip format, ~5× faster to write and ~3× to read than zlib
    from isal import isal_zlib as _isal
except ImportError:  # a dependency; without its wheel captures are written and read by zlib
    _isal = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

CAPTURE_KIND = "cascade-tui-capture"
CAPTURE_VERSION = 2
READ_VERSIONS = (1, 2)
# a line longer than this is skipped and counted (venue frames are capped at 4 MiB on receive)
MAX_LINE_BYTES = 8 * 1024 * 1024
COMPRESS_LEVEL = 3  # zlib's: measured on simulator frames, level 3 ≈ level 5's size within ~8 %, ~2× faster
# ISA-L's level 1 (of 0-3), the default when ISA-L is there: measured on simulator frames
# (benchmarks/replay.py), 0.45 µs a frame against zlib level 3's 2.6, and smaller files
ISAL_LEVEL = 1
MEMBER_BYTES = 1 << 20  # CaptureWriter.write() starts a new gzip member after this much text
_READ_CHUNK = 1 << 16
_INFLATE_LIMIT = 1 << 20  # decompressed bytes per step: a 1000:1 bomb never fills memory at once
_LOGGED_BAD_LINES = 5  # bad lines named in the log per capture; the rest are only counted

_EMPTY = msgspec.Raw(b"")


class CaptureLine(msgspec.Struct, omit_defaults=True):
    ts: float
    venue: str
    frame: str | None = None
    frame_b64: str | None = None
    json: msgspec.Raw = _EMPTY
    channel: str = ""


class CaptureError(Exception):
    """A capture that cannot be read at all (missing, a directory, not gzip, not a capture)."""


_encode_line = msgspec.json.Encoder().encode
_decode_line = msgspec.json.Decoder(CaptureLine).decode
_decode_lines = msgspec.json.Decoder(CaptureLine).decode_lines
_check_json = msgspec.json.Decoder(msgspec.Raw).decode  # validates, builds nothing


def _json_value(text: str) -> msgspec.Raw | None:
    """`text` as a value a v2 line may hold under "json", else None.

    Only a single object or array with nothing around it and no line break: the value's
    bytes are then exactly the frame's, and the capture stays one line per frame."""
    if not text or text[0] not in "{[" or text[-1] not in "}]" or "\n" in text or "\r" in text:
        return None
    try:
        _check_json(text)  # valid JSON (and valid Unicode: a lone surrogate fails here)
        return msgspec.Raw(text)
    except (UnicodeEncodeError, msgspec.DecodeError):
        return None


def encode_frame(frame: RawFrame, version: int = CAPTURE_VERSION) -> bytes:
    """One capture line. Raises UnicodeEncodeError for text that is not valid Unicode."""
    data = frame.data
    if isinstance(data, bytes | bytearray):
        line = CaptureLine(ts=frame.ts, venue=frame.venue, frame_b64=base64.b64encode(data).decode(), channel=frame.channel)
    else:
        value = _json_value(data) if version >= 2 else None
        if value is not None:
            line = CaptureLine(ts=frame.ts, venue=frame.venue, json=value, channel=frame.channel)
        else:
            line = CaptureLine(ts=frame.ts, venue=frame.venue, frame=data, channel=frame.channel)
    return _encode_line(line) + b"\n"


def gzip_member(data: bytes, level: int | None = None) -> bytes:
    """`data` as one complete gzip member (header, deflate stream, CRC and size). `level` is
    zlib's (0-9), honoured by zlib; None is the fastest good default (ISA-L, else zlib 3)."""
    comp: Any
    if level is None and _isal is not None:
        comp = _isal.compressobj(ISAL_LEVEL, _isal.DEFLATED, 31)
    else:
        comp = zlib.compressobj(COMPRESS_LEVEL if level is None else level, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()


def _decompressobj() -> Any:
    """A gzip stream decompressor (zlib's interface: max_length, unconsumed_tail, eof)."""
    return zlib.decompressobj(wbits=31) if _isal is None else _isal.decompressobj(wbits=31)


# what a damaged compressed stream raises (ISA-L's error is not zlib's; its stub types the
# class as an instance, hence the cast)
_INFLATE_ERRORS: tuple[type[Exception], ...] = (
    (zlib.error,) if _isal is None else (zlib.error, cast(type[Exception], _isal.IsalError))
)


class CaptureWriter:
    """Appends frames to a gzip capture, one complete gzip member per flush. Not thread-safe.

    `write()`/`write_many()` buffer encoded lines; `flush()` (and every MEMBER_BYTES of text,
    and `close()`) appends them as one gzip member. A flush that fails leaves the file as it
    was before it (truncated back), counts the batch's frames in `lost` and raises OSError.
    `frames` counts frames durably in the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: dict[str, Any] | None = None,
        *,
        version: int = CAPTURE_VERSION,
        level: int | None = None,
        sync: bool = True,
    ) -> None:
        if version not in READ_VERSIONS:
            raise ValueError(f"capture version {version} is not one of {READ_VERSIONS}")
        self.path = Path(path)
        self.version = version
        self.level = level
        self.sync = sync  # fsync after each member (recordings); off for files written in one go
        self.frames = 0  # frames in the file (flushed)
        self.lost = 0  # frames whose write failed
        self.unencodable = 0  # text frames that are not valid Unicode (never written)
        self.bytes_written = 0  # uncompressed line bytes flushed
        self._pending: list[bytes] = []
        self._pending_frames = 0
        self._pending_bytes = 0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._good_size = 0  # file size after the last whole member
        head = {"v": version, "kind": CAPTURE_KIND}
        head.update(header or {})
        head["v"] = version
        self._pending.append(msgspec.json.encode(head) + b"\n")
        self.flush()

    @property
    def size(self) -> int:
        """Uncompressed bytes in the file plus those waiting for the next flush."""
        return self.bytes_written + self._pending_bytes

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def write(self, frame: RawFrame) -> None:
        try:
            line = encode_frame(frame, self.version)
        except UnicodeEncodeError:
            self.unencodable += 1
            return
        self._pending.append(line)
        self._pending_frames += 1
        self._pending_bytes += len(line)
        if self._pending_bytes >= MEMBER_BYTES:
            self.flush()

    def write_many(self, frames: Iterable[RawFrame]) -> None:
        version = self.version
        pending = self._pending
        size = 0
        count = 0
        for frame in frames:
            try:
                line = encode_frame(frame, version)
            except UnicodeEncodeError:
                self.unencodable += 1
                continue
            pending.append(line)
            size += len(line)
            count += 1
        self._pending_frames += count
        self._pending_bytes += size
        if self._pending_bytes >= MEMBER_BYTES:
            self.flush()

    def flush(self) -> None:
        """Append what is buffered as one gzip member; durable on return (fsync) when `sync`."""
        if not self._pending or self._fd < 0:
            return
        text = b"".join(self._pending)
        frames = self._pending_frames
        self._pending.clear()
        self._pending_frames = 0
        self._pending_bytes = 0
        member = gzip_member(text, self.level)
        try:
            view = memoryview(member)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if self.sync:
                os.fsync(self._fd)
        except OSError:
            self.lost += frames
            # leave the file a sequence of whole members: what was flushed before stays readable
            try:
                os.ftruncate(self._fd, self._good_size)
                os.lseek(self._fd, self._good_size, os.SEEK_SET)
            except OSError:
                log.debug("could not truncate %s after a failed write", self.path)
            raise
        self._good_size += len(member)
        self.frames += frames
        self.bytes_written += len(text)

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _describe(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


class CaptureReader:
    """Iterates the frames of a capture (`for frame in reader`, or `batches()` of frames).

    Opening reads the header: a path that is missing, a directory, not gzip, empty or not a
    capture raises CaptureError at once. While reading, bad lines are counted in
    `bad_lines`, oversized ones in `oversized_lines`, and skipped; damage to the compressed
    stream or a cut end stops the capture there and is described in `error`.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.header: dict[str, Any] = {}
        self.version = 1
        self.lines_read = 0  # lines including the header and skipped lines
        self.frames_read = 0
        self.bytes_read = 0  # compressed bytes consumed so far (progress against the file size)
        self.bad_lines = 0
        self.oversized_lines = 0
        self.error: str | None = None
        self.problems: list[str] = []  # the first few bad lines, named
        if not self.path.exists():
            raise CaptureError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise CaptureError(f"{self.path}: is a directory, not a capture file")
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(2)
        except OSError as exc:
            raise CaptureError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        if not head:
            raise CaptureError(f"{self.path}: empty file, not a capture")
        if head != b"\x1f\x8b":
            raise CaptureError(f"{self.path}: not a gzip file, not a capture (captures are gzip JSON lines)")
        self._read_header()

    # ------------------------------------------------------------------ raw lines

    def _inflated(self) -> Iterator[bytes]:
        """Decompressed data in bounded pieces; concatenated gzip members continue."""
        inflate = _decompressobj()
        clean_end = False
        with open(self.path, "rb") as raw:
            while True:
                chunk = raw.read(_READ_CHUNK)
                if not chunk:
                    break
                self.bytes_read += len(chunk)
                while chunk:
                    try:
                        data = inflate.decompress(chunk, _INFLATE_LIMIT)
                    except _INFLATE_ERRORS as exc:
                        self.error = f"{self.path}: compressed data is damaged after line {self.lines_read} ({exc})"
                        return
                    chunk = inflate.unconsumed_tail
                    clean_end = inflate.eof
                    if inflate.eof:
                        chunk = inflate.unused_data
                        inflate = _decompressobj()
                    if data:
                        yield data
        if not clean_end:
            self.error = f"{self.path}: capture ends without a gzip trailer after line {self.lines_read} (writer killed?)"

    def _blocks(self) -> Iterator[bytes]:
        """Runs of complete lines (each ending in "\\n"); an oversized line is dropped and
        counted; an incomplete last line is reported in `error`."""
        pending = b""
        skipping = False  # inside an oversized line: drop until its end
        limit = self.max_line_bytes
        for data in self._inflated():
            if skipping:
                end = data.find(b"\n")
                if end < 0:
                    continue
                skipping = False
                self.lines_read += 1
                data = data[end + 1 :]
            buf = pending + data if pending else data
            cut = buf.rfind(b"\n") + 1
            if cut:
                yield buf[:cut]
                pending = buf[cut:]
            else:
                pending = buf
            if len(pending) > limit:
                self._oversized()
                pending = b""
                skipping = True
        if skipping:
            self.lines_read += 1  # the oversized line ran to the end of the data
        elif pending:
            truncated = f"truncated line {self.lines_read + 1}"
            self.error = f"{self.error}; {truncated}" if self.error else f"{self.path}: {truncated}"

    def _oversized(self) -> None:
        self.oversized_lines += 1
        self._problem(self.lines_read + 1, f"longer than {self.max_line_bytes} bytes, skipped")

    def _problem(self, line_no: int, why: str) -> None:
        if len(self.problems) < _LOGGED_BAD_LINES:
            msg = f"{self.path}: line {line_no}: {why}"
            self.problems.append(msg)
            log.warning(msg)

    def _read_header(self) -> None:
        first = b""
        try:
            for data in self._inflated():
                first += data
                if b"\n" in first or len(first) > self.max_line_bytes:
                    break
        except OSError as exc:
            raise CaptureError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        line = first.split(b"\n", 1)[0]
        if not line:
            raise CaptureError(self.error or f"{self.path}: empty capture, no header line")
        try:
            head = msgspec.json.decode(line)
        except msgspec.DecodeError as exc:
            raise CaptureError(f"{self.path}: line 1 is not a capture header ({_describe(exc)})") from None
        if not isinstance(head, dict) or head.get("kind") != CAPTURE_KIND:
            raise CaptureError(f"{self.path}: line 1 is not a cascade-tui capture header")
        version = head.get("v")
        if version not in READ_VERSIONS:
            raise CaptureError(f"{self.path}: capture version {version!r} is not one this program reads {READ_VERSIONS}")
        self.header = head
        self.version = version
        self.error = None

    # ------------------------------------------------------------------ frames

    def batches(self) -> Iterator[list[RawFrame]]:
        """The frames, a decompressed block at a time (a few thousand frames at most)."""
        self.lines_read = self.frames_read = self.bad_lines = self.oversized_lines = 0
        self.error = None
        self.problems = []
        first = True
        for block in self._blocks():
            if first:
                first = False
                nl = block.find(b"\n") + 1
                block = block[nl:]
                self.lines_read = 1
                if not block:
                    continue
            first_line = self.lines_read + 1
            numbers: range | list[int]
            try:
                records = _decode_lines(block)
            except msgspec.DecodeError:
                records, numbers = self._decode_one_by_one(block)
            else:
                self.lines_read += len(records)
                numbers = range(first_line, first_line + len(records))
            frames = self._frames(records, numbers)
            if frames:
                self.frames_read += len(frames)
                yield frames

    def __iter__(self) -> Iterator[RawFrame]:
        for batch in self.batches():
            yield from batch

    def _decode_one_by_one(self, block: bytes) -> tuple[list[CaptureLine], list[int]]:
        """A block with a bad line in it: decode line by line, skip and count the bad ones.
        Returns the records and their line numbers."""
        out: list[CaptureLine] = []
        numbers: list[int] = []
        for line in block.split(b"\n")[:-1]:
            self.lines_read += 1
            if not line.strip():
                continue  # a blank line holds no frame and does no harm
            try:
                out.append(_decode_line(line))
            except msgspec.DecodeError as exc:
                self.bad_lines += 1
                self._problem(self.lines_read, f"not a frame record ({_describe(exc)}), skipped")
            else:
                numbers.append(self.lines_read)
        return out, numbers

    def _frames(self, records: list[CaptureLine], numbers: range | list[int]) -> list[RawFrame]:
        out: list[RawFrame] = []
        append = out.append
        isfinite = math.isfinite
        for i, rec in enumerate(records):
            raw = rec.json
            if raw:
                data: str | bytes = str(raw, "utf-8")
            elif rec.frame is not None:
                data = rec.frame
            elif rec.frame_b64 is not None:
                try:
                    data = base64.b64decode(rec.frame_b64, validate=True)
                except (binascii.Error, ValueError) as exc:
                    self._bad_record(numbers[i], f"bad base64 ({_describe(exc)})")
                    continue
            else:
                self._bad_record(numbers[i], "neither json, frame nor frame_b64")
                continue
            if not isfinite(rec.ts):
                self._bad_record(numbers[i], f"ts {rec.ts} is not a finite number")
                continue
            append(RawFrame(rec.ts, rec.venue, data, rec.channel))
        return out

    def _bad_record(self, line_no: int, why: str) -> None:
        self.bad_lines += 1
        self._problem(line_no, f"{why}, skipped")


def read_capture(path: str | os.PathLike[str]) -> list[RawFrame]:
    """Whole capture in memory (tests and small files)."""
    return list(CaptureReader(path))
