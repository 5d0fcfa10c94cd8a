"""`cityloop-drill`: the fault drill at full length, its result printed as Markdown.

    cityloop-drill [--kafka-outage 60] [--postgres-outage 30] [--record docs/fault-drill.md]

Runs a Kafka broker and a PostgreSQL server of its own (ports 19292/19293 and 15532 by
default, files under ``<stack_dir>/isolated/drill``), never the local stack's, and every
workflow service of 崂山区 (370212) as a process in development mode. ``--record`` appends the
result to a Markdown file. Exits 1 when the drill failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cityloop_deploy import kafka, postgres
from cityloop_deploy.drill.faults import SITE, DrillPlan, drill_site, run_drill
from cityloop_deploy.drill.load import Credentials
from cityloop_deploy.drill.report import markdown
from cityloop_deploy.isolated import DEFAULT_KAFKA_PORT, DEFAULT_POSTGRES_PORT, IsolatedStack
from cityloop_deploy.localstack import Stack
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.testing.identity import bearer

SERVICE_ENV = {"CITYLOOP_MODE": "development", "CITYLOOP_LOG_FORMAT": "json"}
"""The site's built-in development keys sign the drill's people's tokens."""


def development_credentials(site: str) -> Credentials:
    def headers(
        role: Role, id: str | None = None, *, department: str | None = None
    ) -> dict[str, str]:
        return bearer(
            Actor(id=id or f"{role.value}-1", role=role, site=site, department_id=department)
        )

    return headers


def _parser() -> argparse.ArgumentParser:
    defaults = DrillPlan()
    parser = argparse.ArgumentParser(prog="cityloop-drill", description=__doc__.split("\n")[0])
    parser.add_argument("--kafka-outage", type=float, default=defaults.kafka_outage_s)
    parser.add_argument("--postgres-outage", type=float, default=defaults.postgres_outage_s)
    parser.add_argument("--steady", type=float, default=defaults.steady_s)
    parser.add_argument("--between-kills", type=float, default=defaults.between_kills_s)
    parser.add_argument("--report-every", type=float, default=defaults.report_every_s)
    parser.add_argument("--desks", type=int, default=defaults.desks)
    parser.add_argument("--kafka-port", type=int, default=DEFAULT_KAFKA_PORT)
    parser.add_argument("--postgres-port", type=int, default=DEFAULT_POSTGRES_PORT)
    parser.add_argument("--base-port", type=int, default=18701, help="the services' first port")
    parser.add_argument("--logs", type=Path, help="the services' logs (default: a temp folder)")
    parser.add_argument("--record", type=Path, help="append the result to this Markdown file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    plan = DrillPlan(
        kafka_outage_s=args.kafka_outage,
        postgres_outage_s=args.postgres_outage,
        steady_s=args.steady,
        between_kills_s=args.between_kills,
        report_every_s=args.report_every,
        desks=args.desks,
    )
    stack = IsolatedStack(
        Stack.from_env(), "drill", kafka_port=args.kafka_port, postgres_port=args.postgres_port
    )
    logs = args.logs or Path(tempfile.mkdtemp(prefix="cityloop-drill-"))
    print(f"services' logs in {logs}", file=sys.stderr)
    with drill_site(stack, logs, args.base_port, SERVICE_ENV) as fleet:
        versions = (
            f"Apache Kafka {kafka.kafka_version(stack.broker.kafka.libs) or 'unknown'}, "
            f"PostgreSQL {postgres.server_version(stack.settings, stack.postgres_paths)}"
        )
        report = run_drill(
            fleet,
            stack,
            plan,
            development_credentials(SITE),
            say=lambda line: print(line, file=sys.stderr),
        )
    text = markdown(report, versions)
    print(text)
    if args.record is not None:
        with args.record.open("a") as record:
            record.write("\n" + text)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
