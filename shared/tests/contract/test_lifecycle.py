"""The case state machine accepts the source flows and never reaches a forbidden state."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cityloop_shared.contract import EVENT_TYPES, CaseState, CaseStatus, IllegalTransition
from cityloop_shared.contract.flows import SOURCE_FLOWS
from cityloop_shared.contract.lifecycle import (
    EVENT_TYPES_IN_LIFECYCLE,
    MOVES,
    TERMINAL,
    allowed,
    apply,
    fold,
)

ALL_EVENT_TYPES = sorted(EVENT_TYPES)


def test_lifecycle_covers_exactly_the_contracts_event_types() -> None:
    assert set(EVENT_TYPES) == EVENT_TYPES_IN_LIFECYCLE


@pytest.mark.parametrize("flow", sorted(SOURCE_FLOWS))
def test_every_source_flow_is_accepted_and_ends_closed(flow: str) -> None:
    state = fold(SOURCE_FLOWS[flow])
    assert state == CaseState(CaseStatus.CLOSED)


@pytest.mark.parametrize(
    ("history", "refused"),
    [
        (["case.reported", "case.accepted", "case.registered", "case.dispatched"], "case.closed"),
        (["case.reported", "case.accepted", "case.cancelled"], "case.dispatched"),
        (["case.reported"], "case.dispatched"),
        (["case.reported", "case.accepted", "verification.requested"], "case.registered"),
        ([], "case.accepted"),
        (
            ["case.reported", "case.accepted", "case.registered", "case.dispatched"],
            "case.cancelled",
        ),
        (["case.reported", "case.accepted"], "case.voided"),
        (["case.reported", "case.accepted", "case.registered"], "reminder.sent"),
        ([*SOURCE_FLOWS["public_district"]], "case.reopened_for_rework"),
    ],
)
def test_illegal_transitions_are_refused_with_the_status_named(
    history: list[str], refused: str
) -> None:
    state = fold(history)
    with pytest.raises(IllegalTransition) as caught:
        apply(state, refused)
    assert caught.value.event_type == refused
    if state is not None:
        assert state.status.value in str(caught.value)


def test_a_refused_return_goes_back_where_it_was_asked() -> None:
    dispatched = fold(["case.reported", "case.accepted", "case.registered", "case.dispatched"])
    assert fold(["return.requested", "return.refused"], dispatched) == dispatched
    in_disposal = apply(dispatched, "disposal.accepted")
    assert fold(["return.requested", "return.refused"], in_disposal) == in_disposal


def _reachable_from(start: CaseState | None) -> set[CaseState]:
    seen: set[CaseState] = set()
    queue: deque[CaseState | None] = deque([start])
    while queue:
        state = queue.popleft()
        for event_type in ALL_EVENT_TYPES:
            if allowed(state, event_type):
                after = apply(state, event_type)
                if after not in seen:
                    seen.add(after)
                    queue.append(after)
    return seen


REACHABLE = _reachable_from(None)


def test_every_status_is_reachable_and_every_open_case_can_still_end() -> None:
    assert {state.status for state in REACHABLE} == set(CaseStatus)
    for state in REACHABLE:
        if not state.is_terminal:
            assert any(s.is_terminal for s in _reachable_from(state)), state


def _check_history(history: list[str]) -> None:
    """The rules of the lifecycle, stated over an accepted history rather than the table."""
    # A district's history opens with the report; the city's of a forwarded case with the
    # forwarding, for the city's stages meet the case there.
    # A self-handled report (自处理) opens and ends its case: nothing follows it but a
    # decision to show it to the public or not, which an ended case may still take.
    assert history[0] in {"case.reported", "case.forwarded_to_city", "case.self_handled"}
    if history[0] == "case.self_handled":
        assert set(history[1:]) <= {"publicity.decided"}
        return
    assert "case.self_handled" not in history
    at_city = history[0] == "case.forwarded_to_city"
    assert history.count("case.reported") == (0 if at_city else 1)
    for index, event_type in enumerate(history):
        before = history[:index]
        if event_type in {"case.dispatched", "case.voided"} or (
            event_type == "case.forwarded_to_city" and index > 0
        ):
            assert "case.registered" in before or at_city
        if event_type in {"forwarding.accepted", "forwarding.returned"}:
            assert [e for e in before if e in MOVES][-1] == "case.forwarded_to_city"
        if event_type == "case.dispatched" and "case.forwarded_to_city" in before:
            last_forwarding = max(
                i for i, e in enumerate(before) if e.startswith(("case.forwarded", "forwarding."))
            )
            assert before[last_forwarding] in {"forwarding.accepted", "forwarding.returned"}
        if event_type == "case.registered":
            assert "case.accepted" in before
            assert not at_city
            if "verification.requested" in before:
                assert "verification.reported" in before
        if event_type == "case.cancelled":
            assert "case.registered" not in before
        if event_type == "case.closed":
            last_completed = max(i for i, e in enumerate(before) if e == "disposal.completed")
            assert "check.passed" in before[last_completed:]
            assert "check.failed" not in before[last_completed:]
        if event_type == "disposal.completed":
            assert "disposal.accepted" in before
        if event_type == "check.requested":
            last_completed = max(i for i, e in enumerate(before) if e == "disposal.completed")
            assert "feedback.forwarded" in before[last_completed:]
        if event_type == "case.reopened_for_rework":
            last_check = max(i for i, e in enumerate(before) if e.startswith("check."))
            assert before[last_check] == "check.failed"
        if event_type != "publicity.decided" and any(
            e in {"case.cancelled", "case.voided"} for e in before
        ):
            raise AssertionError(f"{event_type} accepted after the case ended")
        if "case.closed" in before:
            assert event_type in {"satisfaction.recorded", "publicity.decided"}


@settings(max_examples=400)
@given(st.lists(st.sampled_from(ALL_EVENT_TYPES), max_size=60))
def test_random_operations_never_reach_a_forbidden_state(attempts: list[str]) -> None:
    state: CaseState | None = None
    history: list[str] = []
    for event_type in attempts:
        try:
            after = apply(state, event_type)
        except IllegalTransition:
            continue
        history.append(event_type)
        _check_history(history)
        assert after in REACHABLE
        state = after


@settings(max_examples=300)
@given(st.data())
def test_random_walks_of_legal_operations_keep_every_rule(data: st.DataObject) -> None:
    state: CaseState | None = None
    history: list[str] = []
    for _ in range(80):
        legal = [e for e in ALL_EVENT_TYPES if allowed(state, e)]
        if set(legal) <= {"publicity.decided"}:
            assert state is not None
            assert state.status in TERMINAL - {CaseStatus.CLOSED}
            break
        event_type = data.draw(st.sampled_from(legal))
        state = apply(state, event_type)
        history.append(event_type)
        _check_history(history)


DETOURS = {
    "after_dispatch": [
        ["return.requested", "return.approved", "case.redispatched"],
        ["return.requested", "return.refused"],
        ["reminder.sent"],
        ["supervision.issued"],
        ["time_limit.warning", "time_limit.overdue"],
    ],
    "in_disposal": [
        ["extension.requested", "extension.decided"],
        ["suspension.requested", "suspension.approved", "suspension.resumed"],
        ["suspension.requested", "suspension.refused"],
        ["return.requested", "return.refused"],
    ],
    "in_check": [
        [
            "check.failed",
            "case.reopened_for_rework",
            "disposal.accepted",
            "disposal.completed",
            "feedback.forwarded",
            "check.requested",
        ],
    ],
}


@settings(max_examples=200)
@given(
    flow=st.sampled_from(sorted(SOURCE_FLOWS)),
    after_dispatch=st.lists(st.sampled_from(range(len(DETOURS["after_dispatch"]))), max_size=3),
    in_disposal=st.lists(st.sampled_from(range(len(DETOURS["in_disposal"]))), max_size=3),
    reworks=st.integers(0, 3),
)
def test_source_flows_with_any_detours_still_close(
    flow: str, after_dispatch: list[int], in_disposal: list[int], reworks: int
) -> None:
    path: list[str] = []
    for event_type in SOURCE_FLOWS[flow]:
        path.append(event_type)
        if event_type == "case.dispatched":
            for choice in after_dispatch:
                path.extend(DETOURS["after_dispatch"][choice])
        if event_type == "disposal.accepted":
            for choice in in_disposal:
                path.extend(DETOURS["in_disposal"][choice])
        if event_type == "check.requested":
            for _ in range(reworks):
                path.extend(DETOURS["in_check"][0])
    assert fold(path) == CaseState(CaseStatus.CLOSED)
    _check_history(path)


class LifecycleMachine(RuleBasedStateMachine):
    """Drives one case by random operations; illegal ones must change nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.state: CaseState | None = None
        self.history: list[str] = []

    @rule(event_type=st.sampled_from(ALL_EVENT_TYPES))
    def operate(self, event_type: str) -> None:
        before = self.state
        try:
            self.state = apply(self.state, event_type)
        except IllegalTransition:
            assert self.state is before
            return
        self.history.append(event_type)

    @invariant()
    def history_keeps_the_rules(self) -> None:
        if self.history:
            _check_history(self.history)
            assert fold(self.history) == self.state


TestLifecycleMachine = LifecycleMachine.TestCase
