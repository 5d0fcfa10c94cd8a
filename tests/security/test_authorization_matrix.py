"""The authorization matrix: every endpoint of every service, each role of each site, allowed
or refused.

The routes come from the services' own apps, so an endpoint added without a rule here fails
the test, as does a rule left for an endpoint that is gone. Each rule says who an endpoint
lets through: anyone (no token: operations, published contracts, the public's Open311
reads), an Open311 client with its API key, or people of given roles at given sites. Every
person of the demo city (each role but the system's, of the services' district, of another
district and of the city) then sends the endpoint a well-formed request: one let through gets
no 401 or 403 (a command on a case the service does not hold answers 404); one not let
through is refused with 403 naming why, or with 401 where the site does not take tokens of
the person's issuer at all (a district takes its own people's and its city's, the city its
districts').
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from uuid import uuid4

import httpx
import pytest

from cityloop_intake.open311.settings import DEVELOPMENT_API_KEYS
from cityloop_shared.contract.actors import Role
from cityloop_shared.settings import ServiceSettings

from .people import (
    CITY,
    OTHER,
    OWN,
    SERVICES,
    Auth,
    at_the_city,
    headers,
    people,
    routes,
    serve,
    site_of,
)

Grant = Mapping[Role, frozenset[str]]
"""The roles an endpoint lets through, each with the sites whose people it takes."""
Who = Grant | Literal["anyone", "api_key"]

HERE = (OWN, CITY)
"""The district and its city: the sites whose people act on the district's cases."""
EVERY_SITE = (OWN, OTHER, CITY)
CENTRE = (Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF, Role.DISPATCHER)
SITE_WIDE = (*CENTRE, Role.LEADER)
"""Who reads every case of the sites they act on."""
DEPARTMENTS = (Role.DEPARTMENT, Role.UPPER_DEPARTMENT)


def grant(*given: tuple[Iterable[Role], Iterable[str]]) -> Grant:
    granted: dict[Role, frozenset[str]] = {}
    for roles, sites in given:
        for role in roles:
            granted[role] = granted.get(role, frozenset()) | frozenset(sites)
    return granted


@dataclass(frozen=True)
class Ask:
    """A well-formed request to an endpoint, and who it lets through."""

    who: Who
    path: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    form: Mapping[str, str] | None = None


Rules = dict[tuple[str, str], tuple[Ask, ...]]


def ask(who: Who, **request: Any) -> tuple[Ask, ...]:
    return (Ask(who, **request),)


REASON = {"reason": "核对授权"}
PHOTO = {"uri": "https://media.cityloop.example/p/1.jpg", "media_type": "image/jpeg"}
REPORT = {
    "category_code": "06001",
    "description": "私搭乱建",
    "location": {"grid_code": "370212001001001"},
}
"""A report in a grid of sv-370212-01."""
PERIOD = {"period": "2026-03"}

OPERATIONS: Rules = {
    ("GET", "/health"): ask("anyone"),
    ("GET", "/ready"): ask("anyone"),
    ("GET", "/metrics"): ask("anyone"),
    ("GET", "/asyncapi.json"): ask("anyone"),
    ("GET", "/.well-known/jwks.json"): ask("anyone"),
    ("GET", "/openapi.json"): ask("anyone"),
    ("GET", "/docs"): ask("anyone"),
    ("GET", "/docs/oauth2-redirect"): ask("anyone"),
    ("GET", "/redoc"): ask("anyone"),
}
"""What every service answers anyone: its health, readiness and metrics, its published
contracts and keys."""


def commands(grants: Mapping[str, tuple[Grant, Any]]) -> Rules:
    """``POST /cases/{case_id}/<command>`` for each command, with its body and grant."""
    return {
        ("POST", f"/cases/{{case_id}}/{name}"): ask(who, json=body)
        for name, (who, body) in grants.items()
    }


