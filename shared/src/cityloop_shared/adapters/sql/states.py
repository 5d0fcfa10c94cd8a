"""A stage's case records as rows of its table: one column a field of the record."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Collection
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import Table, bindparam, insert, select, update

from cityloop_shared.ports.states import CaseStates
from cityloop_shared.ports.unit_of_work import Row, Write
from cityloop_shared.stage.record import CaseRecord

if TYPE_CHECKING:
    from cityloop_shared.adapters.sql.unit_of_work import SqlUnitOfWork

R = TypeVar("R", bound=CaseRecord)


class RecordCodec(Generic[R]):
    """Rows to records and back, checked once against the table: a field without a column
    or a column without a field is a mistake in the stage's store."""

    def __init__(self, table: Table, record: type[R]) -> None:
        fields = [field.name for field in dataclasses.fields(record)]
        columns = [column.name for column in table.columns]
        if sorted(fields) != sorted(columns):
            raise TypeError(
                f"{record.__name__} and table {table.name} disagree: fields without a column "
                f"{sorted(set(fields) - set(columns))}, columns without a field "
                f"{sorted(set(columns) - set(fields))}"
            )
        self.record = record
        self.fields = fields
        hints = typing.get_type_hints(record)
        self._readers = {name: _reader(hints[name]) for name in fields}
        self.load = (
            select(table)
            .where(table.c.case_id.in_(bindparam("case_ids", expanding=True)))
            .order_by(table.c.case_id)
            .with_for_update()
        )
        self.insert = insert(table)
        self.update = (
            update(table)
            .where(table.c.case_id == bindparam("_case_id"))
            .values({name: bindparam(name) for name in fields if name != "case_id"})
        )

    def from_row(self, row: Row) -> R:
        return self.record(**{name: read(row[name]) for name, read in self._readers.items()})

    def to_row(self, record: R) -> dict[str, Any]:
        return {name: getattr(record, name) for name in self.fields}


def _reader(hint: Any) -> Callable[[Any], Any]:
    """How a column's value becomes the field's: enums from their stored values."""
    options = (
        typing.get_args(hint)
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        else (hint,)
    )
    enum = next((t for t in options if isinstance(t, type) and issubclass(t, Enum)), None)
    if enum is None:
        return _same
    return lambda value: None if value is None else enum(value)


def _same(value: Any) -> Any:
    return value


_CODECS: dict[tuple[Table, type[CaseRecord]], RecordCodec[Any]] = {}


def codec(table: Table, record: type[R]) -> RecordCodec[R]:
    """Built once per table: checking and building statements costs more than a load."""
    found = _CODECS.get((table, record))
    if found is None:
        found = _CODECS[table, record] = RecordCodec(table, record)
    return found


class SqlCaseStates(CaseStates[R]):
    def __init__(self, uow: SqlUnitOfWork, table: Table, record: type[R]) -> None:
        self._uow = uow
        self._codec: RecordCodec[R] = codec(table, record)
        self._stored: set[UUID] = set()
        self._changed: dict[UUID, R] = {}

    async def load(self, case_ids: Collection[UUID]) -> dict[UUID, R]:
        if not case_ids:
            return {}
        rows = await self._uow.rows(self._codec.load, {"case_ids": list(case_ids)})
        found = {row["case_id"]: self._codec.from_row(row) for row in rows}
        self._stored.update(found)
        return found

    def save(self, record: R) -> None:
        self._changed[record.case_id] = record

    def pending(self) -> list[Write]:
        if not self._changed:
            return []
        new: list[Row] = [
            self._codec.to_row(r) for i, r in self._changed.items() if i not in self._stored
        ]
        changed: list[Row] = [
            {"_case_id": row.pop("case_id"), **row}
            for row in (
                self._codec.to_row(r) for i, r in self._changed.items() if i in self._stored
            )
        ]
        self._stored.update(self._changed)
        self._changed = {}
        writes: list[Write] = []
        if new:
            writes.append((self._codec.insert, new))
        if changed:
            writes.append((self._codec.update, changed))
        return writes
