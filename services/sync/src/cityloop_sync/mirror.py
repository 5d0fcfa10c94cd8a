"""Exactly-once, partition-preserving mirroring of topics from one Kafka cluster to another.

Each district site's event topics are mirrored to the city's cluster, and the city's events
about a district's cases back to that district's cluster, under the same topic names.

Kafka transactions are not available to the services (aiokafka and FastStream do not wrap
them), so exactly-once comes from where a mirror resumes instead: every record it writes
carries the offset it had on the source, and at each start the last record of each target
partition says where to read the source from. Consumer-group offsets are never used: they are
committed apart from the writes, so a crash between the two would lose or repeat records,
while the target's tail is always exactly what was written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
    for_code,
)

from cityloop_shared.logging import get_logger
from cityloop_shared.messaging.security import ClientSecurity
from cityloop_shared.messaging.topics import EVENT_TOPIC_CONFIG

SOURCE_OFFSET_HEADER = "cityloop-source-offset"
"""The header on every mirrored record holding its offset on the source, in ASCII decimal."""

Select = Callable[[Sequence[ConsumerRecord]], Awaitable[Sequence[bool]]]
"""Which records of a batch to copy (same length, same order); may wait (e.g. for a projection
to learn a case) but must eventually answer. It must answer the same for the same record every
time: after a restart the records since the target's last one are selected again."""

BATCH_RECORDS = 500
POLL_TIMEOUT_MS = 500
DELIVERY_TIMEOUT_S = 10.0
"""A batch the target has not acknowledged by then ends the session: the mirror logs it and
starts again from the target's tail, rather than wait silently on a producer that retries."""
RESOLVE_TIMEOUT_S = 30.0
END_REFRESH_S = 1.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0

log = get_logger("cityloop.sync.mirror")


class MirrorError(Exception):
    """A state the mirror will not copy over, such as a target topic with fewer partitions
    than its source or a target partition last written by something else: a person has to
    look. The mirror logs it and tries again after its backoff."""


class _SourceNotReady(Exception):
    """A source topic does not exist yet: sites start independently, so this is waited out."""


@dataclass(frozen=True)
class MirrorLink:
    name: str
    """E.g. "370212 → 370200", for logs and metrics."""
    source_bootstrap: str
    target_bootstrap: str
    topics: tuple[str, ...]
    select: Select | None = None
    """None copies every record."""
    client_id: str = "cityloop-sync"
    security: ClientSecurity = field(default_factory=dict)
    """How sync logs in, the same on both clusters: its principal is known to each. Empty: no
    login (PLAINTEXT)."""


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    behind: int
    """The source's end offset less the next source offset to copy."""
    oldest_waiting_at: datetime | None
    """The Kafka timestamp of the next record to copy, when behind and it has been fetched."""


