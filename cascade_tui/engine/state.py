"""Per-venue and per-asset state holders, created lazily on the first event that needs them."""

from __future__ import annotations

from typing import Final

from cascade_tui.engine.baseline import Baseline
from cascade_tui.engine.openinterest import AssetFunding, AssetOpenInterest
from cascade_tui.engine.params import FACTORS
from cascade_tui.engine.prices import PriceTrail
from cascade_tui.engine.printscale import PrintScale
from cascade_tui.engine.rates import DecayedRates, OccupancyMask, SlotRing
from cascade_tui.engine.scoring import RAW_KEYS
from cascade_tui.engine.side import SideState
from cascade_tui.model import LONG, SHORT

HISTORY_S: Final = 300
OCCUPANCY_WINDOW_S: Final = 20  # sampled-feed occupancy is measured over this many 1 s slots
# channels of the 60 s per-asset window
CH_COUNT: Final = 0
CH_USD_LONG: Final = 1
CH_USD_SHORT: Final = 2
# large-print units (burst.py: each print capped at print_cap × its venue's print scale,
# throttled prints scaled up): what the units floor gate and the direction count, so one
# whale print can neither open nor flip them
CH_CAPPED_LONG: Final = 3
CH_CAPPED_SHORT: Final = 4
WINDOW_CHANNELS: Final = 5
# channels of the 300 s per-venue ring
CH_VENUE_COUNT: Final = 0
CH_VENUE_USD: Final = 1


def direction_of(win60: SlotRing) -> str:
    """ "long" (longs being liquidated) when long units >= short units in the window."""
    return LONG if win60.total(CH_CAPPED_LONG) >= win60.total(CH_CAPPED_SHORT) else SHORT


class FeedStatus:
    """Connection health of one venue as the runtime last reported it."""

    __slots__ = (
        "failure",
        "frames",
        "last_message_age_s",
        "parse_errors",
        "reconnects",
        "state",
        "state_detail",
    )

    def __init__(self) -> None:
        self.state = "unknown"
        self.state_detail = ""
        self.last_message_age_s: float | None = None
        self.frames = 0
        self.parse_errors = 0
        self.reconnects = 0
        self.failure = ""


class VenueFlow:
    """All liquidations of one venue: rates, 300 s sparkline ring, occupancy, side totals."""

    __slots__ = (
        "last_event_ts",
        "long_count",
        "long_usd",
        "occ",
        "rates",
        "ring",
        "sampled",
        "short_count",
        "short_usd",
        "venue",
    )

    def __init__(self, venue: str, sec: int, t: float) -> None:
        self.venue = venue
        self.sampled = False
        self.rates = DecayedRates(t)
        self.ring = SlotRing(HISTORY_S, 2, sec)
        self.occ = OccupancyMask(sec)
        self.long_count = 0
        self.long_usd = 0.0
        self.short_count = 0
        self.short_usd = 0.0
        self.last_event_ts: float | None = None


class AssetVenue:
    """One asset on one venue: when it last printed, its occupancy if the feed is sampled, and
    the size of its prints there (the fast path's unit)."""

    __slots__ = ("last_ts", "occ", "sampled", "scale")

    def __init__(self, sec: int, scale: PrintScale) -> None:
        self.last_ts = float("-inf")
        self.occ = OccupancyMask(sec)
        self.sampled = False
        self.scale = scale


class ScoreHistory:
    """The score at each of the last 300 seconds (a second without evaluation repeats the last)."""

    __slots__ = ("last", "sec", "slots")

    def __init__(self, sec: int) -> None:
        self.sec = sec
        self.last = 0.0
        self.slots = [0.0] * HISTORY_S

    def record(self, sec: int, score: float) -> None:
        self._fill(sec)
        self.slots[sec % HISTORY_S] = score
        self.last = score

    def _fill(self, sec: int) -> None:
        gap = sec - self.sec
        if gap <= 0:
            return
        for s in range(self.sec + 1, self.sec + 1 + min(gap, HISTORY_S)):
            self.slots[s % HISTORY_S] = self.last
        self.sec = sec

    def values(self, sec: int) -> tuple[float, ...]:
        self._fill(sec)
        start = (self.sec + 1) % HISTORY_S
        return tuple(self.slots[start:] + self.slots[:start])


class AssetState:
    """Everything known about one asset."""

    __slots__ = (
        "asset",
        "baseline",
        "components",
        "dominant",
        "eval_due",
        "funding",
        "history",
        "last_eval_ts",
        "last_liq_ts",
        "last_seen",
        "long",
        "occ",
        "oi",
        "pooled_scale",
        "price",
        "rates",
        "raw",
        "score",
        "short",
        "usd_floor",
        "venues",
        "win60",
    )

    def __init__(
        self,
        asset: str,
        sec: int,
        t: float,
        usd_floor: float,
        halflife_s: float,
        tau: float,
        tau_bg: float,
        pooled_scale: PrintScale,
        tau_long: float = 0.0,
    ) -> None:
        self.asset = asset
        # the asset's prints on all its venues: the unit of a venue still learning its own
        self.pooled_scale = pooled_scale
        self.usd_floor = usd_floor
        self.rates = DecayedRates(t)
        self.win60 = SlotRing(60, WINDOW_CHANNELS, sec)
        self.occ = OccupancyMask(sec)
        self.venues: dict[str, AssetVenue] = {}
        self.baseline = Baseline(sec // 60, usd_floor, halflife_s)
        # one burst test and one level state machine per side
        self.long = SideState(LONG, t, tau, tau_bg, tau_long)
        self.short = SideState(SHORT, t, tau, tau_bg, tau_long)
        self.dominant = LONG  # the side the (asset-wide) score speaks for; turns only clearly
        self.last_seen = t  # last event of any kind (eviction picks the stalest idle assets)
        self.score = 0.0
        self.components: tuple[float, ...] = (0.0,) * len(FACTORS)  # in params.FACTORS order
        self.raw: tuple[float, ...] = (0.0,) * len(RAW_KEYS)  # in scoring.RAW_KEYS order
        self.history = ScoreHistory(sec)
        self.last_liq_ts = float("-inf")
        # evaluation cadence (engine clock): when a liquidation last scored the asset, and
        # when a deferred evaluation is due (inf: none pending)
        self.last_eval_ts = float("-inf")
        self.eval_due = float("inf")
        self.price = PriceTrail()
        self.oi = AssetOpenInterest()
        self.funding = AssetFunding()

    @property
    def shown(self) -> SideState:
        """The side the snapshot shows: the higher level, the dominant side on a tie."""
        long, short = self.long, self.short
        if long.level.level != short.level.level:
            return long if long.level.level > short.level.level else short
        return long if self.dominant == LONG else short

    @property
    def level(self) -> int:
        return max(self.long.level.level, self.short.level.level)

    def in_alarm(self) -> bool:
        return self.long.level.level > 0 or self.short.level.level > 0

    def usd_60s(self, sec: int) -> tuple[float, float]:
        """(long USD, short USD) liquidated in the last 60 s."""
        self.win60.advance(sec)
        return self.win60.total(CH_USD_LONG), self.win60.total(CH_USD_SHORT)

    def direction(self, sec: int) -> str:
        """The side with more (capped) USD liquidated in the last 60 s."""
        self.win60.advance(sec)
        return direction_of(self.win60)

    def events_60s(self, sec: int) -> int:
        self.win60.advance(sec)
        return round(self.win60.total(CH_COUNT))

    def venues_60s(self, t: float) -> list[str]:
        return sorted(v for v, av in self.venues.items() if t - av.last_ts <= 60.0)