OPERATOR = grant(([Role.ACCEPTANCE_OPERATOR], HERE))
CHIEF = grant(([Role.DUTY_CHIEF], HERE))
DISPATCHER = grant(([Role.DISPATCHER], HERE))
DEPARTMENT = grant(([Role.DEPARTMENT], HERE))
CASE_FILE = grant((SITE_WIDE, HERE), (DEPARTMENTS, HERE), ([Role.FIELD_SUPERVISOR], [OWN]))
"""The site's case file: every role but the public's, each reading the rows of its work."""
EVALUATION_LINES = grant((SITE_WIDE, HERE), (DEPARTMENTS, HERE), ([Role.FIELD_SUPERVISOR], [OWN]))
"""Who reads evaluations: the centres and leaders every line, the others their own."""


def league(query: Mapping[str, str]) -> tuple[Ask, ...]:
    """A league table (or its export or chart) of three subjects: the regions' is for the
    centres and leaders; of the departments' and the supervisors', a department or a
    supervisor reads its own lines."""
    return (
        Ask(grant((SITE_WIDE, HERE)), path={"subject": "district"}, query=query),
        Ask(
            grant((SITE_WIDE, HERE), (DEPARTMENTS, HERE)),
            path={"subject": "department"},
            query=query,
        ),
        Ask(
            grant((SITE_WIDE, HERE), ([Role.FIELD_SUPERVISOR], [OWN])),
            path={"subject": "supervisor"},
            query=query,
        ),
    )


def one_line(query: Mapping[str, str]) -> tuple[Ask, ...]:
    """One subject's trend or cases: 崂山区环境卫生管理所's are read by that department and
    the departments above it, sv-370212-01's by that supervisor, both by the centres and
    leaders."""
    return (
        Ask(
            grant(
                (SITE_WIDE, HERE),
                ([Role.DEPARTMENT], [OWN]),
                ([Role.UPPER_DEPARTMENT], HERE),
            ),
            path={"subject": "department", "subject_id": "370212-sanitation"},
            query=query,
        ),
        Ask(
            grant((SITE_WIDE, HERE), ([Role.FIELD_SUPERVISOR], [OWN])),
            path={"subject": "supervisor", "subject_id": "sv-370212-01"},
            query=query,
        ),
    )


