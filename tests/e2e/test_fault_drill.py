"""The fault drill (docs/fault-drill.md), its outages shortened for CI: a whole site under
steady load while its Kafka broker is stopped, then its PostgreSQL, then each service is killed
with SIGKILL in turn. Every answer is 2xx, a 404 of a query for what has not arrived yet, or
503 with Retry-After, always JSON; nothing accepted is lost, nothing is applied twice, and
every case goes from report to close once everything is back.

The drill runs its own Kafka broker and PostgreSQL server (cityloop_deploy.isolated): the
local stack's serve the other tests meanwhile and are never stopped.
"""

from __future__ import annotations

import pytest

from cityloop_deploy.drill.faults import DrillPlan, DrillReport, drill_site, run_drill
from cityloop_deploy.drill.report import markdown
from cityloop_deploy.fleet import WORKFLOW_STAGES
from cityloop_deploy.isolated import IsolatedStack
from cityloop_deploy.localstack import Stack

from .conftest import SERVICE_ENV
from .loop import Loop

pytestmark = pytest.mark.integration

PLAN = DrillPlan(
    kafka_outage_s=12,
    postgres_outage_s=12,
    steady_s=4,
    between_kills_s=2,
    report_every_s=1.0,
    desks=4,
)


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> DrillReport:
    stack = IsolatedStack(Stack.from_env(), "drill-test", kafka_port=19294, postgres_port=15533)
    logs = tmp_path_factory.mktemp("drill")
    with (
        drill_site(stack, logs, base_port=18721, service_env=SERVICE_ENV) as fleet,
        Loop(fleet) as loop,
    ):
        report = run_drill(fleet, stack, PLAN, loop.auth)
    print(markdown(report, versions="the test's own servers"))
    return report


def test_every_answer_is_one_a_client_can_act_on(drill: DrillReport) -> None:
    assert drill.tally.faults == []
    assert drill.tally.refusals == []
    assert drill.tally.stuck == []
    # The database's outage was felt, and answered as it should be.
    assert drill.tally.count(503) > 0
    assert drill.tally.count(500) == 0


def test_nothing_accepted_is_lost_nor_applied_twice(drill: DrillReport) -> None:
    accepting = {books.service for books in drill.books.services if books.accepted_commands}
    assert accepting == set(WORKFLOW_STAGES)
    assert {books.service for books in drill.books.services} == {*WORKFLOW_STAGES, "evaluation"}
    for books in drill.books.services:
        assert books.lost == 0, books
        assert books.decided_twice == 0, books
        assert books.logged == books.journaled, books
        assert books.not_logged == 0, books
        assert books.applied == books.to_apply, books
        assert books.foreign == 0, books
        assert books.parked == 0, books


def test_every_case_goes_from_report_to_close_once(drill: DrillReport) -> None:
    reported = set(drill.tally.reported)
    assert reported
    assert set(drill.tally.closed) == reported
    assert drill.books.cases == drill.books.closed == len(reported)
    assert drill.books.broken_links == []
    assert drill.passed
