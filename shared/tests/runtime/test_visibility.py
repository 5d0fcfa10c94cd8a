"""Least privilege on reads: each role sees the rows its work needs, and only the supervision
centre sees the public's personal data."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.examples import PAYLOADS
from cityloop_shared.contract.registry import EVENT_TYPES, payload_model
from cityloop_shared.contract.values import PersonalData
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.visibility import (
    DEPARTMENT_ROLES,
    SITE_WIDE,
    SUPERVISION_CENTRE,
    CaseColumns,
    departments_seen,
    may_read_at,
    payload_for,
    require_reader,
    visible_cases,
)
from cityloop_shared.stage.decisions import Forbidden

REFERENCE = ReferenceData.demo()
OWN, OTHER, CITY = "370212", "370202", "370200"
GRID = "370212001001001"
"""A grid of sv-370212-01."""
ELSEWHERE = "370212003001001"
"""A grid of sv-370212-03."""

listed = Table(
    "listed",
    MetaData(),
    Column("case_id", String(8), primary_key=True),
    Column("site", String(6)),
    Column("department_id", String(64)),
    Column("grid_code", String(15)),
    Column("status", String(32)),
    Column("verifier_id", String(128)),
)
COLUMNS = CaseColumns(
    site=listed.c.site,
    department_id=listed.c.department_id,
    grid_code=listed.c.grid_code,
    status=listed.c.status,
    verifier_id=listed.c.verifier_id,
)
ROWS = [
    # case, site, department, grid, status, verifier
    ("street", OWN, "370212-street-001", GRID, "dispatched", None),
    ("sanitat", OWN, "370212-sanitation", ELSEWHERE, "in_disposal", None),
    ("verify", OWN, None, GRID, "verifying", "sv-370212-01"),
    ("sent", OWN, None, ELSEWHERE, "verifying", "sv-370212-01"),
    ("check", OWN, "370212-street-001", GRID, "checking", None),
    ("closed", OWN, "370212-street-001", GRID, "closed", None),
    ("other", OTHER, "370202-sanitation", "370202001001001", "checking", None),
    ("city", CITY, "370200-water", None, "dispatched", None),
]


def shown(actor: Actor, columns: CaseColumns = COLUMNS) -> list[str]:
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            listed.create(conn)
            keys = [c.name for c in listed.columns]
            conn.execute(insert(listed), [dict(zip(keys, row, strict=True)) for row in ROWS])
            seen = visible_cases(actor, REFERENCE, columns)
            return list(
                conn.scalars(select(listed.c.case_id).where(seen).order_by(listed.c.case_id))
            )
    finally:
        engine.dispose()


def actor(role: Role, site: str = OWN, **given: Any) -> Actor:
    return Actor(id=given.pop("id", f"{role.value}-1"), role=role, site=site, **given)


@pytest.mark.parametrize("role", sorted(SITE_WIDE))
def test_the_centres_and_leaders_see_every_case_of_their_sites(role: Role) -> None:
    district = ["check", "closed", "sanitat", "sent", "street", "verify"]
    assert shown(actor(role)) == district
    assert shown(actor(role, OTHER)) == ["other"]
    assert shown(actor(role, CITY)) == sorted(row[0] for row in ROWS)


def test_a_department_sees_the_cases_dispatched_to_it() -> None:
    street = actor(Role.DEPARTMENT, department_id="370212-street-001")
    assert shown(street) == ["check", "closed", "street"]
    water = actor(Role.DEPARTMENT, CITY, department_id="370200-water")
    assert shown(water) == ["city"]


def test_an_upper_department_sees_those_of_the_departments_below_it() -> None:
    district = actor(Role.UPPER_DEPARTMENT, department_id="370212-urban")
    assert shown(district) == ["sanitat"]
    # 青岛市城市管理局 oversees each district's bureau and, through it, its sub-units.
    city = actor(Role.UPPER_DEPARTMENT, CITY, department_id="370200-urban")
    assert shown(city) == ["other", "sanitat"]
    assert departments_seen(city, REFERENCE.departments) >= {"370212-urban", "370202-urban"}
    # It urges only those below it, so it sees only theirs, not its own.
    assert "370200-urban" not in departments_seen(city, REFERENCE.departments)


def test_a_department_token_must_name_its_department() -> None:
    with pytest.raises(Forbidden, match="names no department"):
        shown(actor(Role.DEPARTMENT))
    with pytest.raises(Forbidden, match="not in the directory"):
        shown(actor(Role.UPPER_DEPARTMENT, department_id="370212-nowhere"))


def test_a_field_supervisor_sees_the_on_site_tasks_of_their_grids_or_sent_to_them() -> None:
    assert shown(actor(Role.FIELD_SUPERVISOR, id="sv-370212-01")) == ["check", "sent", "verify"]
    # The task sent to another is also on this one's grid, which they are responsible for.
    assert shown(actor(Role.FIELD_SUPERVISOR, id="sv-370212-03")) == ["sent"]
    assert shown(actor(Role.FIELD_SUPERVISOR, id="sv-370212-02")) == []
    # A table that holds no on-site task has nothing for a supervisor.
    without_tasks = CaseColumns(site=listed.c.site, department_id=listed.c.department_id)
    with pytest.raises(Forbidden, match="field_supervisor sees none"):
        shown(actor(Role.FIELD_SUPERVISOR, id="sv-370212-01"), without_tasks)


def test_the_public_sees_nothing_of_the_internal_queries() -> None:
    with pytest.raises(Forbidden, match="public"):
        shown(actor(Role.PUBLIC))
    with pytest.raises(Forbidden, match="role public may not"):
        require_reader(actor(Role.PUBLIC), OWN, [*SITE_WIDE, *DEPARTMENT_ROLES])


@pytest.mark.parametrize(
    ("role", "site", "at", "reads"),
    [
        (Role.DUTY_CHIEF, OWN, OWN, True),
        (Role.DUTY_CHIEF, CITY, OWN, True),
        (Role.DUTY_CHIEF, OTHER, OWN, False),
        (Role.DUTY_CHIEF, OWN, CITY, False),
        # The city entrusts its cases' on-site checks to the districts' supervisors.
        (Role.FIELD_SUPERVISOR, OWN, CITY, True),
        (Role.FIELD_SUPERVISOR, OWN, OTHER, False),
        (Role.FIELD_SUPERVISOR, OWN, "370300", False),
    ],
)
def test_who_reads_the_queries_of_a_site(role: Role, site: str, at: str, reads: bool) -> None:
    assert may_read_at(actor(role, site), at) is reads
    if not reads:
        with pytest.raises(Forbidden, match=f"site {site} may not read the queries of site {at}"):
            require_reader(actor(role, site), at, [role])


CONTACT = PAYLOADS["case.reported"]["reporter"]
TOKEN = PAYLOADS["case.reported"]["external_id"]


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.SYSTEM])
def test_only_the_supervision_centre_reads_the_reporters_name_and_contact(role: Role) -> None:
    payload = PAYLOADS["case.reported"]
    read = payload_for(actor(role), "case.reported", payload)
    if role in SUPERVISION_CENTRE:
        assert (read["reporter"], read["external_id"]) == (CONTACT, TOKEN)
        return
    assert (read["reporter"], read["external_id"]) == (None, None)
    # What the work needs stays: where the problem is and what it is.
    kept = ("location", "description", "category", "attachments", "channel")
    assert {k: read[k] for k in kept} == {
        k: payload_model("case.reported").model_validate(payload).model_dump(mode="json")[k]
        for k in kept
    }


def personal_parts(model: BaseModel) -> list[str]:
    """Every part of ``model`` (at any depth) that is the public's personal data."""
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, PersonalData):
            found.append(name)
        elif isinstance(value, BaseModel):
            found += [f"{name}.{inner}" for inner in personal_parts(value)]
    return found


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_no_event_type_carries_the_publics_data_to_a_department(event_type: str) -> None:
    model = payload_model(event_type)
    department = actor(Role.DEPARTMENT, department_id="370212-street-001")
    read = model.model_validate(payload_for(department, event_type, PAYLOADS[event_type]))
    assert personal_parts(read) == []
    assert getattr(read, "external_id", None) is None
