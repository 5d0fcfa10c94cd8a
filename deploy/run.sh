#!/usr/bin/env bash
# CityLoop's one run command: installs everything, starts Kafka and PostgreSQL, then every
# service of the demo city as its own process, and prints where the APIs are.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/uv.sh

uv sync --all-packages --frozen
exec uv run cityloop-run
