"""The first answer to each idempotent command, kept per actor and key.

A supervisor's phone on a bad network resends a command with the same ``Idempotency-Key``;
the repeat changes nothing and gets the first answer back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Answer:
    fingerprint: str
    """A hash of the request the key first came with: the key may not serve another."""
    status_code: int
    response: Any


class AnswerBook(ABC):
    @abstractmethod
    async def recall(self, actor_id: str, key: str) -> Answer | None: ...

    @abstractmethod
    def remember(self, actor_id: str, key: str, answer: Answer, at: datetime) -> None:
        """Keep the answer with the command's writes; written when the unit of work flushes."""
