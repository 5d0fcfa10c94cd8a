"""A stage as a service: its rules, where its records live, its HTTP surface."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from fastapi import APIRouter
from sqlalchemy import Table

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.ports.unit_of_work import UnitOfWork
from cityloop_shared.stage.record import CaseRecord
from cityloop_shared.stage.rules import StageRules

R = TypeVar("R", bound=CaseRecord)

Project = Callable[[UnitOfWork, R, CaseEvent], None]
"""Rows besides the record an applied event writes (a timeline entry, a department's task)."""


@dataclass(frozen=True)
class StageService(Generic[R]):
    rules: StageRules[R]
    table: Table
    """The stage's case records, one row a case (see :func:`case_record_columns`)."""
    migrations: Path
    routers: Sequence[APIRouter] = ()
    project: Project[R] | None = field(default=None)
