"""Cases' histories as the sites log them, for the projection's tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cityloop_shared.contract import EVENT_TYPES, Actor, Role, new_id
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.examples import PAYLOADS
from cityloop_shared.contract.registry import payload_model

START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
DISTRICT, CITY = "370212", "370200"

History = Callable[..., list[CaseEvent]]


@pytest.fixture
def history() -> History:
    """``history(event_types, city_from=None, case_registered={...})``: a case's events."""
    return make_history


def make_history(
    event_types: list[str], *, city_from: int | None = None, **payloads: dict[str, Any]
) -> list[CaseEvent]:
    """One event a minute, each caused by the one before; from ``city_from`` on, the city's."""
    case_id = new_id()
    events: list[CaseEvent] = []
    for index, event_type in enumerate(event_types):
        site = CITY if city_from is not None and index > city_from else DISTRICT
        payload = {**PAYLOADS[event_type], **payloads.get(event_type.replace(".", "_"), {})}
        events.append(
            EVENT_TYPES[event_type].create(
                case_id=case_id,
                site=site,
                actor=Actor(id="someone", role=Role.DUTY_CHIEF, site=site),
                payload=payload_model(event_type).model_validate(payload),
                previous=None,
                cause=events[-1] if events else None,
                occurred_at=START + timedelta(minutes=index),
            )
        )
    return events
