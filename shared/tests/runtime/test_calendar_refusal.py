"""A command whose deadline falls in a year the working calendar does not cover, under
``beyond_official_years: refuse``: a conflict telling the operator what to add, not a 500."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest_asyncio
from fastapi import APIRouter
from pydantic import AwareDatetime

from cityloop_shared.contract.actors import Role
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.calendar import BeyondCoverage
from cityloop_shared.runtime.app import service_app
from cityloop_shared.runtime.commands import Commands
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import DatabaseSettings, RunMode, ServiceSettings
from cityloop_shared.stage.decisions import Command, Context, Decision
from cityloop_shared.testing.contracts import Sample

from .stage import SERVICE

Auth = Callable[..., dict[str, str]]


class Report(Command):
    seen_at: AwareDatetime


def report(_: None, command: Report, ctx: Context) -> Decision:
    due_at = ctx.reference.calendar.add_working_time(command.seen_at, timedelta(hours=1))
    return Decision([], {"due_at": due_at})


router = APIRouter()
commands: Commands[Sample] = Commands(router)
commands.opening("/reports", Report, roles=lambda _: {Role.ACCEPTANCE_OPERATOR}, decide=report)
SERVED = StageService(
    rules=SERVICE.rules, table=SERVICE.table, migrations=SERVICE.migrations, routers=[router]
)


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The stage's HTTP API on SQLite, without its consumer or relay: the decision refuses
    before anything is written or published."""
    database = DatabaseSettings(url=f"sqlite:///{tmp_path / 'stage.sqlite'}", schema_name="main")
    upgrade(database, "main", SERVED.migrations)
    app = service_app(SERVED, ServiceSettings(database=database, mode=RunMode.DEVELOPMENT))
    runtime = app.state.runtime
    calendar = runtime.reference.calendar.model_copy(
        update={"beyond_official_years": BeyondCoverage.REFUSE}
    )
    runtime.reference = dataclasses.replace(ReferenceData.demo(), calendar=calendar)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://stage") as http:
            yield http
    finally:
        await runtime.database.dispose()


async def test_a_deadline_in_a_year_not_covered_is_a_conflict_naming_the_year(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    operator = auth(Role.ACCEPTANCE_OPERATOR)

    answer = await client.post(
        "/reports", json={"seen_at": "2099-03-02T10:00:00+08:00"}, headers=operator
    )

    assert answer.status_code == 409
    detail = answer.json()["detail"]
    assert detail.startswith("the working calendar does not cover 2099: add its official")
    assert "beyond_official_years: weekdays" in detail
