"""Issue 14 High 3 on screen: the dashboard over `--source redis` shows the ingester's own
signals, and says plainly when Redis cannot be read."""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.notifications import Notify

from cascade_tui.config import Config
from cascade_tui.engine import Engine
from cascade_tui.engine.types import signal_encoder
from cascade_tui.redis_schema import RedisKeys
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sources.redis import RedisSource
from cascade_tui.ui.app import CascadeApp
from cascade_tui.ui.signal_log import SignalLog
from cascade_tui.ui.status_bar import StatusBar
from tests.redis.server import free_port
from tests.ui.fake_snapshot import build_snapshot
from tests.ui.pilot_wait import until
from tests.ui.test_app_keys import rendered_text


def viewer_app(url: str) -> CascadeApp:
    pipeline = Pipeline(RedisSource(url), Engine())
    return CascadeApp(pipeline, config=Config(), status={"redis": "source: viewer"})


async def test_viewer_dashboard_says_redis_is_unreachable() -> None:
    messages: list[Message] = []
    app = viewer_app(f"redis://127.0.0.1:{free_port()}/0")
    async with app.run_test(size=(120, 40), notifications=True, message_hook=messages.append) as pilot:
        status = app.query_one(StatusBar)
        assert await until(pilot, lambda: "unreachable" in rendered_text(status))
        assert "connection refused" in rendered_text(status)
        toasts = [m.notification for m in messages if isinstance(m, Notify)]
        assert any(t.title == "redis unreachable" and "--redis-url" in t.message for t in toasts)
        await pilot.press("q")


async def test_viewer_dashboard_lists_the_ingesters_signals(redis_server: Any) -> None:
    client = redis_server.client()
    keys = RedisKeys()
    signals = build_snapshot().signals  # ten signals at every level, as an ingester published them
    for sig in signals:
        client.zadd(keys.signals_history, {signal_encoder.encode(sig): sig.ts})
    app = viewer_app(redis_server.url)
    async with app.run_test(size=(120, 40)) as pilot:
        log = app.query_one(SignalLog)
        assert await until(pilot, lambda: "no signals" not in rendered_lines(app))
        shown = rendered_lines(app)
        assert "XRP" in shown and "CRITICAL" in shown and "MARKET" in shown
        assert "1 critical" in str(log.border_subtitle)  # counted from the ingester's signals
        await pilot.press("q")
    client.close()


def rendered_lines(app: CascadeApp) -> str:
    from textual.widgets import Static

    return str(app.query_one("#signal-lines", Static).render())