RULES: dict[str, Rules] = {
    "intake": {
        **OPERATIONS,
        ("POST", "/reports"): (
            Ask(grant(([Role.FIELD_SUPERVISOR], [OWN])), json={**REPORT, "channel": "supervisor"}),
            Ask(OPERATOR, json={**REPORT, "channel": "video"}),
            Ask(OPERATOR, json={**REPORT, "channel": "public"}),
            Ask(grant(([Role.LEADER], HERE)), json={**REPORT, "channel": "leader"}),
        ),
        ("POST", "/reports/{case_id}/publicity"): ask(
            grant(([Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF], HERE)), json={"public": True}
        ),
        # Open311 is the public's: reading needs nothing, posting the client's API key.
        ("GET", "/open311/v2/discovery.{fmt}"): ask("anyone"),
        ("GET", "/open311/v2/services.{fmt}"): ask("anyone"),
        ("GET", "/open311/v2/services/{service_code}.{fmt}"): ask("anyone"),
        ("GET", "/open311/v2/tokens/{token}.{fmt}"): ask("anyone"),
        ("GET", "/open311/v2/requests.{fmt}"): ask("anyone"),
        ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"): ask("anyone"),
        ("POST", "/open311/v2/requests.{fmt}"): ask(
            "api_key",
            form={"service_code": "06001", "lat": "36.13", "long": "120.45", "description": "x"},
        ),
        ("POST", "/open311/v2/requests/{service_request_id}/feedback.{fmt}"): ask(
            "api_key", form={"token": "0" * 32, "score": "5"}
        ),
    },
    "casefile": {
        **OPERATIONS,
        ("GET", "/cases"): ask(CASE_FILE),
        ("GET", "/cases/{case_id}"): ask(CASE_FILE),
        **commands(
            {
                "accept": (OPERATOR, {}),
                "verification/request": (OPERATOR, {}),
                "verification/report": (
                    grant(([Role.FIELD_SUPERVISOR], [OWN])),
                    {"confirmed": True},
                ),
                "register": (CHIEF, {"category_code": "06001"}),
                "cancel": (CHIEF, REASON),
                "void-request": (grant((CENTRE, HERE)), REASON),
                "void-decision": (CHIEF, {"approve": True}),
                "forward-to-city": (CHIEF, REASON),
                "forwarding/accept": (CHIEF, {}),
                "forwarding/return": (CHIEF, REASON),
            }
        ),
    },
    "dispatch": {
        **OPERATIONS,
        ("GET", "/dispatch/queue"): ask(DISPATCHER),
        **commands(
            {
                "dispatch": (DISPATCHER, {}),
                "return/approve": (DISPATCHER, REASON),
                "return/refuse": (DISPATCHER, REASON),
                "redispatch": (DISPATCHER, {"department_id": "370212-urban", **REASON}),
                "extension/decide": (DISPATCHER, {"approved": False}),
                "suspension/approve": (DISPATCHER, REASON),
                "suspension/refuse": (DISPATCHER, REASON),
                "resume": (DISPATCHER, {}),
                "reminders": (
                    grant(([Role.DISPATCHER, Role.UPPER_DEPARTMENT], HERE)),
                    {"message": "请尽快处置"},
                ),
                "supervision": (
                    grant(([Role.DISPATCHER, Role.UPPER_DEPARTMENT], HERE)),
                    {"message": "请于今日内处置"},
                ),
            }
        ),
    },
    "disposal": {
        **OPERATIONS,
        ("GET", "/tasks"): ask(grant((DEPARTMENTS, HERE))),
        **commands(
            {
                "accept": (DEPARTMENT, {}),
                "return-request": (DEPARTMENT, REASON),
                "extension-request": (
                    DEPARTMENT,
                    {"proposed_deadline": "2030-01-01T09:00:00+08:00", **REASON},
                ),
                "suspension-request": (DEPARTMENT, REASON),
                "complete": (DEPARTMENT, {"description": "已处置", "evidence": [PHOTO]}),
            }
        ),
    },
    "verification": {
        **OPERATIONS,
        ("GET", "/checks"): ask(grant(([Role.FIELD_SUPERVISOR], [OWN]), (CENTRE, HERE))),
        **commands(
            {
                # The task names its supervisor, of any site: the decision checks who.
                "check": (grant(([Role.FIELD_SUPERVISOR], [OWN])), {"passed": True}),
                "close": (CHIEF, {}),
                "satisfaction": (OPERATOR, {"score": 5}),
            }
        ),
    },
    "evaluation": {
        **OPERATIONS,
        ("GET", "/evaluation/subjects"): ask(EVALUATION_LINES),
        ("GET", "/evaluation/counters"): ask(grant((SITE_WIDE, HERE)), query=PERIOD),
        ("GET", "/evaluation/{subject}"): league(PERIOD),
        ("GET", "/evaluation/{subject}/export.csv"): league(PERIOD),
        ("GET", "/evaluation/{subject}/chart.svg"): league(PERIOD),
        ("GET", "/evaluation/{subject}/{subject_id}/trend"): one_line(PERIOD),
        ("GET", "/evaluation/{subject}/{subject_id}/trend.svg"): one_line(PERIOD),
        ("GET", "/evaluation/{subject}/{subject_id}/cases"): one_line(
            {**PERIOD, "indicator": "closing_rate"}
        ),
    },
    "sync": {
        **OPERATIONS,
        ("GET", "/lag"): ask("anyone"),
        # Each district's people read their district's cases in the city's projection, the
        # city's people every district's, a department those dispatched to it or below it.
        ("GET", "/cases"): ask(grant((SITE_WIDE, EVERY_SITE), (DEPARTMENTS, EVERY_SITE))),
        ("GET", "/cases/{case_id}"): ask(grant((SITE_WIDE, EVERY_SITE), (DEPARTMENTS, EVERY_SITE))),
        ("GET", "/statistics"): ask(grant((SITE_WIDE, EVERY_SITE), (DEPARTMENTS, EVERY_SITE))),
    },
}

