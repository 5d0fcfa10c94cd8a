"""The one case state machine as a stage sees it through the event types it applies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityloop_shared.contract.events.casefile import (
    CaseForwardedToCity,
    CaseRegistered,
    CaseVoided,
    ForwardingReturned,
)
from cityloop_shared.contract.events.dispatch import CaseDispatched, FeedbackForwarded
from cityloop_shared.contract.events.disposal import DisposalCompleted, ReturnRequested
from cityloop_shared.contract.events.intake import CaseReported
from cityloop_shared.contract.events.verification import CaseClosed
from cityloop_shared.contract.flows import SOURCE_FLOWS
from cityloop_shared.contract.lifecycle import (
    EVENT_TYPES_IN_LIFECYCLE,
    CaseState,
    CaseStatus,
    IllegalTransition,
    LifecycleView,
    apply,
    fold,
)
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.topology import Topology, topology_table

S = CaseStatus
STRICT = LifecycleView(EVENT_TYPES_IN_LIFECYCLE)
"""The machine as a stage that applies every event type sees it."""
DISPATCH_LIKE = LifecycleView(
    {
        "case.registered",
        "case.dispatched",
        "return.requested",
        "return.approved",
        "return.refused",
        "disposal.completed",
        "feedback.forwarded",
        "case.voided",
        "reminder.sent",
    }
)


def test_a_stage_that_applies_everything_sees_the_strict_machine() -> None:
    for flow in SOURCE_FLOWS.values():
        state: CaseState | None = None
        for event_type in flow:
            assert STRICT.horizon(state) == (state,)
            state = STRICT.receive(state, event_type)
        assert state == fold(flow)


def test_the_horizon_holds_where_unseen_moves_may_have_taken_the_case() -> None:
    dispatched = CaseState(S.DISPATCHED)
    assert [s.status for s in DISPATCH_LIKE.horizon(dispatched) if s] == [
        S.DISPATCHED,
        S.IN_DISPOSAL,
        S.EXTENSION_REQUESTED,
        S.SUSPENSION_REQUESTED,
        S.SUSPENDED,
    ]


def test_a_received_event_is_legal_where_its_emitter_saw_the_case() -> None:
    """The stage never saw the department accept, extend or suspend: it still takes the
    report of the work done, and the return asked before or after acceptance."""
    dispatched = CaseState(S.DISPATCHED)
    assert DISPATCH_LIKE.receive(dispatched, "disposal.completed") == CaseState(S.DISPOSED)
    asked = DISPATCH_LIKE.receive(dispatched, "return.requested")
    assert asked == CaseState(S.RETURN_REQUESTED, resume_to=S.DISPATCHED)
    assert DISPATCH_LIKE.decide(asked, "return.refused") == dispatched
    assert DISPATCH_LIKE.receive(None, "case.registered") == CaseState(S.REGISTERED)


def test_a_decided_event_must_be_legal_wherever_the_case_may_stand() -> None:
    dispatched = CaseState(S.DISPATCHED)
    assert DISPATCH_LIKE.allows(dispatched, "reminder.sent")
    forwarded = CaseState(S.FEEDBACK_FORWARDED)
    # The check and the close are not this stage's to see: the case may be closed already.
    assert not DISPATCH_LIKE.allows(forwarded, "reminder.sent")
    with pytest.raises(IllegalTransition, match="'feedback_forwarded'"):
        DISPATCH_LIKE.decide(forwarded, "reminder.sent")
    blind = LifecycleView({"case.registered", "case.dispatched"})
    # Without following voiding, a stage can never be sure a case is still open.
    assert not blind.allows(CaseState(S.REGISTERED), "case.dispatched")


def test_what_can_still_become_legal_and_what_never_can() -> None:
    assert DISPATCH_LIKE.may_follow(None, "disposal.completed")
    assert DISPATCH_LIKE.may_follow(CaseState(S.REGISTERED), "feedback.forwarded")
    assert not DISPATCH_LIKE.may_follow(CaseState(S.VOIDED), "return.requested")
    assert not DISPATCH_LIKE.may_follow(CaseState(S.DISPATCHED), "case.registered")


@given(st.lists(st.sampled_from(sorted(EVENT_TYPES_IN_LIFECYCLE)), max_size=30))
def test_a_view_never_refuses_what_the_strict_machine_allows(walk: list[str]) -> None:
    """Along any legal history, a stage's view accepts each event it applies, and its state
    is always one the case may really be in. (A history that opens with the forwarding is a
    city site's; a stage meets such cases there only by following the forwarding. One that
    opens with a self-handled report has nothing after it a stage could meet.)"""
    view = DISPATCH_LIKE
    true: CaseState | None = None
    seen: CaseState | None = None
    for event_type in walk:
        if true is None and event_type in {"case.forwarded_to_city", "case.self_handled"}:
            continue
        try:
            true = apply(true, event_type)
        except IllegalTransition:
            continue
        if event_type in view.applies:
            seen = view.receive(seen, event_type)
        assert true in view.horizon(seen)


def test_only_a_stage_that_follows_the_forwarding_meets_a_case_by_it() -> None:
    follower = LifecycleView({"case.forwarded_to_city", "forwarding.accepted", "case.dispatched"})
    assert follower.receive(None, "case.forwarded_to_city") == CaseState(S.FORWARDED_TO_CITY)
    # A stage that does not follow it holds no city case unseen: a voiding of a case it never
    # took up (a city department's, at a district) is no case of its own.
    with pytest.raises(IllegalTransition):
        DISPATCH_LIKE.receive(None, "case.voided")


def test_a_topology_refuses_what_its_stage_may_not_emit_or_need_not_follow() -> None:
    with pytest.raises(ValueError, match="which its topic may not carry"):
        Topology(Stage.DISPATCH, follows=frozenset(), emits=frozenset({CaseClosed}))
    with pytest.raises(ValueError, match="which only it emits"):
        Topology(Stage.DISPATCH, follows=frozenset({FeedbackForwarded}), emits=frozenset())


def test_a_topology_reads_the_topics_of_what_it_follows() -> None:
    topology = Topology(
        Stage.DISPATCH,
        follows=frozenset({CaseReported, CaseRegistered, DisposalCompleted, ReturnRequested}),
        emits=frozenset({CaseDispatched}),
    )
    assert topology.upstream == (Stage.INTAKE, Stage.CASEFILE, Stage.DISPOSAL)
    assert topology.topics("370212", "ns") == [
        "ns.cityloop.370212.intake.v1",
        "ns.cityloop.370212.casefile.v1",
        "ns.cityloop.370212.disposal.v1",
    ]
    assert topology.view.applies == {
        "case.reported",
        "case.registered",
        "disposal.completed",
        "return.requested",
        "case.dispatched",
    }
    row = next(line for line in topology_table([topology]).splitlines() if "dispatch" in line)
    assert row.startswith("| dispatch | intake, casefile, disposal | `case.registered`")
    assert CaseVoided not in topology.follows


def test_each_level_reads_what_it_follows_of_the_other_from_the_mirrored_topics() -> None:
    topology = Topology(
        Stage.DISPATCH,
        follows=frozenset({CaseRegistered}),
        emits=frozenset({CaseDispatched}),
        follows_from_city=frozenset({ForwardingReturned}),
        follows_from_districts=frozenset({CaseForwardedToCity}),
    )
    at_district = topology.sources("370212", "ns")
    assert {topic: (s.stage, s.takes) for topic, s in at_district.items()} == {
        "ns.cityloop.370212.casefile.v1": (Stage.CASEFILE, frozenset({"case.registered"})),
        "ns.cityloop.370200.casefile.v1": (Stage.CASEFILE, frozenset({"forwarding.returned"})),
    }
    at_city = topology.sources("370200", None, districts=["370212", "370202"])
    assert {topic: s.takes for topic, s in at_city.items()} == {
        "cityloop.370200.casefile.v1": frozenset({"case.registered"}),
        "cityloop.370212.casefile.v1": frozenset({"case.forwarded_to_city"}),
        "cityloop.370202.casefile.v1": frozenset({"case.forwarded_to_city"}),
    }
    assert {"forwarding.returned", "case.forwarded_to_city"} <= topology.view.applies
    table = topology_table([topology])
    assert "| dispatch | `forwarding.returned` | `case.forwarded_to_city` |" in table
