"""Idempotency records in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, insert, select

from cityloop_shared.adapters.sql.tables import idempotency_keys
from cityloop_shared.ports.answers import Answer, AnswerBook

if TYPE_CHECKING:
    from cityloop_shared.adapters.sql.unit_of_work import SqlUnitOfWork

_RECALL = select(idempotency_keys).where(
    idempotency_keys.c.actor_id == bindparam("actor_id"),
    idempotency_keys.c.key == bindparam("key"),
)
_REMEMBER = insert(idempotency_keys)


class SqlAnswerBook(AnswerBook):
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    async def recall(self, actor_id: str, key: str) -> Answer | None:
        rows = await self._uow.rows(_RECALL, {"actor_id": actor_id, "key": key})
        if not rows:
            return None
        row = rows[0]
        return Answer(row["fingerprint"], row["status_code"], row["response"])

    def remember(self, actor_id: str, key: str, answer: Answer, at: datetime) -> None:
        self._uow.write(
            _REMEMBER,
            {
                "actor_id": actor_id,
                "key": key,
                "fingerprint": answer.fingerprint,
                "status_code": answer.status_code,
                "response": answer.response,
                "created_at": at,
            },
        )
