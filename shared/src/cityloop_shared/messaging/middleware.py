"""Bind case id, event id and correlation id to every log line a handler writes."""

from __future__ import annotations

from typing import Any

import structlog
from faststream import BaseMiddleware
from faststream.message import StreamMessage

from cityloop_shared.messaging import headers


class CaseLogContextMiddleware(BaseMiddleware):
    """Reads the ids from record headers, so even an undecodable record is logged with them.

    A batch binds nothing here: its handler binds each event's ids as it applies it.
    """

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        if isinstance(msg.raw_message, tuple):
            return await call_next(msg)
        context = {
            "case_id": msg.headers.get(headers.CASE_ID, ""),
            "event_id": msg.headers.get(headers.EVENT_ID, ""),
            "event_type": msg.headers.get(headers.EVENT_TYPE, ""),
            "correlation_id": msg.headers.get(headers.CORRELATION_ID, ""),
        }
        with structlog.contextvars.bound_contextvars(**{k: v for k, v in context.items() if v}):
            return await call_next(msg)
