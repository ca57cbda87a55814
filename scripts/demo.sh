#!/usr/bin/env bash
# Command 1 of the README: install everything and open the dashboard on the simulated market.
set -euo pipefail
cd "$(dirname "$0")/.."
CASCADE_SKIP_POSTGRES=1 bash scripts/setup.sh
exec .venv/bin/cascade-tui --demo "$@"