class Mirror:
    """Copies `link.topics` from the source to the target cluster, each record to the same
    partition with its key, value, timestamp and headers, exactly once across crashes."""

    def __init__(self, link: MirrorLink) -> None:
        if not link.topics:
            raise ValueError(f"the mirror link {link.name} names no topic")
        self._link = link
        self._log = log.bind(link=link.name)
        self._copied = 0
        self._ready = False
        self._next: dict[TopicPartition, int] = {}
        self._end: dict[TopicPartition, int] = {}
        self._waiting_since: dict[TopicPartition, int] = {}
        # Sessions that got as far as copying: a failure after one starts the backoff afresh.
        self._resumed = 0

    @property
    def copied(self) -> int:
        """Records the target acknowledged since this mirror was made."""
        return self._copied

    @property
    def ready(self) -> bool:
        """True once the resume positions were read from the target's tails."""
        return self._ready

    def lag(self) -> list[PartitionLag]:
        if not self._ready:
            return []
        lags = []
        for tp, next_offset in self._next.items():
            behind = max(0, self._end.get(tp, next_offset) - next_offset)
            waiting = self._waiting_since.get(tp) if behind else None
            lags.append(
                PartitionLag(
                    topic=tp.topic,
                    partition=tp.partition,
                    behind=behind,
                    oldest_waiting_at=(
                        datetime.fromtimestamp(waiting / 1000, UTC)
                        if waiting is not None and waiting >= 0
                        else None
                    ),
                )
            )
        return sorted(lags, key=lambda lag: (lag.topic, lag.partition))

    async def run(self) -> None:
        """Mirror until cancelled; any failure restarts from the target's tails after a
        backoff, which is what keeps a crash or an outage from losing or repeating records."""
        delay = BACKOFF_FIRST_S
        while True:
            resumed_before = self._resumed
            try:
                await self._session()
            except _SourceNotReady as waiting:
                self._log.info("mirror.source_not_ready", reason=str(waiting))
            except MirrorError as error:
                self._log.error("mirror.refused", reason=str(error))
            except (KafkaError, OSError) as error:
                self._log.error("mirror.interrupted", error=repr(error))
            except Exception:
                self._log.exception("mirror.failed")
            if self._resumed != resumed_before:
                delay = BACKOFF_FIRST_S
            await asyncio.sleep(delay)
            delay = min(2 * delay, BACKOFF_MAX_S)

    async def _session(self) -> None:
        partitions = await self._prepare_target()
        async with contextlib.AsyncExitStack() as stack:
            async with _within(RESOLVE_TIMEOUT_S, "reading the target's tails"):
                resume = await self._resume_points(partitions)
            source = AIOKafkaConsumer(
                bootstrap_servers=self._link.source_bootstrap,
                client_id=f"{self._link.client_id}-mirror-source",
                group_id=None,
                enable_auto_commit=False,
                # Out of range means the target is ahead of the source or the source lost
                # records: never jump silently, that would repeat or skip records.
                auto_offset_reset="none",
                **self._link.security,
            )
            stack.push_async_callback(source.stop)
            await source.start()
            producer = AIOKafkaProducer(
                bootstrap_servers=self._link.target_bootstrap,
                client_id=f"{self._link.client_id}-mirror-target",
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                **self._link.security,
            )
            stack.push_async_callback(_close_producer, producer)
            await producer.start()

            async with _within(RESOLVE_TIMEOUT_S, "reading the source's offsets"):
                starts = await self._source_starts(source, partitions, resume)
            # Seeking right after assigning, with no await between: a partition assigned
            # without a position would fail on the "none" reset policy.
            source.assign(partitions)
            for tp, offset in starts.items():
                source.seek(tp, offset)
            self._next = dict(starts)
            self._waiting_since = {}
            self._ready = True
            self._resumed += 1
            self._log.info(
                "mirror.resumed",
                partitions=len(partitions),
                behind=sum(lag.behind for lag in self.lag()),
            )
            refresher = asyncio.create_task(self._follow_source_ends(source, partitions))
            stack.push_async_callback(_cancel, refresher)
            await self._copy(source, producer, partitions)

    async def _prepare_target(self) -> list[TopicPartition]:
        """Every source partition, once each topic exists on the target with at least as many
        partitions as on the source."""
        source_topics = await _describe(
            self._link.source_bootstrap,
            self._link.topics,
            f"{self._link.client_id}-mirror-admin",
            self._link.security,
        )
        missing = [topic for topic in self._link.topics if topic not in source_topics]
        if missing:
            raise _SourceNotReady(f"no topic {', '.join(missing)} on the source yet")
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._link.target_bootstrap,
            client_id=f"{self._link.client_id}-mirror-admin",
            **self._link.security,
        )
        try:
            await admin.start()
            target_topics = _by_topic(await admin.describe_topics(list(self._link.topics)))
            wanted = [
                NewTopic(
                    topic,
                    len(source_topics[topic]["partitions"]),
                    len(source_topics[topic]["partitions"][0]["replicas"]),
                    topic_configs=EVENT_TOPIC_CONFIG,
                )
                for topic in self._link.topics
                if topic not in target_topics
            ]
            if wanted:
                response = await admin.create_topics(wanted)
                for name, code, *_ in response.topic_errors:
                    # Another mirror into the same cluster may have created it a moment before.
                    if code not in (0, TopicAlreadyExistsError.errno):
                        raise MirrorError(f"creating topic {name} failed with Kafka error {code}")
                self._log.info("mirror.created_topics", topics=[t.name for t in wanted])
                target_topics = await _until_led(admin, self._link.topics)
        finally:
            await admin.close()
        for topic in self._link.topics:
            have = len(target_topics[topic]["partitions"])
            need = len(source_topics[topic]["partitions"])
            if have < need:
                raise MirrorError(
                    f"topic {topic} has {have} partitions on the target and {need} on the "
                    "source: records could not keep their partition"
                )
        return [
            TopicPartition(topic, partition["partition"])
            for topic in self._link.topics
            for partition in sorted(
                source_topics[topic]["partitions"], key=lambda p: int(p["partition"])
            )
        ]

    async def _resume_points(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The next source offset to copy per partition that the target holds records of:
        one after the source offset of its last record."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._link.target_bootstrap,
            client_id=f"{self._link.client_id}-mirror-tail",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="none",
            **self._link.security,
        )
        try:
            await consumer.start()
            firsts = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
            held = {tp: (firsts[tp], ends[tp]) for tp in partitions if ends[tp] > firsts[tp]}
            last = await _last_records(consumer, held)
        finally:
            await consumer.stop()
        resume = {}
        for tp, record in last.items():
            offsets = [value for key, value in record.headers if key == SOURCE_OFFSET_HEADER]
            if not offsets:
                raise MirrorError(
                    f"the last record of {tp.topic}[{tp.partition}] on the target (offset "
                    f"{record.offset}) has no {SOURCE_OFFSET_HEADER} header: the partition is "
                    "written by something other than this mirror"
                )
            # The last one: a record mirrored once already keeps its earlier one before it.
            resume[tp] = int(offsets[-1].decode("ascii")) + 1
        return resume

    async def _source_starts(
        self,
        source: Any,
        partitions: list[TopicPartition],
        resume: Mapping[TopicPartition, int],
    ) -> dict[TopicPartition, int]:
        firsts = await source.beginning_offsets(partitions)
        ends = await source.end_offsets(partitions)
        self._end = dict(ends)
        starts = {}
        for tp in partitions:
            start = resume.get(tp, firsts[tp])
            if not firsts[tp] <= start <= ends[tp]:
                raise MirrorError(
                    f"{tp.topic}[{tp.partition}]: the target's tail resumes at source offset "
                    f"{start}, outside the source's {firsts[tp]}..{ends[tp]}: the source was "
                    "recreated or lost records"
                )
            starts[tp] = start
        return starts

    async def _copy(self, source: Any, producer: Any, partitions: list[TopicPartition]) -> None:
        select = self._link.select
        while True:
            fetched: dict[TopicPartition, list[ConsumerRecord]] = await source.getmany(
                timeout_ms=POLL_TIMEOUT_MS, max_records=BATCH_RECORDS
            )
            self._note_ends(
                {tp: high for tp in partitions if (high := source.highwater(tp)) is not None}
            )
            records = [record for batch in fetched.values() for record in batch]
            if records:
                self._waiting_since = {tp: batch[0].timestamp for tp, batch in fetched.items()}
                keep = list(await select(records)) if select else [True] * len(records)
                if len(keep) != len(records):
                    raise MirrorError(f"select answered {len(keep)} for {len(records)} records")
                kept = [record for record, wanted in zip(records, keep, strict=True) if wanted]
                if kept:
                    await _deliver(producer, kept)
                    self._copied += len(kept)
            # The position, not the last record: it also steps over control records.
            for tp in partitions:
                self._next[tp] = await source.position(tp)
            self._waiting_since = {}

    async def _follow_source_ends(self, source: Any, partitions: list[TopicPartition]) -> None:
        """Keeps `lag()` current while a batch waits on `select` or the target."""
        while True:
            await asyncio.sleep(END_REFRESH_S)
            # A source that stops answering only stalls the copy, and lag keeps its last ends.
            with contextlib.suppress(KafkaError, TimeoutError):
                self._note_ends(
                    await asyncio.wait_for(source.end_offsets(partitions), 5 * END_REFRESH_S)
                )

    def _note_ends(self, ends: Mapping[TopicPartition, int]) -> None:
        # The largest seen: a slower answer about an earlier end must not shrink it.
        for tp, end in ends.items():
            self._end[tp] = max(end, self._end.get(tp, end))


