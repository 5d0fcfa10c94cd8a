"""Answers for a service that cannot do its work right now, and for a fault of its own.

A command or query that fails because the service's database (or its Kafka cluster) cannot be
reached is answered ``503 Service Unavailable`` with ``Retry-After``: the same request, with the
same ``Idempotency-Key``, may simply be sent again, and is applied once whatever became of the
first. Any other exception is a fault of the service and is answered ``500``, as JSON too, so a
client never has to read a plain-text page.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa

from cityloop_shared.logging import get_logger

log = get_logger("cityloop.http")

RETRY_AFTER_SECONDS = 5
"""What a client is asked to wait before it sends again: a restarted database accepts
connections within seconds, and each service's pool reconnects within its backoff."""

DATABASE_UNAVAILABLE = "database_unavailable"
BROKER_UNAVAILABLE = "broker_unavailable"
INTERNAL_ERROR = "internal_error"

_DATABASE_ERRORS: tuple[type[Exception], ...] = (
    # libpq's own errors (connection refused or broken), the server ending the session or
    # refusing new ones (shutdown, starting up, too many connections), and the pool finding
    # no connection in time (psycopg_pool.PoolTimeout is an OperationalError).
    psycopg.OperationalError,
    sa.OperationalError,
    sa.InterfaceError,
    # SQLAlchemy's pool finding no connection in time.
    sa.TimeoutError,
)
_BROKER_ERRORS: tuple[type[Exception], ...] = (KafkaConnectionError, KafkaTimeoutError)


def answer_faults(app: FastAPI) -> None:
    """Answer unreachable databases and brokers with 503 + ``Retry-After``, and any other
    exception with a JSON 500."""
    for error in (*_DATABASE_ERRORS, *_BROKER_ERRORS):
        app.add_exception_handler(error, answer_unavailable)
    # Last in line: an outage wrapped in another exception is told by its causes here.
    app.add_exception_handler(Exception, answer_unavailable)


def unavailability(error: BaseException) -> str | None:
    """What ``error`` says is out of reach — the database or the broker — or None when it is
    not an outage. Causes are followed: an adapter may wrap the driver's error."""
    for link in _causes(error):
        if isinstance(link, _DATABASE_ERRORS):
            return DATABASE_UNAVAILABLE
        if isinstance(link, sa.DBAPIError) and link.connection_invalidated:
            return DATABASE_UNAVAILABLE
        if isinstance(link, _BROKER_ERRORS):
            return BROKER_UNAVAILABLE
    return None


async def answer_unavailable(request: Request, error: Exception) -> JSONResponse:
    """503 naming what is out of reach, with ``Retry-After``; a JSON 500 for anything else."""
    reason = unavailability(error)
    if reason is None:
        # The server's error middleware logs the exception itself after this answer.
        return JSONResponse(
            {"detail": "the service failed to answer this request", "reason": INTERNAL_ERROR},
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    log.warning(
        "http.unavailable",
        reason=reason,
        method=request.method,
        path=request.url.path,
        error=f"{type(error).__name__}: {error}",
    )
    what = "database" if reason == DATABASE_UNAVAILABLE else "event broker"
    return JSONResponse(
        {
            "detail": f"the service's {what} cannot be reached: send the same request again "
            f"with the same Idempotency-Key after {RETRY_AFTER_SECONDS} s",
            "reason": reason,
            "retry_after_seconds": RETRY_AFTER_SECONDS,
        },
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__
