"""The `cascade:liqmap:{asset}` key (real redis-server) and the `cascade-tui liqmap` command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from cascade_tui.capture import CaptureWriter
from cascade_tui.config import RedisConfig
from cascade_tui.engine import Engine
from cascade_tui.liqmap_cli import main as liqmap_main
from cascade_tui.liqmap_cli import table
from cascade_tui.redis_schema import TTL_LIQMAP_S, decode_liqmap, liqmap_payload
from cascade_tui.runtime.pipeline import Pipeline
from cascade_tui.sinks.redis import RedisSink
from cascade_tui.sources.demo import DemoSource
from cascade_tui.sources.simulate.mechanistic_simulator import MechanisticSimulator
from tests.redis.server import RedisServer, redis_server_binary

needs_redis = pytest.mark.skipif(redis_server_binary() is None, reason="redis-server is not installed")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("liqmap") / "mech.cap.gz"
    with CaptureWriter(path, {"source": "simulate", "profile": "mechanistic"}) as writer:
        for frame in MechanisticSimulator(21).frames(1200):
            writer.write(frame)
    return path


def test_liqmap_command_prints_the_map_of_a_capture(
    capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert liqmap_main([str(capture), "--asset", "BTC", "--range", "3", "--step", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("BTC  price ")
    assert "calibration:" in out and "── price" in out
    assert out.count("\n") >= 14  # 12 rows of 0.5 % plus the header, the price line, within
    assert liqmap_main([str(capture), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    maps = [json.loads(line) for line in lines]
    assert [m["asset"] for m in maps] == ["BTC", "ETH", "SOL"]
    btc = maps[0]
    assert btc["v"] == 1 and btc["band_fraction"] == 0.001 and btc["price"] > 0
    assert btc["bands"] and all(len(row) == 4 and row[0] < row[1] for row in btc["bands"])
    assert all(abs(row[0] / btc["price"] - 1) <= 0.16 for row in btc["bands"])
    assert set(btc["long_within"]) == {"0.5", "1", "2", "5"}


def test_a_map_without_trades_says_its_split_is_even(capture: Path) -> None:
    from cascade_tui.liqmap_cli import maps_from_captures

    view = next(m for m in maps_from_captures([str(capture)]) if m.asset == "BTC")
    assert view.trades_seen  # the mechanistic market has trades for every asset
    assert "50/50" not in table(view, 3.0, 0.5)
    untraded = msgspec.structs.replace(view, trades_seen=False)
    assert table(untraded, 3.0, 0.5).splitlines()[1] == (
        "no trades of this asset seen: new positions split 50/50 long/short"
    )
    doc = json.loads(liqmap_payload(untraded))
    assert doc["trades_seen"] is False and decode_liqmap(json.dumps(doc)).trades_seen is False
    del doc["trades_seen"]  # a payload written before the field: read as split by trades
    assert decode_liqmap(json.dumps(doc)).trades_seen is True


def test_liqmap_command_bad_arguments(
    capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert liqmap_main(["/nonexistent.cap.gz"]) == 2
    bad = tmp_path / "bad.cap.gz"
    bad.write_text("not a capture")
    assert liqmap_main([str(bad)]) == 2
    assert "not a capture" in capsys.readouterr().err
    assert liqmap_main([str(capture), "--step", "0"]) == 2
    assert liqmap_main([str(capture), "--asset", "DOGE"]) == 1  # not in this market
    assert "no liquidation map" in capsys.readouterr().err


@needs_redis
def test_sink_writes_the_liqmap_key_and_the_command_reads_it(capsys: pytest.CaptureFixture[str]) -> None:
    with RedisServer() as server:
        sink = RedisSink(server.url, config=RedisConfig(queue_size=100_000))
        engine = Engine()
        source = DemoSource(seed=4, speed=0, duration_s=900, profile="mechanistic")
        pipeline = Pipeline(source, engine, [sink])
        asyncio.run(pipeline.run())
        snap = pipeline.latest_snapshot
        assert snap is not None and {m.asset for m in snap.liqmap} == {"BTC", "ETH", "SOL"}
        client: Any = redis.Redis.from_url(server.url)
        raw = client.get("cascade:liqmap:BTC")
        assert raw is not None
        assert 0 < client.ttl("cascade:liqmap:BTC") <= TTL_LIQMAP_S
        view = decode_liqmap(raw)
        assert view.asset == "BTC" and view.price is not None and view.bands
        # the command reads what the writer wrote
        assert liqmap_main(["--redis-url", server.url, "--asset", "BTC", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["asset"] == "BTC"
        assert liqmap_main(["--redis-url", server.url]) == 0
        assert capsys.readouterr().out.count("price ") >= 3
        client.close()


def test_command_says_which_redis_it_could_not_read(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.redis.server import free_port

    assert liqmap_main(["--redis-url", f"redis://user:secret@127.0.0.1:{free_port()}"]) == 1
    err = capsys.readouterr().err
    assert "reading redis://user:***@127.0.0.1" in err and "secret" not in err


def test_simulate_mechanistic_writes_a_capture_and_labels(tmp_path: Path) -> None:
    from cascade_tui.cli import main as cli_main
    from cascade_tui.labels import read_labels

    cap, labels = tmp_path / "m.cap.gz", tmp_path / "m.labels"
    args = ["simulate", "--mechanistic", "--seed", "3", "--duration", "600", "--out", str(cap), "--labels", str(labels)]
    assert cli_main(args) == 0
    assert cap.stat().st_size > 10_000 and labels.exists()
    assert all(label.asset in ("BTC", "ETH", "SOL") for label in read_labels(labels))
    assert cli_main(["simulate", "--profile", "nope", "--seed", "1", "--duration", "5", "--out", str(cap),
                     "--labels", str(labels)]) == 2  # fmt: skip
    assert cli_main(["--demo", "--profile", "nope", "--no-ui"]) == 2
