"""`cityloop-stack up|down|status|env`: the local Apache Kafka and PostgreSQL, and with
`--sites 370212,370202,370200` a Kafka cluster of its own for each of those sites."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from cityloop_deploy import clusters, localstack
from cityloop_deploy.service import StackError
from cityloop_deploy.settings import env_lines

# The servers `status` answers for; site clusters are listed, and may be stopped.
_MAIN_SERVICES = frozenset({"kafka", "postgres"})


def _sites(text: str) -> list[str]:
    try:
        return clusters.parse_sites(text)
    except StackError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cityloop-stack",
        description="Run CityLoop's local Apache Kafka (KRaft) and PostgreSQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start both and wait until they answer (idempotent)")
    commands.add_parser("down", help="stop both and every site's Kafka, keeping their data")
    commands.add_parser("status", help="say what runs; exit 3 unless both do")
    env = commands.add_parser("env", help="print the services' environment for the shell")
    env.add_argument(
        "--export", action="store_true", help="prefix each line with `export` for eval"
    )
    for command in (up, env):
        command.add_argument(
            "--sites",
            type=_sites,
            default=[],
            metavar="CODE,CODE,...",
            help="also a Kafka cluster of its own for each site, on ports by its place in the list",
        )
    return parser


def _site_lines(stack: localstack.Stack, sites: list[str], *, export: bool = False) -> list[str]:
    chosen = clusters.site_clusters(stack.settings, stack.paths, sites)
    return clusters.env_lines(((c.site, c.bootstrap) for c in chosen), export=export)


def _up(stack: localstack.Stack, sites: list[str]) -> int:
    began = time.monotonic()
    # Refuses bad sites or ports before anything starts.
    site_lines = _site_lines(stack, sites)
    report = localstack.up(stack)
    if sites:
        localstack.up_sites(stack, sites)
    for line in [*env_lines(stack.settings), *site_lines]:
        print(line)
    # Comments, so the whole output stays fit for `eval` and for an .env file.
    print(f"# Apache Kafka {report.kafka_version}: {report.kafka_probe.summary()}")
    print(f"# PostgreSQL {report.postgres_version}")
    if sites:
        print(f"# site clusters: {', '.join(sites)}")
    print(f"# ready in {time.monotonic() - began:.1f} s; data in {stack.paths.stack_dir}")
    return 0


def _down(stack: localstack.Stack) -> int:
    stopped = localstack.down(stack)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def _status(stack: localstack.Stack) -> int:
    statuses = localstack.status(stack)
    for status in statuses:
        print(status.line())
    print(f"data: {stack.paths.stack_dir}")
    main = [status for status in statuses if status.name in _MAIN_SERVICES]
    return 0 if all(status.running for status in main) else 3


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="cityloop-stack: %(message)s", stream=sys.stderr)
    try:
        stack = localstack.Stack.from_env()
        if args.command == "up":
            return _up(stack, args.sites)
        if args.command == "down":
            return _down(stack)
        if args.command == "status":
            return _status(stack)
        lines = [
            *env_lines(stack.settings, export=args.export),
            *_site_lines(stack, args.sites, export=args.export),
        ]
        for line in lines:
            print(line)
        return 0
    except StackError as error:
        print(f"cityloop-stack: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
