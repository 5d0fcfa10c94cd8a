"""Field supervisors (信息监督员) and the grids each is responsible for.

A YAML file with a ``supervisors:`` list of id, name, site (the district's division code) and
grid_codes. A grid has one responsible supervisor: the one sent to verify (核实) and check
(核查) on site there.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cityloop_shared.reference._sources import validate, yaml_entries
from cityloop_shared.reference.codes import DivisionCode, GridCodeText
from cityloop_shared.reference.errors import ReferenceDataError, problem


class Supervisor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[^\s,*]+$")]
    name: Annotated[str, Field(min_length=1)]
    site: DivisionCode
    grid_codes: tuple[GridCodeText, ...] = ()

    @field_validator("grid_codes")
    @classmethod
    def _grids_in_site(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        site = info.data.get("site")
        outside = [code for code in value if site is not None and not code.startswith(site)]
        if outside:
            raise ValueError(f"must lie in site {site}: {', '.join(outside)} do not")
        return value


class SupervisorRoster:
    """Supervisors by id and by grid."""

    def __init__(self, supervisors: tuple[Supervisor, ...]) -> None:
        self._supervisors = supervisors
        self._by_id = {s.id: s for s in supervisors}
        self._by_grid = {code: s for s in supervisors for code in s.grid_codes}

    def supervisor_for(self, grid_code: str) -> Supervisor | None:
        """The grid's responsible supervisor (None: the grid has none)."""
        return self._by_grid.get(grid_code)

    def get(self, supervisor_id: str) -> Supervisor | None:
        return self._by_id.get(supervisor_id)

    @property
    def grid_codes(self) -> frozenset[str]:
        """Every grid some supervisor is responsible for."""
        return frozenset(self._by_grid)

    def __iter__(self) -> Iterator[Supervisor]:
        return iter(self._supervisors)

    def __len__(self) -> int:
        return len(self._supervisors)


def load_supervisors(path: Path) -> SupervisorRoster:
    """Supervisors from YAML; a grid claimed by two supervisors refuses the file."""
    source = path.name
    supervisors = validate(Supervisor, source, yaml_entries(path, "supervisors"))
    problems: list[str] = []
    first_id: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for where, supervisor in supervisors:
        if supervisor.id in first_id:
            problems.append(
                problem(source, where, f"id '{supervisor.id}' repeats {first_id[supervisor.id]}")
            )
        first_id.setdefault(supervisor.id, where)
        for code in supervisor.grid_codes:
            if code in claimed:
                text = f"grid {code} is already the responsibility of {claimed[code]}"
                problems.append(problem(source, where, text))
            claimed.setdefault(code, f"'{supervisor.id}' ({where})")
    if problems:
        raise ReferenceDataError(problems)
    return SupervisorRoster(tuple(supervisor for _, supervisor in supervisors))
