"""What to do when a service a test needs (redis-server, PostgreSQL, tmux) is missing.

On a developer's machine the test is skipped with the install hint. Under CI (CI set, as
`.ci/run` is run) or with CASCADE_REQUIRE_SERVICES=1 it fails instead: scripts/setup.sh
installs every one of these services, so a missing one means the setup is broken, and a
suite that quietly skipped it would report green over untested code.
"""

from __future__ import annotations

import os

import pytest


def services_required() -> bool:
    flag = os.environ.get("CASCADE_REQUIRE_SERVICES") or os.environ.get("CI") or ""
    return flag.strip().lower() not in ("", "0", "false", "no")


def missing_service(reason: str, *, module_level: bool = False) -> None:
    """Skip (developer machine) or fail (CI) because a service is not available."""
    if services_required():
        pytest.fail(f"{reason} (required under CI: scripts/setup.sh installs it)", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)
