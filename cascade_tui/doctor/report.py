"""The doctor's verdict and its JSON document (`cascade-tui doctor --json`).

Schema (v 1; documented in README "Checking your connection"; fields are only ever added):

    {"v": 1, "kind": "cascade-tui-doctor", "version": "<cascade-tui version>",
     "started": <epoch s>, "duration_s": <s>, "seconds": <limit>, "stopped_early": <bool>,
     "interrupted": <bool (Ctrl+C)>,
     "ok": <bool>, "exit_code": 0 | 1,
     "venues": {"<id>": {
        "name": "<display name>", "ok": <bool>, "parsed_frames": <n>,
        "failure": "" | <failure kind> | "silent" | "unparsed" | "subscribe_refused" | "disabled",
        "hint": "<what to do>", "detail": "<the error text>",
        "geo_blocked": true | false | null, "clock_offset_ms": <median> | null,
        "metadata": {"source": "live" | "fallback", "origin": "network" | "cache" | "bundled" | "none",
                     "instruments": <n>, "perpetuals": <n>, "result": "ok" | <failure kind>,
                     "detail": "<error text>", "elapsed_s": <s>},
        "channels": [{"channel": "<subscription name | rest:<endpoint>>", "type": "ws" | "rest",
                      "host": "<host>", "connect": "ok" | <failure kind> | "pending",
                      "connect_detail": "<error text>", "connects": <links opened | REST requests made>,
                      "reconnects": <n>,
                      "geo_blocked": true | false | null,
                      "subscribe_ack": "yes" | "no" | "refused" | "n/a" | "-" (never connected), "acks": <n>,
                      "ack_error": "...",
                      "frames": <n>, "parsed": <n>, "ignored": <n>, "parse_errors": <n>,
                      "last_parse_error": "...", "rejected": <n>, "stale": <n>, "duplicates": <n>,
                      "events": {"<kind>": <n>},
                      "first": {"<kind>": <the normalised event, DESIGN §5.1 field names>},
                      "clock_offset_ms": <median receive - venue time> | null, "clock_samples": <n>,
                      "settled": <bool>, "settled_after_s": <s> | null}]}},
     "failed": ["<id>", ...], "summary": ["<one line per failed venue>"],
     "hints": ["<what to do, once per kind of failure>"], "notes": ["..."],
     "record": {"path": "<file>", "frames": <n>, "error": "..."} | null}

Failure kinds are those of feeds/failure.py (dns refused unreachable reset tls timeout blocked
http handshake closed stale error) plus the doctor's own: `silent` (connected, nothing
arrived), `unparsed` (frames arrived, none parsed), `subscribe_refused`, `disabled`.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from cascade_tui import __version__
from cascade_tui.doctor.probe import ChannelProbe, DoctorRun, VenueProbe, geo_blocked
from cascade_tui.feeds.failure import failure_hint, failure_label

SCHEMA_VERSION = 1
KIND = "cascade-tui-doctor"

SILENT = "silent"
UNPARSED = "unparsed"
SUBSCRIBE_REFUSED = "subscribe_refused"
DISABLED = "disabled"

DOCTOR_LABELS = {
    SILENT: "silent",
    UNPARSED: "unparsed",
    SUBSCRIBE_REFUSED: "sub refused",
    DISABLED: "disabled",
    "pending": "no answer",
}

DOCTOR_HINTS = {
    SILENT: "connected, but the venue sent nothing: it may ignore the subscription, or the network filters "
    "WebSocket data; try again, or a VPN / other network",
    UNPARSED: "frames arrived but none could be parsed: the venue's format may have changed; please report "
    "with --json and --record FILE",
    SUBSCRIBE_REFUSED: "the venue refused the subscription: please report with --json",
    DISABLED: "the venue's adapter could not be loaded: please report with --json",
    "pending": "no connection attempt finished in time: slow network? try a longer --seconds",
}


def label(kind: str) -> str:
    """Short text of a result: "ok", "DNS failed", "geo-blocked", "silent" ..."""
    if kind == "ok":
        return "ok"
    return DOCTOR_LABELS.get(kind) or failure_label(kind)


def hint(kind: str) -> str:
    return DOCTOR_HINTS.get(kind) or failure_hint(kind)


# ----------------------------------------------------------------------------- channels


def connect_result(channel: ChannelProbe) -> tuple[str, str]:
    """("ok" | failure kind | "pending", the error text)."""
    if channel.kind == "rest":
        statuses = [p.status for p in channel.pollers]
        if any(st.frames for st in statuses):
            return "ok", ""
        failed = next((st for st in statuses if st.failure), None)
        if failed is None:  # held back by the venue's shared gate after a sibling endpoint failed
            failed = (
                next((p.status for p in channel.siblings if p.status.failure), None)
                if channel.paused()
                else None
            )
            if failed is not None:
                return failed.failure, f"not asked: {channel.pollers[0].gate.reason}"
        return (failed.failure, failed.detail) if failed else ("pending", "")
    conn = channel.connection
    if conn is None:
        return "pending", ""
    st = conn.status
    if st.connects:
        return "ok", ""
    if st.failure:
        return st.failure, st.failure_detail
    return "pending", ""


def ack_result(channel: ChannelProbe) -> str:
    if channel.kind == "rest" or not channel.expects_ack:
        return "n/a"
    if channel.connection is not None and channel.connection.status.connects == 0:
        return "-"  # never connected: nothing could be acknowledged
    if channel.ack_error:
        return "refused"
    return "yes" if channel.acks else "no"


def _round(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


def channel_doc(channel: ChannelProbe, now: float, quiet_s: float, give_up_after: int) -> dict[str, Any]:
    connect, detail = connect_result(channel)
    conn = channel.connection
    offset = channel.clock_offset_s()
    return {
        "channel": channel.name,
        "type": channel.kind,
        "host": channel.host,
        "connect": connect,
        "connect_detail": detail,
        "connects": conn.status.connects if conn else sum(p.status.requests for p in channel.pollers),
        "reconnects": conn.status.reconnects if conn else 0,
        "geo_blocked": geo_blocked(channel),
        "subscribe_ack": ack_result(channel),
        "acks": channel.acks,
        "ack_error": channel.ack_error,
        "frames": channel.frames,
        "parsed": channel.parsed,
        "ignored": channel.ignored,
        "parse_errors": channel.parse_errors,
        "last_parse_error": channel.last_parse_error,
        "rejected": channel.rejected,
        "stale": channel.stale,
        "duplicates": channel.duplicates,
        "events": dict(channel.events),
        "first": {kind: msgspec.to_builtins(ev) for kind, ev in channel.first.items()},
        "clock_offset_ms": _round(offset * 1000.0 if offset is not None else None),
        "clock_samples": len(channel.offsets),
        "settled": channel.settled_at is not None,
        "settled_after_s": _round(channel.settled_at, 3),
    }


# ----------------------------------------------------------------------------- venues


def venue_failure(probe: VenueProbe) -> tuple[str, str]:
    """("" when the venue delivered a parsed frame, else its failure kind), the error text."""
    if probe.disabled:
        return DISABLED, probe.disabled
    if probe.parsed_frames > 0:
        return "", ""
    results = [connect_result(ch) for ch in probe.channels if ch.kind == "ws"]
    results += [connect_result(ch) for ch in probe.channels if ch.kind == "rest"]
    for kind, detail in results:
        if kind not in ("ok", "pending"):
            return kind, detail
    refused = next((ch.ack_error for ch in probe.channels if ch.ack_error), "")
    if refused:
        return SUBSCRIBE_REFUSED, refused
    if any(kind == "ok" for kind, _ in results):
        if sum(ch.frames for ch in probe.channels) == 0:
            return SILENT, "no frame arrived"
        last = next((ch.last_parse_error for ch in probe.channels if ch.last_parse_error), "")
        return UNPARSED, last or "frames arrived, none parsed"
    return "pending", ""


def _venue_geo(probe: VenueProbe) -> bool | None:
    answers = [geo_blocked(ch) for ch in probe.channels]
    if probe.metadata is not None and probe.metadata.result == "blocked":
        answers.append(True)
    elif probe.metadata is not None and probe.metadata.source == "live":
        answers.append(False)
    if any(a is True for a in answers):
        return True
    return False if any(a is False for a in answers) else None


def venue_doc(probe: VenueProbe, now: float, quiet_s: float, give_up_after: int) -> dict[str, Any]:
    failure, detail = venue_failure(probe)
    offsets = [x for ch in probe.channels for x in ch.offsets]
    offsets.sort()
    median = None
    if offsets:
        mid = len(offsets) // 2
        median = offsets[mid] if len(offsets) % 2 else (offsets[mid - 1] + offsets[mid]) / 2.0
    meta = probe.metadata
    return {
        "name": probe.name,
        "ok": failure == "",
        "parsed_frames": probe.parsed_frames,
        "failure": failure,
        "hint": hint(failure) if failure else "",
        "detail": detail,
        "geo_blocked": _venue_geo(probe),
        "clock_offset_ms": _round(median * 1000.0 if median is not None else None),
        "metadata": None
        if meta is None
        else {
            "source": meta.source,
            "origin": meta.origin,
            "instruments": meta.instruments,
            "perpetuals": meta.perpetuals,
            "result": meta.result,
            "detail": meta.detail,
            "elapsed_s": round(meta.elapsed_s, 3),
        },
        "channels": [channel_doc(ch, now, quiet_s, give_up_after) for ch in probe.channels],
    }


def build_report(run: DoctorRun, *, quiet_s: float, give_up_after: int) -> dict[str, Any]:
    now = time.monotonic()
    venues = {v: venue_doc(p, now, quiet_s, give_up_after) for v, p in run.venues.items()}
    failed = [v for v, doc in venues.items() if not doc["ok"]]
    summary = [
        f"{v}: {label(doc['failure'])}" + (f" ({doc['detail']})" if doc["detail"] else "")
        for v, doc in venues.items()
        if not doc["ok"]
    ]
    hints = list(dict.fromkeys(venues[v]["hint"] for v in failed if venues[v]["hint"]))
    record = None
    if run.record_path:
        record = {"path": run.record_path, "frames": run.recorded_frames, "error": run.record_error}
    ok = not failed and bool(venues)
    return {
        "v": SCHEMA_VERSION,
        "kind": KIND,
        "version": __version__,
        "started": round(run.started, 3),
        "duration_s": round(run.duration_s, 3),
        "seconds": run.seconds,
        "stopped_early": run.stopped_early,
        "interrupted": run.interrupted,
        "ok": ok,
        "exit_code": 0 if ok else 1,
        "venues": venues,
        "failed": failed,
        "summary": summary,
        "hints": hints,
        "notes": _notes(venues),
        "record": record,
    }


def _notes(venues: dict[str, dict[str, Any]]) -> list[str]:
    """Things worth knowing on venues that passed."""
    notes: list[str] = []
    for v, doc in venues.items():
        if not doc["ok"]:
            continue
        meta = doc["metadata"]
        if meta is not None and meta["source"] != "live":
            why = label(meta["result"]) if meta["result"] != "ok" else "no endpoint"
            notes.append(
                f"{v}: instrument list not fetched ({why}); using the {meta['origin']} table "
                f"of {meta['instruments']} instruments"
            )
        for ch in doc["channels"]:
            name = f"{v}/{ch['channel']}"
            if ch["connect"] not in ("ok", "pending"):
                notes.append(f"{name}: {label(ch['connect'])} ({ch['connect_detail']})")
            elif ch["subscribe_ack"] == "no" and ch["connect"] == "ok":
                notes.append(f"{name}: connected, but no subscribe acknowledgement arrived")
            if ch["stale"]:
                notes.append(
                    f"{name}: {ch['stale']} row(s) far older than the venue clock (snapshots, replays) "
                    "were counted apart, not as new events"
                )
            if ch["parse_errors"]:
                notes.append(
                    f"{name}: {ch['parse_errors']} frame(s) not understood: {ch['last_parse_error']}"
                )
    return notes
