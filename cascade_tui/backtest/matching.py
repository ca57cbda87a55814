"""Event-based matching of signal alarms to labelled cascades (docs/detection-science.md §4.2).

The rules (the README quotes this block):

1. **Alarms.** For an evaluation level L (WATCH, WARNING or CRITICAL), an alarm is the time a
   signal of one asset (or "*", market-wide) and one direction rises to level >= L, until it
   falls below L again (a `deescalate` below L or a `close` of that direction), or the data
   ends. Each side of an asset has its own level (the engine runs one state machine per side),
   so the other side's transitions never end or open this side's alarm. A new rising edge of
   the same asset and direction
   less than R seconds (refractory, default 60) after the previous alarm ended extends that
   alarm instead of opening a new one, so a cascade the engine splits into several
   episodes counts once.
2. **Compatibility.** An alarm and a label are compatible when their directions agree and
   the assets agree, or the label is market-wide ("*"), or the alarm is market-wide.
3. **Detection (TP / FN).** A label at or above the severity floor is detected (TP) when a
   compatible alarm is active at some moment of [start - P, end] (pre-window P, default
   30 s), except that a market-wide alarm does not detect a per-asset label (it says
   "the market", not "this asset"). A market-wide label is detected by a "*" alarm or by
   an alarm on any single asset. Otherwise the label is a miss (FN).
4. **Delay and lead.** Detection delay (lag) = onset of the first detecting alarm - the
   label's onset (when the cascade became observable in the true stream; labels without an
   onset use their start). Negative = early warning; an alarm already on before the window
   gives a delay below -P. Delays are reported per level as p50 / p90 / max.
   Lead time to peak = label peak_ts - that onset, when the label carries peak_ts.
5. **False alarms (FP).** An alarm is false when it is active in no extended window
   [start - P, end + G] (post-episode grace G, default 120 s) of any compatible label of
   any severity. The grace keeps aftershocks from counting as false; a late alarm that
   starts after `end` but within G is therefore neither a detection nor a false alarm.
6. **Don't-care.** Labels below the floor (default: "minor" is below "moderate") are left
   out of recall, and an alarm whose extended-window overlaps are all with below-floor
   labels is neither TP nor FP (reported as `dont_care`).
7. **Counted once.** An alarm active in [start - P, end] of at least one compatible
   at/above-floor label is a true alarm; only the earliest alarm of each label counts toward
   precision, later ones for the same label(s) are `duplicate`, and alarms that reach such a
   label only through the grace G are `late` (both neither TP nor FP).
   precision = true alarms / (true alarms + FP); recall = detected / counted labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cascade_tui.engine.types import Signal
from cascade_tui.labels import Label

# Severity classes from mild to severe; the labels contract uses "minor" and "major",
# hand-made labels may use the four classes of docs/detection-science.md §4.1.
SEVERITY_ORDER: tuple[str, ...] = ("minor", "moderate", "major", "extreme")
DEFAULT_FLOOR = "moderate"
MARKET = "*"


def severity_rank(severity: str) -> int:
    """Rank of a severity name; an unknown name ranks as the most severe (never don't-care)."""
    try:
        return SEVERITY_ORDER.index(severity)
    except ValueError:
        return len(SEVERITY_ORDER) - 1


@dataclass(frozen=True)
class MatchRules:
    pre_s: float = 30.0  # P: alarms up to this long before the start still detect
    grace_s: float = 120.0  # G: alarms this long after the end are not false
    refractory_s: float = 60.0  # R: re-alarms closer than this to the last one merge
    floor: str = DEFAULT_FLOOR  # labels below this severity are don't-care

    def __post_init__(self) -> None:
        if self.pre_s < 0 or self.grace_s < 0 or self.refractory_s < 0:
            raise ValueError("pre-window, grace and refractory must be >= 0")
        if self.floor not in SEVERITY_ORDER:
            raise ValueError(f"unknown severity floor {self.floor!r}; one of {', '.join(SEVERITY_ORDER)}")


@dataclass
class Alarm:
    asset: str
    direction: str
    start: float  # first onset
    end: float  # when the level was last left (or the end of the data)
    onsets: list[float] = field(default_factory=list)  # every rising edge merged into it
    peak_level: int = 0
    venues: set[str] = field(default_factory=set)
    episodes: set[str] = field(default_factory=set)  # engine episode ids merged into it

    def active_during(self, lo: float, hi: float) -> bool:
        return self.start <= hi and self.end >= lo


def build_alarms(signals: Iterable[Signal], level: int, refractory_s: float, data_end: float) -> list[Alarm]:
    """Alarms at `level` from signal transitions (in time order), merged by refractory."""
    # keyed by (asset, direction): one side's transitions say nothing of the other side's level
    current_level: dict[tuple[str, str], int] = {}  # the level of its latest transition
    open_alarm: dict[tuple[str, str], Alarm] = {}  # the alarm being held at >= level
    last_closed: dict[tuple[str, str], Alarm] = {}  # the latest closed alarm
    alarms: list[Alarm] = []
    for sig in sorted(signals, key=lambda s: s.ts):
        key = (sig.asset, sig.direction)
        was = current_level.get(key, 0)
        now = sig.level if sig.state != "close" else 0
        current_level[key] = now
        held = open_alarm.get(key)
        if held is not None:
            held.peak_level = max(held.peak_level, now)
            held.venues.update(sig.venues)
            held.episodes.add(sig.episode)
            if now < level:
                held.end = sig.ts
                last_closed[key] = held
                del open_alarm[key]
            continue
        if was < level <= now:
            previous = last_closed.get(key)
            if previous is not None and sig.ts - previous.end < refractory_s:
                previous.onsets.append(sig.ts)
                previous.end = sig.ts
                previous.peak_level = max(previous.peak_level, now)
                previous.venues.update(sig.venues)
                previous.episodes.add(sig.episode)
                open_alarm[key] = previous
                continue
            alarm = Alarm(
                asset=sig.asset,
                direction=sig.direction,
                start=sig.ts,
                end=sig.ts,
                onsets=[sig.ts],
                peak_level=now,
                venues=set(sig.venues),
                episodes={sig.episode},
            )
            alarms.append(alarm)
            open_alarm[key] = alarm
    for alarm in open_alarm.values():
        alarm.end = max(alarm.end, data_end)
    return alarms


def compatible(alarm: Alarm, label: Label) -> bool:
    if alarm.direction != label.direction:
        return False
    return alarm.asset == label.asset or label.asset == MARKET or alarm.asset == MARKET


def can_detect(alarm: Alarm, label: Label) -> bool:
    return compatible(alarm, label) and not (alarm.asset == MARKET and label.asset != MARKET)


@dataclass
class LabelOutcome:
    label: Label
    counted: bool  # at or above the severity floor
    detected: bool
    alarm: Alarm | None  # the first detecting alarm
    delay_s: float | None  # first detecting alarm onset - the label's onset (or start)
    lead_to_peak_s: float | None  # peak_ts - first detecting onset


@dataclass
class AlarmOutcome:
    alarm: Alarm
    kind: str  # "tp" | "duplicate" | "late" | "fp" | "dont_care"
    labels: list[int]  # indices of the labels it matched (extended windows)
    credited: list[int] = field(default_factory=list)  # labels this alarm was the first true alarm of


@dataclass
class MatchResult:
    level: int
    rules: MatchRules
    labels: list[LabelOutcome]
    alarms: list[AlarmOutcome]

    def count(self, kind: str) -> int:
        return sum(1 for a in self.alarms if a.kind == kind)


def _first_detecting_onset(alarm: Alarm, lo: float, hi: float) -> float:
    """The alarm's onset that credits a window [lo, hi] it is active in."""
    inside = [t for t in alarm.onsets if lo <= t <= hi]
    return inside[0] if inside else alarm.start


def match(alarms: Sequence[Alarm], labels: Sequence[Label], level: int, rules: MatchRules) -> MatchResult:
    floor = severity_rank(rules.floor)
    label_out: list[LabelOutcome] = []
    for label in labels:
        counted = severity_rank(label.severity) >= floor
        lo, hi = label.start - rules.pre_s, label.end
        best: tuple[float, Alarm] | None = None
        for alarm in alarms:
            if can_detect(alarm, label) and alarm.active_during(lo, hi):
                onset = _first_detecting_onset(alarm, lo, hi)
                if best is None or onset < best[0]:
                    best = (onset, alarm)
        if best is None:
            label_out.append(LabelOutcome(label, counted, False, None, None, None))
            continue
        onset, alarm = best
        lead = label.peak_ts - onset if label.peak_ts > 0 else None
        label_out.append(LabelOutcome(label, counted, True, alarm, onset - label.onset_ts, lead))

    # alarms in time order so "the earliest alarm of each label" is the first one seen
    credited: set[int] = set()
    alarm_out: list[AlarmOutcome] = []
    for alarm in sorted(alarms, key=lambda a: a.start):
        matched = [
            i
            for i, label in enumerate(labels)
            if compatible(alarm, label)
            and alarm.active_during(label.start - rules.pre_s, label.end + rules.grace_s)
        ]
        matched_counted = [i for i in matched if label_out[i].counted]
        in_window = [i for i in matched_counted if alarm.active_during(labels[i].start - rules.pre_s, labels[i].end)]
        if in_window:
            fresh = [i for i in in_window if i not in credited]
            credited.update(in_window)
            kind = "tp" if fresh else "duplicate"
            alarm_out.append(AlarmOutcome(alarm, kind, matched, fresh))
            continue
        elif matched_counted:
            kind = "late"
        elif matched:
            kind = "dont_care"
        else:
            kind = "fp"
        alarm_out.append(AlarmOutcome(alarm, kind, matched))
    return MatchResult(level, rules, label_out, alarm_out)
