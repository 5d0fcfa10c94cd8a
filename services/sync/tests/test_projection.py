"""The city-level projection of a case as a plain fold (no broker, no database): events in
any order of arrival give the same case, and a case forwarded to the city shows who holds it."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.examples import PAYLOADS
from cityloop_shared.contract.flows import SUPERVISOR_CITY, SUPERVISOR_DISTRICT
from cityloop_shared.contract.history import ordered
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_sync.projection import fold

START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
DISTRICT, CITY = "370212", "370200"
History = Callable[..., list[CaseEvent]]
"""The ``history`` fixture: a case's events as its sites log them."""
FORWARDED = SUPERVISOR_CITY.index("case.forwarded_to_city")


def test_a_district_case_is_folded_whatever_order_its_topics_arrive_in(history: History) -> None:
    events = history(SUPERVISOR_DISTRICT)
    shuffled = random.Random(7).sample(events, len(events))

    case = fold(shuffled)

    assert case is not None
    assert case == fold(events)
    assert (case.status, case.site, case.handled_by) == (CaseStatus.CLOSED, DISTRICT, DISTRICT)
    assert case.case_number == PAYLOADS["case.registered"]["case_number"]
    assert case.department_id == "ls-sanitation"
    assert (case.reported_at, case.events) == (START, len(events))
    assert case.updated_at == START + timedelta(minutes=len(events) - 1)


def test_a_forwarded_case_is_held_by_the_city_from_its_duty_chiefs_pass_on(
    history: History,
) -> None:
    events = history(SUPERVISOR_CITY, city_from=FORWARDED, case_registered={"level": "city"})
    accepted = SUPERVISOR_CITY.index("forwarding.accepted")

    waiting = fold(events[:accepted])
    passed_on = fold(events[: accepted + 1])
    closed = fold(events)

    assert waiting is not None
    assert passed_on is not None
    assert closed is not None
    assert (waiting.status, waiting.handled_by) == (CaseStatus.FORWARDED_TO_CITY, DISTRICT)
    assert (passed_on.status, passed_on.handled_by) == (CaseStatus.WITH_CITY_COMMAND, CITY)
    assert (closed.status, closed.site, closed.level) == (CaseStatus.CLOSED, DISTRICT, "city")


def test_a_reaction_of_the_same_moment_follows_its_cause(history: History) -> None:
    events = history(SUPERVISOR_DISTRICT)
    completed = SUPERVISOR_DISTRICT.index("disposal.completed")
    cause = events[completed]
    reaction = events[completed + 1].model_copy(update={"occurred_at": cause.occurred_at})
    ids: list[UUID] = [e.event_id for e in ordered([reaction, cause])]
    assert ids == [cause.event_id, reaction.event_id]


def test_a_red_light_marks_the_case_overdue_with_its_step(history: History) -> None:
    events = history(SUPERVISOR_DISTRICT[:4])
    overdue = history(["time_limit.overdue"])[0].model_copy(
        update={"case_id": events[0].case_id, "occurred_at": START + timedelta(hours=1)}
    )
    case = fold([*events, overdue])
    assert case is not None
    assert (case.overdue, case.overdue_steps) == (True, ("disposal",))


def test_an_event_the_case_cannot_take_is_kept_out_of_the_fold(history: History) -> None:
    events = history(SUPERVISOR_DISTRICT)
    warning_after_close = history(["time_limit.warning"])[0].model_copy(
        update={"case_id": events[0].case_id, "occurred_at": START + timedelta(days=1)}
    )
    case = fold([*events, warning_after_close])
    assert case is not None
    assert case.status is CaseStatus.CLOSED
    assert case.events == len(events) + 1
