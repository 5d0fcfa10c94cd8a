"""No personal data of the public reaches a role that may not see it, over every read path.

A member of the public reports a problem by the hotline, giving their name, phone and email;
the case goes round the whole loop through every service of the district, and the city's
projection and evaluation follow it. Then every person of the demo city reads every query of
every service (each GET endpoint of each app, so a new one is read too), and the logs the
services wrote meanwhile are read as well, a malformed report's refusals among them: the
reporter's name, phone, email and the hotline's reference of the call show only to the
supervision centre, which calls reporters back, and nowhere in the logs.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
import structlog
from aiokafka import AIOKafkaProducer
from psycopg import sql

from cityloop_deploy.site_fixtures import eventually
from cityloop_shared.adapters.postgres import libpq_url
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.events.intake import CaseReported, CaseReportedPayload
from cityloop_shared.contract.examples import PAYLOADS
from cityloop_shared.contract.ids import new_id
from cityloop_shared.contract.topics import Stage, event_topic
from cityloop_shared.logging import configure_logging
from cityloop_shared.messaging import headers as record_headers
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import LogFormat, ServiceSettings

from .people import CITY, OWN, SERVICES, Auth, at_the_city, headers, people, routes, serve

REPORTER = {"name": "韩梅梅", "phone": "13912345678", "email": "hanmeimei@example.com"}
REFERENCE = "hotline-20261129-0042"
"""The hotline's own id of the call: it leads back to the caller."""
PERSONAL = (*REPORTER.values(), REFERENCE)
SEES_THEM = {
    (role, site) for role in (Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF) for site in (OWN, CITY)
}
"""The supervision centre of the district and of its city."""
GRID = "370212001001001"
SUPERVISOR = "sv-370212-01"
"""The grid's supervisor, who verifies and checks on site."""
DEPARTMENT = "370212-sanitation"
PHOTO = {"uri": "https://media.cityloop.example/p/1.jpg", "media_type": "image/jpeg"}
Clients = dict[str, httpx.AsyncClient]


@pytest.fixture
def schemas(postgres_url: str) -> Iterator[dict[str, str]]:
    """A fresh schema for each service, dropped with all it holds afterwards."""
    made = {service: f"t{uuid4().hex[:12]}" for service in SERVICES}
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        for name in made.values():
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield made
    finally:
        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
            for name in made.values():
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@contextlib.contextmanager
def logged() -> Iterator[io.StringIO]:
    """Every line logged meanwhile, rendered as the services render it in production."""
    root = logging.getLogger()
    before = (root.handlers[:], root.level, structlog.get_config())
    lines = io.StringIO()
    with contextlib.redirect_stdout(lines):
        configure_logging(LogFormat.JSON)
    # Loggers bound now must not keep this configuration after the test.
    structlog.configure(cache_logger_on_first_use=False)
    # The test's own client logs every request it sends; the services' lines are wanted.
    client_log = logging.getLogger("httpx")
    client_level = client_log.level
    client_log.setLevel(logging.WARNING)
    try:
        yield lines
    finally:
        root.handlers[:], level, config = before
        root.setLevel(level)
        structlog.configure(**config)
        client_log.setLevel(client_level)


@contextlib.asynccontextmanager
async def the_site(
    settings: ServiceSettings, schemas: dict[str, str]
) -> AsyncIterator[tuple[Clients, dict[str, set[tuple[str, str]]]]]:
    """Every service of the district, and the city's sync, each in its own schema."""
    clients: Clients = {}
    served: dict[str, set[tuple[str, str]]] = {}
    async with contextlib.AsyncExitStack() as stack:
        for service in SERVICES:
            database = settings.database.model_copy(update={"schema_name": schemas[service]})
            own = settings.model_copy(update={"database": database})
            client, app = await stack.enter_async_context(
                serve(service, at_the_city(own) if service == "sync" else own)
            )
            clients[service], served[service] = client, routes(app)
        yield clients, served


