"""Events of the clock: yellow at 80 % of a step's limit, red past 100 %, once each."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime

from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import ClockStep

_CLOCK_OWNERS = frozenset({Stage.CASEFILE, Stage.DISPATCH, Stage.VERIFICATION})


class TimeLimitPayload(Payload):
    step: ClockStep
    deadline: AwareDatetime


class TimeLimitWarning(CaseEvent):
    """黄灯: 80 % of the step's working time is used."""

    emitted_by: ClassVar[frozenset[Stage]] = _CLOCK_OWNERS
    event_type: Literal["time_limit.warning"] = "time_limit.warning"
    payload: TimeLimitPayload


class TimeLimitOverdue(CaseEvent):
    """红灯: the step's deadline has passed."""

    emitted_by: ClassVar[frozenset[Stage]] = _CLOCK_OWNERS
    event_type: Literal["time_limit.overdue"] = "time_limit.overdue"
    payload: TimeLimitPayload
