"""Who may be picked at the demo sign-in: the people of a site in a role, from reference data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cityloop_shared.contract.actors import Role
from cityloop_shared.reference.bundle import ReferenceData

SIGN_IN_ROLES = (
    Role.FIELD_SUPERVISOR,
    Role.ACCEPTANCE_OPERATOR,
    Role.DUTY_CHIEF,
    Role.DISPATCHER,
    Role.DEPARTMENT,
    Role.UPPER_DEPARTMENT,
    Role.LEADER,
)
"""The roles a person signs in as; the public reports through Open311, the system is no one."""

CENTRE_PEOPLE = {
    Role.ACCEPTANCE_OPERATOR: "operator-1",
    Role.DUTY_CHIEF: "chief-1",
    Role.DISPATCHER: "dispatcher-1",
    Role.LEADER: "leader-1",
}
"""The one demo person of each centre role at every site."""

DEPARTMENT_ROLES = frozenset({Role.DEPARTMENT, Role.UPPER_DEPARTMENT})


@dataclass(frozen=True)
class Person:
    id: str
    name: str


def people(reference: ReferenceData, site: str, role: Role) -> list[Person]:
    """The people of ``site`` who act in ``role``: the roster's supervisors, the site's
    departments (those with departments below them for an upper-level department), or the
    centre's demo person."""
    if role is Role.FIELD_SUPERVISOR:
        return [Person(s.id, s.name) for s in reference.supervisors if s.site == site]
    if role in DEPARTMENT_ROLES:
        parents = {d.parent_id for d in reference.departments if d.parent_id}
        return [
            Person(d.id, d.name)
            for d in reference.departments
            if d.site == site and (role is Role.DEPARTMENT or d.id in parents)
        ]
    person = CENTRE_PEOPLE.get(role)
    return [Person(person, person)] if person else []


def directory_of_people(reference: ReferenceData, sites: tuple[str, ...]) -> dict[str, Any]:
    """Site → role → [[id, name]]: what the sign-in form picks from."""
    return {
        site: {
            role.value: [[p.id, p.name] for p in people(reference, site, role)]
            for role in SIGN_IN_ROLES
        }
        for site in sites
    }
