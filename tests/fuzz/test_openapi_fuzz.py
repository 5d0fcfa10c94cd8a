"""Every service's OpenAPI, fuzzed with a valid token of each role at the service's own site:
no answer is a 5xx, and every 4xx names the field or the reason it refuses
(:mod:`tests.fuzz.reasons`).

Each service runs migrated on the real Kafka and PostgreSQL of a fresh site, in the test's
event loop, as its own tests run it (:mod:`tests.fuzz.services`). Schemathesis generates
requests that fit each operation's schema and requests that break it; the examples are
seeded, so CI sends the same requests every run.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckContext, CheckFunction, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.feedback import FeedbackSources

from cityloop_intake.open311.settings import DEVELOPMENT_API_KEYS
from cityloop_shared.contract.actors import Role
from cityloop_shared.settings import ServiceSettings

from . import open311
from .reasons import unnamed_reason
from .services import REFERENCE, SERVICES, serving, settings_for, site_of

pytestmark = pytest.mark.filterwarnings(
    # Schemathesis draws some choices from the random module, which Hypothesis seeds afresh
    # for every example: the requests stay the same from run to run all the same.
    "ignore:Do not use the `random` module inside strategies"
)

EXAMPLES_PER_OPERATION = 6
"""Requests per operation and token: with a seed per token, every operation meets some forty
requests, enough to reach each parameter's bounds and a broken body, few enough that every
service and role together take a couple of minutes."""
OWN_FIELDS_EXAMPLES = 20
"""Requests per Open311 operation whose fields the test draws itself: a field at its limit
is one draw among several, and the route sees it only when the rest of the request fits."""
ANSWER_WITHIN_SECONDS = 30
WITHOUT_HARVESTED_CONSTANTS = FeedbackSources()
"""Schemathesis would also draw literals harvested from the loaded code, but which of them it
keeps varies with Python's string hashing from run to run: CI sends the same requests."""
BASE_URL = "http://cityloop"

OPEN311_KEY = next(iter(DEVELOPMENT_API_KEYS))
"""Accepted when ``CITYLOOP_OPEN311_API_KEYS`` is unset, as in development."""
OPEN311_LIMITS = {
    "CITYLOOP_OPEN311_KEY_RATE_LIMIT": "100000/minute",
    "CITYLOOP_OPEN311_CLIENT_RATE_LIMIT": "100000/minute",
}
"""Far above the fuzz test's posts, so they reach what lies behind the posting limits."""


def actor_fields(role: Role, site: str) -> dict[str, str] | None:
    """The id and department a valid token of ``role`` at ``site`` names, from the demo
    reference data; ``None`` where the site has no such person (no supervisor at a city)."""
    if role is Role.FIELD_SUPERVISOR:
        supervisor = next((s for s in REFERENCE.supervisors if s.site == site), None)
        return {"id": supervisor.id} if supervisor else None
    departments = REFERENCE.departments
    upper = next((d for d in departments.at_site(site) if departments.children(d.id)), None)
    if role is Role.UPPER_DEPARTMENT:
        return {"department_id": upper.id} if upper else None
    if role is Role.DEPARTMENT:
        below = [d for d in departments.children(upper.id) if d.site == site] if upper else []
        return {"department_id": below[0].id} if below else None
    return {}


TOKENS = [
    pytest.param(service, role, id=f"{service}-{role.value}")
    for service in SERVICES
    for role in Role
    if role is not Role.SYSTEM and actor_fields(role, site_of(service)) is not None
]


def names_its_reason(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    """Every 4xx names the field or the reason it refuses."""
    problem = unnamed_reason(response.status_code, case.path, response.content)
    if problem is not None:
        raise AssertionError(problem)


CHECKS: list[CheckFunction] = [not_a_server_error, names_its_reason]
Send = Callable[[httpx.Request], httpx.Response]


def as_httpx(request: requests.PreparedRequest) -> httpx.Request:
    """The request as schemathesis serialized it, for the app's own client."""
    body = request.body
    assert body is None or isinstance(body, bytes | str), f"a streamed body: {body!r}"
    headers = {
        name: value if isinstance(value, str) else value.decode("latin-1")
        for name, value in request.headers.items()
    }
    return httpx.Request(
        request.method or "GET", request.url or BASE_URL, headers=headers, content=body
    )


def fuzz(
    operation: APIOperation[Any, Any, Any, Any], headers: dict[str, str], send: Send, label: str
) -> None:
    """Send the operation requests that fit its schema and requests that break it, each
    checked by :data:`CHECKS`."""
    form = open311.FORMS.get(operation.label)
    undeclared = open311.QUERIES.get(operation.label)
    own_fields = form is not None or undeclared is not None
    modes = [GenerationMode.POSITIVE]
    # Where the test sends fields of its own, what the schema declares fits, so that those
    # fields reach the route rather than a refusal of the declared ones.
    declared = operation.path_parameters or operation.query or operation.headers or operation.body
    if declared and not own_fields:
        modes.append(GenerationMode.NEGATIVE)

    # A seed of its own per service, role and operation: every token meets other requests.
    @seed(zlib.crc32(f"{label} {operation.label}".encode()))
    @settings(
        max_examples=OWN_FIELDS_EXAMPLES if own_fields else EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(
        case=st.one_of(
            *(
                operation.as_strategy(generation_mode=mode, feedback=WITHOUT_HARVESTED_CONSTANTS)
                for mode in modes
            )
        ),
        fields=st.none() if form is None else form,
        arguments=st.none() if undeclared is None else undeclared,
    )
    def examples(
        case: Case[Any], fields: dict[str, str] | None, arguments: dict[str, str] | None
    ) -> None:
        if fields is not None:
            # Open311's posts are keyed by the client's api_key, not by a bearer token.
            case.query = {**(case.query or {}), "api_key": OPEN311_KEY}
        if arguments:
            case.query = {**(case.query or {}), **arguments}
        sent = requests.Request(**case.as_transport_kwargs(BASE_URL, headers)).prepare()
        if fields is not None:
            sent.prepare_body(data=fields, files=None)
        try:
            response = send(as_httpx(sent))
        except Exception as error:
            error.add_note(f"Reproduce with: {case.as_curl_command(headers=headers)}")
            raise
        case.validate_response(response, checks=CHECKS, headers=headers)

    examples()


@pytest.mark.parametrize(("service", "role"), TOKENS)
async def test_no_server_error_and_every_refusal_named(
    service: str,
    role: Role,
    service_settings: ServiceSettings,
    auth: Callable[..., dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CITYLOOP_OPEN311_API_KEYS", raising=False)
    for name, limit in OPEN311_LIMITS.items():
        monkeypatch.setenv(name, limit)
    site = site_of(service)
    fields = actor_fields(role, site)
    assert fields is not None
    headers = auth(role, site=site, **fields)
    loop = asyncio.get_running_loop()
    async with serving(service, settings_for(service, service_settings)) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport) as client:

            def send(request: httpx.Request) -> httpx.Response:
                # The app answers in this loop while Hypothesis drives requests from a thread.
                answer = asyncio.run_coroutine_threadsafe(client.send(request), loop)
                return answer.result(ANSWER_WITHIN_SECONDS)

            schema = schemathesis.openapi.from_dict(app.openapi())
            operations = []
            for result in schema.get_all_operations():
                assert isinstance(result, Ok), f"{service}'s OpenAPI: {result.err()}"
                operations.append(result.ok())
            assert operations, f"{service} publishes no operation"
            for operation in operations:
                await asyncio.to_thread(fuzz, operation, headers, send, f"{service} {role}")
