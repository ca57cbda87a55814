"""Alert sink: webhooks and a command get each alert-level transition once; dead, slow or
failing targets are counted and change nothing else; secrets never show."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cascade_tui.config import AlertConfig
from cascade_tui.engine import Signal
from cascade_tui.engine.types import signal_encoder
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sinks.alerts import AlertSink, alert_level
from tests.redis.redis_market import EventSource, ScriptedEngine, market_events


class Webhook:
    """A local HTTP server: /ok answers 204, /flaky fails once with 503, /slow sleeps 2 s."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[bytes]] = {"/ok": [], "/flaky": [], "/slow": []}
        self.flaky_failed = False
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                path = self.path.split("?")[0]
                if path == "/slow":
                    time.sleep(2.0)
                elif path == "/flaky" and not hook.flaky_failed:
                    hook.flaky_failed = True
                    self.send_response(503)
                    self.end_headers()
                    return
                hook.bodies.setdefault(path, []).append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


async def run_market(*sinks: Any) -> list[Signal]:
    emitted: list[Signal] = []
    pipeline = Pipeline(EventSource(market_events(seed=3, duration_s=90.0)), ScriptedEngine(), list(sinks),
                        on_signal=emitted.append)  # fmt: skip
    await pipeline.run()
    return emitted


def critical_transitions(signals: list[Signal]) -> list[bytes]:
    return [signal_encoder.encode(s) for s in signals if s.level_name == "CRITICAL" and s.state in ("open", "escalate")]


async def test_each_critical_transition_is_posted_once(webhook: Webhook) -> None:
    sink = AlertSink(AlertConfig(webhooks=[f"{webhook.base}/ok", f"{webhook.base}/flaky"], retries=2))
    emitted = await run_market(sink)
    expected = critical_transitions(emitted)
    assert len(expected) == 2  # one per burst (two episodes)
    assert webhook.bodies["/ok"] == expected
    assert webhook.bodies["/flaky"] == expected  # the 503 was retried
    assert json.loads(webhook.bodies["/ok"][0])["level_name"] == "CRITICAL"
    stats = sink.stats()
    assert stats["sent"] == 2 and stats["webhook_failures"] == 0 and stats["state"] == "ok"


async def test_dead_and_slow_webhooks_change_nothing_else(webhook: Webhook) -> None:
    baseline = await run_market()
    sink = AlertSink(
        AlertConfig(
            webhooks=["http://127.0.0.1:1/dead", f"{webhook.base}/slow", f"{webhook.base}/ok"],
            timeout_s=0.3,
            retries=1,
        )
    )
    emitted = await run_market(sink)
    assert [signal_encoder.encode(s) for s in emitted] == [signal_encoder.encode(s) for s in baseline]
    assert webhook.bodies["/ok"] == critical_transitions(emitted)  # the healthy target still got them
    stats = sink.stats()
    assert stats["webhook_failures"] == 4  # dead and slow, for each of the two alerts
    assert stats["state"] == "failing" and stats["sent"] == 0


async def test_command_gets_the_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    script = f"import sys; open({str(out)!r}, 'ab').write(sys.stdin.buffer.read())"
    sink = AlertSink(AlertConfig(command=[sys.executable, "-c", script], level="WARNING"))
    emitted = await run_market(sink)
    lines = out.read_bytes().splitlines()
    expected = [signal_encoder.encode(s) for s in emitted if s.level >= 2 and s.state in ("open", "escalate")]
    assert lines == expected and len(lines) == 4
    assert sink.stats()["command_failures"] == 0


async def test_command_over_its_timeout_is_killed_and_counted(tmp_path: Path) -> None:
    marker = tmp_path / "finished"
    script = f"import time; time.sleep(30); open({str(marker)!r}, 'w').close()"
    sink = AlertSink(AlertConfig(command=[sys.executable, "-c", script], timeout_s=0.3))
    await sink.start()
    sig = critical_signal("BTC-1", 100.0)
    sink.on_signal(sig)
    await sink.close()
    assert sink.stats()["command_failures"] == 1
    assert "killed" in sink.stats()["last_error"]
    await asyncio.sleep(0.1)
    assert not marker.exists()