PATH_VALUES = {
    "fmt": "json",
    "service_code": "06001",
    "token": "0" * 32,
    "service_request_id": str(uuid4()),
    "case_id": str(uuid4()),
}
"""Path values of a request that names no rule's own: a case no service holds."""


def trusted(service_site: str, actor_site: str) -> bool:
    """Whether the service's site takes tokens of the actor's site's issuer: its own, and
    the other level's (a district its city's, the city its districts')."""
    return service_site == CITY or actor_site in (service_site, CITY)


async def answer(
    client: httpx.AsyncClient, method: str, path: str, request: Ask, **sent: Any
) -> httpx.Response:
    url = path.format_map({**PATH_VALUES, **request.path})
    return await client.request(
        method, url, params=request.query, json=request.json, data=request.form, **sent
    )


def named(refusal: httpx.Response) -> bool:
    """Whether a refusal says why, in its ``detail``."""
    body = refusal.json()
    return isinstance(body, dict) and bool(body.get("detail"))


@pytest.fixture
def settings_of(service_settings: ServiceSettings) -> dict[str, ServiceSettings]:
    return {
        service: at_the_city(service_settings) if service == "sync" else service_settings
        for service in SERVICES
    }


@pytest.mark.parametrize("service", SERVICES)
async def test_every_endpoint_lets_through_only_whom_its_rule_names(
    service: str, settings_of: dict[str, ServiceSettings], auth: Auth
) -> None:
    rules = RULES[service]
    async with serve(service, settings_of[service]) as (client, app):
        served = routes(app)
        assert not served - set(rules), f"{service}: endpoints without a rule"
        assert not set(rules) - served, f"{service}: rules for endpoints it does not have"
        wrong: list[str] = []
        for (method, path), requests in sorted(rules.items()):
            for request in requests:
                wrong += await _mismatches(client, service, method, path, request, auth)
    assert not wrong, f"{service}: {len(wrong)} answers against the rules:\n" + "\n".join(wrong)


async def _mismatches(
    client: httpx.AsyncClient, service: str, method: str, path: str, request: Ask, auth: Auth
) -> list[str]:
    """What the endpoint answered against its rule, one line each."""
    where = f"{method} {path.format_map({**PATH_VALUES, **request.path})}"
    if request.who == "anyone":
        got = await answer(client, method, path, request)
        return [] if got.status_code not in (401, 403) else [f"{where} anyone: {got.status_code}"]
    if request.who == "api_key":
        keyless = await answer(client, method, path, request)
        key = {"api_key": next(iter(DEVELOPMENT_API_KEYS))}
        keyed = await answer(client, method, path, replace(request, query={**request.query, **key}))
        found = []
        if keyless.status_code != 403:
            found.append(f"{where} without a key: {keyless.status_code}, not 403")
        if keyed.status_code in (401, 403):
            found.append(f"{where} with a key: {keyed.status_code} {keyed.text}")
        return found
    found = []
    nobody = await answer(client, method, path, request)
    if nobody.status_code != 401:
        found.append(f"{where} without a token: {nobody.status_code}, not 401")
    for role, site in people():
        got = await answer(client, method, path, request, headers=headers(auth, role, site))
        if site in request.who.get(role, frozenset()):
            if got.status_code in (401, 403):
                found.append(f"{where} {role.value}@{site} refused: {got.status_code} {got.text}")
            continue
        refused = 403 if trusted(site_of(service), site) else 401
        if got.status_code != refused or not named(got):
            found.append(f"{where} {role.value}@{site}: {got.status_code}, not {refused}")
    return found
