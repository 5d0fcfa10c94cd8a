"""The journal: every event the stage emitted, in the order it decided them (the outbox).

Events are journaled in the transaction that decided them and published by the relay
afterwards; the journal is never deleted, for it is the stage's own audit log. The pair
(case, sequence) is unique: two transactions that chain the same case's next event collide,
and one of them is retried.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cityloop_shared.contract.envelope import CaseEvent


@dataclass(frozen=True, slots=True)
class JournalEntry:
    position: int
    """Where the event stands in the journal: the order the relay publishes in."""
    event_id: UUID
    case_id: UUID
    sequence: int
    event_type: str
    event_hash: str
    topic: str
    body: str
    occurred_at: datetime
    published_at: datetime | None


class Recorder(ABC):
    @abstractmethod
    def append(self, events: Sequence[CaseEvent], topic: str) -> None:
        """Journal the events for ``topic``; written when the unit of work flushes."""

    @abstractmethod
    async def case_events(self, case_id: UUID) -> list[CaseEvent]:
        """The case's events this stage emitted, in chain order."""

    @abstractmethod
    async def entries(self, after: int = 0, limit: int = 1000) -> list[JournalEntry]:
        """Journal entries past position ``after``, in order."""

    @abstractmethod
    async def unpublished(self, limit: int) -> list[JournalEntry]:
        """The oldest entries not published yet, in order."""

    @abstractmethod
    def mark_published(self, positions: Sequence[int], at: datetime) -> None:
        """Stamp entries as published (by the relay, after the broker acknowledged them);
        written when the unit of work flushes."""
