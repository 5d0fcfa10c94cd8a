"""An actor a token names must exist in the site's reference data: a field supervisor in the
roster of their site, a department's people in a department of their site."""

from __future__ import annotations

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.reference.bundle import ReferenceData

_DEPARTMENT_ROLES = {Role.DEPARTMENT, Role.UPPER_DEPARTMENT}


def unknown_actor(actor: Actor, reference: ReferenceData) -> str | None:
    """Why the reference data does not know ``actor``, or ``None`` when it does."""
    if actor.role is Role.SYSTEM:
        return "the system role is not given to tokens"
    if actor.role is Role.FIELD_SUPERVISOR:
        supervisor = reference.supervisors.get(actor.id)
        if supervisor is None or supervisor.site != actor.site:
            return f"{actor.id} is not a field supervisor of site {actor.site}"
    if actor.role in _DEPARTMENT_ROLES:
        if actor.department_id is None:
            return f"a {actor.role.value} token must name its department"
        department = reference.departments.get(actor.department_id)
        if department is None or department.site != actor.site:
            return f"{actor.department_id} is not a department of site {actor.site}"
    elif actor.department_id is not None:
        return f"role {actor.role.value} acts for no department"
    return None
