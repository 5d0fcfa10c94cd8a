"""Topic names: each stage of a site owns exactly one event topic and one dead-letter topic."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """The workflow stages, one service each."""

    INTAKE = "intake"
    """信息采集."""
    CASEFILE = "casefile"
    """案卷建立."""
    DISPATCH = "dispatch"
    """任务派遣."""
    DISPOSAL = "disposal"
    """任务处理 + 处理反馈."""
    VERIFICATION = "verification"
    """核查结案."""
    EVALUATION = "evaluation"
    """综合评价."""
    SYNC = "sync"
    """District → city replication and cross-site hand-offs."""


CONTRACT_MAJOR_VERSION = 1


def event_topic(site: str, stage: Stage, namespace: str | None = None) -> str:
    """``cityloop.<site>.<stage>.v1``: the log of record, never compacted.

    A ``namespace`` prefix lets several environments (staging, training, a test) share one
    Kafka cluster without sharing topics.
    """
    return _prefixed(namespace, f"cityloop.{site}.{stage.value}.v{CONTRACT_MAJOR_VERSION}")


CASE_STAGES = tuple(stage for stage in Stage if stage is not Stage.SYNC)
"""The stages whose topics carry case events (sync writes none of its own)."""


def case_topics(site: str, namespace: str | None = None) -> tuple[str, ...]:
    """Every case topic of a site: the log of record an audit reads, sync mirrors."""
    return tuple(event_topic(site, stage, namespace) for stage in CASE_STAGES)


def dead_letter_topic(site: str, stage: Stage, namespace: str | None = None) -> str:
    """Where a stage sets aside records it cannot apply, with the reason."""
    return _prefixed(namespace, f"cityloop.{site}.{stage.value}.dlq.v{CONTRACT_MAJOR_VERSION}")


def analytics_topic(site: str, namespace: str | None = None) -> str:
    """``cityloop.<site>.analytics.v1``: every case event the site's evaluation reads, in the
    form analysts receive it (no personal data), keyed by case id. At a city it is city-wide."""
    return _prefixed(namespace, f"cityloop.{site}.analytics.v{CONTRACT_MAJOR_VERSION}")


def _prefixed(namespace: str | None, name: str) -> str:
    return f"{namespace}.{name}" if namespace else name