async def test_failing_and_missing_commands_are_counted() -> None:
    for argv in ([sys.executable, "-c", "raise SystemExit(3)"], ["/nonexistent/alert-command"]):
        sink = AlertSink(AlertConfig(command=argv))
        await sink.start()
        sink.on_signal(critical_signal("BTC-1", 100.0))
        await sink.close()
        assert sink.stats()["command_failures"] == 1, argv


def critical_signal(episode: str, ts: float, state: str = "escalate", level: int = 3) -> Signal:
    names = ("NONE", "WATCH", "WARNING", "CRITICAL")
    return Signal(v=1, ts=ts, asset="BTC", level=level, level_name=names[level], state=state, episode=episode,
                  score=0.8, components={}, direction="long", venues=["binance"], regime="NORMAL")  # fmt: skip


def test_rate_limit_per_episode_and_level_filter() -> None:
    sink = AlertSink(AlertConfig(webhooks=["http://127.0.0.1:1/x"], min_interval_s=60.0))
    sink.on_signal(critical_signal("BTC-1", 100.0))
    sink.on_signal(critical_signal("BTC-1", 110.0, state="deescalate", level=2))  # not an alert state
    sink.on_signal(critical_signal("BTC-1", 120.0))  # re-escalation within 60 s: suppressed
    sink.on_signal(critical_signal("ETH-1", 121.0))  # another episode: alerted
    sink.on_signal(critical_signal("BTC-1", 161.0))  # 61 s after the first: alerted again
    sink.on_signal(critical_signal("SOL-1", 170.0, state="open", level=2))  # below CRITICAL
    assert [s.episode for s in sink.queue] == ["BTC-1", "ETH-1", "BTC-1"]
    assert sink.suppressed == 1
    warn = AlertSink(AlertConfig(webhooks=["http://127.0.0.1:1/x"], level="WARNING", min_interval_s=60.0))
    warn.on_signal(critical_signal("BTC-2", 200.0, state="open", level=2))
    warn.on_signal(critical_signal("BTC-2", 201.0, level=3))  # higher level: never rate-limited
    warn.on_signal(critical_signal("BTC-2", 220.0, level=2, state="escalate"))  # lower, within 60 s
    assert [(s.episode, s.level) for s in warn.queue] == [("BTC-2", 2), ("BTC-2", 3)]
    with pytest.raises(ValueError, match=r"alerts\.level"):
        alert_level("LOUD")


def test_queue_is_bounded() -> None:
    sink = AlertSink(AlertConfig(webhooks=["http://127.0.0.1:1/x"], min_interval_s=0.0), queue_size=3)
    for i in range(5):
        sink.on_signal(critical_signal(f"E-{i}", float(i)))
    assert [s.episode for s in sink.queue] == ["E-2", "E-3", "E-4"]
    assert sink.stats()["drops"] == {"alerts": 2}


async def test_webhook_secrets_never_show(caplog: pytest.LogCaptureFixture) -> None:
    url = "http://alice:hunter2secret@127.0.0.1:1/services/T0/B0/XYZsecretpath?token=abc123tok"
    sink = AlertSink(AlertConfig(webhooks=[url], retries=0, timeout_s=0.5))
    caplog.set_level(logging.DEBUG)
    await sink.start()
    sink.on_signal(critical_signal("BTC-1", 1.0))
    await sink.close()
    shown = json.dumps(sink.stats()) + caplog.text + repr(sink.targets())
    assert sink.stats()["webhook_failures"] == 1
    for secret in ("hunter2secret", "abc123tok", "XYZsecretpath"):
        assert secret not in shown
    assert "127.0.0.1:1" in shown
