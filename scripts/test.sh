#!/usr/bin/env bash
# Command 2 of the README: install everything and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check cascade_tui tests benchmarks scripts
.venv/bin/mypy  # the package, as configured in pyproject.toml
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
