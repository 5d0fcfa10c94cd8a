"""What every stage keeps of a case it holds, beside the fields of its own work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cityloop_shared.contract.envelope import ChainLink
from cityloop_shared.contract.lifecycle import CaseState, CaseStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseRecord:
    """Where the case stands as the stage sees it (see :class:`LifecycleView`), the last event
    the stage applied, and the head of the stage's own chain of the case's events.

    A stage's record subclasses this with fields of its own, each with a default: the
    runtime opens a record with these fields set, and the stage's ``evolve`` fills the rest.
    """

    case_id: UUID
    site: str
    status: CaseStatus
    resume_to: CaseStatus | None = None
    last_event_id: UUID
    last_occurred_at: datetime
    """The latest moment of the events applied: one that happened before it and can no longer
    be applied is late, not wrong."""
    correlation_id: UUID
    chain_sequence: int | None = None
    chain_hash: str | None = None

    @property
    def lifecycle(self) -> CaseState:
        return CaseState(self.status, self.resume_to)

    @property
    def chain(self) -> ChainLink | None:
        """The last link of the stage's chain of the case's events, if it emitted any yet."""
        if self.chain_sequence is None or self.chain_hash is None:
            return None
        return ChainLink(self.chain_sequence, self.chain_hash)
