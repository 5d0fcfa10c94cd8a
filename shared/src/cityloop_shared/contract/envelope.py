"""The envelope every case event travels in, and its per-case hash chain.

Each event names the previous event of the same case on the same stream (one service's
topic) by sequence and hash, so a verifier can prove a stream was not altered, cut short
or reordered. ``causation_id`` links events across streams.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .actors import Actor
from .ids import new_id
from .sites import SiteCode
from .topics import Stage

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Payload(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class ChainLink:
    """Where the previous event of a case stands in a stream's chain."""

    sequence: int
    event_hash: str


class CaseEvent(BaseModel):
    """The envelope: identity, case, site, time, actor, causality, chain and payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    emitted_by: ClassVar[frozenset[Stage]]
    """The stages whose topics may carry this event type."""

    event_id: UUID
    event_type: str
    schema_version: int = Field(default=1, ge=1)
    case_id: UUID
    site: SiteCode
    occurred_at: AwareDatetime
    actor: Actor
    causation_id: UUID | None = None
    correlation_id: UUID
    sequence: int = Field(
        ge=1, description="Position of this event in its case's chain on its stream"
    )
    previous_hash: Sha256Hex | None = Field(
        description="Hash of the previous event of the same case on the same stream; null first"
    )
    payload: Payload

    @classmethod
    def type_name(cls) -> str:
        """The event type this model carries: its ``event_type`` field's one value."""
        name: str = cls.model_fields["event_type"].default
        return name

    @classmethod
    def create(
        cls,
        *,
        case_id: UUID,
        site: str,
        actor: Actor,
        payload: Payload,
        previous: ChainLink | None,
        correlation_id: UUID | None = None,
        cause: CaseEvent | None = None,
        causation_id: UUID | None = None,
        occurred_at: datetime | None = None,
        event_id: UUID | None = None,
    ) -> Self:
        """A new event caused by ``cause`` (or by the event ``causation_id`` names).

        The correlation id is inherited from the cause when not given, so one report's
        whole history shares it.
        """
        if cause is not None:
            causation_id = cause.event_id
            correlation_id = correlation_id or cause.correlation_id
        return cls(
            event_id=event_id or new_id(),
            event_type=cls.type_name(),
            case_id=case_id,
            site=site,
            occurred_at=occurred_at or datetime.now(UTC),
            actor=actor,
            causation_id=causation_id,
            correlation_id=correlation_id or new_id(),
            sequence=previous.sequence + 1 if previous else 1,
            previous_hash=previous.event_hash if previous else None,
            payload=payload,
        )

    def link(self) -> ChainLink:
        """This event as the predecessor of the next one of its case on its stream."""
        return ChainLink(self.sequence, event_hash(self))


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no white space, UTF-8: one byte string for one value."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: CaseEvent) -> str:
    return hashlib.sha256(canonical_json(event.model_dump(mode="json"))).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """A place where a stream's chain for one case does not hold."""

    case_id: UUID
    event_id: UUID
    reason: str


def verify_chain(events: list[CaseEvent]) -> list[ChainBreak]:
    """Check the per-case chains of one stream's events, in stream order."""
    breaks: list[ChainBreak] = []
    last: dict[UUID, ChainLink] = {}
    for event in events:
        previous = last.get(event.case_id)
        expected_sequence = previous.sequence + 1 if previous else 1
        expected_hash = previous.event_hash if previous else None
        if event.sequence != expected_sequence:
            breaks.append(
                ChainBreak(
                    event.case_id,
                    event.event_id,
                    f"sequence {event.sequence}, expected {expected_sequence}",
                )
            )
        elif event.previous_hash != expected_hash:
            breaks.append(ChainBreak(event.case_id, event.event_id, "previous_hash does not match"))
        last[event.case_id] = event.link()
    return breaks
