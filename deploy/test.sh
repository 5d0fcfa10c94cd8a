#!/usr/bin/env bash
# CityLoop's one test command: installs everything, lints, type-checks, checks the import
# boundaries, then runs every test; the test harness starts Kafka and PostgreSQL itself.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/uv.sh

# The console's browser tests drive Debian's Chromium (tests/e2e/browser/conftest.py).
if [ ! -x /usr/bin/chromium ]; then
    apt-get update && apt-get install -y --no-install-recommends chromium
fi
uv sync --all-packages --frozen
uv run ruff check .
uv run ruff format --check .
uv run mypy shared/src deploy/src services/*/src
uv run lint-imports
uv run pytest "$@"