async def test_no_personal_data_reaches_a_role_that_may_not_see_it(
    service_settings: ServiceSettings, schemas: dict[str, str], auth: Auth
) -> None:
    zone = ReferenceData.demo().calendar.zone
    with logged() as lines:
        async with the_site(service_settings, schemas) as (clients, served):
            month = datetime.now(zone).strftime("%Y-%m")
            case_id = await round_the_loop(clients, auth, month)
            read = await every_read(clients, reads(served, case_id, month), auth)
            await a_malformed_report(service_settings)

            async def logs() -> str:
                return lines.getvalue()

            # Case building, evaluation and the city's projection each refuse it, saying why.
            await eventually(logs, lambda text: text.count("reporter.phone") >= 3)
    # An answer that repeats what the request named (a reporter's own token) reveals nothing.
    leaks = [
        f"{who} {service}{url}: {marker}"
        for (who, (service, url)), body in read.items()
        if who not in SEES_THEM
        for marker in PERSONAL
        if marker in body and marker not in url
    ]
    assert not leaks, "the public's personal data reached:\n" + "\n".join(leaks)
    detail = ("casefile", f"/cases/{case_id}")
    # They are there to be found: the supervision centre reads them in the case file.
    for who in SEES_THEM:
        assert all(marker in read[(who, detail)] for marker in PERSONAL)
    # And the case reached each read model the others read, where their work shows it.
    shown = {
        (Role.DEPARTMENT, OWN): [
            detail,
            ("casefile", "/cases"),
            ("disposal", "/tasks?state=completed"),
        ],
        (Role.FIELD_SUPERVISOR, OWN): [("verification", "/checks")],
        (Role.LEADER, CITY): [("sync", f"/cases/{case_id}"), ("sync", "/cases")],
        (Role.LEADER, OWN): [("evaluation", drill_down(month))],
    }
    for who, places in shown.items():
        for place in places:
            assert str(case_id) in read[(who, place)], (who, place)
    logged_lines = lines.getvalue()
    assert '"dead_letter"' in logged_lines
    assert [marker for marker in PERSONAL if marker in logged_lines] == []


async def a_malformed_report(settings: ServiceSettings) -> None:
    """The hotline's report as a faulty upstream might write it, the reporter's phone too
    long to be one: every service that reads reports refuses it and logs why."""
    operator = Actor(id="acceptance_operator-1", role=Role.ACCEPTANCE_OPERATOR, site=OWN)
    payload = {**PAYLOADS["case.reported"], "reporter": REPORTER, "external_id": REFERENCE}
    event = CaseReported.create(
        case_id=new_id(),
        site=OWN,
        actor=operator,
        payload=CaseReportedPayload.model_validate(payload),
        previous=None,
        cause=None,
    )
    record = json.loads(encode(event))
    record["payload"]["reporter"]["phone"] = REPORTER["phone"] * 4
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            event_topic(OWN, Stage.INTAKE, settings.topic_namespace),
            json.dumps(record).encode(),
            key=str(event.case_id).encode(),
            headers=[(record_headers.EVENT_TYPE, event.event_type.encode())],
        )
    finally:
        await producer.stop()


def drill_down(month: str) -> str:
    """The district's closed cases of the month, as evaluation counts them."""
    return f"/evaluation/district/{OWN}/cases?period={month}&indicator=closing_rate"


