"""Running an HTTP command: once per idempotency key, in one transaction, refused cleanly.

A supervisor's phone on a bad network resends; with the same ``Idempotency-Key`` the
repeat changes nothing and gets the first answer back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Header, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, insert, select

from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.envelope import canonical_json
from cityloop_shared.contract.lifecycle import IllegalTransition
from cityloop_shared.service.auth import require_site
from cityloop_shared.service.runtime import ServiceRuntime, retry_transient
from cityloop_shared.store.ledger import CaseRow, Ledger
from cityloop_shared.store.tables import idempotency_keys

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]
"""The client's key for a command: the same key again returns the first answer."""

_FIRST_ANSWER = select(idempotency_keys).where(
    idempotency_keys.c.actor_id == bindparam("actor_id"), idempotency_keys.c.key == bindparam("key")
)
_REMEMBER_ANSWER = insert(idempotency_keys)

Decision = Callable[[Ledger], Awaitable[Any]]
"""Decides a command inside the transaction; returns the JSON-able answer."""


class Command(BaseModel):
    """Base of every command body: an unknown field is refused with 422 naming it."""

    model_config = ConfigDict(extra="forbid")


def service_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def run_command(
    runtime: ServiceRuntime,
    actor: Actor,
    idempotency_key: str | None,
    request: Any,
    decide: Decision,
    *,
    status_code: int = status.HTTP_200_OK,
) -> JSONResponse:
    """Decide the command in one transaction; with an idempotency key, at most once.

    The first answer to a key is looked for only when it can matter: when the command is
    refused (the case moved on, perhaps by this very command) or its writes collide with
    another transaction's (perhaps the same command, sent twice at once). A command that
    goes through, as nearly all do, costs no read for its key.
    """
    fingerprint = hashlib.sha256(canonical_json(jsonable_encoder(request))).hexdigest()
    attempts = 0

    async def first_answer() -> JSONResponse | None:
        if idempotency_key is None:
            return None
        return await _first_answer(runtime, actor, idempotency_key, fingerprint)

    async def attempt() -> JSONResponse:
        nonlocal attempts
        attempts += 1
        if attempts > 1 and (first := await first_answer()) is not None:
            return first
        try:
            async with runtime.transaction() as ledger:
                answer = jsonable_encoder(await decide(ledger))
                if idempotency_key is not None:
                    ledger.write_later(
                        _REMEMBER_ANSWER,
                        {
                            "actor_id": actor.id,
                            "key": idempotency_key,
                            "fingerprint": fingerprint,
                            "status_code": status_code,
                            "response": answer,
                            "created_at": datetime.now(UTC),
                        },
                    )
        except (HTTPException, IllegalTransition):
            if (first := await first_answer()) is not None:
                return first
            raise
        return JSONResponse(answer, status_code=status_code)

    return await retry_transient(attempt)


async def _first_answer(
    runtime: ServiceRuntime, actor: Actor, key: str, fingerprint: str
) -> JSONResponse | None:
    """The answer first given to this actor's key; 422 if the key came with another request."""
    async with runtime.engine.connect() as conn:
        found = await conn.execute(_FIRST_ANSWER, {"actor_id": actor.id, "key": key})
        row = found.mappings().first()
    if row is None:
        return None
    if row["fingerprint"] != fingerprint:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "this key was used for a different request",
                    "type": "idempotency_key_reused",
                }
            ],
        )
    return JSONResponse(row["response"], status_code=row["status_code"])


async def load_case(ledger: Ledger, case_id: UUID, actor: Actor) -> CaseRow:
    """The case, locked for this transaction; 404 when unknown, 403 when not the actor's."""
    case = await ledger.case(case_id, for_update=True)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no case {case_id}")
    require_site(actor, case.site)
    return case
