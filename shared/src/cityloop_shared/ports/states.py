"""A stage's case records: one row a case, the typed columns of the stage's own table."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from typing import Generic, TypeVar
from uuid import UUID

from cityloop_shared.stage.record import CaseRecord

R = TypeVar("R", bound=CaseRecord)


class CaseStates(ABC, Generic[R]):
    @abstractmethod
    async def load(self, case_ids: Collection[UUID]) -> dict[UUID, R]:
        """The records of those cases the stage holds, locked until the transaction ends.

        Lockers take rows in one order (by case id), so two transactions sharing cases
        cannot deadlock.
        """

    @abstractmethod
    def save(self, record: R) -> None:
        """Keep the record as it now is; written when the unit of work flushes, once however
        often a case changed in the transaction."""
