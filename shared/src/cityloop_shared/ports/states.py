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

        Loads take their rows in one order (by case id), so two loads sharing cases do not
        deadlock each other. Other locks can still cross them: a clock scan locks clocks and
        then its cases' rows, a command its case's rows and then writes its clocks. The
        database breaks such a deadlock by rolling one transaction back, and that one is
        run again (:meth:`~.unit_of_work.Database.is_transient`).
        """

    @abstractmethod
    def save(self, record: R) -> None:
        """Keep the record as it now is; written when the unit of work flushes, once however
        often a case changed in the transaction."""
