"""A service whose PostgreSQL cannot be reached answers a command and a query with 503,
``Retry-After`` and a JSON body naming the reason, within the pool's wait, rather than 500
with a plain-text page: the client sends the same request again later."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio

from cityloop_casefile.app import create_app
from cityloop_shared.adapters.postgres import CONNECTION_WAIT_SECONDS
from cityloop_shared.contract.actors import Role
from cityloop_shared.runtime.unavailable import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS
from cityloop_shared.settings import DatabaseSettings, RunMode, ServiceSettings

Auth = Callable[..., dict[str, str]]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but never listening: every connection to it is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest_asyncio.fixture
async def casefile(closed_port: int) -> AsyncIterator[httpx.AsyncClient]:
    url = f"postgresql+psycopg://cityloop:cityloop@127.0.0.1:{closed_port}/cityloop"
    settings = ServiceSettings(
        database=DatabaseSettings(url=url, schema_name="casefile"), mode=RunMode.DEVELOPMENT
    )
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://casefile") as client:
            yield client
    finally:
        await app.state.runtime.database.dispose()


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["reason"] == DATABASE_UNAVAILABLE
    assert body["retry_after_seconds"] == RETRY_AFTER_SECONDS
    assert "database" in body["detail"]


async def test_a_command_and_a_query_are_answered_503_with_retry_after(
    casefile: httpx.AsyncClient, auth: Auth
) -> None:
    case_id = uuid4()
    operator = {**auth(Role.ACCEPTANCE_OPERATOR), "Idempotency-Key": uuid4().hex}
    began = asyncio.get_running_loop().time()

    command, query = await asyncio.gather(
        casefile.post(f"/cases/{case_id}/accept", json={}, headers=operator),
        casefile.get(f"/cases/{case_id}", headers=auth(Role.DUTY_CHIEF)),
    )

    assert_unavailable(command)
    assert_unavailable(query)
    # Answered once the pool gave up waiting for a connection, not left hanging.
    assert asyncio.get_running_loop().time() - began < CONNECTION_WAIT_SECONDS + 5


async def test_readiness_says_the_database_is_out_of_reach(casefile: httpx.AsyncClient) -> None:
    ready = await casefile.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert [r for r in ready.json()["reasons"] if r.startswith("database: ")], ready.text
    assert (await casefile.get("/health")).status_code == 200  # alive: not to be restarted
