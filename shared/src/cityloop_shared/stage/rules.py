"""A stage's rules in one value: what it follows and emits, how its record evolves, how it
reacts and which clocks the events move."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topology import Topology
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.stage.clocks import ClockChange
from cityloop_shared.stage.decisions import Draft
from cityloop_shared.stage.record import CaseRecord

R = TypeVar("R", bound=CaseRecord)

Evolve = Callable[[R, CaseEvent], R | None]
"""The record after an event; given a fresh record (its own fields at their defaults) for a
case the stage does not hold yet, None when the stage does not take the case up."""
React = Callable[[R, CaseEvent, ReferenceData], Sequence[Draft]]
"""The events the stage decides on its own when another stage's event has been applied;
their time is the event's, never the wall clock's."""
Time = Callable[[R, CaseEvent, ReferenceData], Sequence[ClockChange]]
"""The clocks an applied event (received or emitted) starts, stops, pauses or moves."""


def _nothing(case: CaseRecord, event: CaseEvent, reference: ReferenceData) -> Sequence[object]:
    return ()


@dataclass(frozen=True)
class StageRules(Generic[R]):
    topology: Topology
    record: type[R]
    evolve: Evolve[R]
    react: React[R] = field(default=_nothing)  # type: ignore[assignment]
    time: Time[R] = field(default=_nothing)  # type: ignore[assignment]
