"""The drill itself: the site up on servers of its own, the load on, the faults one by one,
then the books read once the services have caught up."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from cityloop_deploy.drill.books import Books, Ledger
from cityloop_deploy.drill.load import Credentials, Load, Tally
from cityloop_deploy.fleet import WORKFLOW_STAGES, Fleet, FleetConfig
from cityloop_deploy.isolated import IsolatedStack

SITE = "370212"
"""崂山区 of the demo city: its reference data places the drill's reports in a grid."""
SERVICES = (*WORKFLOW_STAGES, "evaluation")


@dataclass(frozen=True)
class DrillPlan:
    kafka_outage_s: float = 60.0
    postgres_outage_s: float = 30.0
    steady_s: float = 10.0
    """Steady load before the first fault, between the faults and after the last."""
    between_kills_s: float = 5.0
    report_every_s: float = 1.0
    desks: int = 5
    """Enough to keep up with the reports between faults: a case takes a desk a few seconds."""
    catch_up_s: float = 180.0
    """The longest the services may take to apply everything once the desks are done."""

    @property
    def patience_s(self) -> float:
        """The longest a person waits for one step: through the longest outage, and more."""
        return max(self.kafka_outage_s, self.postgres_outage_s) + 120.0


@dataclass(frozen=True)
class Phase:
    name: str
    began_s: float
    lasted_s: float


@dataclass
class DrillReport:
    plan: DrillPlan
    started: datetime
    phases: list[Phase]
    tally: Tally
    books: Books
    caught_up_s: float
    """After the desks finished, until every service had applied everything."""
    services: list[str] = field(default_factory=list)

    @property
    def faults(self) -> list[str]:
        """Every answer a client could not act on, every refused command, every stuck case."""
        return [*self.tally.faults, *self.tally.refusals, *self.tally.stuck]

    @property
    def passed(self) -> bool:
        return not self.faults and self.books.whole and bool(self.tally.closed)


class Phases:
    """Times each phase of the drill from its start, telling each as it begins."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.began = time.monotonic()
        self.done: list[Phase] = []

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        began = time.monotonic() - self.began
        self.say(f"{began:6.1f} s  {name}")
        try:
            yield
        finally:
            self.done.append(Phase(name, began, time.monotonic() - self.began - began))


@contextlib.contextmanager
def drill_site(
    stack: IsolatedStack, log_dir: Path, base_port: int, service_env: Mapping[str, str]
) -> Iterator[Fleet]:
    """Every service of the site (the workflow stages and evaluation), each its own process,
    on the stack's servers in a topic namespace and schemas of the drill's own; all of it
    cleared and stopped afterwards."""
    stack.up()
    namespace = f"drill{uuid4().hex[:8]}"
    config = FleetConfig(
        site=SITE,
        kafka_bootstrap=stack.kafka_bootstrap,
        database_url=stack.database_url,
        log_dir=log_dir,
        base_port=base_port,
        topic_namespace=namespace,
        schema_prefix=f"{namespace}_",
        extra_env=service_env,
    )
    fleet = Fleet(config, SERVICES)
    try:
        fleet.start()
        yield fleet
    finally:
        fleet.stop()
        # A drill cut short may have left a server stopped.
        stack.up()
        fleet.clear_away()
        stack.down()


def run_drill(
    fleet: Fleet,
    stack: IsolatedStack,
    plan: DrillPlan,
    credentials: Credentials,
    say: Callable[[str], None] = print,
) -> DrillReport:
    """Load on; Kafka stopped, PostgreSQL stopped, each service killed, one after another;
    load off; the books once everything has been applied."""
    urls = {stage: fleet.config.url(stage) for stage in fleet.services}
    load = Load(
        urls,
        credentials,
        report_every_s=plan.report_every_s,
        desks=plan.desks,
        patience_s=plan.patience_s,
    )
    started = datetime.now(UTC)
    phase = Phases(say)

    def outage(
        server: str, stop: Callable[[], object], start: Callable[[], object], seconds: float
    ) -> None:
        with phase(f"{server} shutting down"):
            stop()
        with phase(f"{server} stopped for {seconds:.0f} s"):
            time.sleep(seconds)
        with phase(f"{server} starting"):
            start()
        with phase("steady load"):
            time.sleep(plan.steady_s)

    load.start()
    try:
        with phase("steady load"):
            time.sleep(plan.steady_s)
        outage("Kafka", stack.stop_kafka, stack.start_kafka, plan.kafka_outage_s)
        outage("PostgreSQL", stack.stop_postgres, stack.start_postgres, plan.postgres_outage_s)
        for number, (stage, service) in enumerate(fleet.services.items(), 1):
            with phase(f"{stage} killed (SIGKILL) and started again"):
                service.kill()
                service.start()
                service.wait_ready()
            with phase("steady load"):
                last = number == len(fleet.services)
                time.sleep(plan.steady_s if last else plan.between_kills_s)
    except BaseException:
        load.abandon()
        raise
    with phase("reports stopped; the desks finish their cases"):
        load.finish(plan.patience_s * 2)
    ledger = Ledger(fleet.config, fleet.services)
    with phase("until every service has applied everything"):
        caught_up_s = ledger.until_caught_up(plan.catch_up_s)
    return DrillReport(
        plan=plan,
        started=started,
        phases=phase.done,
        tally=load.tally,
        books=ledger.books(load.tally.accepted),
        caught_up_s=caught_up_s,
        services=list(fleet.services),
    )
