"""After the drill: the services' own books and the topics, against what was accepted.

Per service: every command answered 2xx names an event its journal holds (nothing accepted is
lost); no case has a step twice in its journal (nothing decided twice); every journaled event
is on its topic as decided; and its inbox (``tracking``) holds exactly the events of the site's
journals it follows or emits, each once (nothing lost or applied twice on the way). Over the
site: every case's chain holds on every topic, and every case went from report to close once.
A record the relay sent again after a crash is counted, not faulted: readers drop it by id.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from cityloop_deploy import topology
from cityloop_deploy.audit import read_log
from cityloop_deploy.fleet import FleetConfig
from cityloop_deploy.probe import run_sync
from cityloop_shared.adapters.postgres import libpq_url
from cityloop_shared.contract.audit import (
    JournalEntry,
    LoggedRecord,
    compare_with_journal,
    verify_log,
)
from cityloop_shared.contract.flows import SUPERVISOR_DISTRICT
from cityloop_shared.contract.topics import case_topics, event_topic

EVALUATION = "evaluation"
CLOCK_SIGNALS = "time_limit."
"""Warnings and overdue signals: a clock's, not a step of the flow; a slow case may have them."""


@dataclass(frozen=True)
class Journaled:
    event_id: UUID
    case_id: UUID
    event_type: str
    sequence: int
    event_hash: str
    published: bool


@dataclass(frozen=True)
class ServiceBooks:
    service: str
    accepted_commands: int
    """Commands answered 2xx."""
    journaled: int
    """Events the service decided: on commands and on what it read."""
    lost: int
    """Commands answered 2xx whose event the journal lacks."""
    decided_twice: int
    """Cases with one step twice in the journal."""
    logged: int
    """Distinct events on the service's topic."""
    resent: int
    """Records on the topic repeating an event already there (dropped by every reader)."""
    not_logged: int
    """Journaled events the topic lacks, or holds otherwise than decided."""
    to_apply: int
    """Events of the site's journals the service follows or emits."""
    applied: int
    """Of them, those in its inbox."""
    foreign: int
    """Inbox entries of no journal's event."""
    parked: int
    """Events still held back waiting for an earlier one."""

    @property
    def whole(self) -> bool:
        return (
            self.lost == self.decided_twice == self.not_logged == self.foreign == self.parked == 0
            and self.applied == self.to_apply
            and self.logged == self.journaled
        )


@dataclass(frozen=True)
class Books:
    services: list[ServiceBooks]
    cases: int
    """Cases in the journals."""
    closed: int
    """Cases whose steps are the whole flow from report to close, each once."""
    broken_links: list[str]
    """Where a case's chain on a topic does not hold."""

    @property
    def whole(self) -> bool:
        return (
            all(service.whole for service in self.services)
            and self.closed == self.cases
            and not self.broken_links
        )


