"""Least privilege on reads: which rows of a query an actor sees, and who sees the public's
personal data.

Each role sees what its work needs, in every read path:

- the supervision centre (acceptance operators, duty chiefs), the command centre
  (dispatchers) and leaders: every case of the sites they may act on (their district, or for
  the city's people the whole city);
- a department: the tasks and cases dispatched to it; an upper-level department
  (上级专业部门): those of the departments it oversees, as it urges only theirs;
- a field supervisor: the on-site tasks (核实, 核查) of their grids, or sent to them;
- the public: nothing of the internal queries (its front door is Open311).

A query refuses (403) a role it has nothing for and an actor of another district; a list
leaves out the rows the actor may not see, and one such row asked for by id is refused.

The public's personal data — a reporter's name, phone and email, and the channel's own id of
their report (an Open311 token), which leads back to them — is shown only to the supervision
centre, which calls reporters back (回访). Everyone else reads payloads without it. The place
of a problem and its description stay: departments and supervisors need them to do the work.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, or_

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.codec import redact
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.registry import payload_model
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.departments import DepartmentDirectory
from cityloop_shared.reference.supervisors import SupervisorRoster
from cityloop_shared.runtime.auth import may_act_on, require_role, visible_sites
from cityloop_shared.stage.decisions import Forbidden

SUPERVISION_CENTRE = frozenset({Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF})
"""Who sees the public's personal data: the centre that takes reports and calls back."""
SITE_WIDE = frozenset({*SUPERVISION_CENTRE, Role.DISPATCHER, Role.LEADER})
"""Who sees every case of the sites they may act on."""
DEPARTMENT_ROLES = frozenset({Role.DEPARTMENT, Role.UPPER_DEPARTMENT})
CASE_READERS = frozenset({*SITE_WIDE, *DEPARTMENT_ROLES, Role.FIELD_SUPERVISOR})
"""Who reads a site's case file: each narrowed to the rows of their work."""
ON_SITE_TASKS = frozenset({CaseStatus.VERIFYING, CaseStatus.CHECKING})
"""Where a case waits for a field supervisor on site: to verify (核实) or to check (核查)."""
PUBLIC_REFERENCES = frozenset({"external_id"})
"""Payload fields besides the reporter that lead back to a member of the public: the
channel's own id of a report (an Open311 token)."""


def may_read_at(actor: Actor, site: str) -> bool:
    """Whether the actor reads the queries of ``site``'s services: those of a site they may
    act on, and for a district's field supervisor their city's too, as the city entrusts the
    on-site check of its cases to the district's supervisors (委托核查)."""
    if may_act_on(actor, site):
        return True
    return (
        actor.role is Role.FIELD_SUPERVISOR
        and site_level(site) is SiteLevel.CITY
        and city_of(actor.site) == site
    )


def require_reader(actor: Actor, site: str, roles: Collection[Role]) -> None:
    """Refuse an actor not in ``roles``, or of a site whose queries they may not read."""
    require_role(actor, *roles)
    if not may_read_at(actor, site):
        raise Forbidden(f"actor of site {actor.site} may not read the queries of site {site}")


def departments_seen(actor: Actor, directory: DepartmentDirectory) -> frozenset[str]:
    """The departments whose tasks and cases the actor sees: a department its own; an
    upper-level department those below it, the ones it may urge."""
    require_role(actor, *DEPARTMENT_ROLES)
    own = actor.department_id
    if own is None:
        raise Forbidden("the actor's token names no department")
    if actor.role is Role.DEPARTMENT:
        return frozenset({own})
    if own not in directory:
        raise Forbidden(f"department {own} is not in the directory")
    return frozenset(department.id for department in directory.subordinates(own))


def supervised_grids(actor: Actor, roster: SupervisorRoster) -> frozenset[str]:
    """The grids a field supervisor is responsible for (none for one the roster lacks)."""
    supervisor = roster.get(actor.id)
    if supervisor is None or supervisor.site != actor.site:
        return frozenset()
    return frozenset(supervisor.grid_codes)


def supervisors_tasks(
    actor: Actor,
    roster: SupervisorRoster,
    *,
    grid_code: ColumnElement[Any],
    assignee: ColumnElement[Any] | None = None,
) -> ColumnElement[bool]:
    """The rows of a field supervisor's on-site tasks: in their grids, or sent to them."""
    mine = grid_code.in_(sorted(supervised_grids(actor, roster)))
    return mine if assignee is None else or_(mine, assignee == actor.id)


@dataclass(frozen=True, slots=True)
class CaseColumns:
    """Where a table of cases keeps what visibility is decided by."""

    site: ColumnElement[Any]
    department_id: ColumnElement[Any]
    grid_code: ColumnElement[Any] | None = None
    status: ColumnElement[Any] | None = None
    verifier_id: ColumnElement[Any] | None = None
    """The supervisor a verification was sent to."""


def visible_cases(
    actor: Actor, reference: ReferenceData, columns: CaseColumns
) -> ColumnElement[bool]:
    """The cases the actor sees (see the module's rules); refused for a role that sees none
    of this table (a field supervisor where it holds no on-site task)."""
    if actor.role in SITE_WIDE:
        return visible_sites(actor, columns.site)
    if actor.role in DEPARTMENT_ROLES:
        return columns.department_id.in_(sorted(departments_seen(actor, reference.departments)))
    if (
        actor.role is Role.FIELD_SUPERVISOR
        and columns.grid_code is not None
        and columns.status is not None
    ):
        tasks = supervisors_tasks(
            actor, reference.supervisors, grid_code=columns.grid_code, assignee=columns.verifier_id
        )
        return and_(columns.status.in_(sorted(ON_SITE_TASKS)), tasks)
    raise Forbidden(f"role {actor.role.value} sees none of these cases")


def sees_personal_data(actor: Actor) -> bool:
    return actor.role in SUPERVISION_CENTRE


def without_the_publics_data(payload: BaseModel) -> BaseModel:
    """The payload without the reporter and the references that lead back to them."""
    kept = redact(payload)
    carried = PUBLIC_REFERENCES & type(payload).model_fields.keys()
    return kept.model_copy(update=dict.fromkeys(carried)) if carried else kept


def payload_for(actor: Actor, event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """An event's payload (as JSON values) as the actor may read it."""
    if sees_personal_data(actor):
        return dict(payload)
    model = payload_model(event_type).model_validate(payload)
    return without_the_publics_data(model).model_dump(mode="json")
