"""`cityloop-run`: the local stack with every workflow service of a site, until Ctrl-C.

Starts Kafka and PostgreSQL (if they do not run yet), then each service as its own process
on the shipped demo city, prints where the APIs are and a token for each role, and stops
the services on SIGINT/SIGTERM (Kafka and PostgreSQL keep running: `cityloop-stack down`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from cityloop_deploy import localstack
from cityloop_deploy.fleet import Fleet, FleetConfig, ServiceStartError
from cityloop_deploy.service import StackError
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.auth import TokenSigner
from cityloop_shared.settings import ServiceSettings

DEMO_PEOPLE = {
    Role.FIELD_SUPERVISOR: "sv-370212-03",
    Role.ACCEPTANCE_OPERATOR: "operator-1",
    Role.DUTY_CHIEF: "chief-1",
    Role.DISPATCHER: "dispatcher-1",
    Role.LEADER: "leader-1",
}


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    try:
        stack = localstack.Stack.from_env()
        localstack.up(stack)
    except StackError as error:
        print(f"cityloop-run: {error}", file=sys.stderr)
        return 1
    settings = ServiceSettings()
    fleet = Fleet(
        FleetConfig(
            site=settings.site,
            kafka_bootstrap=stack.settings.kafka_bootstrap,
            database_url=stack.settings.database_url,
            log_dir=stack.paths.stack_dir / "services",
            extra_env={"CITYLOOP_LOG_FORMAT": os.environ.get("CITYLOOP_LOG_FORMAT", "json")},
        )
    )
    try:
        fleet.start()
    except ServiceStartError as error:
        print(f"cityloop-run: {error}", file=sys.stderr)
        return 1
    _print_directory(fleet, settings)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stopping.wait()
    fleet.stop()
    return 0


def _print_directory(fleet: Fleet, settings: ServiceSettings) -> None:
    print(f"CityLoop site {settings.site} runs (demo city 青岛市); Ctrl-C stops the services.")
    for stage in fleet.services:
        print(f"  {stage:<13} {fleet.config.url(stage)}/docs")
    print(f"  logs          {fleet.config.log_dir}")
    signer = TokenSigner(
        settings.auth_secret.get_secret_value(), settings.auth_token_max_age_seconds
    )
    print("Bearer tokens of the demo's people:")
    for role, person in DEMO_PEOPLE.items():
        token = signer.issue(Actor(id=person, role=role, site=settings.site))
        print(f"  {role.value:<20} {token}")
    reference = (
        ReferenceData.load(settings.reference_dir)
        if settings.reference_dir
        else ReferenceData.demo()
    )
    for department in reference.departments.at_site(settings.site):
        actor = Actor(
            id=f"{department.id}-staff",
            role=Role.DEPARTMENT,
            site=settings.site,
            department_id=department.id,
        )
        print(f"  department {department.id:<20} {signer.issue(actor)}")


if __name__ == "__main__":
    sys.exit(main())
