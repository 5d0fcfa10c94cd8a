#!/usr/bin/env bash
# CityLoop's one run command: installs everything, then runs the demo city 青岛市 — by
# default embedded (one process, SQLite, the web console; needs only Python), with
# --distributed on Kafka and PostgreSQL, every service its own process.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/uv.sh

uv sync --all-packages --frozen
exec uv run cityloop-run "$@"
