#!/usr/bin/env bash
# CityLoop's one test command: installs everything, lints, type-checks, checks the import
# boundaries, then runs every test; the test harness starts Kafka and PostgreSQL itself.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/uv.sh

uv sync --all-packages --frozen
uv run ruff check .
uv run ruff format --check .
uv run mypy shared/src deploy/src services/*/src
uv run lint-imports
uv run pytest "$@"
