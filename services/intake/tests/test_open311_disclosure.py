"""What Open311 tells the public of a case, without a database or a broker: every status
folded to open or closed with notes that tell the ends apart, and what a request discloses
of a case by its channel and to whom."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from cityloop_intake.open311.models import service_request
from cityloop_intake.open311.settings import Open311Settings
from cityloop_intake.open311.statuses import PUBLIC_STATUSES, statuses_shown_as
from cityloop_intake.state import Report
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.lifecycle import TERMINAL, CaseStatus
from cityloop_shared.contract.values import ReportChannel
from cityloop_shared.reference.bundle import ReferenceData

pytestmark = pytest.mark.unit

REFERENCE = ReferenceData.demo()
SETTINGS = Open311Settings(coordinate_decimals=3, show_departments=False)
NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
GRID = "370212003001001"
GRID_NAME = "崂山区第三街道第一社区1号网格"


@pytest.mark.parametrize("status", list(CaseStatus))
def test_every_status_is_open_or_closed_as_the_case_is(status: CaseStatus) -> None:
    """A status added to the lifecycle without a public reading fails here."""
    shown = PUBLIC_STATUSES[status]
    assert shown.status == ("closed" if status in TERMINAL else "open")
    assert shown.notes


def test_the_ends_are_told_apart_and_only_a_fix_reads_as_one() -> None:
    notes = {status: PUBLIC_STATUSES[status].notes for status in TERMINAL}
    assert len(set(notes.values())) == len(TERMINAL)
    for fixed in (CaseStatus.CLOSED, CaseStatus.SELF_HANDLED):
        assert "已处置" in notes[fixed]
    for unfixed in (CaseStatus.CANCELLED, CaseStatus.VOIDED):
        assert "已处置" not in notes[unfixed]
        assert "本案不" in notes[unfixed]
    assert notes[CaseStatus.CANCELLED].startswith("不予立案")
    assert notes[CaseStatus.VOIDED].startswith("已作废")


def test_the_status_filter_selects_by_the_public_reading() -> None:
    assert statuses_shown_as(["closed"]) == TERMINAL
    assert statuses_shown_as(["open"]) == frozenset(CaseStatus) - TERMINAL
    assert statuses_shown_as([]) is None
    assert statuses_shown_as(["open", "closed"]) is None


def row(channel: ReportChannel, **changes: Any) -> dict[str, Any]:
    """A report as intake keeps it: at an exact point, with what the reporter said."""
    report = Report(
        case_id=UUID(int=5),
        site="370212",
        status=CaseStatus.DISPATCHED,
        last_event_id=UUID(int=6),
        last_occurred_at=NOON,
        correlation_id=UUID(int=5),
        channel=channel,
        category_kind=CaseKind.EVENT,
        category_code="06001",
        lon=120.456789,
        lat=36.123456,
        grid_code=GRID,
        address="松岭路 1 号 3 单元",
        description="楼下搭了棚子，联系我 13800000000",
        media_url="https://media.cityloop.example/p/9.jpg",
        reported_at=NOON,
        department_id="370212-urban",
        deadline=NOON,
    )
    return dataclasses.asdict(dataclasses.replace(report, **changes))


def test_a_public_report_shows_its_words_at_its_grid_and_a_rounded_point() -> None:
    request = service_request(REFERENCE, row(ReportChannel.PUBLIC), SETTINGS)
    assert request["description"] == "楼下搭了棚子，联系我 13800000000"
    assert request["media_url"] == "https://media.cityloop.example/p/9.jpg"
    assert request["address"] == GRID_NAME
    assert (request["lat"], request["long"]) == (36.123, 120.457)
    assert request["agency_responsible"] is None


@pytest.mark.parametrize(
    "channel", [ReportChannel.SUPERVISOR, ReportChannel.VIDEO, ReportChannel.LEADER]
)
def test_a_case_of_the_centres_own_channels_shows_no_staff_words(channel: ReportChannel) -> None:
    request = service_request(REFERENCE, row(channel), SETTINGS)
    assert (request["description"], request["media_url"]) == (None, None)
    assert (request["service_code"], request["service_name"]) == ("06001", "私搭乱建")
    assert request["address"] == GRID_NAME
    assert (request["lat"], request["long"]) == (36.123, 120.457)
    text = repr(request)
    assert "松岭路" not in text
    assert "13800000000" not in text


def test_the_site_sets_how_far_a_point_is_rounded_and_whether_departments_are_named() -> None:
    coarse = SETTINGS.model_copy(update={"coordinate_decimals": 1, "show_departments": True})
    request = service_request(REFERENCE, row(ReportChannel.PUBLIC), coarse)
    assert (request["lat"], request["long"]) == (36.1, 120.5)
    assert request["agency_responsible"] == "崂山区城市管理局"


def test_the_reporter_reads_their_own_address_and_point() -> None:
    own = service_request(REFERENCE, row(ReportChannel.PUBLIC), SETTINGS, own=True)
    assert own["address"] == "松岭路 1 号 3 单元"
    assert (own["lat"], own["long"]) == (36.123456, 120.456789)
    assert own["agency_responsible"] is None
    public = service_request(REFERENCE, row(ReportChannel.PUBLIC), SETTINGS)
    same = {"address", "lat", "long"}
    assert {k: v for k, v in own.items() if k not in same} == {
        k: v for k, v in public.items() if k not in same
    }


def test_a_report_placed_by_its_grid_alone_has_no_point() -> None:
    request = service_request(
        REFERENCE, row(ReportChannel.PUBLIC, lon=None, lat=None, address=None), SETTINGS
    )
    assert (request["lat"], request["long"], request["address"]) == (None, None, GRID_NAME)
