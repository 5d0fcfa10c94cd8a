"""Judged cases into their rows: each case touched by a batch is judged again from its whole
history, its row replaced and its step rounds written afresh."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete

from cityloop_evaluation.judgement import CaseJudgement, judge
from cityloop_evaluation.store import evaluated_cases, step_rounds
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.ports.unit_of_work import UnitOfWork
from cityloop_shared.reference.bundle import ReferenceData


class Projector:
    def __init__(self, reference: ReferenceData) -> None:
        self.reference = reference

    async def __call__(
        self, uow: UnitOfWork, histories: Mapping[UUID, Sequence[CaseEvent]]
    ) -> None:
        judged = [judge(history, self.reference) for history in histories.values()]
        cases = [case for case in judged if case is not None]
        if not cases:
            return
        uow.write(
            delete(step_rounds).where(step_rounds.c.case_id.in_([case.case_id for case in cases]))
        )
        rounds: list[dict[str, Any]] = []
        for case in cases:
            uow.upsert(evaluated_cases, ["case_id"], case_row(case))
            rounds += round_rows(case)
        if rounds:
            uow.insert(step_rounds, rounds)


def case_row(case: CaseJudgement) -> dict[str, Any]:
    grid = case.grid_code
    code = case.category_code
    return {
        "case_id": case.case_id,
        "site": case.site,
        "district": grid[:6] if grid else None,
        "street": grid[:9] if grid else None,
        "community": grid[:12] if grid else None,
        "grid_code": grid,
        "channel": case.channel,
        "reported_by": case.reported_by,
        "category_kind": case.category_kind,
        "major": code[:2] if code else None,
        "category_code": code,
        "level": case.level,
        "self_handled": case.self_handled,
        "reported_at": case.reported_at,
        "accepted_at": case.accepted_at,
        "verified": case.verified,
        "registered_at": case.registered_at,
        "registered_by": case.registered_by,
        "dispatched_at": case.dispatched_at,
        "department_id": case.department_id,
        "handled_at": case.handled_at,
        "handled_on_time": case.handled_on_time,
        "closed_at": case.closed_at,
        "closed_by": case.closed_by,
        "closed_on_time": case.closed_on_time,
        "cancelled_at": case.cancelled_at,
        "voided_at": case.voided_at,
        "overall_due_at": case.overall_due_at,
        "suspended_at": case.suspended_at,
        "returns": case.returns,
        "extensions": case.extensions,
        "suspensions": case.suspensions,
        "reworks": case.reworks,
        "handling_minutes": case.handling.total_seconds() / 60 if case.handling else None,
        "satisfaction": case.satisfaction,
    }


def round_rows(case: CaseJudgement) -> list[dict[str, Any]]:
    district = case.grid_code[:6] if case.grid_code else None
    return [
        {
            "case_id": case.case_id,
            "step": round_.step.value,
            "round": round_.round,
            "site": round_.site,
            "district": district,
            "actor_id": round_.actor_id,
            "department_id": round_.department_id,
            "started_at": round_.started_at,
            "due_at": round_.due_at,
            "provisional": round_.provisional,
            "ended_at": round_.ended_at,
            "outcome": round_.outcome.value if round_.outcome else None,
            "on_time": round_.on_time,
            "reworked": round_.reworked,
            "wrong_dispatch": round_.wrong_dispatch,
        }
        for round_ in case.rounds
    ]
