"""The sink's bounded queue: metrics coalesce per key, overflow drops metrics first, then
events, and signals last; each drop is counted by kind."""

from __future__ import annotations

from cascade_tui.engine import Signal
from cascade_tui.model import Liquidation
from cascade_tui.sinks.redis import MetricWrite, OutboundQueue


def liq(ts: float) -> Liquidation:
    return Liquidation(venue="bybit", instrument="BTCUSDT", asset="BTC", side="long", price=1.0, qty=1.0, usd=1.0,
                       raw_size=1.0, event_ts=ts, recv_ts=ts)  # fmt: skip


def sig(ts: float) -> Signal:
    return Signal(v=1, ts=ts, asset="BTC", level=1, level_name="WATCH", state="open", episode=f"BTC-{ts}",
                  score=0.4, components={}, direction="long", venues=[], regime="NORMAL")  # fmt: skip


def test_metrics_coalesce_latest_wins() -> None:
    q = OutboundQueue(10)
    q.put_metric(MetricWrite("a", b"1", 5))
    q.put_metric(MetricWrite("b", b"1", 5))
    q.put_metric(MetricWrite("a", b"2", 5))
    q.put_metric(MetricWrite("h", b"x", field="engine"))
    q.put_metric(MetricWrite("h", b"y", field="parse"))
    assert [w.value for _, w in q.metrics.values()] == [b"1", b"2", b"x", b"y"]
    assert len(q) == 4 and q.drops == {"metric": 0, "event": 0, "signal": 0}


def test_overflow_drops_metrics_then_events_then_signals() -> None:
    q = OutboundQueue(4)
    q.put_metric(MetricWrite("m1", b"1", 5))
    q.put_metric(MetricWrite("m2", b"1", 5))
    q.put_event(liq(1.0))
    q.put_signal(sig(1.0))
    q.put_signal(sig(2.0))  # full: the oldest metric goes
    assert list(q.metrics) == ["m2"] and q.drops["metric"] == 1
    q.put_event(liq(2.0))  # the other metric goes
    q.put_event(liq(3.0))  # no metric left: the oldest event goes
    assert [e.recv_ts for _, e in q.events] == [2.0, 3.0]
    q.put_signal(sig(3.0))
    q.put_signal(sig(4.0))  # events are gone first
    assert not q.events and [s.ts for _, s in q.signals] == [1.0, 2.0, 3.0, 4.0]
    q.put_event(liq(4.0))  # only signals left: the incoming event is dropped
    q.put_metric(MetricWrite("m3", b"1", 5))  # and so is an incoming metric
    q.put_signal(sig(5.0))  # a signal displaces the oldest signal
    assert [s.ts for _, s in q.signals] == [2.0, 3.0, 4.0, 5.0]
    assert q.drops == {"metric": 3, "event": 4, "signal": 1}
    assert len(q) == 4


def test_forget_written_keeps_what_arrived_meanwhile() -> None:
    q = OutboundQueue(100)
    q.put_metric(MetricWrite("a", b"1", 5))
    q.put_event(liq(1.0))
    q.put_signal(sig(1.0))
    sent_metrics = {ident: seq for ident, (seq, _) in q.metrics.items()}
    last_event, last_signal = q.events[-1][0], q.signals[-1][0]
    # while the round trip is in flight, new values arrive
    q.put_metric(MetricWrite("a", b"2", 5))
    q.put_event(liq(2.0))
    q.put_signal(sig(2.0))
    q.forget_written(sent_metrics, last_event, last_signal)
    assert [w.value for _, w in q.metrics.values()] == [b"2"]
    assert [e.recv_ts for _, e in q.events] == [2.0]
    assert [s.ts for _, s in q.signals] == [2.0]