async def round_the_loop(clients: Clients, auth: Auth, month: str) -> UUID:
    """A public report from report to close, each step once its stage has the case."""

    async def post(service: str, path: str, body: dict[str, Any], who: dict[str, str]) -> Any:
        answer = await clients[service].post(path, json=body, headers=who)
        assert answer.status_code in (200, 201), f"{service} {path}: {answer.text}"
        return answer.json()

    async def shows(service: str, path: str, who: dict[str, str]) -> None:
        async def body() -> str:
            return (await clients[service].get(path, headers=who)).text

        await eventually(body, lambda text: str(case_id) in text)

    async def in_status(status: str) -> None:
        async def found() -> Any:
            return (await clients["casefile"].get(case, headers=chief)).json()

        await eventually(found, lambda case_file: case_file.get("status") == status)

    operator, chief = auth(Role.ACCEPTANCE_OPERATOR), auth(Role.DUTY_CHIEF)
    dispatcher, supervisor = auth(Role.DISPATCHER), auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    staff = auth(Role.DEPARTMENT, department_id=DEPARTMENT)
    report = {
        "channel": "public",
        "description": "小区门口暴露垃圾",
        "location": {"grid_code": GRID, "address": "香港东路"},
        "reporter": REPORTER,
        "external_id": REFERENCE,
    }
    case_id = UUID((await post("intake", "/reports", report, operator))["case_id"])
    case = f"/cases/{case_id}"
    await in_status("reported")
    await post("casefile", f"{case}/accept", {}, operator)
    await post("casefile", f"{case}/verification/request", {}, operator)
    await post("casefile", f"{case}/verification/report", {"confirmed": True}, supervisor)
    await post("casefile", f"{case}/register", {"category_code": "06001"}, chief)
    await shows("dispatch", "/dispatch/queue", dispatcher)
    await post("dispatch", f"{case}/dispatch", {"department_id": DEPARTMENT}, dispatcher)
    await shows("disposal", "/tasks", staff)
    await post("disposal", f"{case}/accept", {}, staff)
    await post(
        "disposal", f"{case}/complete", {"description": "已清理", "evidence": [PHOTO]}, staff
    )
    await shows("verification", "/checks", supervisor)
    await post("verification", f"{case}/check", {"passed": True}, supervisor)
    await in_status("check_passed")
    await post("verification", f"{case}/close", {}, chief)
    await in_status("closed")
    await shows("sync", "/cases?status=closed", auth(Role.LEADER, site=CITY))
    await shows("evaluation", drill_down(month), auth(Role.LEADER))
    return case_id


Read = tuple[str, str]
"""A service, and the path and query read of it."""


def reads(served: dict[str, set[tuple[str, str]]], case_id: UUID, month: str) -> list[Read]:
    """Every GET endpoint of every service, read with values that reach the case: the case
    itself, its Open311 request and token, the evaluations it counts in."""
    case = str(case_id)
    bindings: dict[frozenset[str], list[dict[str, str]]] = {
        frozenset(): [{}],
        frozenset({"case_id"}): [{"case_id": case}],
        frozenset({"fmt"}): [{"fmt": "json"}],
        frozenset({"fmt", "service_code"}): [{"fmt": "json", "service_code": "06001"}],
        frozenset({"fmt", "service_request_id"}): [{"fmt": "json", "service_request_id": case}],
        frozenset({"fmt", "token"}): [{"fmt": "json", "token": REFERENCE}],
        frozenset({"subject"}): [{"subject": s} for s in ("district", "department", "supervisor")],
        frozenset({"subject", "subject_id"}): [
            {"subject": "district", "subject_id": OWN},
            {"subject": "department", "subject_id": DEPARTMENT},
            {"subject": "supervisor", "subject_id": SUPERVISOR},
        ],
    }
    queries = {
        "/tasks": {"state": "completed"},
        "/open311/v2/requests.{fmt}": {"service_request_id": case},
    }
    found: list[Read] = []
    for service, routes_of_service in served.items():
        for method, path in sorted(routes_of_service):
            if method != "GET":
                continue
            names = frozenset(re.findall(r"{(\w+)}", path))
            assert names in bindings, f"{service} {path}: no values to read it with"
            query = queries.get(path, {})
            if service == "evaluation" and path != "/evaluation/subjects":
                query = {"period": month}
                if path.endswith("/cases"):
                    query["indicator"] = "closing_rate"
            for given in bindings[names]:
                url = path.format_map(given) + (f"?{urlencode(query)}" if query else "")
                found.append((service, url))
    return found


Reader = tuple[Role, str] | None
"""A person of the demo city, or nobody (no token)."""


async def every_read(
    clients: Clients, places: list[Read], auth: Auth
) -> dict[tuple[Reader, Read], str]:
    """What each person, and nobody, reads at each place: the body of the answer. A place
    that answers nobody (operations, the public's Open311) answers everyone alike."""
    read: dict[tuple[Reader, Read], str] = {}
    for service, url in places:
        client = clients[service]
        anonymous = await client.get(url)
        read[(None, (service, url))] = anonymous.text
        if anonymous.status_code != 401:
            continue
        for who in people():
            answer = await client.get(url, headers=headers(auth, *who))
            read[(who, (service, url))] = answer.text
    return read
