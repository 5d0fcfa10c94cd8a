"""What a stage applied, in the order it applied it (the inbox), and what waits (parked).

Every event applied to the stage's records is tracked, whether it arrived from a topic or
the stage emitted it, so a redelivered record changes nothing and the stage's history can be
replayed in its own order. An event that arrives before the case is where it may be applied
is parked with its case, and tried again when the case moves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cityloop_shared.contract.envelope import CaseEvent

OWN = "journal"
"""The source of an event the stage emitted itself."""


@dataclass(frozen=True, slots=True)
class Applied:
    position: int
    event_id: UUID
    case_id: UUID
    event_type: str
    source: str
    """``topic/partition/offset`` the event was read at, or :data:`OWN`."""
    applied_at: datetime


@dataclass(frozen=True, slots=True)
class Parked:
    event_id: UUID
    case_id: UUID
    source: str
    body: str
    parked_at: datetime


@dataclass(frozen=True, slots=True)
class Known:
    """What the tracker knows about a batch about to be applied."""

    applied: set[UUID]
    """Those of the asked ids already applied."""
    parked: list[Parked]
    """Events parked for the batch's cases, oldest first."""


class Tracker(ABC):
    @abstractmethod
    async def lookup(self, event_ids: Collection[UUID], case_ids: Collection[UUID]) -> Known:
        """Which of these events were applied, and what waits for these cases: one read."""

    @abstractmethod
    async def knows_case(self, case_id: UUID) -> bool:
        """Whether the stage applied any event of the case (it may hold no record of it)."""

    @abstractmethod
    def track(self, event: CaseEvent, source: str, at: datetime) -> None:
        """Record the event as applied; written when the unit of work flushes."""

    @abstractmethod
    def park(self, event: CaseEvent, source: str, at: datetime) -> None:
        """Set the event aside until its case moves; written when the unit of work flushes."""

    @abstractmethod
    def unpark(self, event_id: UUID) -> None:
        """The parked event was applied or dead-lettered; written when the unit of work flushes."""

    @abstractmethod
    async def history(self, after: int = 0, limit: int = 1000) -> list[Applied]:
        """Applied events past position ``after``, in the order they were applied."""