async def _deliver(producer: Any, records: Sequence[ConsumerRecord]) -> None:
    """Writes the records to the target and returns once all are acknowledged.

    Sends are queued in order; the idempotent producer keeps that order per partition and,
    retrying, neither repeats a record nor lets a later one land after an earlier one failed.
    """
    async with _within(DELIVERY_TIMEOUT_S, f"delivering {len(records)} records to the target"):
        deliveries = [
            await producer.send(
                record.topic,
                record.value,
                key=record.key,
                partition=record.partition,
                timestamp_ms=record.timestamp if record.timestamp >= 0 else None,
                headers=[
                    *record.headers,
                    (SOURCE_OFFSET_HEADER, str(record.offset).encode("ascii")),
                ],
            )
            for record in records
        ]
        results = await asyncio.gather(*deliveries, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _close_producer(producer: Any) -> None:
    """Returns only once nothing the producer was given can still reach the target, so that
    the tails read next are final.

    aiokafka has no abort, and its `stop()` waits for every queued batch, which an idempotent
    producer retries until the broker takes it: forever while the target is down. So the
    sender is stopped first (a request already on the wire finishes its one attempt), then
    what is left is failed, and only then is the producer stopped.
    """
    try:
        await producer._sender.close()
    finally:
        try:
            accumulator = producer._message_accumulator
            # A batch queued again for a retry has left the pending set that its failure
            # removes it from (aiokafka's own bookkeeping): without this, a KeyError per batch.
            for queued in accumulator._batches.values():
                accumulator._pending_batches.update(b for b in queued if b.retry_count)
            accumulator.fail_all(KafkaError("the mirror session ended"))
        finally:
            await producer.stop()


@contextlib.asynccontextmanager
async def _within(seconds: float, doing: str) -> AsyncIterator[None]:
    """A timeout that says what took too long, as a Kafka error like the others."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise KafkaTimeoutError(f"{doing} took over {seconds:g} s") from None


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _last_records(
    consumer: Any, bounds: Mapping[TopicPartition, tuple[int, int]]
) -> dict[TopicPartition, ConsumerRecord]:
    """The last record below the end of each partition (given as (first, end) offsets).

    Read from end - 1, and further back only when the last offsets hold no record (control
    records of a transactional writer), the window doubling each time."""
    window = dict.fromkeys(bounds, 1)
    consumer.assign(list(bounds))
    for tp, (first, end) in bounds.items():
        consumer.seek(tp, max(first, end - 1))
    last: dict[TopicPartition, ConsumerRecord] = {}
    pending = set(bounds)
    while pending:
        fetched = await consumer.getmany(*pending, timeout_ms=POLL_TIMEOUT_MS)
        for tp, batch in fetched.items():
            for record in batch:
                if record.offset < bounds[tp][1]:
                    last[tp] = record
        for tp in list(pending):
            first, end = bounds[tp]
            if await consumer.position(tp) < end:
                continue
            if tp in last or end - window[tp] <= first:
                pending.discard(tp)
                continue
            window[tp] *= 2
            consumer.seek(tp, max(first, end - window[tp]))
    return last


async def _describe(
    bootstrap: str, topics: Iterable[str], client_id: str, security: ClientSecurity
) -> dict[str, dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, **security)
    try:
        await admin.start()
        return _by_topic(await admin.describe_topics(list(topics)))
    finally:
        await admin.close()


def _by_topic(described: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The topics that exist with all their partitions, by name."""
    found = {}
    for topic in described:
        if topic["error_code"] == UnknownTopicOrPartitionError.errno:
            continue
        if topic["error_code"] != 0:
            raise for_code(topic["error_code"])(f"describing topic {topic['topic']}")
        if not topic["partitions"]:
            raise KafkaError(f"topic {topic['topic']} is described without partitions")
        found[topic["topic"]] = topic
    return found


async def _until_led(admin: Any, topics: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The topics once every partition has a leader: a topic just created may not yet."""
    for _ in range(100):
        described = await admin.describe_topics(list(topics))
        if len(described) == len(topics) and all(
            topic["error_code"] == 0
            and topic["partitions"]
            and all(partition["leader"] >= 0 for partition in topic["partitions"])
            for topic in described
        ):
            return _by_topic(described)
        await asyncio.sleep(0.1)
    raise MirrorError(f"the topics {list(topics)} created on the target have no leader yet")
