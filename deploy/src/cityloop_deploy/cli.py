"""`cityloop-stack up|down|status|env`: the local Apache Kafka and PostgreSQL."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from cityloop_deploy import localstack
from cityloop_deploy.service import StackError
from cityloop_deploy.settings import env_lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cityloop-stack",
        description="Run CityLoop's local Apache Kafka (KRaft) and PostgreSQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start both and wait until they answer (idempotent)")
    commands.add_parser("down", help="stop both, keeping their data")
    commands.add_parser("status", help="say what runs; exit 3 unless both do")
    env = commands.add_parser("env", help="print the services' environment for the shell")
    env.add_argument(
        "--export", action="store_true", help="prefix each line with `export` for eval"
    )
    return parser


def _up(stack: localstack.Stack) -> int:
    began = time.monotonic()
    report = localstack.up(stack)
    for line in env_lines(stack.settings):
        print(line)
    # Comments, so the whole output stays fit for `eval` and for an .env file.
    print(f"# Apache Kafka {report.kafka_version}: {report.kafka_probe.summary()}")
    print(f"# PostgreSQL {report.postgres_version}")
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
    return 0 if all(status.running for status in statuses) else 3


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="cityloop-stack: %(message)s", stream=sys.stderr)
    try:
        stack = localstack.Stack.from_env()
        if args.command == "up":
            return _up(stack)
        if args.command == "down":
            return _down(stack)
        if args.command == "status":
            return _status(stack)
        for line in env_lines(stack.settings, export=args.export):
            print(line)
        return 0
    except StackError as error:
        print(f"cityloop-stack: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
