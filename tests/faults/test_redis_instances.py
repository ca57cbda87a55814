"""Issue 12 row 9: two instances on one Redis prefix overwrote each other's heartbeat,
`cascade:score:*` and events silently. Now every payload carries the writer's `instance`,
a second live instance on a prefix in use publishes nothing and says why, and the README's
multi-ingester example (one prefix per ingester, a viewer on one of them) works as written.
All with the real program against a real redis-server."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.faults.cli_process import CliRun
from tests.redis.server import RedisServer, redis_server_binary

if redis_server_binary() is None:
    pytest.skip("redis-server is not installed", allow_module_level=True)

README = Path(__file__).resolve().parents[2] / "README.md"
DEADLINE_S = 60.0


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as s:
        yield s


def wait_until(cond, what: str, timeout: float = DEADLINE_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def heartbeat(client: redis.Redis, prefix: str = "") -> dict:
    raw = client.get(f"{prefix}cascade:heartbeat")
    return json.loads(raw) if raw else {}


def ingester(tmp_path: Path, name: str, *args: str) -> CliRun:
    work = tmp_path / name
    work.mkdir()
    return CliRun(work, "--demo", "--no-ui", "--speed", "20", *args)


def test_a_second_instance_on_a_prefix_in_use_publishes_nothing(tmp_path: Path, server: RedisServer) -> None:
    client = server.client()
    first = ingester(tmp_path, "first", "--redis-url", server.url)
    second: CliRun | None = None
    try:
        wait_until(lambda: heartbeat(client).get("instance"), "the first instance's heartbeat")
        owner = heartbeat(client)["instance"]
        first.wait_lines(1, timeout=DEADLINE_S)
        second = ingester(tmp_path, "second", "--redis-url", server.url, "--seed", "8")
        wait_until(lambda: "not publishing" in second.stderr(), "the second instance to refuse the prefix")
        second.wait_lines(1, timeout=DEADLINE_S)  # its own engine and stdout carry on
        for _ in range(20):  # the first one keeps the prefix: nothing of the second shows up
            assert heartbeat(client)["instance"] == owner
            score = client.get("cascade:score:BTC")
            assert score is None or json.loads(score)["instance"] == owner
            time.sleep(0.1)
        entry = client.xrevrange("cascade:events", count=1)[0][1]
        assert entry[b"instance"].decode() == owner
        assert second.terminate(DEADLINE_S) == 0
        assert first.terminate(DEADLINE_S) == 0
    finally:
        for run in (first, second):
            if run is not None and run.alive():
                run.kill()
    refused = second.stats()["sinks"]["redis"]
    assert refused["state"] == "refused" and refused["refused_by"] == owner and refused["published"] == 0
    assert owner in second.stderr()
    kept = first.stats()["sinks"]["redis"]
    assert kept["instance"] == owner and kept["published"] > 0 and kept["conflicts"] == 0
    client.close()


def test_a_dead_instances_heartbeat_does_not_block_a_restart(tmp_path: Path, server: RedisServer) -> None:
    client = server.client()
    first = ingester(tmp_path, "first", "--redis-url", server.url)
    try:
        wait_until(lambda: heartbeat(client).get("instance"), "the first instance's heartbeat")
        dead = heartbeat(client)["instance"]
        first.kill()  # its heartbeat stays behind for up to 10 s
    finally:
        if first.alive():
            first.kill()
    assert heartbeat(client)["instance"] == dead
    second = ingester(tmp_path, "second", "--redis-url", server.url)
    try:
        wait_until(lambda: heartbeat(client).get("instance") not in (None, dead), "the restarted instance's heartbeat")
        assert second.terminate(DEADLINE_S) == 0
    finally:
        if second.alive():
            second.kill()
    assert second.stats()["sinks"]["redis"]["state"] != "refused"
    client.close()


def readme_multi_ingester_commands() -> list[list[str]]:
    """The README's Redis example lines that start ingesters and a viewer on prefixes."""
    text = README.read_text(encoding="utf-8")
    lines = [ln.split("#", 1)[0].strip().rstrip("&").strip() for ln in text.splitlines()]
    return [shlex.split(ln) for ln in lines if ln.startswith("cascade-tui ") and "--redis-prefix" in ln]


def test_the_readme_multi_ingester_example_works_as_written(tmp_path: Path, server: RedisServer) -> None:
    commands = readme_multi_ingester_commands()
    ingesters = [c for c in commands if "--no-ui" in c]
    viewers = [c for c in commands if "--source" in c]
    assert len(ingesters) >= 2 and viewers, f"the README example changed: {commands}"

    def as_run(argv: list[str]) -> list[str]:
        # as written, with two substitutions: the test's server for `host`, and the simulated
        # market for the live venues (tests never touch the internet)
        args = [a.replace("redis://host:6379/0", server.url) for a in argv[1:]]
        return args if "--source" in args else ["--demo", "--speed", "20", *args]

    client = server.client()
    runs: list[CliRun] = []
    try:
        for i, argv in enumerate(ingesters):
            work = tmp_path / f"ingester{i}"
            work.mkdir()
            runs.append(CliRun(work, *as_run(argv), "--seed", str(7 + i)))
        prefixes = [argv[argv.index("--redis-prefix") + 1] for argv in ingesters]
        assert len(set(prefixes)) == len(prefixes)
        wait_until(lambda: all(heartbeat(client, p).get("instance") for p in prefixes), "every ingester's heartbeat")
        instances = {heartbeat(client, p)["instance"] for p in prefixes}
        assert len(instances) == len(prefixes), "one instance per prefix"
        view = tmp_path / "viewer"
        view.mkdir()
        viewer = CliRun(view, *as_run(viewers[0]), "--no-ui")
        runs.append(viewer)
        viewer.wait_lines(1, timeout=DEADLINE_S)  # the viewer raises signals from its ingester's events
        for run in runs[:-1]:  # each ingester has raised (and so publishes) a signal of its own before it stops
            run.wait_lines(1, timeout=DEADLINE_S)
        for run in reversed(runs):
            assert run.terminate(DEADLINE_S) == 0, run.stderr()[-2000:]
    finally:
        for run in runs:
            if run.alive():
                run.kill()
    for run in runs[:-1]:
        sink = run.stats()["sinks"]["redis"]
        assert sink["state"] != "refused" and sink["published"] > 0 and sink["conflicts"] == 0
    assert runs[-1].stats()["events"] > 0
    client.close()
