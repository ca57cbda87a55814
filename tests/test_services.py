"""A missing service skips a test on a developer's machine and fails it under CI."""

from __future__ import annotations

import pytest

from tests.services import missing_service, services_required


@pytest.mark.parametrize(
    ("env", "required"),
    [({}, False), ({"CI": "true"}, True), ({"CI": "0"}, False), ({"CASCADE_REQUIRE_SERVICES": "1"}, True)],
)
def test_when_services_are_required(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], required: bool) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CASCADE_REQUIRE_SERVICES", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert services_required() is required


def test_a_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI"):
        missing_service("redis-server is not installed")


def test_a_missing_service_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CASCADE_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server"):
        missing_service("redis-server is not installed")
