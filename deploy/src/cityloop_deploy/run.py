"""`cityloop-run`: the demo city 青岛市 on this machine, until Ctrl-C.

By default the embedded mode: the districts 崂山区 (370212) and 市南区 (370202) and the city
(370200) in one process, every service (evaluation and sync included) and the web console,
on SQLite files and an embedded log under `.cityloop/` (needs nothing but Python; kept across
restarts). `--distributed` runs the same services as the city would: each site with a Kafka
cluster and a database of its own and every service as its own process, the city's sync
service joining them. The sites' clusters are secured: each service logs in as its own
principal, which may write only its own topics and read only what it follows
(docs/kafka-security.md). `--districts` names other districts of the demo city; `--site
370212 --distributed` runs one site alone on the main broker instead. Prints where the
console and the APIs are and a token for each role, and stops on SIGINT/SIGTERM (in the
distributed mode Kafka and PostgreSQL keep running: `cityloop-stack down`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from cityloop_deploy import clusters, localstack
from cityloop_deploy.embedded import (
    BASE_PORT,
    CONSOLE_PORT,
    EmbeddedCity,
    demo_traffic,
    run_until_stopped,
)
from cityloop_deploy.fleet import WORKFLOW_STAGES, Fleet, FleetConfig, ServiceStartError
from cityloop_deploy.identities import identity_env, site_token_issuer
from cityloop_deploy.kafka_logins import KafkaLogins
from cityloop_deploy.levels import Levels, SitePlan
from cityloop_deploy.service import StackError
from cityloop_deploy.simulator.simulation import Settings
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.sites import city_of
from cityloop_shared.identity.roster import unknown_actor
from cityloop_shared.logging import configure_logging
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import LogFormat, ServiceSettings

DEMO_DISTRICTS = ("370212", "370202")
DEMO_PEOPLE = {
    Role.FIELD_SUPERVISOR: "sv-{site}-01",
    Role.ACCEPTANCE_OPERATOR: "operator-1",
    Role.DUTY_CHIEF: "chief-1",
    Role.DISPATCHER: "dispatcher-1",
    Role.LEADER: "leader-1",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityloop-run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--districts",
        default=",".join(DEMO_DISTRICTS),
        help="the districts to run beside their city (default: %(default)s)",
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="Kafka and PostgreSQL, every service its own process (default: embedded)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(".cityloop"),
        help="where the embedded mode keeps its databases, log, keys and photos "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=BASE_PORT,
        help="embedded: the first service's port; each site takes 20 from there "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--console-port", type=int, default=CONSOLE_PORT, help="(default: %(default)s)"
    )
    parser.add_argument(
        "--simulate",
        type=float,
        metavar="REPORTS_PER_DAY",
        help="embedded: the simulator's people at work from the start, a day an hour",
    )
    parser.add_argument(
        "--site", help="with --distributed: run this one site alone, on the main broker"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.distributed:
        if args.site:
            _parser().error("--site runs one site of the distributed mode: add --distributed")
        embedded = EmbeddedCity(
            args.data.resolve(),
            clusters.parse_sites(args.districts),
            base_port=args.port,
            console_port=args.console_port,
        )
        traffic = demo_traffic(embedded, args.simulate) if args.simulate else None
        return run_embedded(embedded, traffic)
    settings = ServiceSettings()
    # Development mode for the local PostgreSQL's built-in password; each site still signs
    # with a key of its own, made on first run under the stack's keys/ folder.
    env = {
        "CITYLOOP_LOG_FORMAT": os.environ.get("CITYLOOP_LOG_FORMAT", "json"),
        "CITYLOOP_MODE": "development",
    }
    try:
        stack = localstack.Stack.from_env()
        if args.site:
            localstack.up(stack)
            fleets = [_one_site(stack, args.site, env)]
            levels = None
        else:
            districts = clusters.parse_sites(args.districts)
            city = city_of(districts[0])
            addresses = localstack.up_sites(stack, [*districts, city], secured=True)
            levels = Levels(
                city=SitePlan(city, addresses[city]),
                districts=[SitePlan(d, addresses[d]) for d in districts],
                server_url=stack.settings.database_url,
                log_dir=stack.paths.stack_dir / "services",
                extra_env=env,
                with_evaluation=True,
                key_dir=_key_dir(stack),
                kafka_logins=KafkaLogins.of_stack(stack.paths),
            )
            fleets = list(levels.fleets.values())
    except (StackError, ValueError) as error:
        print(f"cityloop-run: {error}", file=sys.stderr)
        return 1
    try:
        if levels is not None:
            levels.start()
        else:
            fleets[0].start()
    except ServiceStartError as error:
        print(f"cityloop-run: {error}", file=sys.stderr)
        return 1
    for fleet in fleets:
        _print_directory(fleet, settings, _key_dir(stack))
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stopping.wait()
    for fleet in reversed(fleets):
        fleet.stop()
    return 0


def run_embedded(city: EmbeddedCity, traffic: Settings | None) -> int:
    configure_logging(LogFormat.CONSOLE, os.environ.get("CITYLOOP_LOG_LEVEL", "WARNING"))
    try:
        city.build()
        asyncio.run(run_until_stopped(city, lambda: _print_embedded(city), traffic))
    except (OSError, RuntimeError) as error:
        print(f"cityloop-run: {error}", file=sys.stderr)
        return 1
    return 0


def _print_embedded(city: EmbeddedCity) -> None:
    print(f"CityLoop runs embedded (data in {city.data_dir}); Ctrl-C stops it.")
    print(f"  console       {city.console_url}/login")
    for site in city.sites:
        print(
            f"  site {site}   "
            + "  ".join(
                f"{service} {city.url(site, service)}/docs" for service in city.services_of(site)
            )
        )
    print(
        "  simulator     uv run cityloop-simulate --keys "
        f"{city.key_dir} --duration 300 (traffic from every channel)"
    )
    sys.stdout.flush()


def _key_dir(stack: localstack.Stack) -> Path:
    return stack.paths.stack_dir / "keys"


def _one_site(stack: localstack.Stack, site: str, env: dict[str, str]) -> Fleet:
    env = {**env, **identity_env(_key_dir(stack), site, {})}
    return Fleet(
        FleetConfig(
            site=site,
            kafka_bootstrap=stack.settings.kafka_bootstrap,
            database_url=stack.settings.database_url,
            log_dir=stack.paths.stack_dir / "services",
            extra_env=env,
        ),
        (*WORKFLOW_STAGES, "evaluation"),
    )


def _print_directory(fleet: Fleet, settings: ServiceSettings, key_dir: Path) -> None:
    site = fleet.config.site
    login = " (SASL/SCRAM, each service its own principal)" if fleet.config.kafka_logins else ""
    kafka = f"Kafka {fleet.config.kafka_bootstrap}{login}"
    print(f"CityLoop site {site} ({kafka}) runs; Ctrl-C stops it.")
    for stage in fleet.services:
        print(f"  {stage:<13} {fleet.config.url(stage)}/docs")
    print(f"  logs          {fleet.config.log_dir}")
    issuer = site_token_issuer(key_dir, site)
    reference = (
        ReferenceData.load(settings.reference_dir)
        if settings.reference_dir
        else ReferenceData.demo()
    )
    print(f"Bearer tokens of the demo's people at {site} (valid 12 hours):")
    for role, person in DEMO_PEOPLE.items():
        actor = Actor(id=person.format(site=site), role=role, site=site)
        if unknown_actor(actor, reference) is None:
            print(f"  {role.value:<20} {issuer.issue(actor)}")
    for department in reference.departments.at_site(site):
        actor = Actor(
            id=f"{department.id}-staff",
            role=Role.DEPARTMENT,
            site=site,
            department_id=department.id,
        )
        print(f"  department {department.id:<20} {issuer.issue(actor)}")


if __name__ == "__main__":
    sys.exit(main())