class Ledger:
    """Reads the books of a fleet's workflow services and the site's topics."""

    def __init__(self, config: FleetConfig, services: Collection[str]) -> None:
        self.config = config
        self._url = libpq_url(config.database_url)
        self._evaluates = EVALUATION in services

    def caught_up(self) -> bool:
        """Every journal published, every inbox holding what it is to apply, nothing parked,
        and evaluation's timeline holding every event of the site."""
        journals = self._journals()
        events = [entry for entries in journals.values() for entry in entries]
        if not all(entry.published for entry in events):
            return False
        for declared in topology.declared():
            stage = declared.stage.value
            wanted = _to_apply(events, declared.follows_types | declared.emits_types)
            if not wanted <= self._applied(stage) or self._parked(stage):
                return False
        return not self._evaluates or {e.event_id for e in events} <= self._evaluated()

    def until_caught_up(self, within: float) -> float:
        """Seconds it took; raises TimeoutError after ``within``."""
        began = time.monotonic()
        while not self.caught_up():
            if time.monotonic() - began > within:
                raise TimeoutError(f"the services did not catch up within {within:.0f} s")
            time.sleep(0.5)
        return time.monotonic() - began

    def books(self, accepted: dict[str, list[UUID]]) -> Books:
        journals = self._journals()
        events = [entry for entries in journals.values() for entry in entries]
        records = run_sync(
            lambda: read_log(
                self.config.kafka_bootstrap,
                case_topics(self.config.site, self.config.topic_namespace),
            )
        )
        first, resent = _first_of_each(records)
        services = []
        for declared in topology.declared():
            stage = declared.stage.value
            topic = event_topic(self.config.site, declared.stage, self.config.topic_namespace)
            journal = journals[stage]
            decided = {entry.event_id for entry in journal}
            on_topic = [record for record in first if record.topic == topic]
            wanted = _to_apply(events, declared.follows_types | declared.emits_types)
            applied = self._applied(stage)
            entries = [
                JournalEntry(e.case_id, e.event_id, e.sequence, e.event_hash) for e in journal
            ]
            services.append(
                ServiceBooks(
                    service=stage,
                    accepted_commands=len(accepted.get(stage, [])),
                    journaled=len(journal),
                    lost=sum(event_id not in decided for event_id in accepted.get(stage, [])),
                    decided_twice=_cases_with_a_step_twice(journal),
                    logged=len(on_topic),
                    resent=resent[topic],
                    not_logged=len(compare_with_journal(on_topic, entries)),
                    to_apply=len(wanted),
                    applied=len(wanted & applied),
                    foreign=len(applied - {entry.event_id for entry in events}),
                    parked=self._parked(stage),
                )
            )
        if self._evaluates:
            read = self._evaluated()
            everything = {entry.event_id for entry in events}
            services.append(
                ServiceBooks(
                    service=EVALUATION,
                    accepted_commands=len(accepted.get(EVALUATION, [])),
                    journaled=0,
                    lost=0,
                    decided_twice=0,
                    logged=0,
                    resent=0,
                    not_logged=0,
                    to_apply=len(everything),
                    applied=len(everything & read),
                    foreign=len(read - everything),
                    parked=0,
                )
            )
        return Books(
            services=services,
            cases=len({entry.case_id for entry in events}),
            closed=_whole_flows(events),
            broken_links=[str(link) for link in verify_log(first)],
        )

    def _rows(self, stage: str, query: str) -> list[tuple[Any, ...]]:
        schema = sql.Identifier(self.config.schema(stage))
        with psycopg.connect(self._url, autocommit=True) as conn:
            return conn.execute(sql.SQL(query).format(schema)).fetchall()

    def _journals(self) -> dict[str, list[Journaled]]:
        query = (
            "SELECT event_id, case_id, event_type, sequence, event_hash, "
            "published_at IS NOT NULL FROM {}.journal"
        )
        return {
            declared.stage.value: [
                Journaled(*row) for row in self._rows(declared.stage.value, query)
            ]
            for declared in topology.declared()
        }

    def _applied(self, stage: str) -> set[UUID]:
        return {row[0] for row in self._rows(stage, "SELECT event_id FROM {}.tracking")}

    def _evaluated(self) -> set[UUID]:
        """The events in evaluation's timeline: every case event of the site it has read."""
        return {row[0] for row in self._rows(EVALUATION, "SELECT event_id FROM {}.timeline")}

    def _parked(self, stage: str) -> int:
        return int(self._rows(stage, "SELECT count(*) FROM {}.parked")[0][0])


def _to_apply(events: list[Journaled], types: frozenset[str]) -> set[UUID]:
    return {entry.event_id for entry in events if entry.event_type in types}


def _first_of_each(records: list[LoggedRecord]) -> tuple[list[LoggedRecord], Counter[str]]:
    """The records with the first of each event id per topic, and per topic how many repeats."""
    seen: set[tuple[str, str]] = set()
    first: list[LoggedRecord] = []
    resent: Counter[str] = Counter()
    for record in records:
        key = (record.topic, _event_id(record))
        if key in seen:
            resent[record.topic] += 1
            continue
        seen.add(key)
        first.append(record)
    return first, resent


def _event_id(record: LoggedRecord) -> str:
    # A body without an id is kept whole, for verify_log to name.
    try:
        return str(json.loads(record.value)["event_id"])
    except (ValueError, KeyError, TypeError):
        return f"{record.partition}/{record.offset}"


def _cases_with_a_step_twice(journal: list[Journaled]) -> int:
    steps: dict[UUID, Counter[str]] = defaultdict(Counter)
    for entry in journal:
        if not entry.event_type.startswith(CLOCK_SIGNALS):
            steps[entry.case_id][entry.event_type] += 1
    return sum(any(n > 1 for n in counted.values()) for counted in steps.values())


def _whole_flows(events: list[Journaled]) -> int:
    """Cases whose steps, over every journal, are the flow from report to close, each once."""
    flow = Counter(SUPERVISOR_DISTRICT)
    steps: dict[UUID, Counter[str]] = defaultdict(Counter)
    for entry in events:
        if not entry.event_type.startswith(CLOCK_SIGNALS):
            steps[entry.case_id][entry.event_type] += 1
    return sum(counted == flow for counted in steps.values())
