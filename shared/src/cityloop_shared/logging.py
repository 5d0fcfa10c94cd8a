"""Structured logs: JSON in production, every line bound to case, event and correlation ids."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.settings import LogFormat


def configure_logging(log_format: LogFormat = LogFormat.JSON, level: str = "INFO") -> None:
    """Route structlog and the standard library (aiokafka, FastStream) through one renderer."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format is LogFormat.JSON
        else structlog.dev.ConsoleRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                without_inputs,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


_INPUT = re.compile(r"input_value=.*?, input_type=", re.DOTALL)


def without_inputs(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A validation error repeats the input it refuses (``input_value=…``): the reason a
    malformed report is dead-lettered would carry the reporter's name or phone into the logs.
    The line keeps where and why, not what."""
    for key, value in event.items():
        if isinstance(value, str) and "input_value=" in value:
            event[key] = _INPUT.sub("input_value=(withheld), input_type=", value)
    return event


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def event_log_context(event: CaseEvent) -> dict[str, str]:
    return {
        "case_id": str(event.case_id),
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "correlation_id": str(event.correlation_id),
    }
