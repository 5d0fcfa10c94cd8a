"""What a decision is made of and how it refuses: drafts of events, the context, refusals.

A decision is a plain function of a stage's case record, a command (or an event it reacts
to), the moment and the reference data. It returns drafts of the events it decides; the
runtime gives each its id, time, actor, causality and chain link, applies and journals it.
A refusal is a typed exception the HTTP layer maps to its status code in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.lifecycle import LifecycleView
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.stage.record import CaseRecord


class Command(BaseModel):
    """Base of every command body: an unknown field is refused with 422 naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Draft:
    """An event decided but not made yet: its type and its payload."""

    model: type[CaseEvent]
    payload: Payload

    @property
    def event_type(self) -> str:
        return self.model.type_name()


@dataclass(frozen=True, slots=True)
class Decision:
    """The events a command decides, and what its answer says besides them."""

    events: Sequence[Draft]
    answer: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Context:
    """What a command is decided with besides the case and the command itself."""

    actor: Actor
    now: datetime
    reference: ReferenceData
    site: str
    """The site whose stream the stage writes."""
    view: LifecycleView
    """The case state machine as this stage sees it."""

    def require(self, case: CaseRecord, model: type[CaseEvent]) -> None:
        """Refuse (409) when the case may stand where ``model`` is not allowed: before anything
        else of the command is looked at."""
        self.view.decide(case.lifecycle, model.type_name())


class Refused(Exception):
    """A command the stage will not take; ``status_code`` is how HTTP answers it."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Forbidden(Refused):
    """The actor may not do this (role, site, department, supervisor)."""

    status_code = 403


class NotFound(Refused):
    """The stage holds no such case."""

    status_code = 404


class Conflict(Refused):
    """The case's state forbids the command, for a reason the lifecycle alone does not give."""

    status_code = 409


class Invalid(Refused):
    """A value of the command is wrong for this case or this site: 422 naming the field."""

    status_code = 422

    def __init__(
        self, field: Sequence[str], message: str, kind: str, *, where: str = "body"
    ) -> None:
        super().__init__(message)
        self.loc = (where, *field)
        """Where the value is, as FastAPI names it: ``("body", "department_id")``."""
        self.kind = kind
