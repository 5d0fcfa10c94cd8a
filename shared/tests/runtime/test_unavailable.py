"""What a service answers when its database or broker is out of reach (503, Retry-After,
JSON naming the reason) and when it fails for a reason of its own (500, still JSON)."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI
from psycopg_pool import PoolTimeout
from sqlalchemy import exc as sa

from cityloop_shared.ports.unit_of_work import RecordConflict
from cityloop_shared.runtime.unavailable import (
    BROKER_UNAVAILABLE,
    DATABASE_UNAVAILABLE,
    INTERNAL_ERROR,
    RETRY_AFTER_SECONDS,
    answer_faults,
    unavailability,
)


def wrapped(error: Exception) -> Exception:
    """``error`` as the cause of an adapter's own exception."""
    try:
        raise error
    except Exception as cause:
        try:
            raise RuntimeError("the unit of work failed") from cause
        except RuntimeError as outer:
            return outer


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (psycopg.OperationalError("connection refused"), DATABASE_UNAVAILABLE),
        (psycopg.errors.AdminShutdown("terminating connection"), DATABASE_UNAVAILABLE),
        (PoolTimeout("couldn't get a connection after 10.00 sec"), DATABASE_UNAVAILABLE),
        (sa.OperationalError("SELECT 1", {}, Exception("gone")), DATABASE_UNAVAILABLE),
        (sa.InterfaceError("SELECT 1", {}, Exception("closed")), DATABASE_UNAVAILABLE),
        (sa.TimeoutError("QueuePool limit reached"), DATABASE_UNAVAILABLE),
        (
            sa.DBAPIError("SELECT 1", {}, Exception("lost"), connection_invalidated=True),
            DATABASE_UNAVAILABLE,
        ),
        (wrapped(psycopg.OperationalError("server closed the connection")), DATABASE_UNAVAILABLE),
        (KafkaConnectionError("no broker"), BROKER_UNAVAILABLE),
        (sa.DBAPIError("SELECT 1", {}, Exception("syntax")), None),
        (psycopg.errors.UniqueViolation("duplicate key"), None),
        (RecordConflict("taken"), None),
        (ValueError("a bug"), None),
    ],
)
def test_an_outage_is_told_from_a_fault(error: Exception, reason: str | None) -> None:
    assert unavailability(error) == reason


def failing_app(error: Exception) -> FastAPI:
    app = FastAPI()
    answer_faults(app)

    @app.post("/cases/{case_id}/accept")
    async def accept(case_id: str) -> None:
        raise error

    return app


async def answer_of(app: FastAPI) -> httpx.Response:
    # The server's error middleware raises the exception again once it has answered.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://stage") as client:
        return await client.post("/cases/1/accept")


@pytest.mark.parametrize(
    "error",
    [
        PoolTimeout("couldn't get a connection after 10.00 sec"),
        wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
    ],
)
async def test_a_database_out_of_reach_is_503_with_retry_after(error: Exception) -> None:
    answer = await answer_of(failing_app(error))

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert answer.json()["reason"] == DATABASE_UNAVAILABLE


async def test_a_broker_out_of_reach_is_503_naming_the_broker() -> None:
    answer = await answer_of(failing_app(KafkaConnectionError("no broker")))

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert answer.json()["reason"] == BROKER_UNAVAILABLE


async def test_any_other_exception_is_a_json_500_without_retry_after() -> None:
    answer = await answer_of(failing_app(ZeroDivisionError("division by zero")))

    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert "Retry-After" not in answer.headers
    assert answer.json()["reason"] == INTERNAL_ERROR
    # Nothing of the exception leaks to the client.
    assert "division" not in answer.text
