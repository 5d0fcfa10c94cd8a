"""HTTP commands: each one line in a stage's API, run once per idempotency key in one
transaction, refused cleanly.

The route factory does what every command does: authenticate, check the actor's role and
site, take the idempotency key, open the transaction, load the stage's record of the case,
call the pure decision, record its events and keep the answer. A supervisor's phone on a
bad network resends; with the same ``Idempotency-Key`` the repeat changes nothing and gets
the first answer back.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.envelope import CaseEvent, canonical_json
from cityloop_shared.contract.lifecycle import IllegalTransition
from cityloop_shared.ports.answers import Answer
from cityloop_shared.reference.calendar import CalendarNotCovered
from cityloop_shared.runtime.auth import current_actor, require_role, require_site
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.runtime.transaction import StageTransaction
from cityloop_shared.stage.decisions import (
    Conflict,
    Context,
    Decision,
    Invalid,
    NotFound,
    Refused,
)
from cityloop_shared.stage.record import CaseRecord

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]
"""The client's key for a command: the same key again returns the first answer."""

R = TypeVar("R", bound=CaseRecord)
C = TypeVar("C", bound=BaseModel)

Work = Callable[[StageTransaction[Any]], Awaitable[Any]]
"""Decides a command inside the transaction; returns the JSON-able answer."""
Prepare = Callable[[StageTransaction[Any], Any, Any], Awaitable[Any]]
"""Reads a decision needs beyond the record, in its transaction (a case number of the day)."""


def service_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def answer_of(events: list[CaseEvent], decision: Decision) -> dict[str, Any]:
    first = events[0]
    return {
        "case_id": first.case_id,
        "event_id": first.event_id,
        "event_type": first.event_type,
        **decision.answer,
    }


class Commands(Generic[R]):
    """The commands of one stage's API, each declared in one line."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router

    def on_case(
        self,
        path: str,
        body: type[C],
        *,
        roles: Collection[Role],
        decide: Callable[[R, Any, Context], Decision],
        prepare: Prepare | None = None,
        summary: str | None = None,
        any_site: bool = False,
    ) -> None:
        """``POST path`` (with ``{case_id}``): a command on a case the stage holds.

        The actor must be of the case's site (or its city), unless ``any_site``: then the
        decision says who may act (a task entrusted to a person of another site).
        """
        self._command(
            path, body, lambda _: roles, decide, prepare, summary, opens=False, any_site=any_site
        )

    def opening(
        self,
        path: str,
        body: type[C],
        *,
        roles: Callable[[Any], Collection[Role]],
        decide: Callable[[None, Any, Context], Decision],
        prepare: Prepare | None = None,
        summary: str | None = None,
    ) -> None:
        """``POST path``: a command that opens a new case (a report), decided on no record, by
        an actor of the service's site (or its city) in a role the body's channel allows."""
        self._command(path, body, roles, decide, prepare, summary, opens=True, any_site=False)

    def _command(
        self,
        path: str,
        body: type[BaseModel],
        roles: Callable[[Any], Collection[Role]],
        decide: Callable[[Any, Any, Context], Decision],
        prepare: Prepare | None,
        summary: str | None,
        *,
        opens: bool,
        any_site: bool,
    ) -> None:
        status_code = status.HTTP_201_CREATED if opens else status.HTTP_200_OK

        async def route(**arguments: Any) -> JSONResponse:
            actor: Actor = arguments["actor"]
            sent = arguments["body"]
            require_role(actor, *roles(sent))
            runtime = service_runtime(arguments["request"])
            if not any_site:
                # At the city, a district's people may not act through the city's services on
                # their district's cases: the city's stages take the city's people only.
                require_site(actor, runtime.site)

            async def work(transaction: StageTransaction[Any]) -> dict[str, Any]:
                # The command's moment is its transaction's: what it reads and what it decides
                # are of one instant (a case number's day, a deadline's start).
                now = transaction.now
                record = None
                if not opens:
                    case_id = arguments["case_id"]
                    record = await transaction.case(case_id)
                    if record is None:
                        raise NotFound(f"{runtime.stage.value} holds no case {case_id}")
                    if not any_site:
                        require_site(actor, record.site)
                command = await prepare(transaction, record, sent) if prepare else sent
                try:
                    decision = decide(record, command, _context(runtime, actor, now))
                    events = await transaction.decide(record, decision.events, actor=actor, at=now)
                except CalendarNotCovered as uncovered:
                    # Under beyond_official_years: refuse, a deadline the calendar cannot count
                    # waits for the operator's calendar: the client is told what to add.
                    raise Conflict(str(uncovered)) from uncovered
                return answer_of(events, decision)

            return await run_command(
                runtime, actor, arguments["key"], sent, work, status_code=status_code
            )

        parameter = inspect.Parameter
        parameters = [
            parameter("request", parameter.KEYWORD_ONLY, annotation=Request),
            *([] if opens else [parameter("case_id", parameter.KEYWORD_ONLY, annotation=UUID)]),
            parameter("body", parameter.KEYWORD_ONLY, annotation=body),
            parameter(
                "actor", parameter.KEYWORD_ONLY, annotation=Annotated[Actor, Depends(current_actor)]
            ),
            parameter("key", parameter.KEYWORD_ONLY, annotation=IdempotencyKey, default=None),
        ]
        route.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        route.__name__ = path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
        self.router.post(path, summary=summary, status_code=status_code, response_model=None)(route)


def _context(runtime: ServiceRuntime, actor: Actor, now: datetime) -> Context:
    return Context(
        actor=actor,
        now=now,
        reference=runtime.reference,
        site=runtime.site,
        view=runtime.service.rules.topology.view,
    )


async def run_command(
    runtime: ServiceRuntime,
    actor: Actor,
    idempotency_key: str | None,
    request: Any,
    work: Work,
    *,
    status_code: int = status.HTTP_200_OK,
) -> JSONResponse:
    """Run the command's work in one transaction; with an idempotency key, at most once.

    The first answer to a key is looked for only when it can matter: when the command is
    refused (the case moved on, perhaps by this very command) or its writes collide with
    another transaction's (perhaps the same command, sent twice at once). A command that
    goes through, as nearly all do, costs no read for its key.
    """
    fingerprint = (
        hashlib.sha256(canonical_json(to_jsonable_python(request))).hexdigest()
        if idempotency_key is not None
        else ""
    )
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
            async with runtime.transaction() as transaction:
                answer = to_jsonable_python(await work(transaction))
                if idempotency_key is not None:
                    transaction.uow.answers.remember(
                        actor.id,
                        idempotency_key,
                        Answer(fingerprint, status_code, answer),
                        transaction.now,
                    )
        except (Refused, IllegalTransition):
            if (first := await first_answer()) is not None:
                return first
            raise
        return JSONResponse(answer, status_code=status_code)

    return await runtime.retrying(attempt)


async def _first_answer(
    runtime: ServiceRuntime, actor: Actor, key: str, fingerprint: str
) -> JSONResponse | None:
    """The answer first given to this actor's key; 422 if the key came with another request."""
    async with runtime.database.begin() as uow:
        found = await uow.answers.recall(actor.id, key)
    if found is None:
        return None
    if found.fingerprint != fingerprint:
        raise Invalid(
            ("Idempotency-Key",),
            "this key was used for a different request",
            "idempotency_key_reused",
            where="header",
        )
    return JSONResponse(found.response, status_code=found.status_code)
