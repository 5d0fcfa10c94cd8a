"""The read registration needs besides the case, its number of the day: taken only once the
registration's own checks pass, since taking it locks the day's row for every registration
behind it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, cast
from uuid import UUID

import pytest

from cityloop_casefile.api import numbered
from cityloop_casefile.decisions import Register, Registration
from cityloop_casefile.state import CaseFile
from cityloop_casefile.topology import TOPOLOGY
from cityloop_shared.contract.lifecycle import CaseStatus, IllegalTransition
from cityloop_shared.contract.values import ReportChannel
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.transaction import StageTransaction
from cityloop_shared.stage.decisions import Conflict, Invalid, Refused

pytestmark = pytest.mark.unit

REFERENCE = ReferenceData.demo()
SITE = "370212"
LATE_EVENING = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
"""01:30 on 11 March in Qingdao: the number is of the site's day, not of UTC's."""


class DaysRow:
    """The day's case-number row as the unit of work reads and writes it, counting reads."""

    def __init__(self, last: int | None) -> None:
        self.last = last
        self.reads = 0
        self.writes: list[dict[str, Any]] = []

    async def scalar(self, statement: Any, parameters: dict[str, Any]) -> int | None:
        self.reads += 1
        return self.last

    def write(self, statement: Any, parameters: dict[str, Any]) -> None:
        self.writes.append(parameters)


def transaction(row: DaysRow) -> StageTransaction[CaseFile]:
    """What ``numbered`` uses of a stage transaction: its view, reference data, moment and
    unit of work."""
    fake = SimpleNamespace(view=TOPOLOGY.view, reference=REFERENCE, now=LATE_EVENING, uow=row)
    return cast(StageTransaction[CaseFile], fake)


def case_file(status: CaseStatus, **fields: Any) -> CaseFile:
    """A supervisor's report in the test grid, accepted without verification unless told."""
    defaults: dict[str, Any] = {
        "channel": ReportChannel.SUPERVISOR,
        "grid_code": "370212003001001",
        "needs_verification": False,
    }
    return CaseFile(
        case_id=UUID(int=1),
        site=SITE,
        status=status,
        last_event_id=UUID(int=2),
        last_occurred_at=LATE_EVENING,
        correlation_id=UUID(int=1),
        **{**defaults, **fields},
    )


async def test_a_registration_takes_the_next_number_of_the_sites_day() -> None:
    row = DaysRow(last=4)
    command = Register(category_code="06001")

    numbered_registration = await numbered(
        transaction(row), case_file(CaseStatus.ACCEPTED), command
    )

    assert numbered_registration == Registration(command, date(2026, 3, 11), 5)
    assert row.reads == 1
    assert [written["last_sequence"] for written in row.writes] == [5]


@pytest.mark.parametrize(
    ("case", "command", "refusal"),
    [
        pytest.param(
            case_file(CaseStatus.ACCEPTED),
            Register(category_code="99999"),
            Invalid,
            id="unknown-category",
        ),
        pytest.param(
            case_file(CaseStatus.ACCEPTED, needs_verification=True),
            Register(category_code="06001"),
            Conflict,
            id="not-verified",
        ),
        pytest.param(
            case_file(CaseStatus.VERIFIED, needs_verification=True, verified=False),
            Register(category_code="06001"),
            Conflict,
            id="not-confirmed",
        ),
        pytest.param(
            case_file(CaseStatus.REGISTERED),
            Register(category_code="06001"),
            IllegalTransition,
            id="registered-already",
        ),
    ],
)
async def test_a_refused_registration_reads_no_number(
    case: CaseFile, command: Register, refusal: type[Refused | IllegalTransition]
) -> None:
    row = DaysRow(last=4)

    with pytest.raises(refusal):
        await numbered(transaction(row), case, command)

    assert (row.reads, row.writes) == (0, [])
